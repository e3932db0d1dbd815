import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CallSummary } from '../../src/admin/types.ts';
import type { SimCall } from '../../src/lab/sim-phone/index.ts';
import { answeredCall } from '../support/calls.ts';
import { DOMAIN, metricValue, once, rawRequest, RawUdpClient, startTestNode, waitFor } from './node-harness.ts';

describe('PbxNode metrics and per-call media counters', () => {
  it('MUST count in sip_responses_sent_total every response the node sends, from every layer', async () => {
    const t = await startTestNode();
    const wire = new Map<string, number>();
    t.node.transport.on('trace', (ev) => {
      const line = ev.data.toString('latin1', 0, 12);
      if (ev.direction === 'out' && line.startsWith('SIP/2.0 ')) wire.set(line.slice(8, 11), (wire.get(line.slice(8, 11)) ?? 0) + 1);
    });
    const client = await RawUdpClient.open();
    try {
      const a = await t.phone('2001');
      const b = await t.phone('2002', { incoming: 'manual' });
      assert.equal(await a.register(), 200);
      assert.equal(await b.register(), 200);
      const { call, callee: bCall } = await answeredCall(a, b, `sip:2002@${DOMAIN}`);
      const ended = once(bCall, 'ended');
      call.hangup();
      await ended;
      // Unparseable request: the transport itself answers 400 (§21.4.1).
      const bad = await client.request(t.udp, (l) => rawRequest('OPTIONS', `sip:${DOMAIN}`, l, ['Max-Forwards: abc']).replace('Max-Forwards: 70\r\n', ''));
      assert.equal(bad.status, 400);
      await waitFor(() => t.node.calls.stats().active === 0, 3000, 'call end');

      const snap = new Map(wire);
      const text = await t.metrics();
      // Senders other than the node's request handler: 407, 180 (call engine), 400 (transport).
      for (const status of ['180', '407', '400']) {
        assert.ok((metricValue(text, 'sip_responses_sent_total', `status="${status}"`) ?? 0) >= 1, `a ${status} is counted`);
      }
      // Every response seen on the wire is counted, and nothing else (bounds: a late
      // retransmission may leave while /metrics is fetched).
      for (const [status, n] of wire) {
        const v = metricValue(text, 'sip_responses_sent_total', `status="${status}"`) ?? 0;
        assert.ok(v >= (snap.get(status) ?? 0) && v <= n, `status ${status}: counted ${v}, on the wire ${snap.get(status) ?? 0}..${n}`);
      }
      const counted = text.split('\n').filter((l) => l.startsWith('sip_responses_sent_total{'));
      assert.ok(counted.length >= snap.size && counted.length <= wire.size, 'no status counted that never went out');
      // 200s: REGISTER ×2, INVITE, BYE at least — more than the node's own handler sends (2).
      assert.ok((wire.get('200') ?? 0) >= 4);
    } finally {
      await client.close();
      await t.close();
    }
  });

  it('MUST count ended calls in calls_total by result', async () => {
    const t = await startTestNode();
    try {
      const a = await t.phone('2001');
      const b = await t.phone('2002', { incoming: 'manual' });
      const c = await t.phone('2003', { incoming: { reject: 486 } });
      for (const p of [a, b, c]) assert.equal(await p.register(), 200);
      // Answered.
      let incoming = once<[SimCall]>(b, 'incoming');
      const c1 = await a.call(`sip:2002@${DOMAIN}`);
      let [bCall] = await incoming;
      const answered = once(c1, 'answered');
      bCall.answer();
      await answered;
      const ended1 = once(c1, 'ended');
      bCall.hangup();
      await ended1;
      // Cancelled by the caller while ringing.
      incoming = once<[SimCall]>(b, 'incoming');
      const c2 = await a.call(`sip:2002@${DOMAIN}`);
      [bCall] = await incoming;
      await waitFor(() => c2.state === 'ringing', 3000, 'ringing');
      const ended2 = once(c2, 'ended');
      c2.hangup();
      await ended2;
      assert.equal(c2.finalStatus, 487);
      // Busy.
      const c3 = await a.call(`sip:2003@${DOMAIN}`);
      await once(c3, 'ended');
      assert.equal(c3.finalStatus, 486);
      await waitFor(() => t.node.calls.stats().active === 0, 3000, 'calls end');
      const text = await t.metrics();
      assert.equal(metricValue(text, 'calls_total', 'result="answered"'), 1);
      assert.equal(metricValue(text, 'calls_total', 'result="cancelled"'), 1);
      assert.equal(metricValue(text, 'calls_total', 'result="busy"'), 1);
      assert.equal(metricValue(text, 'calls_total', 'result="failed"'), undefined);
    } finally {
      await t.close();
    }
  });

  it('MUST show per-call media counters for each direction in GET /api/calls', async () => {
    const t = await startTestNode();
    try {
      const a = await t.phone('2001');
      const b = await t.phone('2002');
      assert.equal(await a.register(), 200);
      assert.equal(await b.register(), 200);
      const incoming = once<[SimCall]>(b, 'incoming');
      const call = await a.call(`sip:2002@${DOMAIN}`);
      const [bCall] = await incoming;
      await once(call, 'answered');
      const before = (await t.get<CallSummary[]>('/api/calls')).body[0]?.media;
      assert.ok(before, 'an answered call has media counters');
      assert.deepEqual(before, { aToB: { packets: 0, bytes: 0 }, bToA: { packets: 0, bytes: 0 } }, 'nothing sent yet');
      // A sends 400 ms (20 packets), B 200 ms (10 packets): the directions are told apart.
      await Promise.all([call.sendTone(1000, 400), bCall.sendTone(440, 200)]);
      await waitFor(() => bCall.audio.packetsIn >= 20 && call.audio.packetsIn >= 10, 3000, 'media');
      const media = (await t.get<CallSummary[]>('/api/calls')).body[0]?.media;
      assert.ok(media);
      assert.equal(media.aToB.packets, 20);
      assert.equal(media.bToA.packets, 10);
      // 20 ms of G.711 = 160 payload bytes + 12 RTP header bytes.
      assert.equal(media.aToB.bytes, 20 * 172);
      assert.equal(media.bToA.bytes, 10 * 172);
    } finally {
      await t.close();
    }
  });
});
