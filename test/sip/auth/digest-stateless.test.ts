/**
 * Stateless nonces across nodes (RFC 7616 §3.3: the nonce carries its expiry
 * and a keyed hash) and the constant-time comparison used for responses and
 * nonce MACs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DigestServer, type Ha1Lookup } from '../../../src/sip/auth/digest-server.ts';
import { DigestClient } from '../../../src/sip/auth/digest-client.ts';
import { constantTimeEqual, ha1 } from '../../../src/sip/auth/digest.ts';
import { NonceMint } from '../../../src/sip/auth/nonce.ts';
import { createResponse } from '../../../src/sip/message/build.ts';
import { FakeClock } from '../../../src/sip/clock.ts';
import { register, wire } from './fixtures.ts';

const REALM = 'example.test';
const lookup: Ha1Lookup = (username, realm, algorithm) => (username === 'alice' ? { ha1: ha1(username, realm, 'wonderland', algorithm) } : undefined);

describe('Stateless digest nonces', () => {
  it('MUST accept at one node the answer to another node\'s challenge when both share secret and realm', () => {
    const clock = new FakeClock();
    const a = new DigestServer({ realm: REALM, secret: 'shared-secret', clock });
    const b = new DigestServer({ realm: REALM, secret: 'shared-secret', clock });
    const req = register();
    const res = createResponse(req, 401);
    a.applyChallenge(res);
    const client = new DigestClient({ username: 'alice', password: 'wonderland' });
    assert.equal(client.authorize(req, wire(res)), true);
    req.cseq.seq++;
    assert.equal(b.verify(wire(req), lookup).result, 'ok');
  });

  it('MUST check a nonce by its MAC: valid as minted, invalid with any character of it changed', () => {
    const mint = new NonceMint('s3cret', REALM);
    const nonce = mint.issue(1_000_000);
    assert.deepEqual(mint.check(nonce, 0), { valid: true, expiresAt: 1_000_000, expired: false });
    assert.deepEqual(mint.check(nonce, 1_000_000), { valid: true, expiresAt: 1_000_000, expired: true });
    for (let i = 0; i < nonce.length; i++) {
      if (nonce[i] === '.') continue;
      const changed = nonce.slice(0, i) + (nonce[i] === 'a' ? 'b' : 'a') + nonce.slice(i + 1);
      assert.equal(mint.check(changed, 0).valid, false, `position ${i}`);
    }
    assert.equal(new NonceMint('other', REALM).check(nonce, 0).valid, false, 'another secret');
    assert.equal(new NonceMint('s3cret', 'other.test').check(nonce, 0).valid, false, 'another realm');
  });

  it('MUST compare strings exactly in constantTimeEqual', () => {
    assert.equal(constantTimeEqual('0123abcd', '0123abcd'), true);
    assert.equal(constantTimeEqual('0123abcd', '0123abce'), false);
    assert.equal(constantTimeEqual('0123abcd', '0123abc'), false);
    assert.equal(constantTimeEqual('', ''), true);
    assert.equal(constantTimeEqual('A', '\u0141'), false, 'no truncation to bytes (U+0141 is not "A")');
  });
});
