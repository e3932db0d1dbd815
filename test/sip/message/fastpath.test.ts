/**
 * Obligations of the hot-path shapes of the message layer: the one-pass
 * Authorization reader agrees with the general one, messages keep one key order
 * (one V8 hidden class per kind), the serializer's single CR/LF check, the
 * parser's latin1/UTF-8 decoding and its shared empty body.
 */
import { fault, parsed as ok, request } from './parse-helpers.ts';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bareRequest, cloneNameAddr, cloneUri, cloneVia, createRequest, createResponse, EMPTY_BODY } from '../../../src/sip/message/build.ts';
import { SipParseError } from '../../../src/sip/message/errors.ts';
import { parseAuth, parseAuthGeneral } from '../../../src/sip/message/headers.ts';
import { parseMessage, parseNameAddr, parseUri } from '../../../src/sip/message/parser.ts';
import { serializeMessage } from '../../../src/sip/message/serializer.ts';
import type { AuthValue, SipResponse } from '../../../src/sip/message/types.ts';

const REGISTER = [
  'REGISTER sip:127.0.0.90:5060 SIP/2.0',
  'Via: SIP/2.0/UDP 127.0.0.93:5100;branch=z9hG4bKabc;rport',
  'From: <sip:10001@127.0.0.90>;tag=t1',
  'To: <sip:10001@127.0.0.90>',
  'Call-ID: abc',
  'CSeq: 1 REGISTER',
  'Contact: <sip:10001@127.0.0.93:5100;transport=UDP>',
  'Max-Forwards: 70',
];

function wire(lines: string[], body = ''): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body);
}

/** parseAuth's result, or the fault it threw. */
function authOf(f: () => AuthValue[]): AuthValue[] | string {
  try {
    return f();
  } catch (e) {
    assert.ok(e instanceof SipParseError);
    return e.fault;
  }
}

describe('Authorization one-pass reader', () => {
  it('MUST give the same credentials or fault as the general parser for any value', () => {
    const piece = fc.constantFrom('Digest', 'Basic', ' ', '  ', '\t', ',', ', ', '=', ' = ', '"', '\\', '<', '>', 'realm', 'nonce', 'a', 'MD5', 'x y', '"q,r"', '"s\\"t"', 'sip:a@b', '');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), (parts) => {
        const v = parts.join('').trim();
        assert.deepEqual(authOf(() => parseAuth([v], 'bad Authorization')), authOf(() => parseAuthGeneral([v], 'bad Authorization')), JSON.stringify(v));
      }),
      { numRuns: 20000 },
    );
  });
  it('MUST read the usual credentials in order, quoted values unquoted', () => {
    const [a] = parseAuth(['Digest username="10001",realm="127.0.0.90", nonce="n,1",uri="sip:127.0.0.90:5060",response="abc",algorithm=MD5'], 'bad Authorization');
    assert.equal(a.scheme, 'Digest');
    assert.deepEqual([...a.params], [['username', '10001'], ['realm', '127.0.0.90'], ['nonce', 'n,1'], ['uri', 'sip:127.0.0.90:5060'], ['response', 'abc'], ['algorithm', 'MD5']]);
  });
});

describe('message key order (one hidden class per kind)', () => {
  it('MUST give parsed requests, createRequest and bareRequest the same key order', () => {
    const parsed = request(wire(REGISTER));
    const built = createRequest({ method: 'REGISTER', uri: parseUri('sip:127.0.0.90'), from: parseNameAddr('<sip:a@b>'), to: parseNameAddr('<sip:a@b>') });
    assert.deepEqual(Object.keys(built), Object.keys(parsed));
    const bare = bareRequest('REGISTER', parsed.uri, parsed.via, parsed.from, parsed.to, parsed.callId, parsed.cseq);
    bare.maxForwards = 70;
    assert.deepEqual(Object.keys(bare), Object.keys(parsed));
  });
  it('MUST give parsed responses and createResponse the same key order', () => {
    const res = createResponse(request(wire(REGISTER)), 401, 'Unauthorized');
    const parsed = ok(wire(['SIP/2.0 401 Unauthorized', ...REGISTER.slice(1, 6)]));
    assert.equal(parsed.kind, 'response');
    assert.deepEqual(Object.keys(res), Object.keys(parsed));
  });
  it('MUST append optional fields in the canonical order whatever the header order', () => {
    const m = ok(wire([...REGISTER.slice(0, 6), 'Content-Length: 0', 'Content-Type: text/plain', 'Min-Expires: 60', 'Expires: 60', 'Max-Forwards: 9']));
    assert.deepEqual(Object.keys(m).slice(-5), ['maxForwards', 'expires', 'minExpires', 'contentType', 'contentLength']);
  });
  it('MUST clone URIs, Vias and name-addrs with the key order the parser gives them', () => {
    const m = request(wire([...REGISTER.slice(0, 2), 'From: "A" <sip:u:pw@h:5060;lr?x=1>;tag=t1', ...REGISTER.slice(3)]));
    assert.deepEqual(Object.keys(cloneUri(m.from.uri)), Object.keys(m.from.uri));
    assert.deepEqual(Object.keys(cloneNameAddr(m.from)), Object.keys(m.from));
    assert.deepEqual(Object.keys(cloneVia(m.via[0])), Object.keys(m.via[0]));
    assert.deepEqual(cloneNameAddr(m.from), m.from);
    assert.notEqual(cloneNameAddr(m.from).uri, m.from.uri);
  });
});

describe('serializer CR/LF check', () => {
  it('MUST turn a CR or LF in any value into SP and write no extra header line', () => {
    const res: SipResponse = createResponse(request(wire(REGISTER)), 200, 'OK');
    res.reason = 'O\rK';
    res.headers.push({ name: 'Subject', value: 'a\nb' }, { name: 'X-Other', value: 'e\r\nVia: SIP/2.0/UDP evil' });
    const text = serializeMessage(res).toString();
    assert.equal(text.split('\r\n').length, 11); // 9 lines, the empty line, the empty body
    const back = ok(Buffer.from(text));
    assert.ok(back.kind === 'response' && back.reason === 'O K');
    assert.deepEqual(back.headers, [{ name: 'Subject', value: 'a b' }, { name: 'X-Other', value: 'e  Via: SIP/2.0/UDP evil' }]);
    assert.equal(back.via.length, 1);
  });
  it('MUST write non-ASCII values as UTF-8', () => {
    const res = createResponse(request(wire(REGISTER)), 200, 'Gut');
    res.to.displayName = 'Jürgen';
    res.headers.push({ name: 'Subject', value: 'ßüñ' });
    res.body = Buffer.from('é');
    const back = ok(serializeMessage(res));
    assert.equal(back.to.displayName, 'Jürgen');
    assert.equal(back.headers[0].value, 'ßüñ');
    assert.equal(back.body.toString('utf8'), 'é');
  });
});

describe('parser input handling', () => {
  it('MUST decode the head as UTF-8 when the datagram is not pure ASCII', () => {
    const m = request(wire([...REGISTER.slice(0, 2), 'From: "Jürgen" <sip:10001@127.0.0.90>;tag=t1', ...REGISTER.slice(3), 'Subject: ü']));
    assert.equal(m.from.displayName, 'Jürgen');
    assert.equal(m.headers[0].value, 'ü');
  });
  it('MUST find the head in an ASCII head followed by a non-ASCII body', () => {
    const m = request(wire([...REGISTER, 'Content-Type: text/plain'], 'ünïcode'));
    assert.equal(m.body.toString('utf8'), 'ünïcode');
  });
  it('MUST copy the body out of the receive buffer, and share no buffer for an empty body', () => {
    const data = wire([...REGISTER, 'Content-Type: text/plain'], 'abc');
    const m = request(data);
    data.fill(0x78, data.length - 3);
    assert.equal(m.body.toString(), 'abc');
    const empty = request(wire(REGISTER));
    assert.equal(empty.body.length, 0);
    assert.equal(empty.body, EMPTY_BODY);
  });
  it('MUST apply partial limits on top of the defaults', () => {
    const r = parseMessage(wire(REGISTER), { maxHeaders: 3 });
    assert.ok(!r.ok && r.error.fault === 'too many headers' && r.error.status === 413);
    const l = parseMessage(wire(REGISTER), { maxLineLength: 20 });
    assert.ok(!l.ok && l.error.fault === 'line too long');
    assert.ok(parseMessage(wire(REGISTER), { maxMessageSize: 1000 }).ok);
  });
  it('MUST report a bare CR or LF anywhere in the head as "bad line ending", before any other fault', () => {
    const base = wire(REGISTER).toString();
    assert.equal(fault(Buffer.from(base.replace('SIP/2.0\r\n', 'SIP/2.0\n'))), 'bad line ending');
    assert.equal(fault(Buffer.from(base.replace('Call-ID: abc', 'Call-ID: a\rbc'))), 'bad line ending');
    assert.equal(fault(Buffer.from(base.replace('CSeq: 1 REGISTER\r\n', 'CSeq: 1 REGISTER\r\n\n'))), 'bad line ending');
    // A broken request line would otherwise be the first fault.
    assert.equal(fault(Buffer.from(base.replace('REGISTER sip', 'REGISTER  sip').replace('To: <', 'To:\r<'))), 'bad line ending');
  });
});
