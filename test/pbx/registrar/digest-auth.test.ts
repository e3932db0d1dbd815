import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DigestServer } from '../../../src/sip/auth/digest-server.ts';
import { DigestClient } from '../../../src/sip/auth/digest-client.ts';
import { ha1 } from '../../../src/sip/auth/digest.ts';
import { serializeMessage } from '../../../src/sip/message/serializer.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message/types.ts';
import { digestRegistrarAuth } from '../../../src/pbx/registrar/digest-auth.ts';
import { DOMAIN, FLOW, PASSWORDS, register, setup } from './helpers.ts';

function withDigest() {
  const base = setup();
  const server = new DigestServer({ realm: DOMAIN, secret: 'test-secret', clock: base.clock, nonceTtlSec: 300 });
  const { auth, challenge } = digestRegistrarAuth(server, (user, realm, alg) => {
    const pw = PASSWORDS.get(user);
    return pw === undefined ? undefined : { ha1: ha1(user, realm, pw, alg) };
  });
  return { ...setup({ auth, challenge, clock: base.clock }), clock: base.clock };
}

/** REGISTER, then answer the 401 with the client's credentials (same Call-ID, next CSeq). */
function registerWithPassword(r: ReturnType<typeof withDigest>, user: string, password: string, cseq = 1): { first: SipResponse; second: SipResponse; req: SipRequest } {
  const client = new DigestClient({ username: user, password });
  const first = r.registrar.handle(register({ user, cseq }), FLOW);
  const req = register({ user, cseq: cseq + 1 });
  assert.equal(client.authorize(req, first), true);
  return { first, second: r.registrar.handle(req, FLOW), req };
}

function shape(res: SipResponse): string {
  return serializeMessage(res)
    .toString('latin1')
    .replace(/;tag=[^;\r\n>,]+/g, ';tag=X')
    .replace(/nonce="[^"]*"/g, 'nonce="X"')
    .replace(/branch=[^;\r\n,]+/g, 'branch=X')
    .replace(/sip:(999|100)@/g, 'sip:U@');
}

describe('Registrar with the digest server (RFC 3261 §22, RFC 7616)', () => {
  it('MUST register after a successful digest challenge/response', () => {
    const r = withDigest();
    const { first, second } = registerWithPassword(r, '100', 'secret100');
    assert.equal(first.status, 401);
    assert.equal(second.status, 200);
    assert.equal(r.store.bindings('100@pbx.test', r.clock.now()).length, 1);
  });

  it('MUST answer an unknown user and a wrong password with the same fresh 401', () => {
    const r = withDigest();
    const unknown = registerWithPassword(r, '999', 'guess').second;
    const wrong = registerWithPassword(r, '100', 'guess').second;
    assert.equal(unknown.status, 401);
    assert.equal(shape(wrong), shape(unknown));
    assert.equal(r.store.all(r.clock.now()).length, 0);
  });

  it('MUST answer stale=true to right credentials on an expired nonce', () => {
    const r = withDigest();
    const client = new DigestClient({ username: '100', password: 'secret100' });
    const first = r.registrar.handle(register({ user: '100' }), FLOW);
    r.clock.advance(301_000);
    const req = register({ user: '100', cseq: 2 });
    client.authorize(req, first);
    const res = r.registrar.handle(req, FLOW);
    assert.equal(res.status, 401);
    assert.equal(res.wwwAuthenticate[0].params.get('stale'), 'true');
  });

  it('MUST answer 400 to credentials whose digest-uri is not the Request-URI', () => {
    const r = withDigest();
    const client = new DigestClient({ username: '100', password: 'secret100' });
    const first = r.registrar.handle(register({ user: '100' }), FLOW);
    const req = register({ user: '100', cseq: 2 });
    client.authorize(req, first);
    req.authorization[0].params.set('uri', 'sip:other.example');
    assert.equal(r.registrar.handle(req, FLOW).status, 400);
  });
});
