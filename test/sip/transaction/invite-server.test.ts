import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerTransaction } from '../../../src/sip/transaction/types.ts';
import { responseTo } from '../../../src/sip/transaction/messages.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message/types.ts';
import { flush, PEER } from './fake-transport.ts';
import { inboundRequest } from './fixtures.ts';
import { setup } from './setup.ts';

const TCP = { ...PEER, transport: 'tcp' as const };

function answer(req: SipRequest, status: number): SipResponse {
  const res = responseTo(req, status, 'X');
  if (status > 100) res.to.params.set('tag', 'uas1');
  return res;
}

function ackFor(invite: SipRequest, toTag = 'uas1', branch?: string): SipRequest {
  const ack = inboundRequest('ACK', { branch: branch ?? String(invite.via[0].params.get('branch')), seq: invite.cseq.seq, toTag });
  return ack;
}

function withServer(reliable = false) {
  const s = setup(reliable);
  const txs: ServerTransaction[] = [];
  const acks: SipRequest[] = [];
  s.layer.onRequest = (tx) => txs.push(tx);
  s.layer.onAck = (r) => acks.push(r.msg);
  return { ...s, txs, acks };
}

describe('INVITE server transaction (RFC 3261 §17.2.1, RFC 6026)', () => {
  it('MUST send 100 Trying if the TU has not answered within 200 ms', () => {
    const { clock, transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('INVITE'));
    assert.equal(txs.length, 1);
    assert.equal(txs[0].state, 'proceeding');
    clock.advance(199);
    assert.deepEqual(transport.statuses(), []);
    clock.advance(1);
    assert.deepEqual(transport.statuses(), [100]);
    assert.equal(transport.sentResponses[0].res.to.params.has('tag'), false);
    layer.close();
  });

  it('MUST echo Timestamp in its own 100 Trying (§8.2.6.1)', () => {
    const { clock, transport, layer } = withServer();
    const inv = inboundRequest('INVITE');
    inv.headers.push({ name: 'Timestamp', value: '54.12' });
    transport.injectRequest(inv);
    clock.advance(200);
    assert.deepEqual(transport.sentResponses[0].res.headers, [{ name: 'Timestamp', value: '54.12' }]);
    layer.close();
  });

  it('MUST NOT send its own 100 Trying when the TU answered first', () => {
    const { clock, transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('INVITE'));
    clock.advance(50);
    txs[0].respond(answer(txs[0].request, 180));
    clock.advance(1000);
    assert.deepEqual(transport.statuses(), [180]);
    layer.close();
  });

  it('MUST retransmit the last provisional response when the INVITE is retransmitted in Proceeding', () => {
    const { transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('INVITE'));
    transport.injectRequest(inboundRequest('INVITE')); // before any response: 100 at once
    txs[0].respond(answer(txs[0].request, 183));
    transport.injectRequest(inboundRequest('INVITE'));
    assert.equal(txs.length, 1, 'retransmission is not a new request');
    assert.deepEqual(transport.statuses(), [100, 183, 183]);
    layer.close();
  });

  it('MUST retransmit a non-2xx final on Timer G (doubling, capped at T2) and on INVITE retransmission', () => {
    const { clock, transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('INVITE'));
    txs[0].respond(answer(txs[0].request, 486));
    assert.equal(txs[0].state, 'completed');
    const times: number[] = [];
    let n = transport.sentResponses.length;
    for (let t = 1; t <= 20_000; t++) {
      clock.advance(1);
      if (transport.sentResponses.length !== n) {
        times.push(t);
        n = transport.sentResponses.length;
      }
    }
    assert.deepEqual(times, [500, 1500, 3500, 7500, 11500, 15500, 19500]);
    transport.injectRequest(inboundRequest('INVITE'));
    assert.equal(transport.sentResponses.length, n + 1);
    assert.ok(transport.statuses().every((s) => s === 486));
    layer.close();
  });

  it('MUST tell the TU when Timer H fires (the ACK never came) and terminate', () => {
    const { clock, transport, layer, txs } = withServer();
    const timedOut: ServerTransaction[] = [];
    transport.injectRequest(inboundRequest('INVITE'));
    txs[0].user = { onTimeout: (tx) => timedOut.push(tx) };
    txs[0].respond(answer(txs[0].request, 500));
    clock.advance(31_999);
    assert.equal(timedOut.length, 0);
    clock.advance(1);
    assert.deepEqual(timedOut, [txs[0]]);
    assert.equal(txs[0].state, 'terminated');
    assert.equal(layer.serverCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST absorb the ACK for a non-2xx, stop Timer G, and terminate after Timer I (T4)', () => {
    const { clock, transport, layer, txs, acks } = withServer();
    transport.injectRequest(inboundRequest('INVITE'));
    txs[0].respond(answer(txs[0].request, 404));
    transport.injectRequest(ackFor(txs[0].request));
    assert.equal(txs[0].state, 'confirmed');
    transport.injectRequest(ackFor(txs[0].request)); // ACK retransmission: absorbed as well
    assert.equal(acks.length, 0);
    const sent = transport.sentResponses.length;
    clock.advance(4_999);
    assert.equal(transport.sentResponses.length, sent, 'no Timer G in Confirmed');
    assert.equal(txs[0].state, 'confirmed');
    clock.advance(1);
    assert.equal(txs[0].state, 'terminated');
    assert.equal(layer.serverCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST NOT retransmit over a reliable transport and terminate at once on ACK (Timer I = 0)', () => {
    const { clock, transport, layer, txs } = withServer(true);
    transport.injectRequest(inboundRequest('INVITE'), TCP);
    txs[0].respond(answer(txs[0].request, 486));
    clock.advance(10_000);
    assert.deepEqual(transport.statuses(), [486]);
    transport.injectRequest(ackFor(txs[0].request), TCP);
    assert.equal(txs[0].state, 'terminated');
    assert.equal(layer.serverCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST enter Accepted on 2xx, absorb INVITE retransmissions and pass TU 2xx retransmissions (RFC 6026)', () => {
    const { transport, layer, txs, acks } = withServer();
    transport.injectRequest(inboundRequest('INVITE'));
    const ok = answer(txs[0].request, 200);
    txs[0].respond(ok);
    assert.equal(txs[0].state, 'accepted');
    transport.injectRequest(inboundRequest('INVITE'));
    assert.deepEqual(transport.statuses(), [200], 'INVITE retransmission absorbed');
    txs[0].respond(ok); // the UAS core retransmits its 2xx (§13.3.1.4)
    assert.deepEqual(transport.statuses(), [200, 200]);
    txs[0].respond(answer(txs[0].request, 486)); // a non-2xx after 2xx is ignored
    assert.deepEqual(transport.statuses(), [200, 200]);
    // The ACK for a 2xx has its own branch: it goes to the TU core.
    transport.injectRequest(ackFor(txs[0].request, 'uas1', 'z9hG4bKack2xx'));
    assert.equal(acks.length, 1);
    assert.equal(txs.length, 1);
    layer.close();
  });

  it('MUST terminate after Timer L (64*T1) in Accepted', () => {
    const { clock, transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('INVITE'));
    txs[0].respond(answer(txs[0].request, 200));
    clock.advance(31_999);
    assert.equal(txs[0].state, 'accepted');
    clock.advance(1);
    assert.equal(txs[0].state, 'terminated');
    assert.equal(layer.serverCount, 0);
    assert.equal(clock.pending, 0);
  });

  it('MUST inform the TU of a transport error when sending a response (§17.2.4)', async () => {
    const { transport, layer, txs } = withServer();
    const errs: unknown[] = [];
    transport.injectRequest(inboundRequest('INVITE'));
    txs[0].user = { onTransportError: (_tx, e) => errs.push(e) };
    transport.failWith = new Error('EPIPE');
    txs[0].respond(answer(txs[0].request, 486));
    await flush();
    assert.equal(errs.length, 1);
    assert.equal(txs[0].state, 'terminated');
    assert.equal(layer.serverCount, 0);
  });
});
