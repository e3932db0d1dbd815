import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { PortPool, PortPoolError } from '../../src/media/port-pool.ts';

/** Random even base in 40000-40899 so parallel test files rarely share ports. */
function randomBase(): number {
  return 40000 + 2 * Math.floor(Math.random() * 450);
}

function bindForeign(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => resolve(s));
  });
}

function closeSocket(s: dgram.Socket): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

describe('PortPool', () => {
  it('MUST allocate an even RTP port with RTCP on the next odd port, both bound', async () => {
    const base = randomBase();
    const pool = new PortPool({ min: base + 1, max: base + 40 }); // odd min is rounded up
    const pair = await pool.allocate('127.0.0.1');
    try {
      assert.equal(pair.rtpPort % 2, 0);
      assert.equal(pair.rtcpPort, pair.rtpPort + 1);
      assert.ok(pair.rtpPort >= base + 2 && pair.rtcpPort <= base + 40);
      assert.equal(pair.rtp.address().port, pair.rtpPort);
      assert.equal(pair.rtcp.address().port, pair.rtcpPort);
      assert.equal(pool.inUse, 1);
    } finally {
      pair.close();
    }
    assert.equal(pool.inUse, 0);
  });

  it('MUST skip a pair whose RTP or RTCP port is taken (EADDRINUSE)', async () => {
    const base = randomBase();
    const foreignRtp = await bindForeign(base);
    const foreignRtcp = await bindForeign(base + 3);
    const pool = new PortPool({ min: base, max: base + 20 });
    try {
      const pair = await pool.allocate('127.0.0.1');
      assert.notEqual(pair.rtpPort, base);
      assert.notEqual(pair.rtpPort, base + 2);
      assert.equal(pair.rtpPort % 2, 0);
      assert.equal(pool.inUse, 1);
      pair.close();
      assert.equal(pool.inUse, 0);
    } finally {
      await closeSocket(foreignRtp);
      await closeSocket(foreignRtcp);
    }
  });

  it('MUST release ports on close so another socket can bind them', async () => {
    const base = randomBase();
    const pool = new PortPool({ min: base, max: base + 20 });
    const pair = await pool.allocate('127.0.0.1');
    const port = pair.rtpPort;
    pair.close();
    pair.close(); // idempotent
    assert.equal(pair.closed, true);
    assert.equal(pool.inUse, 0);
    await new Promise((r) => setImmediate(r));
    const s = await bindForeign(port);
    await closeSocket(s);
  });

  it('MUST never hand out the same pair twice while in use and fail with MEDIA_PORTS_EXHAUSTED when full', async () => {
    const base = randomBase();
    const pool = new PortPool({ min: base, max: base + 5 }); // 3 pairs
    assert.equal(pool.capacity, 3);
    const pairs = [];
    try {
      for (let i = 0; i < 3; i++) pairs.push(await pool.allocate('127.0.0.1'));
    } catch {
      // Another test file may hold one of these ports; that is an exhaustion too.
    }
    assert.equal(new Set(pairs.map((p) => p.rtpPort)).size, pairs.length);
    await assert.rejects(pool.allocate('127.0.0.1'), (e: unknown) => e instanceof PortPoolError && e.code === 'MEDIA_PORTS_EXHAUSTED');
    for (const p of pairs) p.close();
    assert.equal(pool.inUse, 0);
  });

  it('MUST reject an invalid range with MEDIA_PORT_RANGE', () => {
    for (const r of [{ min: 500, max: 600 }, { min: 40000, max: 40000 }, { min: 65534, max: 65536 }]) {
      assert.throws(() => new PortPool(r), (e: unknown) => e instanceof PortPoolError && e.code === 'MEDIA_PORT_RANGE');
    }
  });

  it('MUST bind on IPv6 loopback when given ::1', async () => {
    // ::1 is part of the test environment (the SIP transport tests need it too): fail, never skip.
    const base = randomBase();
    const pool = new PortPool({ min: base, max: base + 20 });
    const pair = await pool.allocate('::1');
    assert.equal(pair.rtp.address().family, 'IPv6');
    pair.close();
    assert.equal(pool.inUse, 0);
  });
});
