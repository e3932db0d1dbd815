import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RegistrationView } from '../../src/admin/types.ts';
import { DOMAIN, once, startTestNode, waitFor } from './node-harness.ts';

describe('PbxNode NAT keep-alive end to end', () => {
  it('MUST mark a silent phone unreachable, keep an answering one reachable, and answer 480 instead of ringing the silent one', async () => {
    // intervalSec 1 (schema minimum), 2 failures; an unanswered OPTIONS fails after Timer F = 64·T1 = 3.2 s.
    const t = await startTestNode({ keepalive: { intervalSec: 1, maxFailures: 2 } });
    try {
      const alive = await t.phone('2001');
      const silent = await t.phone('2002');
      assert.equal(await alive.register(), 200);
      assert.equal(await silent.register(), 200);
      await silent.close(); // stops answering; its binding stays until expiry
      const reachable = async (aor: string): Promise<boolean | undefined> =>
        (await t.get<RegistrationView[]>('/api/registrations')).body.find((b) => b.aor === aor)?.reachable;
      // Bound: 2 × (interval + Timer F) plus a round that may be skipped while one is in flight.
      await waitFor(async () => (await reachable(`2002@${DOMAIN}`)) === false, 15_000, 'silent phone unreachable');
      assert.equal(await reachable(`2001@${DOMAIN}`), true, 'the answering phone stays reachable');
      const regs = (await t.get<RegistrationView[]>('/api/registrations')).body;
      assert.equal(regs.find((b) => b.aor === `2002@${DOMAIN}`)?.failures, 2);
      assert.equal(regs.find((b) => b.aor === `2001@${DOMAIN}`)?.failures, 0);

      // The call engine does not ring a binding known to be unreachable.
      const call = await alive.call(`sip:2002@${DOMAIN}`);
      await once(call, 'ended', 5000);
      assert.equal(call.finalStatus, 480);
      assert.equal(t.node.calls.stats().total, 0, 'no call was started');
    } finally {
      await t.close();
    }
  });
});
