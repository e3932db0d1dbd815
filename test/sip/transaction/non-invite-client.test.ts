import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSynthetic } from '../../../src/sip/transaction/messages.ts';
import type { FakeClock } from '../../../src/sip/clock.ts';
import { flush, PEER, type FakeTransport } from './fake-transport.ts';
import { outboundRequest, peerResponse } from './fixtures.ts';
import { recorder, setup } from './setup.ts';

const TCP = { ...PEER, transport: 'tcp' as const };

/** Advances ms by ms and returns the times (relative) at which a request was sent. */
function sendTimes(clock: FakeClock, transport: FakeTransport, until: number): number[] {
  const times: number[] = [];
  let n = transport.sentRequests.length;
  for (let t = 1; t <= until; t++) {
    clock.advance(1);
    if (transport.sentRequests.length !== n) {
      times.push(t);
      n = transport.sentRequests.length;
    }
  }
  return times;
}

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  it('MUST retransmit on Timer E, doubling up to T2 in Trying', () => {
    const { clock, transport, layer } = setup();
    const tx = layer.request(outboundRequest('OPTIONS'), PEER, recorder());
    assert.equal(tx.state, 'trying');
    // E = 500, 1000, 2000, 4000, 4000, ... (capped at T2 = 4 s)
    assert.deepEqual(sendTimes(clock, transport, 20_000), [500, 1500, 3500, 7500, 11500, 15500, 19500]);
    layer.close();
  });

  it('MUST retransmit every T2 in Proceeding', () => {
    const { clock, transport, layer } = setup();
    const user = recorder();
    const tx = layer.request(outboundRequest('REGISTER'), PEER, user);
    clock.advance(100);
    transport.injectResponse(peerResponse(tx.request, 100));
    assert.equal(tx.state, 'proceeding');
    // The pending E (500 ms) fires, then every T2.
    assert.deepEqual(sendTimes(clock, transport, 13_000), [400, 4400, 8400, 12400]);
    assert.deepEqual(user.statuses(), [100]);
    layer.close();
  });

  it('MUST tell the TU with a synthesized 408 when Timer F fires (Trying or Proceeding)', () => {
    for (const provisional of [false, true]) {
      const { clock, transport, layer } = setup();
      const user = recorder();
      const tx = layer.request(outboundRequest('OPTIONS'), PEER, user);
      if (provisional) transport.injectResponse(peerResponse(tx.request, 100));
      clock.advance(31_999);
      assert.equal(user.got.filter((r) => r.status === 408).length, 0);
      clock.advance(1);
      assert.equal(user.got.at(-1)?.status, 408);
      assert.ok(isSynthetic(user.got.at(-1)!));
      assert.equal(tx.state, 'terminated');
      assert.equal(layer.clientCount, 0);
      assert.equal(clock.pending, 0);
    }
  });

  it('MUST pass the final response once and absorb its retransmissions in Completed', () => {
    const { clock, transport, layer } = setup();
    const user = recorder();
    const tx = layer.request(outboundRequest('BYE'), PEER, user);
    transport.injectResponse(peerResponse(tx.request, 200));
    transport.injectResponse(peerResponse(tx.request, 200));
    assert.equal(tx.state, 'completed');
    assert.deepEqual(user.statuses(), [200]);
    clock.advance(10_000);
    assert.equal(transport.sentRequests.length, 1, 'no retransmission in Completed');
    layer.close();
  });

  it('MUST terminate after Timer K (T4) on UDP', () => {
    const { clock, transport, layer } = setup();
    const tx = layer.request(outboundRequest('BYE'), PEER, recorder());
    transport.injectResponse(peerResponse(tx.request, 481));
    clock.advance(4_999);
    assert.equal(tx.state, 'completed');
    clock.advance(1);
    assert.equal(tx.state, 'terminated');
    assert.equal(layer.clientCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST NOT retransmit over a reliable transport and terminate at once on a final (K = 0)', () => {
    const { clock, transport, layer } = setup();
    const user = recorder();
    const tx = layer.request(outboundRequest('OPTIONS'), TCP, user);
    clock.advance(20_000);
    assert.equal(transport.sentRequests.length, 1);
    transport.injectResponse(peerResponse(tx.request, 200));
    assert.equal(tx.state, 'terminated');
    assert.deepEqual(user.statuses(), [200]);
    assert.equal(layer.clientCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST report a transport failure as a synthesized 503', async () => {
    const { transport, layer, clock } = setup();
    const user = recorder();
    transport.failWith = new Error('EHOSTUNREACH');
    layer.request(outboundRequest('OPTIONS'), PEER, user);
    await flush();
    assert.deepEqual(user.statuses(), [503]);
    assert.ok(isSynthetic(user.got[0]));
    assert.equal(layer.clientCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST report a transport failure on a retransmission as a 503 too', async () => {
    const { transport, layer, clock } = setup();
    const user = recorder();
    layer.request(outboundRequest('OPTIONS'), PEER, user);
    transport.failWith = new Error('ENETDOWN');
    clock.advance(500);
    await flush();
    assert.deepEqual(user.statuses(), [503]);
    assert.equal(layer.clientCount, 0);
  });

  it('MUST stop Timer E retransmissions when the transport moved the request to TCP (§18.1.1), and end at once (K = 0)', async () => {
    const { clock, transport, layer } = setup();
    transport.movedTo = 'tcp';
    const user = recorder();
    const tx = layer.request(outboundRequest('OPTIONS'), PEER, user);
    await flush();
    clock.advance(31_999);
    assert.equal(transport.sentRequests.length, 1, 'no UDP retransmission once the request went over TCP');
    transport.injectResponse(peerResponse(tx.request, 200));
    assert.equal(tx.state, 'terminated');
    assert.equal(clock.pending, 0);
    assert.deepEqual(user.statuses(), [200]);
  });

  it('MUST keep retransmitting when the transport kept the request on UDP', async () => {
    const { clock, transport, layer } = setup();
    layer.request(outboundRequest('OPTIONS'), PEER, recorder());
    await flush();
    clock.advance(1_500);
    assert.equal(transport.sentRequests.length, 3);
    layer.close();
  });
});
