import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getHeader } from '../../../src/sip/message/build.ts';
import { AUTH100, FLOW, contactsOf, register, setup } from './helpers.ts';
import type { Binding, LocationStore } from '../../../src/store/location-store.ts';
import { MemoryLocationStore } from '../../../src/pbx/location/memory-store.ts';

describe('Registrar bindings (RFC 3261 §10.3)', () => {
  it('MUST add a binding and answer 200 with the Contact, its expires, q, a Date and a To tag', () => {
    const { registrar, store, aor, clock } = setup();
    const res = registrar.handle(register({ auth: AUTH100, expires: 1800 }), FLOW);
    assert.equal(res.status, 200);
    assert.deepEqual(contactsOf(res), [{ uri: '100@127.0.0.1:5062', expires: '1800', q: '1' }]);
    assert.ok(res.to.params.get('tag'), 'To tag added (§8.2.6.2)');
    assert.equal(getHeader(res, 'Date'), new Date(clock.now()).toUTCString());
    const [b] = store.bindings(aor, clock.now());
    assert.equal(b.contact, 'sip:100@127.0.0.1:5062');
    assert.equal(b.expiresAt, clock.now() + 1800_000);
    assert.deepEqual(b.flow, FLOW, 'flow kept for NAT traversal');
    assert.equal(b.userAgent, 'test-phone/1.0');
    assert.equal(b.node, 'nl');
    assert.equal(b.callId, 'call-1@127.0.0.1');
    assert.equal(b.cseq, 1);
  });

  it('MUST refresh an existing binding from the same Call-ID with a higher CSeq', () => {
    const { registrar, store, aor, clock } = setup();
    registrar.handle(register({ auth: AUTH100, expires: 3600 }), FLOW);
    clock.advance(100_000);
    const res = registrar.handle(register({ auth: AUTH100, expires: 1200, cseq: 2 }), FLOW);
    assert.equal(res.status, 200);
    const all = store.bindings(aor, clock.now());
    assert.equal(all.length, 1);
    assert.equal(all[0].cseq, 2);
    assert.equal(all[0].expiresAt, clock.now() + 1200_000);
  });

  it('MUST remove a binding whose Contact has expires=0', () => {
    const { registrar, store, aor, clock } = setup();
    registrar.handle(register({ auth: AUTH100 }), FLOW);
    const res = registrar.handle(register({ auth: AUTH100, cseq: 2, contacts: ['<sip:100@127.0.0.1:5062>;expires=0'] }), FLOW);
    assert.equal(res.status, 200);
    assert.deepEqual(contactsOf(res), []);
    assert.equal(store.bindings(aor, clock.now()).length, 0);
  });

  it('MUST remove all bindings of the AOR for Contact * with Expires 0', () => {
    const { registrar, store, aor, clock } = setup();
    registrar.handle(register({ auth: AUTH100, contacts: ['<sip:100@127.0.0.1:5062>', '<sip:100@127.0.0.1:5064>'] }), FLOW);
    assert.equal(store.bindings(aor, clock.now()).length, 2);
    const res = registrar.handle(register({ auth: AUTH100, cseq: 2, contacts: ['*'], expires: 0 }), FLOW);
    assert.equal(res.status, 200);
    assert.deepEqual(contactsOf(res), []);
    assert.equal(store.bindings(aor, clock.now()).length, 0);
  });

  it('MUST reject Contact * with a non-zero or missing Expires with 400 and keep the bindings', () => {
    const { registrar, store, aor, clock } = setup();
    registrar.handle(register({ auth: AUTH100 }), FLOW);
    const a = registrar.handle(register({ auth: AUTH100, cseq: 2, contacts: ['*'], expires: 3600 }), FLOW);
    assert.equal(a.status, 400);
    const b = registrar.handle(register({ auth: AUTH100, cseq: 3, contacts: ['*'] }), FLOW);
    assert.equal(b.status, 400);
    assert.equal(store.bindings(aor, clock.now()).length, 1);
  });

  it('MUST take expiry from the contact parameter, else the Expires header, else the default', () => {
    const { registrar } = setup();
    const res = registrar.handle(register({ auth: AUTH100, expires: 600, contacts: ['<sip:100@127.0.0.1:5062>;expires=120', '<sip:100@127.0.0.1:5064>'] }), FLOW);
    assert.deepEqual(contactsOf(res).map((c) => [c.uri, c.expires]).sort(), [['100@127.0.0.1:5062', '120'], ['100@127.0.0.1:5064', '600']]);
    const { registrar: r2 } = setup();
    assert.deepEqual(contactsOf(r2.handle(register({ auth: AUTH100 }), FLOW)).map((c) => c.expires), ['3600']);
  });

  it('MUST answer 423 with Min-Expires for 0 < expiry < minimum and store nothing', () => {
    const { registrar, store, aor, clock } = setup();
    const res = registrar.handle(register({ auth: AUTH100, contacts: ['<sip:100@127.0.0.1:5064>', '<sip:100@127.0.0.1:5062>;expires=30'] }), FLOW);
    assert.equal(res.status, 423);
    assert.equal(res.reason, 'Interval Too Brief');
    assert.equal(res.minExpires, 60);
    assert.equal(store.bindings(aor, clock.now()).length, 0);
  });

  it('MUST clamp an expiry above the maximum to the maximum', () => {
    const { registrar, store, aor, clock } = setup();
    const res = registrar.handle(register({ auth: AUTH100, expires: 99999999999 }), FLOW);
    assert.equal(res.status, 200);
    assert.deepEqual(contactsOf(res).map((c) => c.expires), ['7200']);
    assert.equal(store.bindings(aor, clock.now())[0].expiresAt, clock.now() + 7200_000);
  });

  it('MUST keep q values of multiple contacts and list them highest q first', () => {
    const { registrar, store, aor, clock } = setup();
    const res = registrar.handle(register({ auth: AUTH100, contacts: ['<sip:100@127.0.0.1:5062>;q=0.1', '<sip:100@127.0.0.1:5064>;q=0.9', '<sip:100@127.0.0.1:5066>'] }), FLOW);
    assert.deepEqual(contactsOf(res).map((c) => [c.uri, c.q]), [['100@127.0.0.1:5066', '1'], ['100@127.0.0.1:5064', '0.9'], ['100@127.0.0.1:5062', '0.1']]);
    assert.deepEqual(store.bindings(aor, clock.now()).map((b) => b.q), [1, 0.9, 0.1]);
  });

  it('MUST fail an out-of-order REGISTER (same Call-ID, CSeq not higher) with 500 and leave the binding untouched', () => {
    const { registrar, store, aor, clock } = setup();
    registrar.handle(register({ auth: AUTH100, cseq: 5, expires: 3600 }), FLOW);
    const lower = registrar.handle(register({ auth: AUTH100, cseq: 4, expires: 0 }), FLOW);
    assert.equal(lower.status, 500);
    const equal = registrar.handle(register({ auth: AUTH100, cseq: 5, expires: 120 }), FLOW);
    assert.equal(equal.status, 500);
    const [b] = store.bindings(aor, clock.now());
    assert.equal(b.cseq, 5);
    assert.equal(b.expiresAt, clock.now() + 3600_000);
  });

  it('MUST accept a lower CSeq from a different Call-ID (a rebooted phone)', () => {
    const { registrar, store, aor, clock } = setup();
    registrar.handle(register({ auth: AUTH100, cseq: 50 }), FLOW);
    const res = registrar.handle(register({ auth: AUTH100, cseq: 1, callId: 'after-reboot', expires: 600 }), FLOW);
    assert.equal(res.status, 200);
    const [b] = store.bindings(aor, clock.now());
    assert.equal(b.callId, 'after-reboot');
    assert.equal(b.expiresAt, clock.now() + 600_000);
  });

  it('MUST apply all contact updates of a REGISTER or none (one out of order fails all)', () => {
    const { registrar, store, aor, clock } = setup();
    registrar.handle(register({ auth: AUTH100, cseq: 5, contacts: ['<sip:100@127.0.0.1:5062>'] }), FLOW);
    registrar.handle(register({ auth: AUTH100, cseq: 9, callId: 'other', contacts: ['<sip:100@127.0.0.1:5064>'] }), FLOW);
    const res = registrar.handle(register({ auth: AUTH100, cseq: 6, callId: 'other', contacts: ['<sip:100@127.0.0.1:5062>;expires=0', '<sip:100@127.0.0.1:5064>;expires=0'] }), FLOW);
    assert.equal(res.status, 500);
    assert.equal(store.bindings(aor, clock.now()).length, 2);
  });

  it('MUST let a new contact with the same +sip.instance replace the old binding (RFC 5626 §6)', () => {
    const { registrar, store, aor, clock } = setup();
    const inst = ';+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"';
    registrar.handle(register({ auth: AUTH100, contacts: [`<sip:100@127.0.0.1:5062>${inst}`] }), FLOW);
    const res = registrar.handle(register({ auth: AUTH100, callId: 'new-ip', contacts: [`<sip:100@127.0.0.1:6000>${inst.toLowerCase()}`] }), { ...FLOW, port: 41000 });
    assert.equal(res.status, 200);
    const all = store.bindings(aor, clock.now());
    assert.equal(all.length, 1);
    assert.equal(all[0].contact, 'sip:100@127.0.0.1:6000');
    assert.equal(all[0].instanceId, '<urn:uuid:00000000-0000-1000-8000-000a95a0e128>');
    assert.equal(all[0].flow.port, 41000);
    assert.equal(res.contact !== '*' && res.contact[0].params.get('+sip.instance'), '"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>"');
  });

  it('MUST keep reg-id and answer Require: outbound when the UA supports outbound (RFC 5626 §6)', () => {
    const { registrar, store, aor, clock } = setup();
    const inst = ';+sip.instance="<urn:uuid:1>"';
    const req = (port: number, regId: number, cseq: number) =>
      register({ auth: AUTH100, cseq, contacts: [`<sip:100@127.0.0.1:${port};transport=tcp>${inst};reg-id=${regId}`], extra: ['Supported: path, outbound'] });
    const res = registrar.handle(req(5062, 1, 1), { ...FLOW, transport: 'tcp', connectionId: 'c1' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.require, ['outbound']);
    registrar.handle(req(5064, 2, 2), { ...FLOW, transport: 'tcp', connectionId: 'c2' });
    registrar.handle(req(5066, 1, 3), { ...FLOW, transport: 'tcp', connectionId: 'c3' });
    const all = store.bindings(aor, clock.now());
    assert.deepEqual(all.map((b) => [b.regId, b.flow.connectionId]).sort(), [[1, 'c3'], [2, 'c2']], 'reg-id 1 flow replaced, reg-id 2 kept');
  });

  it('MUST answer 439 when outbound is requested through a first Path hop without "ob"', () => {
    const { registrar } = setup();
    const res = registrar.handle(register({
      auth: AUTH100,
      contacts: ['<sip:100@127.0.0.1:5062>;+sip.instance="<urn:uuid:1>";reg-id=1'],
      extra: ['Supported: path, outbound', 'Path: <sip:edge.pbx.test;lr>'],
    }), FLOW);
    assert.equal(res.status, 439);
  });

  it('MUST store Path (RFC 3327 §5.3) and echo it only to a UA that supports path', () => {
    const { registrar, store, aor, clock } = setup();
    const path = ['Path: <sip:edge1.pbx.test;lr>', 'Path: <sip:edge2.pbx.test;lr>'];
    const res = registrar.handle(register({ auth: AUTH100, extra: [...path, 'Supported: path'] }), FLOW);
    assert.equal(res.status, 200);
    assert.deepEqual(store.bindings(aor, clock.now())[0].path, ['<sip:edge1.pbx.test;lr>', '<sip:edge2.pbx.test;lr>']);
    assert.equal(res.path.length, 2);
    const res2 = registrar.handle(register({ auth: AUTH100, cseq: 2, extra: path }), FLOW);
    assert.equal(res2.status, 200);
    assert.equal(res2.path.length, 0);
    assert.equal(store.bindings(aor, clock.now())[0].path.length, 2);
  });

  it('MUST list all bindings of the AOR in the 200 with their remaining expiry', () => {
    const { registrar, clock } = setup();
    registrar.handle(register({ auth: AUTH100, expires: 3600, contacts: ['<sip:100@127.0.0.1:5062>'] }), FLOW);
    clock.advance(1000_000);
    const res = registrar.handle(register({ auth: AUTH100, cseq: 2, callId: 'desk', expires: 3600, contacts: ['<sip:100@127.0.0.1:5064>'] }), FLOW);
    assert.deepEqual(contactsOf(res).map((c) => [c.uri, c.expires]).sort(), [['100@127.0.0.1:5062', '2600'], ['100@127.0.0.1:5064', '3600']]);
    const query = registrar.handle(register({ auth: AUTH100, cseq: 3, contacts: [] }), FLOW);
    assert.equal(query.status, 200);
    assert.equal(contactsOf(query).length, 2, 'a REGISTER without Contact is a query (§10.2.3)');
  });

  it('MUST let bindings expire on the clock', () => {
    const { registrar, store, aor, clock } = setup();
    registrar.handle(register({ auth: AUTH100, expires: 60 }), FLOW);
    clock.advance(59_999);
    assert.equal(store.bindings(aor, clock.now()).length, 1);
    clock.advance(1);
    assert.equal(store.bindings(aor, clock.now()).length, 0);
    const query = registrar.handle(register({ auth: AUTH100, cseq: 2, contacts: [] }), FLOW);
    assert.deepEqual(contactsOf(query), []);
  });

  it('MUST answer 400 with a reason for malformed expires, q or reg-id, storing nothing', () => {
    const { registrar, store, aor, clock } = setup();
    for (const [param, reason] of [[';expires=soon', 'Bad Contact expires'], [';q=2', 'Bad Contact q'], [';q', 'Bad Contact q'], [';+sip.instance="<urn:uuid:1>";reg-id=0', 'Bad reg-id']]) {
      const res = registrar.handle(register({ auth: AUTH100, contacts: [`<sip:100@127.0.0.1:5062>${param}`] }), FLOW);
      assert.equal(res.status, 400, param);
      assert.equal(res.reason, reason);
    }
    assert.equal(store.bindings(aor, clock.now()).length, 0);
  });

  it('MUST answer 500 and undo tentative changes when the store fails mid-commit', () => {
    const inner = new MemoryLocationStore();
    let failOn = -1;
    let saves = 0;
    const store: LocationStore = {
      bindings: (a, n) => inner.bindings(a, n),
      save: (b: Binding) => {
        if (saves++ === failOn) throw new Error('disk full');
        inner.save(b);
      },
      remove: (a, c) => inner.remove(a, c),
      removeAll: (a) => inner.removeAll(a),
      all: (n) => inner.all(n),
      count: (n) => inner.count(n),
      purgeExpired: (n) => inner.purgeExpired(n),
      close: () => inner.close(),
    };
    const errors: unknown[] = [];
    const { registrar, aor, clock } = setup({ store, onError: (e) => errors.push(e) });
    registrar.handle(register({ auth: AUTH100, contacts: ['<sip:100@127.0.0.1:5062>'] }), FLOW);
    failOn = saves + 1;
    const res = registrar.handle(register({ auth: AUTH100, cseq: 2, contacts: ['<sip:100@127.0.0.1:5062>;expires=0', '<sip:100@127.0.0.1:5064>', '<sip:100@127.0.0.1:5066>'] }), FLOW);
    assert.equal(res.status, 500);
    assert.equal(errors.length, 1);
    assert.deepEqual(inner.bindings(aor, clock.now()).map((b) => [b.contact, b.cseq]), [['sip:100@127.0.0.1:5062', 1]]);
  });

  it('MUST refuse with 403 a REGISTER that would exceed maxBindingsPerAor, but still allow refreshes', () => {
    const { registrar, store, aor, clock } = setup({ maxBindingsPerAor: 2 });
    assert.equal(registrar.handle(register({ auth: AUTH100, contacts: ['<sip:100@127.0.0.1:5062>', '<sip:100@127.0.0.1:5064>'] }), FLOW).status, 200);
    const res = registrar.handle(register({ auth: AUTH100, cseq: 2, contacts: ['<sip:100@127.0.0.1:5066>'] }), FLOW);
    assert.equal(res.status, 403);
    assert.equal(res.reason, 'Too Many Bindings');
    assert.equal(registrar.handle(register({ auth: AUTH100, cseq: 3, contacts: ['<sip:100@127.0.0.1:5064>'] }), FLOW).status, 200);
    assert.equal(store.bindings(aor, clock.now()).length, 2);
  });

  it('MUST report committed changes through onChange', () => {
    const changes: [string, number][] = [];
    const { registrar } = setup({ onChange: (a, bs) => changes.push([a, bs.length]) });
    registrar.handle(register({ auth: AUTH100 }), FLOW);
    registrar.handle(register({ auth: AUTH100, cseq: 2, contacts: ['*'], expires: 0 }), FLOW);
    assert.deepEqual(changes, [['100@pbx.test', 1], ['100@pbx.test', 0]]);
  });
});
