import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Branch, type BranchEvents } from '../../../src/pbx/calls/branch.ts';
import { FakeClock } from '../../../src/sip/clock.ts';
import { createRequest, createResponse } from '../../../src/sip/message/build.ts';
import { parseUri } from '../../../src/sip/message/parser.ts';
import type { SipRequest, Uri } from '../../../src/sip/message/types.ts';
import type { TransactionLayer } from '../../../src/sip/transaction/layer.ts';
import { silentLogger } from '../../../src/util/log.ts';
import { answeredCall, startNode, waitFor, type TestNode } from './harness.ts';

// A full collection on demand, without starting the test process with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * A weak reference to the only live Call of a manager (a private field: a white-box
 * look for this test only). In a function of its own so that no local of the test
 * keeps the call alive.
 */
function refToOnlyCall(node: TestNode): WeakRef<object> {
  const live = [...(node.calls as unknown as { live: Set<object> }).live];
  assert.equal(live.length, 1, 'one live call');
  return new WeakRef(live[0] ?? {});
}

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
    // Let pending I/O callbacks and closed sockets settle between collections.
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return ref.deref() === undefined;
}

describe('memory of ended calls', () => {
  it('MUST NOT keep an ended call reachable while its transactions run out their 64*T1 timers', async () => {
    // Fake clock: Timer M / D / J of the call's transactions cannot run out during the test.
    const clock = new FakeClock(Date.now());
    const node = await startNode({}, clock);
    try {
      const [a, b] = [await node.phone('2001'), await node.phone('2002', { incoming: 'manual' })];
      assert.equal(await a.register(), 200);
      assert.equal(await b.register(), 200);
      const { call } = await answeredCall(a, b, 'sip:2002@pbx.test');
      const ref = refToOnlyCall(node);
      call.hangup();
      await waitFor(() => node.calls.stats().active === 0, 5000, 'call ended');
      // The B-side INVITE client transaction (Timer M) is still there, holding its branch.
      assert.ok(node.layer.clientCount > 0, 'the INVITE client transaction outlives the call');
      const ok = await collected(ref);
      if (!ok && process.env.H4SNAP) (await import('node:v8')).writeHeapSnapshot(process.env.H4SNAP);
      assert.equal(ok, true, 'the ended call is still reachable');
    } finally {
      await node.close();
    }
  });

  it('MUST still ACK and BYE a 2xx that reaches a detached branch (its call has ended)', () => {
    const sent: string[] = [];
    const layer = {
      request: (req: SipRequest) => {
        sent.push(req.method);
        return { cancel: () => undefined };
      },
      sendAck: (ack: SipRequest) => {
        sent.push(ack.method);
        return Promise.resolve();
      },
    } as unknown as TransactionLayer;
    const uri = (s: string): Uri => parseUri(s);
    const invite = createRequest({
      method: 'INVITE',
      uri: uri('sip:2002@127.0.0.1:5099'),
      from: { uri: uri('sip:2001@pbx.test'), params: new Map([['tag', 'from1']]) },
      to: { uri: uri('sip:2002@pbx.test'), params: new Map() },
      callId: 'detached-1',
      contact: [{ uri: uri('sip:127.0.0.1:5060'), params: new Map() }],
    });
    invite.via = [{ protocol: 'SIP/2.0', transport: 'UDP', host: '127.0.0.1', port: 5060, params: new Map([['branch', 'z9hG4bKdetached']]) }];
    const toCall: string[] = [];
    const events: BranchEvents = {
      provisional: () => toCall.push('provisional'),
      answered: () => toCall.push('answered'),
      failed: () => toCall.push('failed'),
    };
    const branch = new Branch('c.0', layer, invite, { transport: 'udp', address: '127.0.0.1', port: 5099 }, events, silentLogger());
    branch.start();
    branch.detach();
    const ringing = createResponse(invite, 180);
    ringing.to.params.set('tag', 'callee1');
    branch.onResponse(ringing);
    const ok = createResponse(invite, 200);
    ok.to.params.set('tag', 'callee1');
    ok.contact = [{ uri: uri('sip:2002@127.0.0.1:5099'), params: new Map() }];
    branch.onResponse(ok);
    assert.deepEqual(toCall, [], 'nothing reaches the ended call');
    assert.deepEqual(sent, ['INVITE', 'ACK', 'BYE']);
    assert.equal(branch.state, 'answered');
  });
});
