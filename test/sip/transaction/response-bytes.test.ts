import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/sip/clock.ts';
import type { SipResponse } from '../../../src/sip/message/types.ts';
import { serializeMessage } from '../../../src/sip/message/serializer.ts';
import { TransactionLayer } from '../../../src/sip/transaction/layer.ts';
import { responseTo } from '../../../src/sip/transaction/messages.ts';
import type { ServerTransaction } from '../../../src/sip/transaction/types.ts';
import type { InboundContext } from '../../../src/sip/transport/types.ts';
import { FakeTransport } from './fake-transport.ts';
import { inboundRequest } from './fixtures.ts';

/** A transport that also takes pre-serialized responses, recording the octets. */
class BytesTransport extends FakeTransport {
  readonly octets: string[] = [];
  sendResponseBytes(data: Buffer, res: SipResponse, to: InboundContext): Promise<void> {
    this.octets.push(data.toString('latin1'));
    return this.sendResponse(res, to);
  }
}

function withServer() {
  const clock = new FakeClock();
  const transport = new BytesTransport();
  const layer = new TransactionLayer(transport, { clock });
  const txs: ServerTransaction[] = [];
  layer.onRequest = (tx) => txs.push(tx);
  return { clock, transport, layer, txs };
}

describe('server transactions keep the bytes of their last response', () => {
  it('MUST retransmit the same octets, serialized once, when a non-INVITE request is retransmitted (§17.2.2)', () => {
    const { transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('REGISTER'));
    const res = responseTo(txs[0].request, 200, 'OK');
    txs[0].respond(res);
    const first = serializeMessage(res).toString('latin1');
    // A later change to the object must not reach the wire: the bytes were kept.
    res.reason = 'Changed Afterwards';
    transport.injectRequest(inboundRequest('REGISTER'));
    transport.injectRequest(inboundRequest('REGISTER'));
    assert.deepEqual(transport.octets, [first, first, first]);
    layer.close();
  });

  it('MUST retransmit the same octets of a final INVITE response on Timer G (§17.2.1)', () => {
    const { transport, layer, txs, clock } = withServer();
    transport.injectRequest(inboundRequest('INVITE'));
    const res = responseTo(txs[0].request, 486, 'Busy Here');
    txs[0].respond(res);
    res.reason = 'Changed Afterwards';
    clock.advance(500 + 1000 + 10);
    assert.ok(transport.octets.length >= 3, `sent ${transport.octets.length}`);
    assert.ok(transport.octets.every((o) => o === transport.octets[0] && o.startsWith('SIP/2.0 486 Busy Here')));
    layer.close();
  });

  it('MUST serialize again when the TU hands over a 2xx again in Accepted (RFC 6026 §7.1)', () => {
    const { transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('INVITE'));
    const ok = responseTo(txs[0].request, 200, 'OK');
    txs[0].respond(ok);
    ok.reason = 'OK Again';
    txs[0].respond(ok);
    assert.deepEqual(transport.octets.map((o) => o.split('\r\n')[0]), ['SIP/2.0 200 OK', 'SIP/2.0 200 OK Again']);
    layer.close();
  });
});
