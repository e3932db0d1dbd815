import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { serializeMessage } from '../../../src/sip/message/serializer.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message/types.ts';
import { Registrar } from '../../../src/pbx/registrar/registrar.ts';
import { MemoryLocationStore } from '../../../src/pbx/location/memory-store.ts';
import { FakeClock } from '../../../src/sip/clock.ts';
import { vectorsDir } from '../../support/vectors.ts';
import { AUTH100, FLOW, challenge, contactsOf, parseRequest, register, setup } from './helpers.ts';

/** Response as text with the random parts (To tag, nonce, Via branch) blanked, for byte comparison. */
function shape(res: SipResponse): string {
  return serializeMessage(res)
    .toString('latin1')
    .replace(/;tag=[^;\r\n>,]+/g, ';tag=X')
    .replace(/nonce="[^"]*"/g, 'nonce="X"')
    .replace(/branch=[^;\r\n,]+/g, 'branch=X');
}

const VECTORS = vectorsDir('rfc4475');

describe('Registrar authentication and authorization (RFC 3261 §10.3 steps 1–5)', () => {
  it('MUST challenge with 401 and WWW-Authenticate when there are no credentials', () => {
    const { registrar, store } = setup();
    const res = registrar.handle(register(), FLOW);
    assert.equal(res.status, 401);
    assert.equal(res.reason, 'Unauthorized');
    assert.equal(res.wwwAuthenticate.length, 1);
    assert.equal(res.wwwAuthenticate[0].params.get('realm'), 'pbx.test');
    assert.equal(store.all(0).length, 0);
  });

  it('MUST answer an unknown user and a known user with a wrong password identically (no enumeration)', () => {
    const { registrar } = setup();
    const unknown = registrar.handle(register({ user: '999', auth: { user: '999', password: 'guess' } }), FLOW);
    const wrong = registrar.handle(register({ user: '100', auth: { user: '100', password: 'guess' } }), FLOW);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.status, unknown.status);
    assert.equal(wrong.reason, unknown.reason);
    assert.deepEqual(wrong.headers.map((h) => h.name), unknown.headers.map((h) => h.name));
    assert.notEqual(wrong.wwwAuthenticate[0].params.get('nonce'), unknown.wwwAuthenticate[0].params.get('nonce'), 'fresh nonce each time');
    // Everything but the To/From users, random To tag and nonce is byte-identical.
    const norm = (r: SipResponse) => shape(r).replace(/sip:(999|100)@/g, 'sip:U@');
    assert.equal(norm(wrong), norm(unknown));
  });

  it('MUST answer a credential-less REGISTER for an unknown and a known AOR identically', () => {
    const { registrar } = setup();
    const unknown = registrar.handle(register({ user: '999' }), FLOW);
    const known = registrar.handle(register({ user: '100' }), FLOW);
    const norm = (r: SipResponse) => shape(r).replace(/sip:(999|100)@/g, 'sip:U@');
    assert.equal(unknown.status, 401);
    assert.equal(norm(known), norm(unknown));
  });

  it('MUST send stale=true when the credentials were right but the nonce expired', () => {
    const { registrar, auth } = setup();
    auth.staleUsers.add('100');
    const res = registrar.handle(register({ auth: AUTH100 }), FLOW);
    assert.equal(res.status, 401);
    assert.equal(res.wwwAuthenticate[0].params.get('stale'), 'true');
  });

  it('MUST answer 403 when the authenticator refuses outright', () => {
    const { registrar } = setup({ auth: { check: () => ({ ok: false, response: 'forbidden' }) } });
    assert.equal(registrar.handle(register({ auth: AUTH100 }), FLOW).status, 403);
  });

  it("MUST answer 403 when an authenticated user registers someone else's AOR, storing nothing", () => {
    const { registrar, store } = setup();
    const res = registrar.handle(register({ user: '100', aorUser: '101', auth: AUTH100 }), FLOW);
    assert.equal(res.status, 403);
    assert.equal(store.all(0).length, 0);
  });

  it('MUST answer 404 when the authenticated user is not an extension here', () => {
    const { registrar } = setup({ extensions: () => false });
    assert.equal(registrar.handle(register({ auth: AUTH100 }), FLOW).status, 404);
  });

  it('MUST answer 404 for a Request-URI domain it does not serve, before authentication (§10.3 step 1, §21.4.4)', () => {
    const { registrar } = setup();
    const res = registrar.handle(register({ ruri: 'sip:elsewhere.example', auth: AUTH100 }), FLOW);
    assert.equal(res.status, 404);
    assert.equal(res.wwwAuthenticate.length, 0);
  });

  it('MUST treat configured domains as aliases of one canonical AOR', () => {
    const { registrar, store, clock } = setup();
    const res = registrar.handle(register({ domain: '127.0.0.1', auth: AUTH100 }), FLOW);
    assert.equal(res.status, 200);
    assert.equal(store.bindings('100@pbx.test', clock.now()).length, 1);
    assert.equal(registrar.aorOf('100'), '100@pbx.test');
  });

  it('MUST answer 420 with Unsupported for unknown Require option tags and accept path/outbound', () => {
    const { registrar } = setup();
    const res = registrar.handle(register({ auth: AUTH100, extra: ['Require: path, foo, 100rel'] }), FLOW);
    assert.equal(res.status, 420);
    assert.equal(res.headers.find((h) => h.name === 'Unsupported')?.value, 'foo, 100rel');
    const ok = registrar.handle(register({ auth: AUTH100, extra: ['Require: path, outbound'] }), FLOW);
    assert.equal(ok.status, 200);
  });

  it('MUST answer 405 with Allow to a method other than REGISTER', () => {
    const { registrar } = setup();
    const req: SipRequest = { ...register({ auth: AUTH100 }), method: 'OPTIONS' };
    const res = registrar.handle(req, FLOW);
    assert.equal(res.status, 405);
    assert.equal(res.headers.find((h) => h.name === 'Allow')?.value, 'REGISTER');
  });

  it('MUST answer 500 instead of throwing when a dependency throws', () => {
    const { registrar } = setup({ auth: { check: () => { throw new Error('boom'); } } });
    assert.equal(registrar.handle(register(), FLOW).status, 500);
  });
});

describe('Registrar against RFC 4475 application-layer vectors', () => {
  function vectorRegistrar(trustTo: boolean) {
    const clock = new FakeClock(1_700_000_000_000);
    const store = new MemoryLocationStore();
    const registrar = new Registrar({
      store, clock, domains: ['example.com'], nodeName: 'nl', minExpires: 60, maxExpires: 7200, defaultExpires: 3600,
      extensions: () => true,
      challenge,
      // Digest-only authenticator; trustTo stands in for "credentials verified for the To user".
      auth: {
        check: (req) => {
          const to = req.to.uri;
          if (trustTo && to.scheme === 'sip' && 'user' in to && to.user) return { ok: true, user: to.user };
          return { ok: false, response: 'challenge' };
        },
      },
    });
    return { registrar, store, clock };
  }
  const load = (name: string) => parseRequest(readFileSync(`${VECTORS}/${name}.dat`, 'latin1'));

  it('MUST challenge regaut01 (unknown Authorization scheme, RFC 4475 §3.3.7)', () => {
    const { registrar } = vectorRegistrar(false);
    const res = registrar.handle(load('regaut01'), FLOW);
    assert.equal(res.status, 401);
    assert.equal(res.wwwAuthenticate[0].scheme, 'Digest');
  });

  it('MUST register cparam01 and cparam02 normally; their contacts are the same URI by §19.1.4 (RFC 4475 §3.3.12–13)', () => {
    const { registrar, store, clock } = vectorRegistrar(true);
    assert.equal(registrar.handle(load('cparam01'), FLOW).status, 200);
    // cparam01: unknownparam is a Contact header parameter, not part of the URI.
    assert.deepEqual(store.bindings('watson@example.com', clock.now()).map((b) => b.contact), ['sip:+19725552222@gw1.example.net']);
    assert.equal(registrar.handle(load('cparam02'), FLOW).status, 200);
    // cparam02: a URI parameter present in one URI only does not make them differ, so the binding is replaced.
    assert.deepEqual(store.bindings('watson@example.com', clock.now()).map((b) => b.contact), ['sip:+19725552222@gw1.example.net;unknownparam']);
  });

  it('MUST register regescrt with its escaped Route URI header kept in the contact (RFC 4475 §3.3.14)', () => {
    const { registrar, store, clock } = vectorRegistrar(true);
    const res = registrar.handle(load('regescrt'), FLOW);
    assert.equal(res.status, 200);
    assert.equal(contactsOf(res).length, 1);
    const [b] = store.bindings('user@example.com', clock.now());
    assert.match(b.contact, /^sip:user@example\.com\?Route=/);
  });
});
