import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { FakeClock, type Clock, type TimerHandle } from '../../../src/sip/clock.ts';
import { PROBE_BYTES, QueueDelayEstimate } from '../../../src/sip/transport/queue-probe.ts';
import { SipTransport } from '../../../src/sip/transport/transport.ts';
import { UdpListener } from '../../../src/sip/transport/udp.ts';

/** Probe timers fire only on tick() (no sleeping for timer logic); time itself is real, as the kernel queue's is. */
class TickClock implements Clock {
  private readonly timers = new FakeClock();
  now(): number {
    return Date.now();
  }
  monotonic(): number {
    return performance.now();
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    return this.timers.setTimer(ms, fn);
  }
  clearTimer(h: TimerHandle | undefined): void {
    this.timers.clearTimer(h);
  }
  /** Fires the timers due within `ms` (the probe's: one probe per interval). */
  tick(ms: number): void {
    this.timers.advance(ms);
  }
  get pending(): number {
    return this.timers.pending;
  }
}

/** Holds the event loop (as a flood of work would) while datagrams queue in the kernel. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

/** One event-loop turn (the poll phase reads the sockets). */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * After the nextTicks queued so far: dgram sends from its address lookup's nextTick,
 * so a probe just sent is then in the kernel queue, but not yet read (no poll phase yet).
 */
const afterTicks = (): Promise<void> => new Promise((r) => process.nextTick(r));

/** Polls once per loop turn until `cond` holds (socket I/O, not timer logic); fails after 2 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const end = performance.now() + 2000;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await turn();
  }
}

function probeBytes(token: Buffer, seq: number, sentAt: number): Buffer {
  const b = Buffer.alloc(PROBE_BYTES);
  token.copy(b, 0);
  b.writeDoubleBE(seq, 16);
  b.writeDoubleBE(sentAt, 24);
  return b;
}

function bindPeer(address: string, port = 0): Promise<Socket> {
  const s = createSocket('udp4');
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, address, () => resolve(s));
  });
}

function closeSocket(s: Socket): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

describe('receive-queue delay estimate', () => {
  it('MUST report the measured delay of the last probe back (receive time - send time)', () => {
    const e = new QueueDelayEstimate();
    e.sent(0, 1000);
    e.received(0, 1000, 1120);
    assert.equal(e.inFlight, 0);
    assert.equal(e.delayMs(5000), 120, 'the last measurement holds until the next one');
    e.sent(1, 5050);
    e.received(1, 5050, 5053);
    assert.equal(e.delayMs(5060), 3);
  });

  it('MUST count a probe not back yet as at least its age (the kernel drops probes too when the queue overflows)', () => {
    const e = new QueueDelayEstimate();
    e.sent(0, 1000);
    e.received(0, 1000, 1010);
    e.sent(1, 1050);
    assert.equal(e.delayMs(1060), 10, 'a young probe in flight says little');
    assert.equal(e.delayMs(1750), 700, 'then its age is the least the queue delay can be');
    e.sent(2, 1100);
    assert.equal(e.delayMs(1750), 700, 'the oldest one in flight counts');
  });

  it('MUST forget earlier probes once a later one is back (FIFO: they were dropped), and ignore stale ones', () => {
    const e = new QueueDelayEstimate();
    e.sent(0, 0);
    e.sent(1, 50);
    e.sent(2, 100);
    e.received(2, 100, 400);
    assert.equal(e.inFlight, 0);
    assert.equal(e.delayMs(10_000), 300, 'probes 0 and 1 no longer age');
    e.received(1, 50, 10_000);
    assert.equal(e.delayMs(10_000), 300, 'a probe older than the last one back changes nothing');
  });

  it('MUST keep its bookkeeping bounded and still age from the oldest probe in flight', () => {
    const e = new QueueDelayEstimate(4);
    for (let seq = 0; seq < 100; seq++) e.sent(seq, seq * 50);
    assert.equal(e.inFlight, 4);
    assert.equal(e.delayMs(5000), 5000, 'probe 0 is remembered');
    e.received(99, 99 * 50, 5000 + 20);
    assert.equal(e.inFlight, 0);
    assert.equal(e.delayMs(6000), 70);
  });
});

describe('UDP receive-queue delay probe', () => {
  it('MUST measure the time a probe waited in the socket queue while the event loop was blocked, and a small delay on an idle loop', async () => {
    const clock = new TickClock();
    const got: Buffer[] = [];
    const listener = await UdpListener.bind('127.0.0.1', 0, (d) => got.push(d), () => undefined);
    try {
      await listener.startQueueProbe(clock, 50);
      const probe = listener.queueProbe;
      assert.ok(probe);
      clock.tick(50); // probe 0 leaves
      await until(() => probe.estimate.inFlight === 0, 'probe 0');
      assert.ok(probe.queueDelayMs() < 50, `idle loop: ${probe.queueDelayMs()} ms`);

      clock.tick(50); // probe 1 leaves …
      await afterTicks(); // … is in the kernel queue …
      busyWait(300); // … while the loop is busy
      assert.ok(listener.queueDelayMs()! >= 300, 'not back yet: counted by its age');
      await until(() => probe.estimate.inFlight === 0, 'probe 1');
      const measured = probe.queueDelayMs();
      assert.ok(measured >= 250 && measured < 2000, `measured ${measured} ms`);

      clock.tick(50);
      await until(() => probe.estimate.inFlight === 0, 'probe 2');
      assert.ok(probe.queueDelayMs() < 50, `idle again: ${probe.queueDelayMs()} ms`);
      assert.equal(got.length, 0, 'probes never reach the datagram handler');
    } finally {
      await listener.close();
    }
    assert.equal(clock.pending, 0, 'the probe timer stops with the listener');
  });

  it('MUST treat a datagram carrying the token from any other source as an ordinary datagram', async () => {
    const clock = new TickClock();
    const token = randomBytes(16);
    const got: Buffer[] = [];
    const listener = await UdpListener.bind('127.0.0.1', 0, (d) => got.push(d), () => undefined);
    const peers: Socket[] = [];
    try {
      await listener.startQueueProbe(clock, 50, token);
      const probe = listener.queueProbe;
      assert.ok(probe);
      // A forged probe claiming a 10 s wait: from another port, and from the probe's port on another address.
      const forged = probeBytes(token, 7, performance.now() - 10_000);
      peers.push(await bindPeer('127.0.0.1'), await bindPeer('127.0.0.2', probe.port));
      for (const p of peers) p.send(forged, listener.local.port, '127.0.0.1');
      await until(() => got.length === 2, 'the forged datagrams');
      for (const d of got) assert.deepEqual(d, forged);
      assert.equal(probe.queueDelayMs(), 0, 'the estimate is untouched');
      // The acceptance rule itself: our address and token, exact length.
      assert.equal(probe.accept(forged, '127.0.0.2'), false);
      assert.equal(probe.accept(probeBytes(randomBytes(16), 8, performance.now()), probe.address), false, 'other token');
      assert.equal(probe.accept(Buffer.concat([forged, Buffer.from('x')]), probe.address), false, 'other length');
      assert.equal(probe.estimate.inFlight, 0);
    } finally {
      for (const p of peers) await closeSocket(p);
      await listener.close();
    }
  });

  it('MUST run only when configured on the transport and leave no socket or timer behind after close', async () => {
    const handles = (): string[] => process.getActiveResourcesInfo().filter((r) => /UDP|Timeout/i.test(r));
    // A closed socket's handle goes in the loop's close phase, after its 'close' callback: count after two turns.
    const settled = async (): Promise<number> => {
      await turn();
      await turn();
      return handles().length;
    };
    const before = await settled();
    const plain = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    await plain.start();
    assert.equal(plain.udpQueueDelayMs(), undefined, 'no probe unless configured');
    await plain.close();

    const t = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }], udpQueueProbeMs: 5 });
    await t.start();
    try {
      const heard: unknown[] = [];
      t.on('request', (r) => heard.push(r));
      t.on('fault', (f) => heard.push(f));
      assert.ok(handles().length >= before + 3, 'listener socket, probe socket, probe timer');
      const end = performance.now() + 60;
      while (performance.now() < end) await new Promise((r) => setTimeout(r, 5)); // let real probes flow (~10)
      const d = t.udpQueueDelayMs();
      assert.ok(d !== undefined && d < 50, `delay on an idle transport: ${d}`);
      assert.deepEqual(heard, [], 'probes are neither requests nor faults');
    } finally {
      await t.close();
    }
    await t.close();
    assert.equal(await settled(), before);
  });
});
