import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResponse } from '../../../src/sip/message/build.ts';
import { TransportError } from '../../../src/sip/transport/errors.ts';
import { nextRequest, nextResponse, options, started } from './helpers.ts';

describe('TLS transport', () => {
  let dir = '';
  let cert = Buffer.alloc(0);
  let key = Buffer.alloc(0);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'spacephone-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    key = readFileSync(join(dir, 'key.pem'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('MUST carry a request and response over TLS, verifying the peer against the URI domain (RFC 5922 §7.2)', async () => {
    const tls = { cert, key, ca: cert };
    const a = await started({ tls, listen: [{ transport: 'tls', address: '127.0.0.1', port: 0 }] });
    const b = await started({ tls, listen: [{ transport: 'tls', address: '127.0.0.1', port: 0 }] });
    try {
      const bEnd = b.localEndpoint('tls')!;
      assert.equal(a.isReliable('tls'), true);
      const got = nextRequest(b);
      const ctx = await a.sendRequest(options('127.0.0.1', bEnd.port, { uriHost: 'localhost' }), bEnd);
      const inbound = await got;
      assert.equal(inbound.source.transport, 'tls');
      assert.equal(inbound.msg.via[0].transport, 'TLS');
      assert.equal(inbound.msg.via[0].port, a.localEndpoint('tls')!.port);
      const gotRes = nextResponse(a);
      await b.sendResponse(createResponse(inbound.msg, 200), inbound);
      const res = await gotRes;
      assert.equal(res.msg.status, 200);
      assert.equal(res.connectionId, ctx.connectionId);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('MUST refuse a peer whose certificate does not match the target domain', async () => {
    const tls = { cert, key, ca: cert };
    const a = await started({ tls, listen: [{ transport: 'tls', address: '127.0.0.1', port: 0 }] });
    const b = await started({ tls, listen: [{ transport: 'tls', address: '127.0.0.1', port: 0 }] });
    let received = 0;
    b.on('request', () => received++);
    try {
      const bEnd = b.localEndpoint('tls')!;
      await assert.rejects(a.sendRequest(options('127.0.0.1', bEnd.port, { uriHost: 'other.example' }), bEnd), (e: unknown) => {
        assert.ok(e instanceof TransportError);
        assert.equal(e.reason, 'connect-failed');
        return true;
      });
      assert.equal(received, 0);
      assert.equal(a.connectionIds().length, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
