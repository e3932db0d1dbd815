import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/sip/clock.ts';
import { MemoryLocationStore } from '../../../src/pbx/location/memory-store.ts';
import { KeepAliveScheduler } from '../../../src/pbx/registrar/keepalive.ts';
import type { Binding } from '../../../src/store/location-store.ts';

function binding(now: number, over: Partial<Binding> = {}): Binding {
  return {
    aor: '100@pbx.test', contact: 'sip:100@127.0.0.1:5062', q: 1, expiresAt: now + 3600_000, callId: 'c1', cseq: 1, path: [],
    flow: { transport: 'udp', address: '127.0.0.1', port: 5062, localAddress: '127.0.0.1', localPort: 5060 },
    updatedAt: now, failures: 0, reachable: true, node: 'nl', ...over,
  };
}

/** Lets the pings' promise chains settle (no timer logic depends on this). */
const flush = () => new Promise<void>((r) => setImmediate(r));

async function tickOnce(clock: FakeClock, sec: number): Promise<void> {
  clock.advance(sec * 1000);
  await flush();
}

describe('KeepAliveScheduler', () => {
  it('MUST mark a binding unreachable after maxFailures consecutive failures and reachable again on success', async () => {
    const clock = new FakeClock();
    const store = new MemoryLocationStore();
    store.save(binding(clock.now()));
    let answer = false;
    const flips: boolean[] = [];
    const ka = new KeepAliveScheduler({ store, clock, intervalSec: 30, maxFailures: 3, ping: async () => answer, onReachability: (_b, r) => flips.push(r) });
    await tickOnce(clock, 29);
    assert.equal(store.all(clock.now())[0].failures, 0, 'no ping before the interval');
    await tickOnce(clock, 1);
    await tickOnce(clock, 30);
    let b = store.all(clock.now())[0];
    assert.equal(b.failures, 2);
    assert.equal(b.reachable, true);
    await tickOnce(clock, 30);
    b = store.all(clock.now())[0];
    assert.equal(b.failures, 3);
    assert.equal(b.reachable, false);
    answer = true;
    await tickOnce(clock, 30);
    b = store.all(clock.now())[0];
    assert.equal(b.failures, 0);
    assert.equal(b.reachable, true);
    assert.deepEqual(flips, [false, true]);
    ka.stop();
  });

  it('MUST reset the failure count on a success before the limit', async () => {
    const clock = new FakeClock();
    const store = new MemoryLocationStore();
    store.save(binding(clock.now()));
    const answers = [false, false, true, false, false];
    const ka = new KeepAliveScheduler({ store, clock, intervalSec: 10, maxFailures: 3, ping: async () => answers.shift() ?? true });
    for (let i = 0; i < 5; i++) await tickOnce(clock, 10);
    const b = store.all(clock.now())[0];
    assert.equal(b.failures, 2);
    assert.equal(b.reachable, true);
    ka.stop();
  });

  it('MUST count a rejected ping as a failure', async () => {
    const clock = new FakeClock();
    const store = new MemoryLocationStore();
    store.save(binding(clock.now()));
    const ka = new KeepAliveScheduler({ store, clock, intervalSec: 10, maxFailures: 1, ping: () => Promise.reject(new Error('ICMP unreachable')) });
    await tickOnce(clock, 10);
    assert.equal(store.all(clock.now())[0].reachable, false);
    ka.stop();
  });

  it('MUST purge expired bindings on each tick and not ping them', async () => {
    const clock = new FakeClock();
    const store = new MemoryLocationStore();
    store.save(binding(clock.now(), { contact: 'sip:short@127.0.0.1', expiresAt: clock.now() + 5_000 }));
    store.save(binding(clock.now()));
    const pinged: string[] = [];
    const ka = new KeepAliveScheduler({ store, clock, intervalSec: 10, maxFailures: 3, ping: async (b) => { pinged.push(b.contact); return true; } });
    await tickOnce(clock, 10);
    assert.deepEqual(pinged, ['sip:100@127.0.0.1:5062']);
    assert.equal(store.bindings('100@pbx.test', 0).length, 1, 'expired row deleted, not just hidden');
    ka.stop();
  });

  it('MUST NOT count a failure against a binding refreshed by a new REGISTER while the ping was in flight', async () => {
    const clock = new FakeClock();
    const store = new MemoryLocationStore();
    store.save(binding(clock.now()));
    let release: (v: boolean) => void = () => {};
    const ka = new KeepAliveScheduler({ store, clock, intervalSec: 10, maxFailures: 1, ping: () => new Promise<boolean>((r) => { release = r; }) });
    await tickOnce(clock, 10);
    store.save(binding(clock.now(), { cseq: 2 }));
    release(false);
    await flush();
    const b = store.all(clock.now())[0];
    assert.equal(b.cseq, 2);
    assert.equal(b.reachable, true);
    assert.equal(b.failures, 0);
    ka.stop();
  });

  it('MUST stop pinging after stop() and leave no timer behind', async () => {
    const clock = new FakeClock();
    const store = new MemoryLocationStore();
    store.save(binding(clock.now()));
    let pings = 0;
    const ka = new KeepAliveScheduler({ store, clock, intervalSec: 10, maxFailures: 3, ping: async () => { pings++; return true; } });
    await tickOnce(clock, 10);
    ka.stop();
    ka.stop();
    assert.equal(clock.pending, 0);
    await tickOnce(clock, 100);
    assert.equal(pings, 1);
  });
});
