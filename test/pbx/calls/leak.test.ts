import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/sip/clock.ts';
import type { SimCall } from '../../../src/lab/sim-phone/index.ts';
import { startNode, once, waitFor } from './harness.ts';

const CALLS = 1000;
const PARALLEL = 10;

function ended(call: SimCall): Promise<unknown> {
  return call.endReason ? Promise.resolve() : once(call, 'ended', 5000);
}

describe('resource hygiene', () => {
  it('MUST release every media port and transaction after 1,000 short calls of every outcome', { timeout: 120_000 }, async () => {
    // The node runs on a fake clock so that Timer D (32 s on UDP) can be run out at the end.
    const clock = new FakeClock(Date.now());
    const node = await startNode({}, clock);
    try {
      // Phones with the default T1: retransmissions only when something is really lost.
      const timers = { T1: 500, T2: 4000, T4: 5000 };
      const a = await node.phone('2001', { timers });
      const answerer = await node.phone('2002', { timers }); // answers; A hangs up
      const hanger = await node.phone('2005', { timers }); // answers, then hangs up itself
      const busy = await node.phone('2003', { timers, incoming: { reject: 486 } });
      const silent = await node.phone('2004', { timers, incoming: 'manual' }); // rings until A cancels
      for (const p of [a, answerer, hanger, busy, silent]) assert.equal(await p.register(), 200);
      hanger.on('incoming', (c) => c.once('answered', () => setTimeout(() => c.hangup(), 20)));
      const outcomes = { answered: 0, busy: 0, cancelled: 0, byCallee: 0 };
      const one = async (i: number): Promise<void> => {
        const kind = i % 4;
        const target = ['2002', '2005', '2003', '2004'][kind];
        const call = await a.call(`sip:${target}@pbx.test`);
        if (kind === 0) {
          await once(call, 'answered', 5000);
          call.hangup();
          outcomes.answered++;
        } else if (kind === 3) {
          if (call.state !== 'ringing') await once(call, 'ringing', 5000);
          call.hangup();
          await ended(call);
          if (call.finalStatus === 487) outcomes.cancelled++;
        } else {
          await ended(call);
          if (kind === 1 && call.endReason === 'bye') outcomes.byCallee++;
          if (kind === 2 && call.finalStatus === 486) outcomes.busy++;
        }
      };
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < CALLS) await one(next++);
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      assert.deepEqual(outcomes, { answered: CALLS / 4, busy: CALLS / 4, cancelled: CALLS / 4, byCallee: CALLS / 4 });
      await waitFor(() => node.calls.stats().active === 0, 5000, 'all calls ended');
      assert.equal(node.calls.stats().total, CALLS);
      assert.equal(node.ports.inUse, 0, 'media ports leaked');
      // Let the last CANCEL/487 and BYE/200 exchanges land before time is run out.
      const phones = [a, answerer, hanger, busy, silent];
      await waitFor(() => phones.every((p) => p.calls.length === 0), 5000, 'phones idle');
      await new Promise((r) => setTimeout(r, 100));
      clock.advance(40_000); // Timers D, H, I, J, K, L, M run out
      assert.equal(node.layer.clientCount, 0, 'client transactions left');
      assert.equal(node.layer.serverCount, 0, 'server transactions left');
      assert.equal(clock.pending, 0, 'timers left on the node clock');
      assert.equal(node.cdrs.length, CALLS);
    } finally {
      await node.close();
    }
  });
});
