import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequest } from '../../../src/sip/message/build.ts';
import { parseUri } from '../../../src/sip/message/parser.ts';
import type { SimCall, SimPhone } from '../../../src/lab/sim-phone/index.ts';
import { FakeClock } from '../../../src/sip/clock.ts';
import { DOMAIN, TIMERS, answeredCall, startNode, once, waitFor, type TestNode } from './harness.ts';

const FREQS = [440, 1000, 1400, 2000];

async function connected(node: TestNode, callerOpts = {}, calleeOpts = {}, caller?: SimPhone): Promise<{ a: SimPhone; b: SimPhone; call: SimCall; bCall: SimCall }> {
  const a = caller ?? (await node.phone('2001', callerOpts));
  const b = await node.phone('2002', { incoming: 'manual', ...calleeOpts });
  await a.register();
  await b.register();
  const { call, callee: bCall } = await answeredCall(a, b, 'sip:2002@pbx.test');
  return { a, b, call, bCall };
}

describe('mid-call and early session handling', () => {
  it('MUST answer the caller with our SDP on a 183 with SDP so early media flows before the answer', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002', { incoming: 'manual', earlyMedia: true });
      await a.register();
      await b.register();
      const incoming = once<[SimCall]>(b, 'incoming');
      const call = await a.call('sip:2002@pbx.test');
      const [bCall] = await incoming;
      const [progress] = await once<[{ status: number; body: Buffer }]>(call, 'ringing');
      assert.equal(progress.status, 183);
      assert.ok(progress.body.toString().includes('m=audio'), '183 to the caller carries our SDP');
      await bCall.sendTone(1400, 300); // announcement before answer
      await waitFor(() => call.audio.packetsIn > 5, 2000, 'early media');
      assert.equal(call.heardFrequency(FREQS), 1400);
      assert.equal(call.state, 'ringing');
      call.hangup();
      await waitFor(() => bCall.state === 'ended' && node.calls.stats().active === 0 && node.ports.inUse === 0, 2000, 'end');
    } finally {
      await node.close();
    }
  });

  it('MUST relay a hold from the callee and answer crossing re-INVITEs (glare) with 491', async () => {
    const node = await startNode();
    try {
      const { call, bCall } = await connected(node);
      const reinvite = once<[string]>(call, 'reinvite');
      assert.equal(await bCall.hold(), 200);
      assert.equal((await reinvite)[0], 'sendonly');
      bCall.audio.clearReceived();
      await call.sendTone(1000, 200);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(bCall.audio.packetsIn, 0, 'the holder receives nothing');
      const statuses = await Promise.all([call.resume(), bCall.resume()]);
      assert.deepEqual([...statuses].sort(), [200, 491]);
      call.hangup();
      await waitFor(() => bCall.state === 'ended' && node.ports.inUse === 0, 2000, 'end');
    } finally {
      await node.close();
    }
  });

  it('MUST relay INFO to the other leg and its final status back', async () => {
    const node = await startNode();
    try {
      const { a, call } = await connected(node);
      const d = call.dialog;
      assert.ok(d);
      const info = d.createRequest('INFO');
      const res = await a.send(info);
      assert.equal(res.status, 200);
      call.hangup();
      await waitFor(() => node.calls.stats().active === 0, 2000, 'end');
    } finally {
      await node.close();
    }
  });

  it('MUST refuse an INVITE without SDP (late offer) with 488', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002');
      await b.register();
      const inv = createRequest({
        method: 'INVITE',
        uri: parseUri(`sip:2002@${DOMAIN}`),
        from: { uri: parseUri(`sip:2001@${DOMAIN}`), params: new Map() },
        to: { uri: parseUri(`sip:2002@${DOMAIN}`), params: new Map() },
        contact: [{ uri: parseUri(`sip:2001@${a.endpoint.address}:${a.endpoint.port}`), params: new Map() }],
      });
      assert.equal((await a.send(inv)).status, 488);
      assert.equal(node.calls.stats().total, 0);
    } finally {
      await node.close();
    }
  });

  it('MUST end every call on close(): BYE answered calls, CANCEL + 503 ringing ones, release media', async () => {
    const node = await startNode();
    try {
      const { call, bCall } = await connected(node);
      const c = await node.phone('2003', { incoming: 'manual' });
      const d = await node.phone('2004');
      await c.register();
      const incoming = once<[SimCall]>(c, 'incoming');
      await d.register();
      const ringing = await d.call('sip:2003@pbx.test');
      const [cCall] = await incoming;
      await node.calls.close();
      await node.calls.close(); // idempotent
      await waitFor(() => [call, bCall, ringing, cCall].every((x) => x.state === 'ended'), 2000, 'all ended');
      assert.equal(call.endReason, 'bye');
      assert.equal(bCall.endReason, 'bye');
      assert.equal(ringing.finalStatus, 503);
      assert.equal(cCall.endReason, 'cancelled');
      assert.equal(node.ports.inUse, 0);
      assert.equal(node.calls.stats().active, 0);
    } finally {
      await node.close();
    }
  });

  it('MUST retransmit the 200 until the ACK and end the call with BYE on both legs when no ACK comes (§13.3.1.4)', async () => {
    const clock = new FakeClock(Date.now());
    const node = await startNode({}, clock);
    try {
      const a = await node.phone('2001');
      // The caller's ACKs for 2xx get lost.
      a.layer.sendAck = () => Promise.resolve({ source: node.endpoint, local: a.endpoint });
      let okSent = 0;
      node.transport.on('trace', (ev) => {
        if (ev.direction === 'out' && ev.data.subarray(0, 11).toString() === 'SIP/2.0 200' && ev.data.includes('INVITE\r\n')) okSent++;
      });
      const { call, bCall } = await connected(node, {}, {}, a);
      const before = okSent;
      clock.advance(TIMERS.T1 * 3);
      await waitFor(() => okSent > before, 1000, '2xx retransmission');
      clock.advance(64 * TIMERS.T1);
      await waitFor(() => call.state === 'ended' && bCall.state === 'ended', 2000, 'BYE both legs');
      assert.equal(call.endReason, 'bye');
      assert.equal(bCall.endReason, 'bye');
      assert.equal(node.ports.inUse, 0);
    } finally {
      await node.close();
    }
  });
});
