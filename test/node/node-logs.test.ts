import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CallSummary } from '../../src/admin/types.ts';
import type { SimCall } from '../../src/lab/sim-phone/index.ts';
import { createLogger } from '../../src/util/log.ts';
import { DOMAIN, once, startTestNode, waitFor } from './node-harness.ts';

interface LogLine {
  level: number;
  msg: string;
  call?: string;
  [k: string]: unknown;
}

/** Lines a node writes about itself, not about one call. */
const NODE_LINES = new Set(['node started', 'transport fault', 'binding reachability changed']);

describe('PbxNode call logging', () => {
  it('MUST put the call id on every log line about a call (answered, cancelled, unusable binding)', async () => {
    const lines: LogLine[] = [];
    const logger = createLogger({ node: 'n1', level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
    const t = await startTestNode({ logger });
    try {
      const a = await t.phone('2001');
      const b = await t.phone('2002', { incoming: 'manual' });
      assert.equal(await a.register(), 200);
      assert.equal(await b.register(), 200);
      const ids = new Set<string>();
      // Answered, then BYE.
      let incoming = once<[SimCall]>(b, 'incoming');
      const c1 = await a.call(`sip:2002@${DOMAIN}`);
      let [bCall] = await incoming;
      for (const c of (await t.get<CallSummary[]>('/api/calls')).body) ids.add(c.id);
      const answered = once(c1, 'answered');
      bCall.answer();
      await answered;
      const ended = once(c1, 'ended');
      bCall.hangup();
      await ended;
      // Cancelled while ringing.
      incoming = once<[SimCall]>(b, 'incoming');
      const c2 = await a.call(`sip:2002@${DOMAIN}`);
      [bCall] = await incoming;
      for (const c of (await t.get<CallSummary[]>('/api/calls')).body) ids.add(c.id);
      await waitFor(() => c2.state === 'ringing', 3000, 'ringing');
      const cancelled = once(c2, 'ended');
      c2.hangup();
      await cancelled;
      // A binding whose contact cannot be used (as if a store held garbage): skipped, 480.
      const store = t.node.stores.location;
      const good = store.bindings(`2002@${DOMAIN}`, Date.now())[0];
      assert.ok(good);
      store.removeAll(`2002@${DOMAIN}`);
      store.save({ ...good, contact: 'not a uri' });
      const c3 = await a.call(`sip:2002@${DOMAIN}`);
      await once(c3, 'ended');
      assert.equal(c3.finalStatus, 480);
      await waitFor(() => t.node.calls.stats().active === 0, 3000, 'calls end');

      const about = lines.filter((l) => !NODE_LINES.has(l.msg));
      assert.ok(about.some((l) => l.msg === 'unusable binding skipped'), 'the skipped binding is logged');
      assert.ok(about.some((l) => l.msg === 'call ended'), 'call ends are logged');
      const missing = about.filter((l) => typeof l.call !== 'string');
      assert.deepEqual(missing.map((l) => l.msg), [], 'every call line carries its call id');
      // The ids in the log are the ids the admin API shows.
      for (const id of ids) assert.ok(about.some((l) => l.call === id), `call ${id} appears in the log`);
      assert.equal(new Set(about.map((l) => l.call)).size, 3, 'three calls, three ids');
    } finally {
      await t.close();
    }
  });
});
