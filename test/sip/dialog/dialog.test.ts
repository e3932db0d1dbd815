import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Dialog, dialogIdOfRequest, dialogIdOfResponse, dialogKey } from '../../../src/sip/dialog/dialog.ts';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import { serializeNameAddr, serializeUri } from '../../../src/sip/message/serializer.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/sip/message/types.ts';

function parse(lines: string[]): SipMessage {
  const r = parseMessage(Buffer.from(lines.join('\r\n') + '\r\n\r\n'));
  if (!r.ok) throw r.error;
  return r.msg;
}

const INVITE = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
  'Content-Length: 0',
];

function invite(extra: string[] = []): SipRequest {
  return parse([...INVITE.slice(0, -1), ...extra, 'Content-Length: 0']) as SipRequest;
}

function response(status: number, opts: { toTag?: string; contact?: string; recordRoute?: string[]; cseq?: string } = {}): SipResponse {
  const lines = [
    `SIP/2.0 ${status} X`,
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
    ...(opts.recordRoute ?? []).map((r) => `Record-Route: ${r}`),
    `To: Bob <sip:bob@biloxi.example.com>${opts.toTag === '' ? '' : `;tag=${opts.toTag ?? 'a6c85cf'}`}`,
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    `CSeq: ${opts.cseq ?? '314159 INVITE'}`,
    ...(opts.contact === '' ? [] : [`Contact: ${opts.contact ?? '<sip:bob@192.0.2.4>'}`]),
    'Content-Length: 0',
  ];
  return parse(lines) as SipResponse;
}

const RR = ['<sip:p2.example.com;lr>', '<sip:p1.example.com;lr>'];

describe('Dialog (RFC 3261 §12)', () => {
  it('MUST create a UAC dialog from a 2xx: id, reversed Record-Route, Contact as remote target', () => {
    const d = Dialog.asUac(invite(), response(200, { recordRoute: RR }));
    assert.equal(d.state, 'confirmed');
    assert.deepEqual(d.id, { callId: 'a84b4c76e66710@pc33.atlanta.example.com', localTag: '1928301774', remoteTag: 'a6c85cf' });
    assert.deepEqual(d.routeSet.map(serializeNameAddr), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    assert.equal(serializeUri(d.remoteTarget), 'sip:bob@192.0.2.4');
    assert.equal(d.localSeq, 314159);
    assert.equal(d.remoteSeq, undefined);
    assert.equal(d.key, dialogKey(dialogIdOfResponse(response(200))));
  });

  it('MUST create an early dialog from a 1xx with To tag, and refuse one without', () => {
    const d = Dialog.asUac(invite(), response(180));
    assert.equal(d.state, 'early');
    assert.throws(() => Dialog.asUac(invite(), response(180, { toTag: '' })), { code: 'SIP_DIALOG' } as object);
    assert.throws(() => Dialog.asUac(invite(), response(100)), { code: 'SIP_DIALOG' } as object);
  });

  it('MUST confirm an early dialog on 2xx, recomputing route set and target (§13.2.2.4)', () => {
    const d = Dialog.asUac(invite(), response(183, { recordRoute: ['<sip:old.example.com;lr>'], contact: '<sip:bob@192.0.2.9>' }));
    d.receiveResponse(response(200, { recordRoute: RR, contact: '<sip:bob@192.0.2.4>' }));
    assert.equal(d.state, 'confirmed');
    assert.deepEqual(d.routeSet.map(serializeNameAddr), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    assert.equal(serializeUri(d.remoteTarget), 'sip:bob@192.0.2.4');
  });

  it('MUST terminate an early dialog on a non-2xx final to the INVITE (§12.3)', () => {
    const d = Dialog.asUac(invite(), response(180));
    d.receiveResponse(response(486));
    assert.equal(d.state, 'terminated');
    assert.throws(() => d.createRequest('BYE'), { code: 'SIP_DIALOG' } as object);
  });

  it('MUST create a UAS dialog from the request and our response: Record-Route in order, From/To swapped', () => {
    const req = invite(['Record-Route: <sip:p1.example.com;lr>', 'Record-Route: <sip:p2.example.com;lr>']);
    const ok = response(200, { toTag: 'uastag', contact: '<sip:bob@192.0.2.4>' });
    const d = Dialog.asUas(req, ok);
    assert.deepEqual(d.id, { callId: req.callId, localTag: 'uastag', remoteTag: '1928301774' });
    assert.equal(d.key, dialogKey(dialogIdOfRequest({ ...req, to: ok.to })));
    assert.deepEqual(d.routeSet.map(serializeNameAddr), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    assert.equal(serializeUri(d.remoteTarget), 'sip:alice@pc33.atlanta.example.com');
    assert.equal(d.remoteSeq, 314159);
    assert.equal(d.localSeq, undefined);
    const bye = d.createRequest('BYE');
    assert.equal(bye.from.params.get('tag'), 'uastag');
    assert.equal(serializeUri(bye.from.uri), 'sip:bob@biloxi.example.com');
    assert.equal(bye.to.params.get('tag'), '1928301774');
    assert.equal(serializeUri(bye.uri), 'sip:alice@pc33.atlanta.example.com');
    assert.ok(bye.cseq.seq >= 1 && bye.cseq.seq < 2 ** 31);
  });

  it('MUST build in-dialog requests with loose routing: Request-URI = remote target, Route = route set', () => {
    const d = Dialog.asUac(invite(), response(200, { recordRoute: RR }));
    const bye = d.createRequest('BYE');
    assert.equal(bye.method, 'BYE');
    assert.equal(serializeUri(bye.uri), 'sip:bob@192.0.2.4');
    assert.deepEqual(bye.route.map(serializeNameAddr), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    assert.equal(bye.callId, d.callId);
    assert.equal(bye.from.params.get('tag'), '1928301774');
    assert.equal(bye.to.params.get('tag'), 'a6c85cf');
    assert.equal(bye.via.length, 0, 'the transaction layer adds Via');
    assert.deepEqual(bye.contact, [], 'BYE is no target refresh');
  });

  it('MUST use strict routing when the first route lacks lr (§12.2.1.1)', () => {
    const d = Dialog.asUac(invite(), response(200, { recordRoute: ['<sip:p2.example.com;lr>', '<sip:p1.example.com;method=INVITE>'] }));
    const req = d.createRequest('INFO');
    assert.equal(serializeUri(req.uri), 'sip:p1.example.com');
    assert.deepEqual(req.route.map(serializeNameAddr), ['<sip:p2.example.com;lr>', '<sip:bob@192.0.2.4>']);
  });

  it('MUST increment the local CSeq for each new request (§12.2.1.1)', () => {
    const d = Dialog.asUac(invite(), response(200));
    assert.equal(d.createRequest('INFO').cseq.seq, 314160);
    assert.equal(d.createRequest('INVITE').cseq.seq, 314161);
    assert.equal(d.localSeq, 314161);
  });

  it('MUST build the ACK for a 2xx with the INVITE CSeq number and method ACK, without consuming a CSeq (§13.2.2.4)', () => {
    const d = Dialog.asUac(invite(), response(200, { recordRoute: RR }));
    const ack = d.createAck(314159);
    assert.equal(ack.method, 'ACK');
    assert.deepEqual(ack.cseq, { seq: 314159, method: 'ACK' });
    assert.equal(serializeUri(ack.uri), 'sip:bob@192.0.2.4');
    assert.equal(ack.route.length, 2);
    assert.equal(ack.to.params.get('tag'), 'a6c85cf');
    assert.equal(ack.via.length, 0, 'a new branch comes from the layer (sendAck)');
    assert.equal(d.localSeq, 314159);
  });

  it('MUST reject an in-dialog request with a CSeq lower than the remote sequence number with 500 (§12.2.2)', () => {
    const d = Dialog.asUas(invite(), response(200, { toTag: 'uastag' }));
    const mk = (seq: number, method: string): SipRequest => {
      const r = invite();
      r.method = method;
      r.cseq = { seq, method };
      return r;
    };
    assert.deepEqual(d.receiveRequest(mk(314160, 'INFO')), { ok: true });
    assert.equal(d.remoteSeq, 314160);
    assert.deepEqual(d.receiveRequest(mk(314159, 'INFO')), { ok: false, status: 500, reason: 'CSeq Out of Order' });
    assert.equal(d.remoteSeq, 314160);
    assert.deepEqual(d.receiveRequest(mk(314100, 'ACK')), { ok: true }, 'ACK is not checked');
  });

  it('MUST replace the remote target from a re-INVITE Contact (UAS) and from a 2xx to our re-INVITE (UAC)', () => {
    const uas = Dialog.asUas(invite(), response(200, { toTag: 'uastag' }));
    const reinvite = invite();
    reinvite.cseq = { seq: 314160, method: 'INVITE' };
    reinvite.contact = [{ uri: { scheme: 'sip', user: 'alice', host: '198.51.100.7', params: new Map(), headers: new Map() }, params: new Map() }];
    uas.receiveRequest(reinvite);
    assert.equal(serializeUri(uas.remoteTarget), 'sip:alice@198.51.100.7');

    const uac = Dialog.asUac(invite(), response(200));
    const re = uac.createRequest('INVITE');
    assert.equal(serializeUri(re.contact === '*' ? re.uri : re.contact[0].uri), 'sip:alice@pc33.atlanta.example.com', 'our Contact in a target refresh');
    uac.receiveResponse(response(200, { cseq: `${re.cseq.seq} INVITE`, contact: '<sip:bob@203.0.113.5>' }));
    assert.equal(serializeUri(uac.remoteTarget), 'sip:bob@203.0.113.5');
    uac.receiveResponse(response(200, { cseq: `${re.cseq.seq + 1} INFO`, contact: '<sip:bob@203.0.113.99>' }));
    assert.equal(serializeUri(uac.remoteTarget), 'sip:bob@203.0.113.5', 'INFO is no target refresh');
  });

  it('MUST terminate on 481 or 408 to an in-dialog request (§12.2.1.2) and on BYE', () => {
    const d = Dialog.asUac(invite(), response(200));
    const info = d.createRequest('INFO');
    d.receiveResponse(response(481, { cseq: `${info.cseq.seq} INFO` }));
    assert.equal(d.state, 'terminated');

    const u = Dialog.asUas(invite(), response(200, { toTag: 't' }));
    const bye = invite();
    bye.method = 'BYE';
    bye.cseq = { seq: 314160, method: 'BYE' };
    u.receiveRequest(bye);
    assert.equal(u.state, 'terminated');
  });

  it('MUST confirm a UAS early dialog when we send 2xx, and end it when we send a non-2xx', () => {
    const a = Dialog.asUas(invite(), response(180, { toTag: 'e1' }));
    assert.equal(a.state, 'early');
    a.responded(response(200, { toTag: 'e1' }));
    assert.equal(a.state, 'confirmed');
    const b = Dialog.asUas(invite(), response(183, { toTag: 'e2' }));
    b.responded(response(486, { toTag: 'e2' }));
    assert.equal(b.state, 'terminated');
  });
});
