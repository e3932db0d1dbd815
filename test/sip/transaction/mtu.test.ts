/**
 * A request the transport moves from UDP to TCP (§18.1.1 MTU rule) runs with
 * reliable-transport timers: real SipTransport on loopback, transaction timers on
 * a fake clock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/sip/clock.ts';
import { createRequest, createResponse } from '../../../src/sip/message/build.ts';
import type { SipResponse } from '../../../src/sip/message/types.ts';
import { TransactionLayer } from '../../../src/sip/transaction/layer.ts';
import type { InboundRequest } from '../../../src/sip/transport/types.ts';
import { started, startedSamePort } from '../transport/helpers.ts';

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 150)); // network delivery only, not protocol timers

describe('client transaction over a request moved from UDP to TCP (§18.1.1)', () => {
  it('MUST NOT retransmit over UDP (Timer E) and MUST end at once on the final response (Timer K = 0)', async () => {
    const a = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }, { transport: 'tcp', address: '127.0.0.1', port: 0 }] });
    const b = await startedSamePort('127.0.0.1');
    const clock = new FakeClock();
    const layer = new TransactionLayer(a, { clock });
    const seen: InboundRequest[] = [];
    b.on('request', (r) => seen.push(r));
    try {
      const target = b.localEndpoint('udp')!;
      const req = createRequest({
        method: 'OPTIONS',
        uri: { scheme: 'sip', user: 'bob', host: '127.0.0.1', port: target.port, params: new Map(), headers: new Map() },
        from: { uri: { scheme: 'sip', user: 'alice', host: 'a.example', params: new Map(), headers: new Map() }, params: new Map() },
        to: { uri: { scheme: 'sip', user: 'bob', host: 'b.example', params: new Map(), headers: new Map() }, params: new Map() },
        body: Buffer.alloc(1400, 0x61),
        contentType: 'text/plain',
      });
      const got: SipResponse[] = [];
      const tx = layer.request(req, target, { onResponse: (res) => got.push(res) });
      await settle();
      assert.equal(seen.length, 1);
      assert.equal(seen[0].source.transport, 'tcp', 'the transport moved the request to TCP');
      clock.advance(4_000); // E would have fired at 500, 1500, 3500 ms on UDP
      await settle();
      assert.equal(seen.length, 1, 'no retransmission once the request went over TCP');

      const ok = createResponse(seen[0].msg, 200);
      ok.to.params.set('tag', 'b1');
      await b.sendResponse(ok, seen[0]);
      await settle();
      assert.deepEqual(got.map((r) => r.status), [200]);
      assert.equal(tx.state, 'terminated', 'Timer K = 0 on a reliable transport');
      assert.equal(layer.clientCount, 0);
    } finally {
      layer.close();
      await a.close();
      await b.close();
    }
  });
});
