import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SimCall } from '../../../src/lab/sim-phone/index.ts';
import { COMPLETED_ELSEWHERE } from '../../../src/pbx/calls/call.ts';
import { serializeUri } from '../../../src/sip/message/serializer.ts';
import type { SipRequest } from '../../../src/sip/message/types.ts';
import { answeredCall, startNode, once, waitFor, dial, registered } from './harness.ts';

const FREQS = [440, 1000, 1400, 2000];
const MANUAL = { incoming: 'manual' as const };

describe('forking to every contact of the callee', () => {
  it('MUST ring all contacts, connect the first to answer and CANCEL the other with Reason (RFC 3326)', async () => {
    const node = await startNode();
    try {
      const [a, b1, b2] = await registered(node, ['2001'], ['2002', MANUAL], ['2002', MANUAL]);
      const { call, incoming: [c1, c2] } = await dial(a, 'sip:2002@pbx.test', [b1, b2]);
      // Each branch went to the phone's flow (its own address), not only one of them.
      assert.notEqual(b1.endpoint.address, b2.endpoint.address);
      const answered = once(call, 'answered');
      c2.answer();
      await answered;
      await waitFor(() => c1.state === 'ended', 2000, 'CANCEL of the other branch');
      assert.equal(c1.endReason, 'cancelled');
      assert.equal(c1.cancelReason, COMPLETED_ELSEWHERE);
      await call.sendTone(1000, 300);
      await waitFor(() => c2.audio.packetsIn > 5, 2000, 'media');
      assert.equal(c2.heardFrequency(FREQS), 1000);
      assert.equal(c1.audio.packetsIn, 0);
      call.hangup();
      await waitFor(() => c2.state === 'ended' && node.calls.stats().active === 0, 2000, 'end');
      assert.equal(c2.endReason, 'bye');
      assert.equal(node.ports.inUse, 0);
    } finally {
      await node.close();
    }
  });

  it('MUST ACK and BYE a second 2xx that lost the race', async () => {
    const node = await startNode();
    try {
      const [a, b1, b2] = await registered(node, ['2001'], ['2002', MANUAL], ['2002', MANUAL]);
      const { call, incoming: [c1, c2] } = await dial(a, 'sip:2002@pbx.test', [b1, b2]);
      c1.answer();
      c2.answer(); // both 200 OKs are on the wire before the node sees either
      await once(call, 'answered');
      await waitFor(() => [c1, c2].filter((c) => c.state === 'ended').length === 1, 2000, 'loser hung up');
      const loser = c1.state === 'ended' ? c1 : c2;
      const winner = loser === c1 ? c2 : c1;
      assert.equal(loser.endReason, 'bye');
      assert.equal(winner.state, 'answered');
      // The loser's 2xx was ACKed: it stopped retransmitting.
      assert.equal(loser.retransmitter?.state, 'acked');
      winner.hangup();
      await waitFor(() => call.state === 'ended' && node.calls.stats().active === 0, 2000, 'end');
      assert.equal(node.ports.inUse, 0);
    } finally {
      await node.close();
    }
  });
});

describe('media between legs', () => {
  it('MUST transcode between a PCMU-only caller and a PCMA-only callee', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001', { codecs: ['PCMU'] });
      const b = await node.phone('2002', { codecs: ['PCMA'], incoming: 'manual' });
      await a.register();
      await b.register();
      const { call, callee: bCall } = await answeredCall(a, b, 'sip:2002@pbx.test');
      assert.equal(call.audio.codec, 'PCMU');
      assert.equal(bCall.audio.codec, 'PCMA');
      await Promise.all([call.sendTone(1000, 300), bCall.sendTone(440, 300)]);
      await waitFor(() => bCall.audio.packetsIn > 5 && call.audio.packetsIn > 5, 2000, 'media');
      assert.equal(bCall.heardFrequency(FREQS), 1000);
      assert.equal(call.heardFrequency(FREQS), 440);
      call.hangup();
      await waitFor(() => node.calls.stats().active === 0 && node.ports.inUse === 0, 2000, 'end');
    } finally {
      await node.close();
    }
  });
});

describe('branch targets', () => {
  it('MUST send a branch to the registration flow (not the Contact host), with Route from Path and Max-Forwards decremented', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002', { incoming: 'manual' });
      await a.register();
      await b.register();
      const [binding] = node.store.bindings('2002@pbx.test', Date.now());
      assert.ok(binding);
      // A Contact that is unreachable (a phone behind NAT advertising its private address).
      node.store.remove(binding.aor, binding.contact);
      node.store.save({ ...binding, contact: 'sip:2002@127.0.0.254:9', path: ['<sip:edge.pbx.test;lr>'] });
      const incoming = once<[SimCall]>(b, 'incoming');
      const call = await a.call('sip:2002@pbx.test');
      const [bCall] = await incoming;
      const inv = (bCall.inviteTx as { request: SipRequest }).request;
      assert.equal(serializeUri(inv.uri), 'sip:2002@127.0.0.254:9');
      assert.deepEqual(inv.route.map((r) => serializeUri(r.uri)), ['sip:edge.pbx.test;lr']);
      assert.equal(inv.maxForwards, 69);
      call.hangup();
      await waitFor(() => bCall.state === 'ended' && node.calls.stats().active === 0, 2000, 'end');
    } finally {
      await node.close();
    }
  });
});
