import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import type { SipRequest } from '../../../src/sip/message/types.ts';
import { answerCancel } from '../../../src/sip/transaction/layer.ts';
import { responseTo } from '../../../src/sip/transaction/messages.ts';
import type { ServerTransaction } from '../../../src/sip/transaction/types.ts';
import { vectorsDir } from '../../support/vectors.ts';
import { PEER } from './fake-transport.ts';
import { inboundRequest, outboundRequest, via } from './fixtures.ts';
import { recorder, setup } from './setup.ts';

const VECTORS = vectorsDir('rfc4475');

function vector(name: string): SipRequest {
  const r = parseMessage(readFileSync(join(VECTORS, name)));
  assert.ok(r.ok, `${name} parses`);
  assert.equal(r.msg.kind, 'request');
  return r.msg as SipRequest;
}

function withServer() {
  const s = setup();
  const txs: ServerTransaction[] = [];
  const acks: SipRequest[] = [];
  s.layer.onRequest = (tx) => txs.push(tx);
  s.layer.onAck = (r) => acks.push(r.msg);
  return { ...s, txs, acks };
}

describe('transaction layer matching and dispatch (RFC 3261 §17.1.3, §17.2.3, §9.2)', () => {
  it('MUST hand a CANCEL that matches a pending INVITE to the TU, and answerCancel MUST send 200 and 487 with one To tag', () => {
    const { transport, layer, txs } = withServer();
    const seen: [ServerTransaction, ServerTransaction][] = [];
    layer.onCancel = (inv, c) => seen.push([inv, c]);
    transport.injectRequest(inboundRequest('INVITE', { seq: 5 }));
    const ringing = responseTo(txs[0].request, 180, 'Ringing');
    ringing.to.params.set('tag', 'ring1');
    txs[0].respond(ringing);
    transport.injectRequest(inboundRequest('CANCEL', { seq: 5 }));
    assert.equal(seen.length, 1);
    assert.equal(seen[0][0], txs[0]);
    assert.equal(seen[0][1].request.method, 'CANCEL');
    assert.equal(txs.length, 1, 'CANCEL is not passed to onRequest');
    answerCancel(seen[0][0], seen[0][1]);
    const sent = transport.sentResponses.map((s) => [s.res.status, s.res.cseq.method, s.res.to.params.get('tag')]);
    assert.deepEqual(sent, [
      [180, 'INVITE', 'ring1'],
      [200, 'CANCEL', 'ring1'],
      [487, 'INVITE', 'ring1'],
    ]);
    assert.equal(txs[0].state, 'completed');
    layer.close();
  });

  it('MUST answer 200 and 487 by itself when no onCancel is set', () => {
    const { transport, layer } = withServer();
    transport.injectRequest(inboundRequest('INVITE'));
    transport.injectRequest(inboundRequest('CANCEL'));
    assert.deepEqual(transport.statuses(), [200, 487]);
    layer.close();
  });

  it('MUST answer 481 to a CANCEL that matches no transaction', () => {
    const { transport, layer } = withServer();
    let asked = 0;
    layer.onCancel = () => asked++;
    transport.injectRequest(inboundRequest('INVITE', { branch: 'z9hG4bKother' }));
    transport.injectRequest(inboundRequest('CANCEL', { branch: 'z9hG4bKnomatch' }));
    assert.equal(asked, 0);
    assert.deepEqual(
      transport.sentResponses.map((s) => [s.res.status, s.res.cseq.method]),
      [[481, 'CANCEL']],
    );
    layer.close();
  });

  it('MUST forget a transaction answered with respondStateless, so a retransmission is a new request (§8.2.7), while respond() absorbs it', () => {
    const { transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('REGISTER', { branch: 'z9hG4bKstateless' }));
    assert.equal(txs.length, 1);
    const first = txs[0];
    assert.ok(first.respondStateless, 'non-INVITE server transactions offer it');
    first.respondStateless(responseTo(first.request, 401, 'Unauthorized'));
    assert.equal(first.state, 'terminated');
    assert.equal(layer.serverCount, 0, 'no transaction, no Completed entry');
    transport.injectRequest(inboundRequest('REGISTER', { branch: 'z9hG4bKstateless' }));
    assert.equal(txs.length, 2, 'the retransmission reaches the TU again');
    txs[1].respond(responseTo(txs[1].request, 200, 'OK'));
    transport.injectRequest(inboundRequest('REGISTER', { branch: 'z9hG4bKstateless' }));
    assert.equal(txs.length, 2, 'after respond() the Completed state absorbs it');
    assert.deepEqual(transport.sentResponses.map((r) => r.res.status), [401, 200, 200]);
    layer.close();
  });

  it('MUST NOT match a request whose branch is equal but sent-by differs (§17.2.3)', () => {
    const { transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('OPTIONS'));
    const other = inboundRequest('OPTIONS');
    other.via = [via('z9hG4bKpeer1', '127.0.0.3', 5070)];
    transport.injectRequest(other);
    assert.equal(txs.length, 2);
    assert.equal(layer.serverCount, 2);
    layer.close();
  });

  it('MUST match a retransmission of RFC 4475 badbranch (bare magic cookie) by RFC 2543 rules', () => {
    const { transport, layer, txs } = withServer();
    transport.injectRequest(vector('badbranch.dat'));
    assert.equal(txs.length, 1);
    txs[0].respond(responseTo(txs[0].request, 200, 'OK'));
    transport.injectRequest(vector('badbranch.dat'));
    assert.equal(txs.length, 1, 'retransmission matched');
    assert.deepEqual(transport.statuses(), [200, 200]);
    // Same bare cookie but another Call-ID is another transaction.
    const other = vector('badbranch.dat');
    other.callId = 'another-call';
    transport.injectRequest(other);
    assert.equal(txs.length, 2);
    layer.close();
  });

  it('MUST match an RFC 2543 INVITE (no branch) and absorb its ACK only when the To tag equals our response', () => {
    const { transport, layer, txs, acks } = withServer();
    const invite = vector('inv2543.dat');
    transport.injectRequest(invite);
    transport.injectRequest(vector('inv2543.dat'));
    assert.equal(txs.length, 1, 'retransmission matched without branch');
    const busy = responseTo(txs[0].request, 486, 'Busy Here');
    busy.to.params.set('tag', 'ourtag');
    txs[0].respond(busy);
    const ack = (tag: string): SipRequest => {
      const a = vector('inv2543.dat');
      a.method = 'ACK';
      a.cseq = { seq: a.cseq.seq, method: 'ACK' };
      a.body = Buffer.alloc(0);
      a.to.params.set('tag', tag);
      return a;
    };
    transport.injectRequest(ack('othertag'));
    assert.equal(acks.length, 1, 'ACK with a foreign To tag goes to the TU');
    assert.equal(txs[0].state, 'completed');
    transport.injectRequest(ack('ourtag'));
    assert.equal(acks.length, 1);
    assert.equal(txs[0].state, 'confirmed');
    layer.close();
  });

  it('MUST match a CANCEL to an RFC 2543 INVITE without branch', () => {
    const { transport, layer } = withServer();
    transport.injectRequest(vector('inv2543.dat'));
    const cancel = vector('inv2543.dat');
    cancel.method = 'CANCEL';
    cancel.cseq = { seq: cancel.cseq.seq, method: 'CANCEL' };
    cancel.body = Buffer.alloc(0);
    transport.injectRequest(cancel);
    assert.deepEqual(transport.statuses(), [200, 487]);
    layer.close();
  });

  it('MUST pass an ACK matching no transaction and a response matching no client transaction to the core', () => {
    const { transport, layer, acks } = withServer();
    const stray: number[] = [];
    layer.onStrayResponse = (r) => stray.push(r.msg.status);
    transport.injectRequest(inboundRequest('ACK', { toTag: 'x', cseqMethod: 'ACK' }));
    assert.equal(acks.length, 1);
    transport.injectResponse(responseTo(inboundRequest('INVITE', { branch: 'z9hG4bKnotours' }), 200, 'OK'));
    assert.deepEqual(stray, [200]);
    assert.equal(layer.serverCount, 0, 'an ACK creates no transaction');
    layer.close();
  });

  it('MUST match responses by branch AND CSeq method (§17.1.3)', () => {
    const { transport, layer } = setup();
    const user = recorder();
    const tx = layer.request(outboundRequest('INVITE'), PEER, user);
    const stray: string[] = [];
    layer.onStrayResponse = (r) => stray.push(r.msg.cseq.method);
    const wrongMethod = responseTo(tx.request, 200, 'OK');
    wrongMethod.cseq = { seq: 1, method: 'CANCEL' };
    transport.injectResponse(wrongMethod);
    assert.deepEqual(stray, ['CANCEL']);
    assert.deepEqual(user.statuses(), []);
    layer.close();
  });

  it('MUST answer a request whose CSeq method differs from its method with a stateless 400', () => {
    const { transport, layer, txs } = withServer();
    transport.injectRequest(inboundRequest('INVITE', { cseqMethod: 'OPTIONS' }));
    assert.equal(txs.length, 0);
    assert.deepEqual(transport.statuses(), [400]);
    assert.equal(layer.serverCount, 0);
    layer.close();
  });

  it('MUST NOT let a throwing TU callback escape the network handler', () => {
    const { transport, layer, errors } = setup();
    layer.onRequest = () => {
      throw new Error('TU bug');
    };
    assert.doesNotThrow(() => transport.injectRequest(inboundRequest('OPTIONS')));
    assert.equal(errors.length, 1);
    const tx = layer.request(outboundRequest('OPTIONS'), PEER, {
      onResponse: () => {
        throw new Error('TU bug 2');
      },
    });
    assert.doesNotThrow(() => transport.injectResponse(responseTo(tx.request, 200, 'OK')));
    assert.equal(errors.length, 2);
    layer.close();
  });

  it('MUST drop a request without Via instead of throwing', () => {
    const { transport, layer, txs } = withServer();
    const r = inboundRequest('OPTIONS');
    r.via = [];
    transport.injectRequest(r);
    assert.equal(txs.length, 0);
    assert.deepEqual(transport.statuses(), []);
    layer.close();
  });

  it('MUST refuse to run ACK as a transaction and refuse a reused branch', () => {
    const { layer } = setup();
    assert.throws(() => layer.request(outboundRequest('ACK'), PEER, recorder()), { code: 'SIP_TX_USAGE' } as object);
    const a = outboundRequest('OPTIONS');
    layer.request(a, PEER, recorder());
    const b = outboundRequest('OPTIONS');
    b.via = [via(String(a.via[0].params.get('branch')))];
    assert.throws(() => layer.request(b, PEER, recorder()), { code: 'SIP_TX_USAGE' } as object);
    layer.close();
  });

  it('MUST report every transaction state change to onStateChange', () => {
    const { transport, layer } = setup();
    const seen: string[] = [];
    layer.onStateChange = (ev) => seen.push(`${ev.kind} ${ev.method} ${ev.from}->${ev.to}`);
    const tx = layer.request(outboundRequest('INVITE'), { ...PEER, transport: 'tcp' }, recorder());
    transport.injectResponse(responseTo(tx.request, 486));
    assert.deepEqual(seen, [
      'invite-client INVITE idle->calling',
      'invite-client INVITE calling->completed',
      'invite-client INVITE completed->terminated',
    ]);
    layer.close();
  });

  it('MUST stop listening and leave no timer behind on close()', () => {
    const { transport, layer, clock } = withServer();
    layer.request(outboundRequest('INVITE'), PEER, recorder());
    transport.injectRequest(inboundRequest('INVITE'));
    assert.ok(clock.pending > 0);
    layer.close();
    layer.close(); // idempotent
    assert.equal(clock.pending, 0);
    assert.equal(transport.listenerCount, 0);
    assert.equal(layer.clientCount + layer.serverCount, 0);
  });
});
