import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSynthetic } from '../../../src/sip/transaction/messages.ts';
import type { SipRequest } from '../../../src/sip/message/types.ts';
import { flush, PEER } from './fake-transport.ts';
import { outboundRequest, peerResponse } from './fixtures.ts';
import { recorder, setup } from './setup.ts';

const TCP = { ...PEER, transport: 'tcp' as const };

describe('INVITE client transaction (RFC 3261 §17.1.1, RFC 6026)', () => {
  it('MUST add a Via with an RFC 3261 branch and enter Calling', () => {
    const { transport, layer } = setup();
    const tx = layer.request(outboundRequest('INVITE'), PEER, recorder());
    assert.equal(tx.state, 'calling');
    assert.equal(transport.sentRequests.length, 1);
    assert.match(String(tx.request.via[0].params.get('branch')), /^z9hG4bK.+/);
    layer.close();
  });

  it('MUST retransmit on Timer A, doubling the interval without a T2 cap (UDP)', () => {
    const { clock, transport, layer } = setup();
    layer.request(outboundRequest('INVITE'), PEER, recorder());
    const sendTimes: number[] = [];
    let n = transport.sentRequests.length;
    for (let t = 1; t <= 31_999; t++) {
      clock.advance(1);
      if (transport.sentRequests.length !== n) {
        sendTimes.push(t);
        n = transport.sentRequests.length;
      }
    }
    // A = 500, 1000, 2000, 4000, 8000, 16000 ms (not capped at T2 = 4 s).
    assert.deepEqual(sendTimes, [500, 1500, 3500, 7500, 15500, 31500]);
    layer.close();
  });

  it('MUST tell the TU with a synthesized 408 when Timer B fires in Calling, and forget the transaction', () => {
    const { clock, layer } = setup();
    const user = recorder();
    const tx = layer.request(outboundRequest('INVITE'), PEER, user);
    clock.advance(31_999);
    assert.deepEqual(user.statuses(), []);
    clock.advance(1);
    assert.deepEqual(user.statuses(), [408]);
    assert.ok(isSynthetic(user.got[0]));
    assert.equal(tx.state, 'terminated');
    assert.equal(layer.clientCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST NOT retransmit over a reliable transport, but still time out with Timer B', () => {
    const { clock, transport, layer } = setup();
    const user = recorder();
    layer.request(outboundRequest('INVITE'), TCP, user);
    clock.advance(31_999);
    assert.equal(transport.sentRequests.length, 1);
    clock.advance(1);
    assert.deepEqual(user.statuses(), [408]);
  });

  it('MUST stop retransmitting in Proceeding and pass every provisional response to the TU', () => {
    const { clock, transport, layer } = setup();
    const user = recorder();
    const tx = layer.request(outboundRequest('INVITE'), PEER, user);
    transport.injectResponse(peerResponse(tx.request, 100));
    transport.injectResponse(peerResponse(tx.request, 180));
    assert.equal(tx.state, 'proceeding');
    clock.advance(120_000);
    assert.equal(transport.sentRequests.length, 1);
    assert.deepEqual(user.statuses(), [100, 180]); // no Timer B in Proceeding
    assert.equal(tx.state, 'proceeding');
    layer.close();
  });

  it('MUST build and send the ACK for a non-2xx final response itself (§17.1.1.3)', () => {
    const { transport, layer } = setup();
    const user = recorder();
    const req = outboundRequest('INVITE');
    req.route = [{ uri: { scheme: 'sip', host: 'proxy.example', params: new Map([['lr', null]]), headers: new Map() }, params: new Map() }];
    const tx = layer.request(req, PEER, user);
    transport.injectResponse(peerResponse(tx.request, 486, 'busytag'));
    assert.equal(tx.state, 'completed');
    assert.deepEqual(user.statuses(), [486]);
    const [ack] = transport.requestsOf('ACK');
    assert.ok(ack);
    assert.equal(ack.via.length, 1);
    assert.equal(ack.via[0].params.get('branch'), tx.request.via[0].params.get('branch'));
    assert.deepEqual(ack.uri, tx.request.uri);
    assert.equal(ack.callId, tx.request.callId);
    assert.deepEqual(ack.cseq, { seq: tx.request.cseq.seq, method: 'ACK' });
    assert.equal(ack.from.params.get('tag'), 'ourtag');
    assert.equal(ack.to.params.get('tag'), 'busytag');
    assert.equal(ack.route.length, 1);
    assert.deepEqual(transport.sentRequests.at(-1)?.target, PEER);
    layer.close();
  });

  it('MUST re-send the ACK, not bother the TU, when the final response is retransmitted in Completed', () => {
    const { transport, layer } = setup();
    const user = recorder();
    const tx = layer.request(outboundRequest('INVITE'), PEER, user);
    transport.injectResponse(peerResponse(tx.request, 486));
    transport.injectResponse(peerResponse(tx.request, 486));
    transport.injectResponse(peerResponse(tx.request, 486));
    assert.equal(transport.requestsOf('ACK').length, 3);
    assert.deepEqual(user.statuses(), [486]);
    layer.close();
  });

  it('MUST terminate after Timer D (32 s) on UDP and be removed from the layer', () => {
    const { clock, transport, layer } = setup();
    const tx = layer.request(outboundRequest('INVITE'), PEER, recorder());
    transport.injectResponse(peerResponse(tx.request, 603));
    clock.advance(31_999);
    assert.equal(tx.state, 'completed');
    assert.equal(layer.clientCount, 1);
    clock.advance(1);
    assert.equal(tx.state, 'terminated');
    assert.equal(layer.clientCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST terminate at once after the ACK on a reliable transport (Timer D = 0)', () => {
    const { transport, layer, clock } = setup();
    const tx = layer.request(outboundRequest('INVITE'), TCP, recorder());
    transport.injectResponse(peerResponse(tx.request, 404));
    assert.equal(transport.requestsOf('ACK').length, 1);
    assert.equal(tx.state, 'terminated');
    assert.equal(layer.clientCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST enter Accepted on 2xx and pass 2xx retransmissions and other forks to the TU (RFC 6026)', () => {
    const { transport, layer } = setup();
    const user = recorder();
    const tx = layer.request(outboundRequest('INVITE'), PEER, user);
    transport.injectResponse(peerResponse(tx.request, 200, 'fork1'));
    assert.equal(tx.state, 'accepted');
    transport.injectResponse(peerResponse(tx.request, 200, 'fork1'));
    transport.injectResponse(peerResponse(tx.request, 200, 'fork2'));
    transport.injectResponse(peerResponse(tx.request, 486, 'fork3')); // not a 2xx: dropped
    assert.deepEqual(user.statuses(), [200, 200, 200]);
    assert.deepEqual(user.got.map((r) => r.to.params.get('tag')), ['fork1', 'fork1', 'fork2']);
    assert.equal(transport.requestsOf('ACK').length, 0); // the TU ACKs a 2xx, not the transaction
    layer.close();
  });

  it('MUST terminate on Timer M (64*T1) in Accepted; later 2xx go to the core as stray responses', () => {
    const { clock, transport, layer } = setup();
    const stray: number[] = [];
    layer.onStrayResponse = (r) => stray.push(r.msg.status);
    const tx = layer.request(outboundRequest('INVITE'), PEER, recorder());
    transport.injectResponse(peerResponse(tx.request, 200));
    clock.advance(31_999);
    assert.equal(tx.state, 'accepted');
    clock.advance(1);
    assert.equal(tx.state, 'terminated');
    assert.equal(layer.clientCount, 0);
    transport.injectResponse(peerResponse(tx.request, 200));
    assert.deepEqual(stray, [200]);
  });

  it('MUST report a transport failure as a synthesized 503 (§8.1.3.1)', async () => {
    const { transport, layer, clock } = setup();
    transport.failWith = new Error('ECONNREFUSED');
    const user = recorder();
    const tx = layer.request(outboundRequest('INVITE'), TCP, user);
    await flush();
    assert.deepEqual(user.statuses(), [503]);
    assert.ok(isSynthetic(user.got[0]));
    assert.equal(tx.state, 'terminated');
    assert.equal(layer.clientCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST defer CANCEL until a provisional response and build it per §9.1', () => {
    const { transport, layer } = setup();
    const user = recorder();
    const cancelUser = recorder();
    const tx = layer.request(outboundRequest('INVITE', 7), PEER, user);
    tx.cancel(cancelUser);
    assert.equal(transport.requestsOf('CANCEL').length, 0, 'no CANCEL before a provisional');
    transport.injectResponse(peerResponse(tx.request, 180));
    const cancels = transport.requestsOf('CANCEL');
    assert.equal(cancels.length, 1);
    const c: SipRequest = cancels[0];
    assert.equal(c.via.length, 1);
    assert.equal(c.via[0].params.get('branch'), tx.request.via[0].params.get('branch'));
    assert.deepEqual(c.cseq, { seq: 7, method: 'CANCEL' });
    assert.deepEqual(c.uri, tx.request.uri);
    assert.equal(c.callId, tx.request.callId);
    assert.deepEqual(c.to, tx.request.to);
    assert.deepEqual(c.from, tx.request.from);
    assert.equal(layer.clientCount, 2);
    // The 200 to the CANCEL goes to the CANCEL's user, the 487 to the INVITE's.
    transport.injectResponse(peerResponse(c, 200));
    transport.injectResponse(peerResponse(tx.request, 487));
    assert.deepEqual(cancelUser.statuses(), [200]);
    assert.deepEqual(user.statuses(), [180, 487]);
    tx.cancel(); // second call: no-op
    assert.equal(transport.requestsOf('CANCEL').length, 1);
    layer.close();
  });

  it('MUST give up 64*T1 after a CANCEL with no final response (§9.1): 408 to the TU, transaction forgotten', () => {
    const { clock, transport, layer } = setup();
    const user = recorder();
    const tx = layer.request(outboundRequest('INVITE'), PEER, user);
    transport.injectResponse(peerResponse(tx.request, 180));
    tx.cancel(undefined, [{ name: 'Reason', value: 'SIP;cause=200;text="Call completed elsewhere"' }]);
    const [c] = transport.requestsOf('CANCEL');
    assert.ok(c.headers.some((h) => h.name === 'Reason' && h.value.includes('cause=200')), 'extra headers ride on the CANCEL');
    clock.advance(64 * 500 - 1);
    assert.deepEqual(user.statuses(), [180]);
    clock.advance(1);
    assert.deepEqual(user.statuses(), [180, 408]);
    assert.equal(tx.state, 'terminated');
    clock.advance(64 * 500); // the CANCEL's own transaction times out too
    assert.equal(layer.clientCount, 0, 'nothing left in the layer');
    layer.close();
  });

  it('MUST NOT send a CANCEL once a final response arrived', () => {
    const { transport, layer } = setup();
    const tx = layer.request(outboundRequest('INVITE'), PEER, recorder());
    tx.cancel();
    transport.injectResponse(peerResponse(tx.request, 200));
    tx.cancel();
    assert.equal(transport.requestsOf('CANCEL').length, 0);
    layer.close();
  });

  it('MUST stop Timer A retransmissions when the transport moved the INVITE to TCP (§18.1.1), and ACK over TCP', async () => {
    const { clock, transport, layer } = setup();
    transport.movedTo = 'tcp';
    const user = recorder();
    const tx = layer.request(outboundRequest('INVITE'), PEER, user);
    await flush();
    clock.advance(31_999);
    assert.equal(transport.requestsOf('INVITE').length, 1, 'no UDP retransmission once the INVITE went over TCP');
    transport.injectResponse(peerResponse(tx.request, 486));
    const acks = transport.sentRequests.filter((s) => s.req.method === 'ACK');
    assert.equal(acks.length, 1);
    assert.equal(acks[0].target.transport, 'tcp', '§17.1.1.3: the ACK uses the transport of the INVITE');
    assert.equal(tx.state, 'terminated', 'Timer D = 0 on a reliable transport');
    assert.equal(clock.pending, 0);
    assert.deepEqual(user.statuses(), [486]);
  });

  it('MUST send the CANCEL over TCP when the INVITE was moved there (§9.1)', async () => {
    const { transport, layer } = setup();
    transport.movedTo = 'tcp';
    const tx = layer.request(outboundRequest('INVITE'), PEER, recorder());
    await flush();
    transport.injectResponse(peerResponse(tx.request, 180));
    tx.cancel();
    const cancels = transport.sentRequests.filter((s) => s.req.method === 'CANCEL');
    assert.equal(cancels.length, 1);
    assert.equal(cancels[0].target.transport, 'tcp');
    layer.close();
  });
});
