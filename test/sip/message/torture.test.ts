/**
 * RFC 4475 (SIP torture tests) and RFC 5118 (IPv6 torture tests), every file of
 * shared/vectors (test/support/vectors.ts). Expectations checked against the RFC sections.
 */
import { parsed, request, response } from './parse-helpers.ts';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import { serializeRawResponse } from '../../../src/sip/message/raw-response.ts';
import { serializeMessage } from '../../../src/sip/message/serializer.ts';
import { isSipUri, type SipMessage, type SipUri, type Uri } from '../../../src/sip/message/types.ts';
import { listRfc4475, listRfc5118, rfc4475, rfc5118, TYPICAL } from './vectors.ts';

function sip(u: Uri): SipUri {
  assert.ok(isSipUri(u), `expected a SIP URI, got ${u.scheme}`);
  return u;
}

/** A rejected request: status, fault, and whether a stateless response can be built. */
function rejected(buf: Buffer, status: number, fault: RegExp, answerable: boolean | 'raw'): void {
  const r = parseMessage(buf);
  if (r.ok) assert.fail('expected the message to be rejected');
  assert.equal(r.isRequest, true);
  assert.equal(r.error.status, status);
  assert.equal(r.error.code, 'SIP_PARSE');
  assert.match(r.error.fault, fault);
  if (answerable !== true) {
    assert.equal(r.response, undefined);
    if (answerable === 'raw') assert.ok(r.rawResponse, 'a raw stateless error response must be built');
    else assert.equal(r.rawResponse, undefined);
    return;
  }
  assert.equal(r.rawResponse, undefined);
  const res = r.response;
  assert.ok(res, 'a stateless error response must be built');
  assert.equal(res.status, status);
  assert.equal(res.reason, r.error.fault);
  assert.ok(res.to.params.get('tag'), 'the error response carries a To tag (§8.2.6.2)');
  assert.ok(res.via.length > 0);
  assert.ok(parseMessage(serializeMessage(res)).ok, 'the error response itself is well-formed');
}
/** A broken response: reported, never answered (§7.2, RFC 4475 §3.1.2.19). */
function dropped(buf: Buffer, fault: RegExp): void {
  const r = parseMessage(buf);
  if (r.ok) assert.fail('expected the response to be rejected');
  assert.equal(r.isRequest, false);
  assert.equal(r.response, undefined);
  assert.match(r.error.fault, fault);
}

const valid4475: Record<string, (b: Buffer) => void> = {
  wsinv(b) {
    const m = request(b);
    assert.equal(m.method, 'INVITE');
    assert.equal(sip(m.uri).user, 'vivekg');
    assert.equal(sip(m.uri).params.get('unknownparam'), null);
    assert.equal(m.to.params.get('tag'), '1918181833n');
    assert.equal(m.from.displayName, 'J Rosenberg \\"');
    assert.equal(m.from.params.get('tag'), '98asjd8');
    assert.equal(m.maxForwards, 68);
    assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
    assert.deepEqual(m.via.map((v) => [v.protocol, v.transport, v.host, v.params.get('branch')]), [
      ['SIP/2.0', 'UDP', '192.0.2.2', '390skdjuw'],
      ['SIP/2.0', 'TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['SIP/2.0', 'UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    assert.deepEqual(m.headers.find((h) => h.name === 'Subject'), { name: 'Subject', value: '' });
    assert.equal(m.headers.find((h) => h.name === 'NewFangledHeader')?.value, 'newfangled value continued newfangled value');
    assert.equal(m.headers.find((h) => h.name === 'UnknownHeaderWithUnusualValue')?.value, ';;,,;;,;');
    assert.equal(sip(m.route[0].uri).params.get('lr'), null);
    assert.equal(sip(m.route[0].uri).params.get('unknownwith'), 'value');
    assert.ok(m.contact !== '*');
    assert.equal(m.contact[0].displayName, 'Quoted string ""');
    assert.deepEqual([...m.contact[0].params], [['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
    assert.equal(m.contentType?.type, 'application/sdp');
    assert.equal(m.body.length, 150);
  },
  intmeth(b) {
    const m = request(b);
    assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
    assert.equal(m.cseq.method, m.method);
    const u = sip(m.uri);
    assert.equal(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert.equal(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert.equal(u.host, 'example.com');
    assert.equal(m.to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
    assert.equal(m.from.displayName, "token1~` token2'+_ token3*%!.-");
    assert.equal(m.from.params.get('tag'), "_token~1'+`*%!-.");
    assert.equal(m.from.params.get("fromparam''~+*_!.-%"), '"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"');
    assert.equal(m.callId, 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    assert.equal(m.maxForwards, 255);
    assert.equal(m.via[0].params.get('branch'), "z9hG4bK-.!%66*_+`'~");
    assert.equal(m.headers[0].name, "extensionHeader-!.%*+_`'~");
    // UTF-8 with a leading BOM, which is not LWS and must survive trimming.
    assert.equal(m.headers[0].value, '\ufeff\u5927\u505c\u96fb');
  },
  esc01(b) {
    const m = request(b);
    assert.equal(sip(m.uri).user, 'sips:user@example.com');
    assert.equal(sip(m.uri).host, 'example.net');
    assert.equal(sip(m.to.uri).user, 'user');
    assert.equal(sip(m.from.uri).user, 'I have spaces');
    assert.equal(m.callId, 'esc01.239409asdfakjkn23onasd0-3234');
    assert.equal(m.contentType?.type, 'application/sdp');
    assert.ok(m.contact !== '*');
    const c = sip(m.contact[0].uri);
    assert.equal(c.user, 'caller');
    assert.deepEqual([...c.params], [['lr', null], ['name', 'value%41']]);
  },
  escnull(b) {
    const m = request(b);
    assert.equal(sip(m.to.uri).user, 'null-\u0000-null');
    assert.ok(m.contact !== '*');
    assert.deepEqual(m.contact.map((c) => sip(c.uri).user), ['\u0000', '\u0000\u0000']);
    assert.equal(m.contentLength, 0);
  },
  esc02(b) {
    const m = request(b);
    assert.equal(m.method, 'RE%47IST%45R');
    assert.equal(m.cseq.method, 'RE%47IST%45R');
    assert.equal(m.from.displayName, '%Z%45');
    assert.equal(m.via[0].params.get('branch'), 'z9hG4bK209%fzsnel234');
    assert.ok(m.contact !== '*');
    // "C%6Fntact" is not Contact: header names are not escaped (RFC 4475 §3.1.1.5).
    assert.deepEqual(m.contact.map((c) => sip(c.uri).user), ['alias1', 'alias3']);
    assert.deepEqual(m.headers, [{ name: 'C%6Fntact', value: '<sip:alias2@host2.example.com>' }]);
  },
  lwsdisp(b) {
    assert.equal(request(b).from.displayName, 'caller');
  },
  longreq(b) {
    const m = request(b);
    assert.match(m.to.displayName ?? '', /^I have a user name of (extreme){10} proportion$/);
    assert.equal(m.to.params.get('tag'), undefined);
    assert.equal(m.via.length, 34);
    assert.equal(m.via[0].host, 'sip33.example.com');
    assert.equal(m.via[33].params.get('received'), '192.0.2.5');
    assert.match(m.via[33].params.get('branch') ?? '', /^verylong(long)+branchvalue$/);
    assert.ok(m.headers.some((h) => h.name.startsWith('Unknown-LongLong')));
    assert.equal(m.body.length, 150);
  },
  dblreq(b) {
    // Octets after Content-Length in a datagram are ignored (§18.3).
    const m = request(b);
    assert.equal(m.method, 'REGISTER');
    assert.equal(m.callId, 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
    assert.equal(m.body.length, 0);
  },
  semiuri(b) {
    const m = request(b);
    const u = sip(m.uri);
    assert.equal(u.user, 'user;par=u@example.net');
    assert.equal(u.host, 'example.com');
    assert.equal(u.params.size, 0);
    assert.equal(m.headers.find((h) => h.name === 'Accept')?.value.replace(/\s+/g, ' '), 'application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, message/sip, message/sipfrag');
  },
  transports(b) {
    assert.deepEqual(request(b).via.map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
  },
  mpart01(b) {
    const m = request(b);
    assert.equal(m.method, 'MESSAGE');
    assert.equal(m.body.length, 553);
    assert.equal(m.contentType?.type, 'multipart/mixed');
    assert.equal(m.contentType?.params.get('boundary'), '7a9cbec02ceef655');
    assert.equal(m.via[0].params.get('rport'), null);
    assert.equal(m.via[0].port, 5070);
    assert.equal(sip(m.route[0].uri).port, 5080);
  },
  unreason(b) {
    const m = response(b);
    assert.equal(m.status, 200);
    assert.ok(m.reason.startsWith('= 2**3 * 5**2 \u043d\u043e'));
    assert.equal(m.body.length, 154);
  },
  noreason(b) {
    const m = response(b);
    assert.equal(m.status, 100);
    assert.equal(m.reason, '');
  },
  badbranch(b) {
    assert.equal(request(b).via[0].params.get('branch'), 'z9hG4bK');
  },
  unkscm(b) {
    const m = request(b);
    assert.equal(m.uri.scheme, 'nobodyknowsthisscheme');
    assert.deepEqual(m.uri, { scheme: 'nobodyknowsthisscheme', raw: 'nobodyKnowsThisScheme:totallyopaquecontent' });
  },
  novelsc(b) {
    assert.deepEqual(request(b).uri, { scheme: 'soap.beep', raw: 'soap.beep://192.0.2.103:3002' });
  },
  unksm2(b) {
    const m = request(b);
    assert.deepEqual(m.to.uri, { scheme: 'isbn', raw: 'isbn:2983792873' });
    assert.equal(m.from.uri.scheme, 'http');
    assert.ok(m.contact !== '*');
    assert.deepEqual(m.contact[0].uri, { scheme: 'name', raw: 'name:John_Smith' });
  },
  bext01(b) {
    const m = request(b);
    assert.deepEqual(m.require, ['nothingsupportsthis', 'nothingsupportsthiseither']);
    assert.deepEqual(m.proxyRequire, ['noproxiessupportthis', 'nordoanyproxiessupportthis']);
  },
  invut(b) {
    const m = request(b);
    assert.equal(m.contentType?.type, 'application/unknownformat');
    assert.equal(m.body.toString(), '<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n');
  },
  regaut01(b) {
    const m = request(b);
    assert.equal(m.authorization.length, 1);
    assert.equal(m.authorization[0].scheme, 'NoOneKnowsThisScheme');
    assert.deepEqual([...m.authorization[0].params], [['opaque-data', 'here']]);
  },
  bcast(b) {
    const m = response(b);
    assert.equal(m.via[1].host, '255.255.255.255');
  },
  zeromf(b) {
    assert.equal(request(b).maxForwards, 0);
  },
  cparam01(b) {
    // Bare addr-spec: the parameter belongs to the header, not the URI (§20.10).
    const m = request(b);
    assert.ok(m.contact !== '*');
    assert.equal(m.contact[0].params.get('unknownparam'), null);
    assert.equal(sip(m.contact[0].uri).params.size, 0);
  },
  cparam02(b) {
    const m = request(b);
    assert.ok(m.contact !== '*');
    assert.equal(m.contact[0].params.size, 0);
    assert.equal(sip(m.contact[0].uri).params.get('unknownparam'), null);
  },
  regescrt(b) {
    const m = request(b);
    assert.ok(m.contact !== '*');
    assert.equal(sip(m.contact[0].uri).headers.get('Route'), '<sip:sip.example.com>');
  },
  sdp01(b) {
    const m = request(b);
    assert.equal(m.headers.find((h) => h.name === 'Accept')?.value, 'text/nobodyKnowsThis');
    assert.equal(m.body.length, 150);
  },
  inv2543(b) {
    // RFC 2543 syntax: no Max-Forwards, no branch, no tag, no Content-Length (rest of datagram is the body).
    const m = request(b);
    assert.equal(m.maxForwards, undefined);
    assert.equal(m.via[0].params.size, 0);
    assert.equal(m.from.params.get('tag'), undefined);
    assert.equal(m.contentLength, undefined);
    assert.ok(m.body.toString().startsWith('v=0\r\n'));
    assert.equal(sip(m.recordRoute[0].uri).params.get('maddr'), 'ss1.example.com');
    // Bare addr-spec: ';user=phone' belongs to the To header, not the URI (§20.10).
    assert.equal(m.to.params.get('user'), 'phone');
    assert.equal(sip(m.from.uri).params.get('user'), 'phone');
  },
};

const invalid4475: Record<string, (b: Buffer) => void> = {
  badinv01: (b) => rejected(b, 400, /^bad Via$/, 'raw'),
  clerr: (b) => rejected(b, 400, /^Content-Length larger than body$/, true),
  ncl: (b) => rejected(b, 400, /^bad Content-Length$/, true),
  scalar02: (b) => rejected(b, 400, /^bad CSeq$/, 'raw'),
  scalarlg: (b) => dropped(b, /CSeq/),
  quotbal: (b) => rejected(b, 400, /^bad To$/, 'raw'),
  ltgtruri: (b) => rejected(b, 400, /^bad Request-URI$/, true),
  lwsruri: (b) => rejected(b, 400, /^bad Request-Line$/, true),
  lwsstart: (b) => rejected(b, 400, /^bad Request-Line$/, true),
  trws: (b) => rejected(b, 400, /^bad Request-Line$/, true),
  escruri: (b) => rejected(b, 400, /^bad Request-URI$/, true),
  baddate: (b) => rejected(b, 400, /^bad Date$/, true),
  regbadct: (b) => rejected(b, 400, /^bad Contact$/, true),
  badaspec: (b) => rejected(b, 400, /^bad To$/, 'raw'),
  baddn: (b) => rejected(b, 400, /^bad From$/, 'raw'),
  badvers: (b) => rejected(b, 505, /Version Not Supported/, true),
  mismatch01: (b) => rejected(b, 400, /^CSeq method does not match$/, true),
  mismatch02: (b) => rejected(b, 400, /^CSeq method does not match$/, true),
  bigcode: (b) => dropped(b, /Status-Line/),
  // Application layer, but detectable only by the parser (RFC 4475 §3.3.1, §3.3.8, §3.3.9).
  insuf: (b) => rejected(b, 400, /^missing From$/, 'raw'),
  multi01: (b) => rejected(b, 400, /^multiple (From|To|Call-ID|CSeq) headers$/, true),
  mcl01: (b) => rejected(b, 400, /^multiple Content-Length headers$/, true),
  // Not referenced by the RFC; its request line has no SIP-Version (§7.1).
  test: (b) => rejected(b, 400, /^bad Request-Line$/, false),
};

function ipv6InSdpFixed(): Buffer {
  // The archived §4.7 message declares Content-Length 268 for a 251-octet body.
  const b = rfc5118('ipv6-in-sdp');
  const i = b.indexOf('\r\n\r\n') + 4;
  return Buffer.from(b.toString('latin1').replace('Content-Length: 268', `Content-Length: ${b.length - i}`), 'latin1');
}

const valid5118: Record<string, (b: Buffer) => void> = {
  'ipv4-mapped-ipv6'(b) {
    const m = request(b);
    assert.equal(m.via[0].host, '[::ffff:192.0.2.10]');
    assert.equal(m.via[0].port, 19823);
    assert.equal(m.via[1].host, '[::ffff:192.0.2.2]');
    assert.ok(m.contact !== '*');
    assert.equal(sip(m.contact[0].uri).host, '[::ffff:192.0.2.2]');
    assert.equal(m.contact[0].displayName, 'T. desk phone');
    assert.equal(m.body.length, 236);
  },
  'ipv6-bug-abnf-3-colons'(b) {
    const m = request(b);
    assert.equal(sip(m.uri).host, '[2001:db8:::192.0.2.1]');
    assert.equal(sip(m.to.uri).host, '[2001:db8:::192.0.2.1]');
  },
  'ipv6-correct-abnf-2-colons'(b) {
    const m = request(b);
    assert.equal(sip(m.uri).host, '[2001:db8::192.0.2.1]');
    assert.equal(sip(m.to.uri).user, 'user');
  },
  'ipv6-good'(b) {
    const m = request(b);
    assert.equal(sip(m.uri).host, '[2001:db8::10]');
    assert.equal(sip(m.uri).port, undefined);
    assert.equal(m.via[0].host, '[2001:db8::9:1]');
  },
  'ipv6-in-sdp'(b) {
    // NOTE: the vector as archived is rejected by the datagram rule (§18.3).
    const r = parseMessage(b);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.fault, 'Content-Length larger than body');
    const m = request(ipv6InSdpFixed());
    assert.equal(sip(m.uri).host, '[2001:db8::10]');
    assert.equal(m.via[0].host, '[2001:db8::20]');
    assert.ok(m.body.toString().includes('c=IN IP6 2001:db8::20'));
  },
  'mult-ip-in-header'(b) {
    const m = request(b);
    assert.deepEqual(m.via.map((v) => [v.transport, v.host, v.port]), [
      ['UDP', '[2001:db8::9:1]', 6050],
      ['UDP', '192.0.2.1', undefined],
      ['TCP', '[2001:db8::9:255]', undefined],
    ]);
    assert.equal(m.via[2].params.get('received'), '192.0.2.200');
  },
  'mult-ip-in-sdp'(b) {
    const m = request(b);
    assert.equal(m.body.length, 181);
    assert.ok(m.body.toString().includes('c=IN IP6 2001:db8::1'));
  },
  'port-ambiguous'(b) {
    const u = sip(request(b).uri);
    assert.equal(u.host, '[2001:db8::10:5070]');
    assert.equal(u.port, undefined);
  },
  'port-unambiguous'(b) {
    const u = sip(request(b).uri);
    assert.equal(u.host, '[2001:db8::10]');
    assert.equal(u.port, 5070);
  },
  'via-received-param-no-delim'(b) {
    assert.equal(request(b).via[0].params.get('received'), '2001:db8::9:255');
  },
  'via-received-param-with-delim'(b) {
    assert.equal(request(b).via[0].params.get('received'), '[2001:db8::9:255]');
  },
};
const invalid5118: Record<string, (b: Buffer) => void> = {
  // §4.2: the unbracketed IPv6 Request-URI host is ambiguous and invalid.
  'ipv6-bad': (b) => rejected(b, 400, /^bad Request-URI$/, true),
};

describe('RFC 4475 torture tests', () => {
  it('MUST have an expectation for every archived vector', () => {
    assert.deepEqual(listRfc4475(), [...Object.keys(valid4475), ...Object.keys(invalid4475)].sort());
  });
  for (const [name, check] of Object.entries(valid4475)) {
    it(`MUST parse ${name} with the right fields`, () => check(rfc4475(name)));
  }
  for (const [name, check] of Object.entries(invalid4475)) {
    it(`MUST reject ${name} (${name === 'scalarlg' || name === 'bigcode' ? 'drop the response' : 'with the right status'})`, () => check(rfc4475(name)));
  }
});

describe('RFC 5118 IPv6 torture tests', () => {
  it('MUST have an expectation for every archived vector', () => {
    assert.deepEqual(listRfc5118(), [...Object.keys(valid5118), ...Object.keys(invalid5118)].sort());
  });
  for (const [name, check] of Object.entries({ ...valid5118, ...invalid5118 })) {
    it(`MUST handle ${name} as RFC 5118 says`, () => check(rfc5118(name)));
  }
});

function strip(m: SipMessage): SipMessage {
  const c = { ...m };
  delete c.contentLength;
  return c;
}

describe('serializer round trip', () => {
  const inputs: [string, Buffer][] = [
    ...Object.keys(valid4475).map((n): [string, Buffer] => [n, rfc4475(n)]),
    ...Object.keys(valid5118).filter((n) => n !== 'ipv6-in-sdp').map((n): [string, Buffer] => [n, rfc5118(n)]),
    ['ipv6-in-sdp (fixed Content-Length)', ipv6InSdpFixed()],
    ...TYPICAL.map((b, i): [string, Buffer] => [`typical #${i}`, b]),
  ];
  for (const [name, buf] of inputs) {
    it(`MUST serialize ${name} to an equivalent message`, () => {
      const first = parsed(buf);
      const wire = serializeMessage(first);
      const second = parsed(wire);
      assert.deepEqual(strip(second), strip(first));
      assert.equal(second.contentLength, first.body.length);
      // Serialization is stable after one round.
      assert.deepEqual(serializeMessage(second), wire);
    });
  }
});

/** Header values of a raw response, by lower-case name, in order. */
function rawAnswer(name: string): { statusLine: string; headers: [string, string][]; data: Buffer } {
  const r = parseMessage(rfc4475(name));
  if (r.ok || !r.rawResponse) assert.fail(`${name}: expected a raw stateless response`);
  const data = serializeRawResponse(r.rawResponse);
  const text = data.toString('utf8');
  assert.ok(text.endsWith('\r\n\r\n'), 'ends with the empty line');
  const [statusLine, ...rest] = text.slice(0, -4).split('\r\n');
  const headers = rest.map((l): [string, string] => {
    const c = l.indexOf(':');
    assert.ok(c > 0, `well-formed header line: ${l}`);
    return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()];
  });
  return { statusLine, headers, data };
}
const values = (h: [string, string][], n: string): string[] => h.filter(([k]) => k === n).map(([, v]) => v);

describe('RFC 4475 invalid requests whose core headers do not parse get a 400 with those headers copied raw', () => {
  const cases: [string, string, string | undefined, string][] = [
    // vector, reason, Call-ID echoed (undefined: the request has none), CSeq echoed
    ['badaspec', 'bad To', 'badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3', '3923239 OPTIONS'],
    ['quotbal', 'bad To', 'quotbal.aksdj', '8 INVITE'],
    ['baddn', 'bad From', 'baddn.31415@c.example.com', '3923239 OPTIONS'],
    ['insuf', 'missing From', undefined, '193942 INVITE'],
    ['scalar02', 'bad CSeq', 'scalar02.23o0pd9vanlq3wnrlnewofjas9ui32', '36893488147419103232 REGISTER'],
    ['badinv01', 'bad Via', 'badinv01.0ha0isndaksdjasdf3234nas', '8 INVITE'],
  ];
  for (const [name, reason, callId, cseq] of cases) {
    it(`MUST answer ${name} with "400 ${reason}" echoing Call-ID and CSeq (§8.2.6.2, RFC 4475)`, () => {
      const a = rawAnswer(name);
      assert.equal(a.statusLine, `SIP/2.0 400 ${reason}`);
      assert.deepEqual(values(a.headers, 'call-id'), callId === undefined ? [] : [callId]);
      assert.deepEqual(values(a.headers, 'cseq'), [cseq]);
      assert.equal(values(a.headers, 'via').length, 1);
      assert.deepEqual(values(a.headers, 'content-length'), ['0']);
    });
  }
  it('MUST tag a raw To that can take a tag, and copy an unbalanced one as is', () => {
    assert.match(values(rawAnswer('badaspec').headers, 'to')[0], /^"Watson, Thomas" < sip:t\.watson@example\.org >;tag=[0-9a-f]+$/);
    assert.match(values(rawAnswer('baddn').headers, 'to')[0], /^Watson, Thomas <sip:t\.watson@example\.org>;tag=[0-9a-f]+$/);
    assert.deepEqual(values(rawAnswer('quotbal').headers, 'to'), ['"Mr. J. User <sip:j.user@example.com>']);
    assert.deepEqual(values(rawAnswer('insuf').headers, 'to'), []);
  });
  it('MUST route by the readable part of a broken top Via (badinv01: sent-by 192.0.2.15)', () => {
    const r = parseMessage(rfc4475('badinv01'));
    assert.ok(!r.ok && r.rawResponse);
    assert.equal(r.rawResponse.via.host, '192.0.2.15');
    assert.deepEqual(values(rawAnswer('badinv01').headers, 'via'), ['SIP/2.0/UDP 192.0.2.15;;,;,,']);
  });
  it('MUST drop a request without any Via, and never answer an ACK even with broken headers', () => {
    const t = parseMessage(rfc4475('test'));
    assert.ok(!t.ok && t.response === undefined && t.rawResponse === undefined);
    const ack = Buffer.from(rfc4475('baddn').toString('latin1').replace('OPTIONS sip:', 'ACK sip:').replace('3923239 OPTIONS', '3923239 ACK'), 'latin1');
    const r = parseMessage(ack);
    assert.ok(!r.ok && r.response === undefined && r.rawResponse === undefined);
  });
});
