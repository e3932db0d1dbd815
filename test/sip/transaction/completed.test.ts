import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FakeClock } from '../../../src/sip/clock.ts';
import type { Via } from '../../../src/sip/message/types.ts';
import { SWEEP_MS } from '../../../src/sip/transaction/completed.ts';
import { TransactionLayer } from '../../../src/sip/transaction/layer.ts';
import { responseTo } from '../../../src/sip/transaction/messages.ts';
import type { ServerTransaction, TransactionStateEvent } from '../../../src/sip/transaction/types.ts';
import type { InboundContext } from '../../../src/sip/transport/types.ts';
import { FakeTransport, PEER } from './fake-transport.ts';
import { inboundRequest, outboundRequest } from './fixtures.ts';
import { recorder } from './setup.ts';

const J = 64 * 500;

/** A transport with the octets-only hot path (like SipTransport): it never sees the response object. */
class OctetsTransport extends FakeTransport {
  /** What was sent; `to` itself is not kept (it may be the inbound request, which the test wants collected). */
  readonly octets: { data: string; via: Via; toHoldsRequest: boolean }[] = [];
  /** When set, sendResponseNow reports this error (asynchronously, as the contract says). */
  failNowWith: Error | undefined;
  sendResponseNow(data: Buffer, via: Via, to: InboundContext, onError?: (err: unknown) => void): void {
    if (this.failNowWith) {
      const err = this.failNowWith;
      process.nextTick(() => onError?.(err));
      return;
    }
    this.octets.push({ data: data.toString('latin1'), via: { ...via, params: new Map(via.params) }, toHoldsRequest: 'msg' in to });
  }
  statusesNow(): string[] {
    return this.octets.map((o) => o.data.slice(8, 11));
  }
}

function withServer() {
  const clock = new FakeClock();
  const transport = new OctetsTransport();
  const layer = new TransactionLayer(transport, { clock });
  const errors: unknown[] = [];
  layer.onError = (e) => errors.push(e);
  const txs: ServerTransaction[] = [];
  layer.onRequest = (tx) => txs.push(tx);
  return { clock, transport, layer, errors, txs };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Completed non-INVITE server transactions (RFC 3261 §17.2.2)', () => {
  it('MUST run Timer J of many Completed transactions on one clock timer and still answer retransmissions', () => {
    const { clock, transport, layer, txs } = withServer();
    for (let i = 0; i < 100; i++) transport.injectRequest(inboundRequest('REGISTER', { branch: `z9hG4bKmany${i}` }));
    for (const tx of txs) tx.respond(responseTo(tx.request, 200, 'OK'));
    assert.equal(layer.serverCount, 100);
    assert.equal(clock.pending, 1, 'one sweep timer, not one timer per transaction');
    transport.injectRequest(inboundRequest('REGISTER', { branch: 'z9hG4bKmany42' }));
    assert.equal(txs.length, 100, 'the retransmission is absorbed, not a new request');
    assert.equal(transport.octets.length, 101);
    assert.equal(transport.octets[100].data, transport.octets[42].data, 'the same octets again');
    clock.advance(J);
    assert.ok(txs.every((tx) => tx.state === 'terminated'));
    assert.equal(layer.serverCount, 0);
    assert.equal(clock.pending, 0);
    layer.close();
  });

  it('MUST keep each transaction for at least Timer J and at most SWEEP_MS longer', () => {
    const { clock, transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('REGISTER', { branch: 'z9hG4bKfirst' }));
    txs[0].respond(responseTo(txs[0].request, 200, 'OK'));
    clock.advance(10);
    transport.injectRequest(inboundRequest('REGISTER', { branch: 'z9hG4bKsecond' }));
    txs[1].respond(responseTo(txs[1].request, 200, 'OK'));
    clock.advance(J - 10); // Timer J of the first
    assert.equal(txs[0].state, 'terminated');
    assert.equal(txs[1].state, 'completed');
    assert.equal(layer.serverCount, 1);
    clock.advance(9);
    transport.injectRequest(inboundRequest('REGISTER', { branch: 'z9hG4bKsecond' }));
    assert.equal(txs.length, 2, 'still absorbed just before its Timer J');
    clock.advance(1); // Timer J of the second: its state says so at once ...
    assert.equal(txs[1].state, 'terminated');
    clock.advance(SWEEP_MS); // ... and the sweep has dropped it by now
    assert.equal(layer.serverCount, 0);
    assert.equal(clock.pending, 0);
    transport.injectRequest(inboundRequest('REGISTER', { branch: 'z9hG4bKsecond' }));
    assert.equal(txs.length, 3, 'after Timer J a copy is a new request');
    layer.close();
  });

  it('MUST NOT stretch Timer J when the wall clock steps back', () => {
    /** The wall clock (now) stepped back an hour; the timers and monotonic time did not. */
    class SteppedClock extends FakeClock {
      stepped = 0;
      override now(): number {
        return super.now() - this.stepped;
      }
      monotonic(): number {
        return super.now();
      }
    }
    const clock = new SteppedClock();
    const transport = new OctetsTransport();
    const layer = new TransactionLayer(transport, { clock });
    const txs: ServerTransaction[] = [];
    layer.onRequest = (tx) => txs.push(tx);
    transport.injectRequest(inboundRequest('REGISTER', { branch: 'z9hG4bKstep1' }));
    txs[0].respond(responseTo(txs[0].request, 200, 'OK'));
    clock.advance(10);
    transport.injectRequest(inboundRequest('REGISTER', { branch: 'z9hG4bKstep2' }));
    txs[1].respond(responseTo(txs[1].request, 200, 'OK'));
    clock.stepped = 3_600_000; // before the sweep re-arms for the second entry
    clock.advance(J - 10 + SWEEP_MS);
    assert.equal(txs[0].state, 'terminated');
    assert.equal(txs[1].state, 'terminated');
    assert.equal(layer.serverCount, 0);
    assert.equal(clock.pending, 0);
    layer.close();
  });

  it('MUST report Completed → Terminated to onStateChange when Timer J fires', () => {
    const { clock, transport, layer, txs } = withServer();
    const seen: string[] = [];
    layer.onStateChange = (ev: TransactionStateEvent) => seen.push(`${ev.kind} ${ev.method} ${ev.from}->${ev.to}`);
    transport.injectRequest(inboundRequest('OPTIONS'));
    txs[0].respond(responseTo(txs[0].request, 200, 'OK'));
    clock.advance(J);
    assert.deepEqual(seen, [
      'non-invite-server OPTIONS idle->trying',
      'non-invite-server OPTIONS trying->completed',
      'non-invite-server OPTIONS completed->terminated',
    ]);
    layer.close();
  });

  it('MUST end the transaction and report a transport error when resending in Completed fails (§17.2.4)', async () => {
    const { clock, transport, layer, errors, txs } = withServer();
    transport.injectRequest(inboundRequest('BYE'));
    txs[0].respond(responseTo(txs[0].request, 200, 'OK'));
    transport.failNowWith = new Error('unreachable');
    transport.injectRequest(inboundRequest('BYE'));
    assert.equal(errors.length, 0, 'never reported synchronously');
    await tick();
    assert.deepEqual(errors, [transport.failNowWith]);
    assert.equal(layer.serverCount, 0);
    assert.equal(clock.pending, 0);
    layer.close();
  });

  it('MUST tell a TU that asked for transport errors, with its transaction, when resending in Completed fails', async () => {
    const { transport, layer, errors, txs } = withServer();
    transport.injectRequest(inboundRequest('BYE'));
    const told: [ServerTransaction, unknown][] = [];
    txs[0].user = { onTransportError: (tx, err) => told.push([tx, err]) };
    txs[0].respond(responseTo(txs[0].request, 200, 'OK'));
    transport.failNowWith = new Error('unreachable');
    transport.injectRequest(inboundRequest('BYE'));
    await tick();
    assert.equal(told.length, 1);
    assert.equal(told[0][0], txs[0]);
    assert.equal(told[0][1], transport.failNowWith);
    assert.equal(txs[0].state, 'terminated');
    assert.equal(layer.serverCount, 0);
    assert.deepEqual(errors, []);
    layer.close();
  });

  it('MUST NOT keep the request or the transaction alive in Completed (only octets and routing)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { transport, layer } = withServer();
    let request: WeakRef<object> | undefined;
    let transaction: WeakRef<object> | undefined;
    layer.onRequest = (tx) => {
      request = new WeakRef(tx.request);
      transaction = new WeakRef(tx);
      tx.respond(responseTo(tx.request, 200, 'OK'));
    };
    transport.injectRequest(inboundRequest('REGISTER'));
    assert.equal(layer.serverCount, 1);
    await tick();
    gc();
    assert.equal(request?.deref(), undefined, 'request collected');
    assert.equal(transaction?.deref(), undefined, 'transaction collected');
    transport.injectRequest(inboundRequest('REGISTER'));
    assert.equal(transport.octets.length, 2);
    const resent = transport.octets[1];
    assert.equal(resent.data, transport.octets[0].data);
    assert.equal(resent.via.host, '127.0.0.2');
    assert.equal(resent.via.params.get('branch'), undefined, 'the kept Via routes the response and holds nothing else');
    assert.equal(resent.toHoldsRequest, false, 'the kept context is not the inbound request');
    layer.close();
  });
  it('MUST resend from Completed to the same source and local socket, routed by the received/rport/maddr of the top Via (§18.2.2, RFC 3581 §4)', () => {
    const { transport, layer } = withServer();
    const source = { transport: 'udp' as const, address: '127.0.0.77', port: 40123 };
    let firstTo: InboundContext | undefined;
    const sent: { via: Via; to: InboundContext }[] = [];
    transport.sendResponseNow = (_data, via, to) => {
      firstTo ??= to;
      sent.push({ via: { ...via, params: new Map(via.params) }, to: { source: to.source, local: to.local, connectionId: to.connectionId } });
    };
    const stamped = (): ReturnType<typeof inboundRequest> => {
      const req = inboundRequest('REGISTER', { branch: 'z9hG4bKroute' });
      req.via[0].params.set('received', '127.0.0.77').set('rport', '40123').set('maddr', '127.0.0.78').set('ttl', '1');
      return req;
    };
    layer.onRequest = (tx) => tx.respond(responseTo(tx.request, 200, 'OK'));
    transport.injectRequest(stamped(), source);
    transport.injectRequest(stamped(), source);
    assert.equal(sent.length, 2, 'the retransmission is answered from Completed');
    const again = sent[1];
    assert.deepEqual([...again.via.params], [['maddr', '127.0.0.78'], ['received', '127.0.0.77'], ['rport', '40123']], 'routing parameters only, ttl and branch stay behind');
    assert.equal(again.via.host, sent[0].via.host);
    assert.equal(again.via.port, sent[0].via.port);
    assert.equal(again.via.transport, sent[0].via.transport);
    assert.equal(again.via.protocol, 'SIP/2.0');
    assert.deepEqual(again.to.source, source);
    assert.deepEqual(again.to.local, firstTo?.local);
    assert.equal(again.to.connectionId, undefined);
    layer.close();
  });
});

describe('Completed non-INVITE client transactions (RFC 3261 §17.1.2.2)', () => {
  const K = 5000;

  it('MUST absorb final-response retransmissions until Timer K, with one clock timer for many transactions', () => {
    const { clock, transport, layer } = withServer();
    const strays: unknown[] = [];
    layer.onStrayResponse = (r) => strays.push(r);
    const seen: string[] = [];
    layer.onStateChange = (ev) => {
      if (ev.from === 'completed') seen.push(`${ev.id} ${ev.to}`);
    };
    const user = recorder();
    const txs = Array.from({ length: 20 }, (_, i) => layer.request(outboundRequest('OPTIONS', i + 1), PEER, user));
    for (const tx of txs) transport.injectResponse(responseTo(tx.request, 200, 'OK'));
    assert.equal(user.got.length, 20);
    assert.ok(txs.every((tx) => tx.state === 'completed'));
    assert.equal(layer.clientCount, 20);
    assert.equal(clock.pending, 1, 'one sweep timer, not one Timer K per transaction');
    transport.injectResponse(responseTo(txs[3].request, 200, 'OK'));
    assert.equal(user.got.length, 20, 'the retransmission is absorbed');
    assert.deepEqual(strays, [], 'and is not a stray response');
    clock.advance(K - 1);
    assert.equal(txs[0].state, 'completed');
    clock.advance(1);
    assert.ok(txs.every((tx) => tx.state === 'terminated'));
    assert.equal(layer.clientCount, 0);
    assert.equal(clock.pending, 0);
    assert.equal(seen.length, 20);
    assert.ok(seen.every((s) => s.endsWith(' terminated')));
    transport.injectResponse(responseTo(txs[3].request, 200, 'OK'));
    assert.equal(strays.length, 1, 'after Timer K a copy is a stray response');
    layer.close();
  });

  it('MUST refuse to reuse the branch of a Completed client transaction', () => {
    const { transport, layer } = withServer();
    const tx = layer.request(outboundRequest('OPTIONS'), PEER, recorder());
    transport.injectResponse(responseTo(tx.request, 200, 'OK'));
    assert.equal(tx.state, 'completed');
    const again = outboundRequest('OPTIONS');
    again.via = [{ ...tx.request.via[0], params: new Map(tx.request.via[0].params) }];
    assert.throws(() => layer.request(again, PEER, recorder()), /already in use/);
    layer.close();
  });
});
