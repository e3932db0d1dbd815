/**
 * DigestServer ⇄ DigestClient over real bytes (RFC 3261 §22, RFC 7616, RFC 8760).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DigestServer, type DigestVerdict, type Ha1Lookup } from '../../../src/sip/auth/digest-server.ts';
import { DigestClient } from '../../../src/sip/auth/digest-client.ts';
import { ha1, type DigestAlgorithm } from '../../../src/sip/auth/digest.ts';
import { createResponse } from '../../../src/sip/message/build.ts';
import { FakeClock } from '../../../src/sip/clock.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message/types.ts';
import { register, wire } from './fixtures.ts';

const REALM = 'example.test';
const users = new Map([['alice', 'wonderland']]);
const lookup: Ha1Lookup = (username, realm, algorithm) => {
  const pw = users.get(username);
  return pw === undefined ? undefined : { ha1: ha1(username, realm, pw, algorithm) };
};

function setup(extra: Partial<ConstructorParameters<typeof DigestServer>[0]> = {}): { clock: FakeClock; server: DigestServer } {
  const clock = new FakeClock();
  return { clock, server: new DigestServer({ realm: REALM, secret: 'node-secret', clock, nonceTtlSec: 300, ...extra }) };
}

function challenged(server: DigestServer, req: SipRequest, opts: { stale?: boolean; proxy?: boolean } = {}): SipResponse {
  const res = createResponse(req, opts.proxy ? 407 : 401);
  server.applyChallenge(res, opts);
  return wire(res);
}

/** UAC: receives the request's challenge and returns the re-sent request as the UAS parses it. */
function answer(client: DigestClient, req: SipRequest, res: SipResponse): SipRequest {
  assert.equal(client.authorize(req, res), true);
  req.cseq.seq++;
  return wire(req);
}

describe('DigestServer', () => {
  it('MUST offer SHA-256 before MD5, one value each, qop="auth", sharing one nonce (RFC 8760 §2.4)', () => {
    const { server } = setup();
    const res = challenged(server, register());
    assert.deepEqual(res.wwwAuthenticate.map((v) => v.params.get('algorithm')), ['SHA-256', 'MD5']);
    for (const v of res.wwwAuthenticate) {
      assert.equal(v.scheme, 'Digest');
      assert.equal(v.params.get('realm'), REALM);
      assert.equal(v.params.get('qop'), 'auth');
      assert.equal(v.params.has('stale'), false);
    }
    assert.equal(res.wwwAuthenticate[0].params.get('nonce'), res.wwwAuthenticate[1].params.get('nonce'));
    assert.notEqual(challenged(server, register()).wwwAuthenticate[0].params.get('nonce'), res.wwwAuthenticate[0].params.get('nonce'));
  });

  it('MUST accept a client that answered the challenge, with SHA-256', () => {
    const { server } = setup();
    const req = register();
    assert.deepEqual(server.verify(req, lookup), { result: 'challenge', reason: 'missing', stale: false });
    const retry = answer(new DigestClient({ username: 'alice', password: 'wonderland' }), req, challenged(server, req));
    assert.deepEqual(server.verify(retry, lookup), { result: 'ok', username: 'alice', realm: REALM, algorithm: 'SHA-256', qop: 'auth' });
  });

  it('MUST use MD5 when it is the only algorithm offered, and refuse credentials with an algorithm not offered', () => {
    const md5Only = setup({ algorithms: ['MD5'] }).server;
    const req = register();
    const retry = answer(new DigestClient({ username: 'alice', password: 'wonderland' }), req, challenged(md5Only, req));
    assert.equal(retry.authorization[0].params.get('algorithm'), 'MD5');
    assert.equal(md5Only.verify(retry, lookup).result, 'ok');

    const shaRetry = answer(new DigestClient({ username: 'alice', password: 'wonderland' }), register(), challenged(setup().server, register()));
    assert.deepEqual(md5Only.verify(shaRetry, lookup), { result: 'challenge', reason: 'unsupported', stale: false });
  });

  it('MUST read Proxy-Authorization for a 407 flow', () => {
    const { server } = setup();
    const req = register({ method: 'INVITE', uri: 'sip:bob@example.test' });
    const retry = answer(new DigestClient({ username: 'alice', password: 'wonderland' }), req, challenged(server, req, { proxy: true }));
    assert.equal(retry.authorization.length, 0);
    assert.equal(retry.proxyAuthorization.length, 1);
    assert.equal(server.verify(retry, lookup, { proxy: true }).result, 'ok');
    assert.equal(server.verify(retry, lookup).result, 'challenge');
  });

  it('MUST answer an expired nonce with a correct response by stale=true, and accept the retry', () => {
    const { server, clock } = setup();
    const client = new DigestClient({ username: 'alice', password: 'wonderland' });
    const req = register();
    const retry = answer(client, req, challenged(server, req));
    clock.advance(300_000);
    const v = server.verify(retry, lookup);
    assert.deepEqual(v, { result: 'challenge', reason: 'stale', stale: true });
    const staleRes = challenged(server, retry, { stale: true });
    assert.equal(staleRes.wwwAuthenticate[0].params.get('stale'), 'true');
    const retry2 = answer(client, retry, staleRes);
    assert.equal(server.verify(retry2, lookup).result, 'ok');
  });

  it('MUST NOT say stale for an expired nonce when the response is wrong', () => {
    const { server, clock } = setup();
    const req = register();
    const retry = answer(new DigestClient({ username: 'alice', password: 'guess' }), req, challenged(server, req));
    clock.advance(301_000);
    assert.deepEqual(server.verify(retry, lookup), { result: 'rejected', reason: 'bad-credentials', username: 'alice' });
  });

  it('MUST refuse a forged nonce: tampered expiry, tampered MAC, or minted with another secret or realm', () => {
    const { server, clock } = setup();
    const client = new DigestClient({ username: 'alice', password: 'wonderland' });
    const good = challenged(server, register());
    const nonce = good.wwwAuthenticate[0].params.get('nonce')!;
    const [exp, rand, mac] = nonce.split('.');
    const later = (parseInt(exp, 36) + 3_600_000).toString(36);
    const flipped = mac.slice(0, -2) + (mac.at(-2) === 'A' ? 'B' : 'A') + mac.at(-1);
    const other = setup({ secret: 'other-secret' }).server.challenge()[0].params.get('nonce')!;
    const otherRealm = new DigestServer({ realm: REALM + '.evil', secret: 'node-secret', clock }).challenge()[0].params.get('nonce')!;
    for (const forged of [`${later}.${rand}.${mac}`, `${exp}.${rand}.${flipped}`, other, otherRealm, 'abc', '']) {
      const res = challenged(server, register());
      for (const v of res.wwwAuthenticate) v.params.set('nonce', forged);
      const retry = answer(client, register(), res);
      assert.deepEqual(server.verify(retry, lookup), { result: 'challenge', reason: 'bad-nonce', stale: false }, forged);
    }
  });

  it('MUST refuse a replayed nonce-count and accept an increasing one', () => {
    const { server } = setup();
    const client = new DigestClient({ username: 'alice', password: 'wonderland' });
    const res = challenged(server, register());
    const first = answer(client, register(), res);
    assert.equal(server.verify(first, lookup).result, 'ok');
    // The very same bytes again (a captured request replayed).
    assert.deepEqual(server.verify(wire(first), lookup), { result: 'challenge', reason: 'replay', stale: true });
    // A new request answering the same challenge: nc=00000002.
    const second = answer(client, register({ cseq: 5 }), res);
    assert.equal(second.authorization[0].params.get('nc'), '00000002');
    assert.equal(server.verify(second, lookup).result, 'ok');
    assert.equal(server.verify(first, lookup).result, 'challenge');
  });

  it('MUST NOT accept nc>1 for a nonce it has not seen (e.g. after a restart)', () => {
    const { server, clock } = setup();
    const client = new DigestClient({ username: 'alice', password: 'wonderland' });
    const res = challenged(server, register());
    answer(client, register(), res);
    const second = answer(client, register(), res);
    const restarted = new DigestServer({ realm: REALM, secret: 'node-secret', clock });
    assert.deepEqual(restarted.verify(second, lookup), { result: 'challenge', reason: 'replay', stale: true });
  });

  it('MUST give the same verdict, after the same work, for a wrong password and an unknown user', () => {
    const { server } = setup();
    const calls: string[] = [];
    const spy: Ha1Lookup = (u, r, a) => {
      calls.push(u);
      return lookup(u, r, a);
    };
    const wrong = answer(new DigestClient({ username: 'alice', password: 'nope' }), register(), challenged(server, register()));
    const unknown = answer(new DigestClient({ username: 'mallory', password: 'nope' }), register({ user: 'mallory' }), challenged(server, register()));
    const a = server.verify(wrong, spy);
    const b = server.verify(unknown, spy);
    const strip = (v: DigestVerdict): DigestVerdict => (v.result === 'rejected' ? { ...v, username: '' } : v);
    assert.deepEqual(strip(a), strip(b));
    assert.deepEqual(a, { result: 'rejected', reason: 'bad-credentials', username: 'alice' });
    assert.deepEqual(calls, ['alice', 'mallory']);
  });

  it('MUST answer 400-class malformed credentials and a digest-uri that is not the Request-URI', () => {
    const { server } = setup();
    const retry = answer(new DigestClient({ username: 'alice', password: 'wonderland' }), register(), challenged(server, register()));
    const badNc = wire(retry);
    badNc.authorization[0].params.set('nc', 'zz');
    assert.equal(server.verify(badNc, lookup).result, 'bad-request');
    const noResponse = wire(retry);
    noResponse.authorization[0].params.delete('response');
    assert.equal(server.verify(noResponse, lookup).result, 'bad-request');
    const otherUri = wire(retry);
    otherUri.authorization[0].params.set('uri', 'sip:elsewhere.test');
    assert.deepEqual(server.verify(otherUri, lookup), { result: 'bad-request', reason: 'digest uri does not match Request-URI' });
    // Loose match: case of the host and URI parameters do not matter.
    const loose = register({ uri: 'sip:EXAMPLE.test;transport=udp' });
    const looseRetry = answer(new DigestClient({ username: 'alice', password: 'wonderland' }), loose, challenged(server, loose));
    looseRetry.uri = { scheme: 'sip', host: 'example.test', params: new Map(), headers: new Map() };
    assert.equal(server.verify(looseRetry, lookup).result, 'ok');
  });

  it('MUST ignore credentials for another realm and require the configured opaque', () => {
    const { server } = setup({ opaque: 'op4que' });
    const other = setup().server;
    const foreign = new DigestServer({ realm: 'other.test', secret: 'x', clock: new FakeClock() });
    const forOther = answer(new DigestClient({ username: 'alice', password: 'wonderland' }), register(), challenged(foreign, register()));
    assert.deepEqual(server.verify(forOther, lookup), { result: 'challenge', reason: 'missing', stale: false });
    const res = challenged(server, register());
    assert.equal(res.wwwAuthenticate[0].params.get('opaque'), 'op4que');
    const ok = answer(new DigestClient({ username: 'alice', password: 'wonderland' }), register(), res);
    assert.equal(server.verify(ok, lookup).result, 'ok');
    const noOpaque = answer(new DigestClient({ username: 'alice', password: 'wonderland' }), register(), challenged(other, register()));
    assert.equal(server.verify(noOpaque, lookup).result, 'challenge');
  });

  it('MUST accept RFC 2069 clients without qop unless allowNoQop is false', () => {
    const { server } = setup();
    const res = challenged(server, register());
    for (const v of res.wwwAuthenticate) v.params.delete('qop');
    const retry = answer(new DigestClient({ username: 'alice', password: 'wonderland' }), register(), res);
    assert.equal(retry.authorization[0].params.has('qop'), false);
    assert.equal(retry.authorization[0].params.has('nc'), false);
    assert.deepEqual(server.verify(retry, lookup), { result: 'ok', username: 'alice', realm: REALM, algorithm: 'SHA-256', qop: 'none' });
    const strict = new DigestServer({ realm: REALM, secret: 'node-secret', clock: new FakeClock(), allowNoQop: false });
    assert.equal(strict.verify(retry, lookup).result, 'challenge');
  });

  it('MUST NOT throw on hostile credential parameters', () => {
    const { server } = setup();
    const names = fc.constantFrom('username', 'realm', 'nonce', 'uri', 'response', 'algorithm', 'qop', 'nc', 'cnonce', 'opaque');
    fc.assert(
      fc.property(fc.array(fc.tuple(names, fc.string({ maxLength: 80 })), { maxLength: 12 }), fc.boolean(), (pairs, withRealm) => {
        const req = register();
        const params = new Map(pairs);
        if (withRealm) params.set('realm', REALM);
        req.authorization = [{ scheme: 'Digest', params }];
        const v = server.verify(req, lookup);
        assert.notEqual(v.result, 'ok');
      }),
      { numRuns: 500 },
    );
  });
});

describe('DigestClient', () => {
  it('MUST give up when the credentials it sent are challenged again without stale=true', () => {
    const { server } = setup();
    const client = new DigestClient({ username: 'alice', password: 'wrong' });
    const req = register();
    const retry = answer(client, req, challenged(server, req));
    assert.equal(server.verify(retry, lookup).result, 'rejected');
    assert.equal(client.authorize(retry, challenged(server, retry)), false);
  });

  it('MUST bound a loop of stale=true challenges', () => {
    const { server } = setup();
    const client = new DigestClient({ username: 'alice', password: 'wonderland', maxStaleRetries: 2 });
    let req = answer(client, register(), challenged(server, register()));
    req = answer(client, req, challenged(server, req, { stale: true }));
    req = answer(client, req, challenged(server, req, { stale: true }));
    assert.equal(client.authorize(req, challenged(server, req, { stale: true })), false);
  });

  it('MUST answer every realm it can, and nothing when no challenge fits', () => {
    const a = new DigestServer({ realm: 'a.test', secret: 'x', clock: new FakeClock() });
    const b = new DigestServer({ realm: 'b.test', secret: 'y', clock: new FakeClock() });
    const res = createResponse(register(), 407);
    res.proxyAuthenticate = [...a.challenge(), ...b.challenge()];
    const req = register();
    assert.equal(new DigestClient({ username: 'alice', password: 'pw' }).authorize(req, wire(res)), true);
    assert.deepEqual(req.proxyAuthorization.map((c) => c.params.get('realm')), ['a.test', 'b.test']);

    const limited = register();
    assert.equal(new DigestClient({ username: 'alice', password: 'pw', realms: ['c.test'] }).authorize(limited, wire(res)), false);
    const onlyIntRes = createResponse(register(), 401);
    onlyIntRes.wwwAuthenticate = a.challenge().map((v) => ({ scheme: v.scheme, params: new Map([...v.params, ['qop', 'auth-int']]) }));
    assert.equal(new DigestClient({ username: 'alice', password: 'pw' }).authorize(register(), onlyIntRes), false);
    assert.equal(new DigestClient({ username: 'alice', password: 'pw' }).authorize(register(), createResponse(register(), 403)), false);
  });

  it('MUST work from a stored HA1 instead of a password, only for the algorithms it has', () => {
    const { server } = setup();
    const h: Partial<Record<DigestAlgorithm, string>> = { MD5: ha1('alice', REALM, 'wonderland', 'MD5') };
    const client = new DigestClient({ username: 'alice', ha1: h });
    const retry = answer(client, register(), challenged(server, register()));
    assert.equal(retry.authorization[0].params.get('algorithm'), 'MD5');
    assert.equal(server.verify(retry, lookup).result, 'ok');
  });

  it('MUST sign the method of the request it authorizes (INVITE, BYE ...)', () => {
    const { server } = setup();
    const client = new DigestClient({ username: 'alice', password: 'wonderland' });
    for (const method of ['INVITE', 'BYE', 'MESSAGE']) {
      const req = register({ method, uri: 'sip:bob@example.test' });
      const retry = answer(client, req, challenged(server, req));
      assert.equal(server.verify(retry, lookup).result, 'ok', method);
      const asOther = wire(retry);
      asOther.method = 'CANCEL';
      asOther.cseq.method = 'CANCEL';
      assert.equal(server.verify(asOther, lookup).result, 'rejected', method);
    }
  });
});

describe('DigestClient configuration', () => {
  it('MUST refuse to be built without a password or an HA1 (SIP_DIGEST)', () => {
    assert.throws(() => new DigestClient({ username: 'alice' }), { code: 'SIP_DIGEST' });
  });
});
