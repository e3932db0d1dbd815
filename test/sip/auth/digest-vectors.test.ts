/**
 * Known-answer tests from the RFCs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { digestResponse, ha1 } from '../../../src/sip/auth/digest.ts';
import { DigestClient } from '../../../src/sip/auth/digest-client.ts';
import { createResponse } from '../../../src/sip/message/build.ts';
import { register } from './fixtures.ts';

// RFC 7616 §3.9.1
const R7616 = {
  realm: 'http-auth@example.org',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  uri: '/dir/index.html',
  md5: '8ca523f5e9506fed4657c9700eebdbec',
  sha256: '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
};

describe('Digest known answers', () => {
  it('MUST compute the RFC 2617 §3.5 MD5 response', () => {
    const h = ha1('Mufasa', 'testrealm@host.com', 'Circle Of Life', 'MD5');
    const r = digestResponse({
      algorithm: 'MD5',
      ha1: h,
      method: 'GET',
      uri: '/dir/index.html',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      qop: { nc: '00000001', cnonce: '0a4f113b' },
    });
    assert.equal(r, '6629fae49393a05397450978507c4ef1');
  });

  for (const [algorithm, expected] of [
    ['SHA-256', R7616.sha256],
    ['MD5', R7616.md5],
  ] as const) {
    it(`MUST compute the RFC 7616 §3.9.1 ${algorithm} response`, () => {
      const r = digestResponse({
        algorithm,
        ha1: ha1('Mufasa', R7616.realm, 'Circle of Life', algorithm),
        method: 'GET',
        uri: R7616.uri,
        nonce: R7616.nonce,
        qop: { nc: '00000001', cnonce: R7616.cnonce },
      });
      assert.equal(r, expected);
    });
  }

  it('MUST answer the RFC 7616 §3.9.1 challenge pair with the SHA-256 credentials of the RFC', () => {
    const req = register();
    req.method = 'GET';
    req.uri = { scheme: 'http', raw: R7616.uri };
    const res = createResponse(register(), 401);
    // MD5 listed first on purpose: the choice is by strength, not position.
    for (const algorithm of ['MD5', 'SHA-256']) {
      res.wwwAuthenticate.push({
        scheme: 'Digest',
        params: new Map([
          ['realm', R7616.realm],
          ['qop', 'auth, auth-int'],
          ['algorithm', algorithm],
          ['nonce', R7616.nonce],
          ['opaque', R7616.opaque],
        ]),
      });
    }
    const client = new DigestClient({ username: 'Mufasa', password: 'Circle of Life', cnonce: () => R7616.cnonce });
    assert.equal(client.authorize(req, res), true);
    assert.equal(req.authorization.length, 1);
    const p = req.authorization[0].params;
    assert.equal(p.get('algorithm'), 'SHA-256');
    assert.equal(p.get('response'), R7616.sha256);
    assert.equal(p.get('nc'), '00000001');
    assert.equal(p.get('qop'), 'auth');
    assert.equal(p.get('opaque'), R7616.opaque);
    assert.equal(p.get('uri'), R7616.uri);
  });
});
