/** The transaction layer over the real SipTransport on loopback (real bytes, UDP and TCP). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SystemClock } from '../../../src/sip/clock.ts';
import { createRequest, createResponse } from '../../../src/sip/message/build.ts';
import type { Endpoint, SipRequest, SipResponse, TransportName } from '../../../src/sip/message/types.ts';
import { TransactionLayer } from '../../../src/sip/transaction/layer.ts';
import type { ClientTransaction, ServerTransaction } from '../../../src/sip/transaction/types.ts';
import { SipTransport } from '../../../src/sip/transport/transport.ts';

async function node(transport: TransportName) {
  const t = new SipTransport({ listen: [{ transport, address: '127.0.0.1', port: 0 }] });
  await t.start();
  const layer = new TransactionLayer(t, { clock: new SystemClock() });
  return { t, layer, end: t.localEndpoint(transport)! };
}

function request(method: string, target: Endpoint): SipRequest {
  return createRequest({
    method,
    uri: { scheme: 'sip', user: 'bob', host: target.address, port: target.port, params: new Map(), headers: new Map() },
    from: { uri: { scheme: 'sip', user: 'alice', host: 'a.example', params: new Map(), headers: new Map() }, params: new Map() },
    to: { uri: { scheme: 'sip', user: 'bob', host: 'b.example', params: new Map(), headers: new Map() }, params: new Map() },
  });
}

function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() > until) reject(new Error('timed out waiting'));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

for (const transport of ['udp', 'tcp'] as const) {
  describe(`transaction layer over ${transport} loopback`, () => {
    it('MUST complete an OPTIONS transaction end to end', async () => {
      const a = await node(transport);
      const b = await node(transport);
      try {
        b.layer.onRequest = (tx) => tx.respond(createResponse(tx.request, 200));
        const got: number[] = [];
        a.layer.request(request('OPTIONS', b.end), b.end, { onResponse: (r) => got.push(r.status) });
        await waitFor(() => got.length > 0);
        assert.deepEqual(got, [200]);
      } finally {
        a.layer.close();
        b.layer.close();
        await a.t.close();
        await b.t.close();
      }
    });

    it('MUST ACK a rejected INVITE so the server transaction is Confirmed', async () => {
      const a = await node(transport);
      const b = await node(transport);
      try {
        let server: ServerTransaction | undefined;
        b.layer.onRequest = (tx) => {
          server = tx;
          const busy = createResponse(tx.request, 486);
          busy.to.params.set('tag', 'b1');
          tx.respond(busy);
        };
        const got: number[] = [];
        a.layer.request(request('INVITE', b.end), b.end, { onResponse: (r) => got.push(r.status) });
        // Over TCP Timer I is 0: Confirmed is passed through straight to Terminated.
        await waitFor(() => server !== undefined && (server.state === 'confirmed' || server.state === 'terminated'));
        assert.deepEqual(got, [486]);
      } finally {
        a.layer.close();
        b.layer.close();
        await a.t.close();
        await b.t.close();
      }
    });

    it('MUST cancel a ringing INVITE: 200 to the CANCEL, 487 to the INVITE, ACKed', async () => {
      const a = await node(transport);
      const b = await node(transport);
      try {
        let server: ServerTransaction | undefined;
        b.layer.onRequest = (tx) => {
          server = tx;
          const ringing = createResponse(tx.request, 180);
          ringing.to.params.set('tag', 'b2');
          tx.respond(ringing);
        };
        const invite: SipResponse[] = [];
        const cancel: SipResponse[] = [];
        const tx: ClientTransaction = a.layer.request(request('INVITE', b.end), b.end, { onResponse: (r) => invite.push(r) });
        await waitFor(() => invite.length > 0);
        tx.cancel({ onResponse: (r) => cancel.push(r) });
        await waitFor(() => invite.length > 1 && cancel.length > 0 && server !== undefined && server.state !== 'completed');
        assert.deepEqual(invite.map((r) => r.status), [180, 487]);
        assert.deepEqual(cancel.map((r) => r.status), [200]);
        assert.equal(invite[1].to.params.get('tag'), 'b2');
      } finally {
        a.layer.close();
        b.layer.close();
        await a.t.close();
        await b.t.close();
      }
    });
  });
}
