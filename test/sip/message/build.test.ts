import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRequest,
  createResponse,
  getHeader,
  getHeaders,
  HeaderValueError,
  newBranch,
  newCallId,
  newTag,
  reasonPhrase,
  removeHeader,
  setHeader,
} from '../../../src/sip/message/build.ts';
import { parseMessage, parseNameAddr, parseUri } from '../../../src/sip/message/parser.ts';
import { serializeMessage } from '../../../src/sip/message/serializer.ts';
import type { SipRequest } from '../../../src/sip/message/types.ts';
import { TYPICAL } from './vectors.ts';

function invite(): SipRequest {
  const r = parseMessage(TYPICAL[0]);
  assert.ok(r.ok && r.msg.kind === 'request');
  return r.msg;
}

describe('identifiers', () => {
  it('MUST start branches with the magic cookie and carry >= 64 random bits (§8.1.1.7)', () => {
    const b = newBranch();
    assert.match(b, /^z9hG4bK[0-9a-f]{24}$/);
    assert.notEqual(b, newBranch());
  });
  it('MUST make unique tags and Call-IDs', () => {
    const tags = new Set(Array.from({ length: 1000 }, newTag));
    assert.equal(tags.size, 1000);
    assert.match(newCallId(), /^[0-9a-f]{32}$/);
  });
});

describe('createResponse (§8.2.6)', () => {
  it('MUST copy Via list, From, To, Call-ID and CSeq without sharing objects', () => {
    const req = invite();
    const res = createResponse(req, 180);
    assert.equal(res.reason, 'Ringing');
    assert.deepEqual(res.via, req.via);
    assert.deepEqual([res.from, res.to, res.callId, res.cseq], [req.from, req.to, req.callId, req.cseq]);
    res.to.params.set('tag', 'x');
    assert.equal(req.to.params.has('tag'), false);
    assert.equal(res.headers.length, 0);
    assert.equal(res.body.length, 0);
  });
  it('MUST copy Timestamp into 100 Trying only (§8.2.6.1)', () => {
    const req = invite();
    req.headers.push({ name: 'Timestamp', value: '54' });
    assert.deepEqual(createResponse(req, 100).headers, [{ name: 'Timestamp', value: '54' }]);
    assert.deepEqual(createResponse(req, 200).headers, []);
  });
  it('MUST serialize to a response that parses back', () => {
    const res = createResponse(invite(), 486);
    const r = parseMessage(serializeMessage(res));
    assert.ok(r.ok && r.msg.kind === 'response' && r.msg.status === 486 && r.msg.reason === 'Busy Here');
  });
});

describe('createRequest (§8.1.1)', () => {
  it('MUST fill Call-ID, CSeq, Max-Forwards 70 and a From tag', () => {
    const req = createRequest({ method: 'REGISTER', uri: parseUri('sip:lab.spacephone.test'), from: parseNameAddr('<sip:2001@lab.spacephone.test>'), to: parseNameAddr('<sip:2001@lab.spacephone.test>'), contentType: 'text/plain', body: Buffer.from('x') });
    assert.equal(req.maxForwards, 70);
    assert.deepEqual(req.cseq, { seq: 1, method: 'REGISTER' });
    assert.ok(req.from.params.get('tag'));
    assert.ok(req.callId.length >= 16);
    req.via.push({ protocol: 'SIP/2.0', transport: 'UDP', host: '127.0.0.1', port: 5060, params: new Map([['branch', newBranch()]]) });
    const r = parseMessage(serializeMessage(req));
    assert.ok(r.ok);
    assert.equal(r.msg.body.toString(), 'x');
    assert.equal(r.msg.contentType?.type, 'text/plain');
  });
});

describe('header accessors', () => {
  it('MUST read raw headers case-insensitively and by compact name', () => {
    const m = invite();
    m.headers.push({ name: 'Subject', value: 'hello' });
    assert.equal(getHeader(m, 'user-agent'), 'baresip v3.10.0 (x86_64/linux)');
    assert.equal(getHeader(m, 's'), 'hello');
    assert.equal(getHeader(m, 'X-None'), undefined);
  });
  it('MUST render typed headers', () => {
    const m = invite();
    assert.equal(getHeader(m, 'i'), 'a84b4c76e66710@127.0.0.50');
    assert.equal(getHeader(m, 'CSEQ'), '314159 INVITE');
    assert.deepEqual(getHeaders(m, 'v'), ['SIP/2.0/UDP 127.0.0.50:5062;branch=z9hG4bK776asdhds;rport']);
    assert.equal(getHeader(m, 'l'), '118');
  });
  it('MUST set and remove raw headers', () => {
    const m = invite();
    setHeader(m, 'x-test', '1');
    setHeader(m, 'X-Test', '2');
    assert.deepEqual(getHeaders(m, 'X-TEST'), ['2']);
    removeHeader(m, 'user-agent');
    assert.equal(getHeader(m, 'User-Agent'), undefined);
  });
  it('MUST parse typed headers on set, and refuse bad values or removing mandatory ones', () => {
    const m = invite();
    setHeader(m, 'm', '<sip:x@y>;expires=10');
    assert.ok(m.contact !== '*' && m.contact[0].params.get('expires') === '10');
    setHeader(m, 'Expires', '30');
    assert.equal(m.expires, 30);
    removeHeader(m, 'expires');
    assert.equal(m.expires, undefined);
    assert.throws(() => setHeader(m, 'CSeq', 'nope'), HeaderValueError);
    assert.throws(() => removeHeader(m, 'Call-ID'), HeaderValueError);
    assert.throws(() => setHeader(m, 'X-Bad: injected\r\nVia', 'x'), HeaderValueError);
  });
});

describe('reasonPhrase', () => {
  it('MUST know the RFC 3261 phrases and fall back to the class', () => {
    assert.equal(reasonPhrase(200), 'OK');
    assert.equal(reasonPhrase(481), 'Call/Transaction Does Not Exist');
    assert.equal(reasonPhrase(499), 'Bad Request');
    assert.equal(reasonPhrase(699), 'Busy Everywhere');
  });
});
