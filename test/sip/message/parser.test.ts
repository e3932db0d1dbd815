import { fault, parsed as ok } from './parse-helpers.ts';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, parseNameAddr } from '../../../src/sip/message/parser.ts';
import { serializeMessage, serializeNameAddr } from '../../../src/sip/message/serializer.ts';
import { SipParseError } from '../../../src/sip/message/errors.ts';
import type { SipRequest } from '../../../src/sip/message/types.ts';

const BASE = [
  'OPTIONS sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1',
  'From: <sip:alice@example.com>;tag=a1',
  'To: <sip:bob@example.com>',
  'Call-ID: c1@example.com',
  'CSeq: 1 OPTIONS',
];

function msg(extra: string[] = [], base = BASE, body = ''): Buffer {
  return Buffer.from([...base, ...extra].join('\r\n') + '\r\n\r\n' + body);
}

describe('header forms (RFC 3261 §7.3)', () => {
  it('MUST accept header names in any case and normalise compact forms', () => {
    const m = ok(msg([], ['OPTIONS sip:bob@example.com SIP/2.0', 'v: SIP/2.0/UDP h;branch=z9hG4bK1', 'f: <sip:a@x>;tag=1', 't: sip:b@x', 'I: c1', 'cSeQ: 1 OPTIONS', 'm: <sip:a@h>', 'k: timer', 'c: text/plain', 's: hi', 'o: presence', 'l: 0']));
    assert.equal(m.via[0].host, 'h');
    assert.equal(m.callId, 'c1');
    assert.equal(m.contentType?.type, 'text/plain');
    assert.deepEqual(m.supported, ['timer']);
    assert.deepEqual(m.headers, [{ name: 'Subject', value: 'hi' }, { name: 'Event', value: 'presence' }]);
  });
  it('MUST unfold continuation lines (LWS = CRLF + WSP)', () => {
    const m = ok(msg(['Subject: one', ' two', '\tthree', 'Contact: <sip:a@h>', '  ;expires=60']));
    assert.equal(m.headers[0].value, 'one two three');
    assert.ok(m.contact !== '*');
    assert.equal(m.contact[0].params.get('expires'), '60');
  });
  it('MUST split comma lists across and within lines, respecting quotes and <>', () => {
    const m = ok(msg(['Contact: "Doe, John" <sip:j@h;a=1,2>;q=0.5, <sip:k@h>', 'Contact: sip:l@h;expires=5']));
    assert.ok(m.contact !== '*');
    assert.deepEqual(m.contact.map((c) => c.displayName), ['Doe, John', undefined, undefined]);
    assert.equal(m.contact[2].params.get('expires'), '5');
  });
  it('MUST keep several Via values of one line in order', () => {
    const m = ok(msg([], ['OPTIONS sip:b@x SIP/2.0', 'Via: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP [::1]:5070;branch=z9hG4bK2;received=::1', 'Via: SIP/2.0/TLS c', ...BASE.slice(2)]));
    assert.deepEqual(m.via.map((v) => `${v.transport} ${v.host} ${v.port ?? ''}`), ['UDP a ', 'TCP [::1] 5070', 'TLS c ']);
  });
  it('MUST unescape quoted display names', () => {
    assert.equal(parseNameAddr('"a \\"quoted\\" \\\\ name" <sip:x@y>').displayName, 'a "quoted" \\ name');
    assert.equal(serializeNameAddr(parseNameAddr('"a \\"q\\"" <sip:x@y>;tag=1')), '"a \\"q\\"" <sip:x@y>;tag=1');
  });
  it('MUST give params of a bare addr-spec to the header, not the URI (§20.10)', () => {
    const n = parseNameAddr('sip:a@h;tag=5');
    assert.equal(n.params.get('tag'), '5');
    assert.ok('params' in n.uri && n.uri.params.size === 0);
  });
  it('MUST reject a bare addr-spec containing "?" (§20.10)', () => {
    assert.throws(() => parseNameAddr('sip:a@h?Route=x'), SipParseError);
  });
  it('MUST accept Contact: * and reject * mixed with addresses', () => {
    assert.equal(ok(msg(['Contact: *', 'Expires: 0'])).contact, '*');
    assert.equal(fault(msg(['Contact: *, <sip:a@h>'])), 'bad Contact');
  });
  it('MUST parse Digest credentials with quoted and unquoted values', () => {
    const m = ok(msg(['Authorization: Digest username="bob", realm="x", nonce="n,1", uri="sip:x", response="abc", algorithm=MD5, qop=auth, nc=00000001, cnonce="c"']));
    const a = m.authorization[0];
    assert.equal(a.scheme, 'Digest');
    assert.equal(a.params.get('nonce'), 'n,1');
    assert.equal(a.params.get('algorithm'), 'MD5');
    assert.equal(a.params.get('nc'), '00000001');
    const wire = serializeMessage(m).toString();
    assert.match(wire, /Authorization: Digest username="bob", realm="x", nonce="n,1", uri="sip:x", response="abc", algorithm=MD5, qop=auth, nc=00000001, cnonce="c"/);
  });
  it('MUST parse several challenges in one header line', () => {
    const m = ok(msg(['WWW-Authenticate: Digest realm="a", nonce="1", Digest realm="b", nonce="2", algorithm=SHA-256']));
    assert.deepEqual(m.wwwAuthenticate.map((c) => [c.scheme, c.params.get('realm')]), [['Digest', 'a'], ['Digest', 'b']]);
  });
  it('MUST parse Require/Supported/Proxy-Require as lower-cased option tags, Max-Forwards, Expires, Min-Expires', () => {
    const m = ok(msg(['Require: 100rel, Timer', 'Supported:', 'Proxy-Require: sec-agree', 'Max-Forwards: 70', 'Expires: 300', 'Min-Expires: 60']));
    assert.deepEqual([m.require, m.supported, m.proxyRequire], [['100rel', 'timer'], [], ['sec-agree']]);
    assert.deepEqual([m.maxForwards, m.expires, m.minExpires], [70, 300, 60]);
  });
  it('MUST clamp delta-seconds beyond 2^32-1', () => {
    assert.equal(ok(msg(['Expires: 99999999999999999999'])).expires, 4294967295);
  });
  it('MUST parse Route, Record-Route and Path lists', () => {
    const m = ok(msg(['Route: <sip:p1;lr>, <sip:p2;lr>', 'Record-Route: <sip:rr;lr>', 'Path: <sip:edge;lr;ob>']));
    assert.deepEqual([m.route.length, m.recordRoute.length, m.path.length], [2, 1, 1]);
  });
  it('MUST keep unknown headers raw and in order', () => {
    const m = ok(msg(['X-B: 2', 'X-A: 1', 'x-b: 3']));
    assert.deepEqual(m.headers, [{ name: 'X-B', value: '2' }, { name: 'X-A', value: '1' }, { name: 'x-b', value: '3' }]);
  });
});

describe('malformed messages', () => {
  for (const h of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
    it(`MUST reject a request without ${h} with a fault naming it`, () => {
      const base = BASE.filter((l) => !l.startsWith(h + ':'));
      assert.equal(fault(msg([], base)), `missing ${h}`);
    });
  }
  for (const h of ['From: <sip:x@y>', 'To: <sip:x@y>', 'Call-ID: x', 'CSeq: 1 OPTIONS', 'Max-Forwards: 1', 'Content-Length: 0', 'Content-Type: a/b', 'Expires: 1']) {
    it(`MUST reject two ${h.split(':')[0]} headers with 400`, () => {
      assert.equal(fault(msg([h, h])), `multiple ${h.split(':')[0]} headers`);
    });
  }
  it('MUST answer a bad request with a 400 built from its headers, To tag added', () => {
    const r = parseMessage(msg(['Max-Forwards: many']));
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.fault, 'bad Max-Forwards');
    assert.equal(r.response?.status, 400);
    assert.equal(r.response?.reason, 'bad Max-Forwards');
    assert.equal(r.response?.callId, 'c1@example.com');
    assert.deepEqual(r.response?.cseq, { seq: 1, method: 'OPTIONS' });
    assert.ok(r.response?.to.params.get('tag'));
  });
  it('MUST never answer a broken ACK (§17.2.1)', () => {
    const r = parseMessage(msg(['Max-Forwards: x'], ['ACK sip:bob@example.com SIP/2.0', ...BASE.slice(1, 5), 'CSeq: 1 ACK']));
    assert.ok(!r.ok && r.isRequest && r.error.fault === 'bad Max-Forwards' && r.response === undefined);
  });
  it('MUST accept an unquoted UTF-8 display name (interop)', () => {
    assert.equal(parseNameAddr('Jürgen Müller <sip:j@h>').displayName, 'Jürgen Müller');
  });
  it('MUST answer 505 to a request with another SIP version (§21.5.6)', () => {
    const r = parseMessage(msg([], ['OPTIONS sip:b@x SIP/3.0', ...BASE.slice(1)]));
    assert.ok(!r.ok && r.error.status === 505 && r.response?.status === 505);
  });
  it('MUST drop a malformed response (no response to a response)', () => {
    const r = parseMessage(msg([], ['SIP/2.0 200 OK', ...BASE.slice(2)]));
    assert.ok(!r.ok && !r.isRequest && r.response === undefined && r.error.fault === 'missing Via');
  });
  it('MUST reject Content-Length larger than the datagram body and ignore extra octets', () => {
    assert.equal(fault(msg(['Content-Length: 10'], BASE, 'short')), 'Content-Length larger than body');
    const m = ok(msg(['Content-Length: 3'], BASE, 'abcdef'));
    assert.equal(m.body.toString(), 'abc');
  });
  it('MUST take the rest of the datagram as body when Content-Length is absent', () => {
    assert.equal(ok(msg([], BASE, 'hello\r\n')).body.toString(), 'hello\r\n');
  });
  it('MUST reject a header line without a colon or a continuation before any header', () => {
    assert.equal(fault(msg(['Garbage'])), 'bad header line');
    assert.equal(fault(Buffer.from('OPTIONS sip:b@x SIP/2.0\r\n cont\r\n' + BASE.slice(1).join('\r\n') + '\r\n\r\n')), 'bad header line');
  });
  it('MUST reject a bare CR or LF inside the header section', () => {
    assert.equal(fault(msg(['Subject: a\nb'])), 'bad line ending');
  });
  it('MUST ignore CRLFs before the start line (§7.5)', () => {
    assert.equal((ok(Buffer.concat([Buffer.from('\r\n\r\n'), msg()])) as SipRequest).method, 'OPTIONS');
  });
  it('MUST report empty and unterminated input without throwing', () => {
    assert.equal(fault(Buffer.alloc(0)), 'empty message');
    assert.equal(fault(Buffer.from('\r\n\r\n')), 'empty message');
    assert.equal(fault(Buffer.from('OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h')), 'incomplete header section');
  });
});

describe('limits', () => {
  it('MUST refuse a message larger than the size limit', () => {
    const r = parseMessage(msg([], BASE, 'x'.repeat(70000)));
    assert.ok(!r.ok && r.error.fault === 'message too large' && r.error.status === 413);
    assert.ok(parseMessage(msg([], BASE, 'x'.repeat(1000)), { maxMessageSize: 100 }).ok === false);
  });
  it('MUST refuse too many headers', () => {
    const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`);
    assert.equal(fault(msg(many)), 'too many headers');
    assert.ok(parseMessage(msg(many), { maxHeaders: 400 }).ok);
  });
  it('MUST refuse an overlong line', () => {
    assert.equal(fault(msg([`Subject: ${'a'.repeat(9000)}`])), 'line too long');
  });
  it('MUST parse a 60 kB header of commas and quotes in linear time', () => {
    const t = performance.now();
    for (const v of [',', '"', '<', ';', '\\"']) parseMessage(msg([`Contact: ${v.repeat(8000)}`, `Via: ${v.repeat(8000)}`]));
    assert.ok(performance.now() - t < 1000);
  });
});
