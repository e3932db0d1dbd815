import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerTransaction } from '../../../src/sip/transaction/types.ts';
import { responseTo } from '../../../src/sip/transaction/messages.ts';
import { PEER } from './fake-transport.ts';
import { inboundRequest } from './fixtures.ts';
import { setup } from './setup.ts';

function withServer(reliable = false) {
  const s = setup(reliable);
  const txs: ServerTransaction[] = [];
  s.layer.onRequest = (tx) => txs.push(tx);
  return { ...s, txs };
}

describe('non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  it('MUST absorb request retransmissions in Trying', () => {
    const { transport, layer, txs, clock } = withServer();
    transport.injectRequest(inboundRequest('OPTIONS'));
    transport.injectRequest(inboundRequest('OPTIONS'));
    assert.equal(txs.length, 1);
    assert.equal(txs[0].state, 'trying');
    clock.advance(1000);
    assert.deepEqual(transport.statuses(), [], 'no automatic 100 for non-INVITE');
    layer.close();
  });

  it('MUST resend the last provisional response on retransmission in Proceeding', () => {
    const { transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('REGISTER'));
    txs[0].respond(responseTo(txs[0].request, 100, 'Trying'));
    assert.equal(txs[0].state, 'proceeding');
    transport.injectRequest(inboundRequest('REGISTER'));
    assert.deepEqual(transport.statuses(), [100, 100]);
    layer.close();
  });

  it('MUST resend the final response on retransmission in Completed and discard later finals', () => {
    const { transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('BYE'));
    txs[0].respond(responseTo(txs[0].request, 200, 'OK'));
    assert.equal(txs[0].state, 'completed');
    transport.injectRequest(inboundRequest('BYE'));
    transport.injectRequest(inboundRequest('BYE'));
    txs[0].respond(responseTo(txs[0].request, 500, 'Oops'));
    assert.deepEqual(transport.statuses(), [200, 200, 200]);
    layer.close();
  });

  it('MUST terminate after Timer J (64*T1) on UDP, and a later copy is a new request', () => {
    const { clock, transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('BYE'));
    txs[0].respond(responseTo(txs[0].request, 200, 'OK'));
    clock.advance(31_999);
    assert.equal(txs[0].state, 'completed');
    clock.advance(1);
    assert.equal(txs[0].state, 'terminated');
    assert.equal(layer.serverCount, 0);
    assert.equal(clock.pending, 0);
    transport.injectRequest(inboundRequest('BYE'));
    assert.equal(txs.length, 2);
    layer.close();
  });

  it('MUST terminate at once on a reliable transport (Timer J = 0)', () => {
    const { clock, transport, layer, txs } = withServer(true);
    transport.injectRequest(inboundRequest('BYE'), { ...PEER, transport: 'tcp' });
    txs[0].respond(responseTo(txs[0].request, 200, 'OK'));
    assert.equal(txs[0].state, 'terminated');
    assert.equal(layer.serverCount, 0);
    assert.equal(clock.pending, 0);
  });
});
