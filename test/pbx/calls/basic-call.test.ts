import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, waitFor, once } from './harness.ts';
import type { SimCall } from '../../../src/lab/sim-phone/index.ts';

const FREQS = [440, 1000, 1400, 2000];

describe('B2BUA call between two extensions', () => {
  it('MUST challenge with 407, ring, answer, carry tones both ways through the relay, hold/resume and end on BYE', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002', { incoming: 'manual' });
      assert.equal(await a.register(), 200);
      assert.equal(await b.register(), 200);
      let challenges = 0;
      node.transport.on('trace', (ev) => {
        if (ev.direction === 'out' && ev.data.subarray(0, 12).toString() === 'SIP/2.0 407 ') challenges++;
      });
      const incoming = once<[SimCall]>(b, 'incoming');
      const call = await a.call(`sip:2002@pbx.test`);
      const ringing = once(call, 'ringing');
      const [bCall] = await incoming;
      await ringing; // 180 relayed to the caller
      // At least one 407 (more if a loaded machine made the phone retransmit its INVITE).
      assert.ok(challenges >= 1, 'the first INVITE is challenged with 407');
      assert.equal(node.calls.stats().active, 1);
      assert.equal(node.calls.calls()[0]?.state, 'ringing');
      const answered = once(call, 'answered');
      bCall.answer();
      await answered;
      assert.equal(node.calls.calls()[0]?.state, 'answered');
      // Caller ID is the authenticated extension with its configured name.
      const inv = (bCall.inviteTx as { request: { from: { displayName?: string; uri: { user?: string } } } }).request;
      assert.equal(inv.from.displayName, 'Alice');
      assert.equal(inv.from.uri.user, '2001');
      // Media through the relay: A→B 1000 Hz, B→A 440 Hz.
      await Promise.all([call.sendTone(1000, 400), bCall.sendTone(440, 400)]);
      await waitFor(() => bCall.audio.packetsIn > 10 && call.audio.packetsIn > 10, 2000, 'media');
      assert.equal(bCall.heardFrequency(FREQS), 1000);
      assert.equal(call.heardFrequency(FREQS), 440);
      // Hold: A sends sendonly; B is told (recvonly answer); B's audio no longer reaches A.
      const reinvite = once<[string]>(bCall, 'reinvite');
      assert.equal(await call.hold(), 200);
      const [dir] = await reinvite;
      assert.equal(dir, 'sendonly');
      call.audio.clearReceived();
      await bCall.sendTone(2000, 200);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(call.audio.packetsIn, 0, 'held: no media towards the holder');
      // Resume: media flows again.
      assert.equal(await call.resume(), 200);
      await bCall.sendTone(1400, 300);
      await waitFor(() => call.audio.packetsIn > 5, 2000, 'media after resume');
      assert.equal(call.heardFrequency(FREQS), 1400);
      // BYE from the callee ends the caller's leg too.
      const ended = once<[string]>(call, 'ended');
      bCall.hangup();
      const [why] = await ended;
      assert.equal(why, 'bye');
      await waitFor(() => node.calls.stats().active === 0, 2000, 'call end');
      assert.equal(node.ports.inUse, 0);
      assert.equal(node.cdrs.length, 1);
      assert.equal(node.cdrs[0]?.result, 'answered');
    } finally {
      await node.close();
    }
  });
});
