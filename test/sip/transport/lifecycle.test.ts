import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { TransportError } from '../../../src/sip/transport/errors.ts';
import { SipTransport } from '../../../src/sip/transport/transport.ts';
import { nextRequest, options, started, tcpPeer } from './helpers.ts';

function handles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => /UDP|TCP|TLS|Timeout/i.test(r));
}

describe('SipTransport lifecycle', () => {
  it('MUST bind several listeners on IPv4 and IPv6 and report their real ports', async () => {
    const t = await started({
      listen: [
        { transport: 'udp', address: '127.0.0.1', port: 0 },
        { transport: 'udp', address: '::1', port: 0 },
        { transport: 'tcp', address: '127.0.0.1', port: 0 },
        { transport: 'tcp', address: '::1', port: 0 },
      ],
    });
    try {
      const l = t.listening();
      assert.equal(l.length, 4);
      for (const e of l) assert.ok(e.port > 0);
      assert.equal(t.localEndpoint('udp', 6)?.address, '::1');
      assert.equal(t.localEndpoint('tcp', 4)?.address, '127.0.0.1');
      assert.equal(t.localEndpoint('tls'), undefined);
      assert.equal(t.isReliable('udp'), false);
      assert.equal(t.isReliable('tcp'), true);
    } finally {
      await t.close();
    }
  });

  it('MUST give the advertised address as local endpoint and put it in Via sent-by', async () => {
    // (Wildcard binds are not exercised: tests bind loopback only.)
    const a = await started({ listen: [{ transport: 'tcp', address: '127.0.0.1', port: 0, advertise: '127.0.0.99' }] });
    const b = await started({ listen: [{ transport: 'tcp', address: '127.0.0.1', port: 0 }] });
    try {
      const aEnd = a.localEndpoint('tcp')!;
      assert.equal(aEnd.address, '127.0.0.99');
      assert.equal(aEnd.port, a.listening()[0].port);
      assert.equal(a.listening()[0].address, '127.0.0.1');
      const got = nextRequest(b);
      await a.sendRequest(options('127.0.0.1', 1), b.localEndpoint('tcp')!);
      const via = (await got).msg.via[0];
      assert.equal(via.host, '127.0.0.99');
      assert.equal(via.params.get('received'), '127.0.0.1', 'the peer sees the real source');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('MUST close every socket, connection and timer, idempotently, and refuse sends afterwards', async () => {
    const a = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }, { transport: 'tcp', address: '127.0.0.1', port: 0 }] });
    const b = await started({ listen: [{ transport: 'tcp', address: '127.0.0.1', port: 0 }] });
    const bEnd = b.localEndpoint('tcp')!;
    const got = nextRequest(b);
    await a.sendRequest(options('127.0.0.1', bEnd.port), bEnd);
    await got;
    const phone = await tcpPeer(bEnd.port);
    const phoneClosed = new Promise<void>((r) => phone.once('close', () => r()));
    const ports = a.listening();
    assert.ok(handles().length > 0);

    await Promise.all([a.close(), a.close(), b.close()]);
    await a.close();
    await phoneClosed;
    assert.deepEqual(a.connectionIds(), []);
    assert.deepEqual(b.connectionIds(), []);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(handles(), [], 'no socket or timer left open');
    await assert.rejects(a.sendRequest(options('127.0.0.1', 5060), { transport: 'udp', address: '127.0.0.1', port: 5060 }), (e: unknown) => e instanceof TransportError && e.reason === 'closed');

    // The ports are really free again.
    const u = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.bind(ports[0].port, '127.0.0.1', () => resolve());
    });
    u.close();
    const s = createServer();
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(ports[1].port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((r) => s.close(() => r()));
  });

  it('MUST release what it bound when one listener fails to start', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as { port: number }).port;
    const t = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }, { transport: 'tcp', address: '127.0.0.1', port: taken }] });
    try {
      await assert.rejects(t.start(), (e: unknown) => e instanceof TransportError && e.reason === 'listen-failed');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(handles().filter((h) => /UDP/.test(h)), [], 'the UDP socket bound first was released');
    } finally {
      await t.close();
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
