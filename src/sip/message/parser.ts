/**
 * SIP message parser (RFC 3261 §7, §20, §25; torture tests RFC 4475, RFC 5118).
 *
 * `parseMessage` has datagram semantics (§18.3): Content-Length, when present,
 * must not exceed the octets that follow the header section (400 otherwise);
 * extra octets are ignored; without Content-Length the rest of the datagram is the
 * body. It never throws: every outcome is a ParseResult, and a broken request
 * whose Via/From/To/Call-ID/CSeq are readable comes with the stateless 400/505 to
 * send back (§8.2, §21.5.6); a broken response is only reported, to be dropped.
 *
 * Core headers are parsed once, eagerly, into typed fields; all others are kept
 * raw (unfolded, trimmed) in order, compact names expanded.
 */
import { isAscii } from 'node:buffer';
import { bareRequest, createResponse, EMPTY_BODY, newTag } from './build.ts';
import { SipParseError, type ParseResult } from './errors.ts';
import { buildRawResponse } from './raw-response.ts';
import {
  coreIdAt,
  CORE_ID,
  CORE_KEY_LIST,
  CORE_NAME,
  COMPACT_RAW,
  isSipDate,
  parseAuth,
  parseCallId,
  parseContact,
  parseContentLength,
  parseContentType,
  parseCSeq,
  parseDeltaSeconds,
  parseMaxForwards,
  parseNameAddrList,
  parseNameAddrValue,
  parseOptionTags,
  parseVia,
} from './headers.ts';
import { isToken, isWs, trimWs } from './scan.ts';
import type { CSeq, NameAddr, RawHeader, SipMessage, SipRequest, SipResponse, SipUri, Uri, Via } from './types.ts';
import { parseUri as parseUriStrict } from './uri.ts';
import { DEFAULT_LIMITS, type ParseLimits } from './limits.ts';

export { DEFAULT_LIMITS, type ParseLimits } from './limits.ts';

/** Parses a URI; throws SipParseError("bad URI") on malformed input. */
export function parseUri(s: string): Uri {
  return parseUriStrict(trimWs(s), 'bad URI');
}

/** Parses a name-addr or addr-spec with header params; throws SipParseError. */
export function parseNameAddr(s: string): NameAddr {
  return parseNameAddrValue(trimWs(s), 'bad name-addr');
}

const CRLF_CRLF = Buffer.from('\r\n\r\n');

function skipLeadingCrlf(data: Buffer, i: number): number {
  // §7.5: CRLFs before the start line are ignored (keep-alives).
  while (i + 1 < data.length && data[i] === 13 && data[i + 1] === 10) i += 2;
  return i;
}

function looksLikeResponse(data: Buffer, i: number): boolean {
  // "SIP/" — a method token cannot contain '/'.
  return data.length >= i + 4 && (data[i] | 32) === 115 && (data[i + 1] | 32) === 105 && (data[i + 2] | 32) === 112 && data[i + 3] === 47;
}

interface StartLine {
  request?: { method: string; uri: Uri };
  response?: { status: number; reason: string };
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; returns 'ok', 'other' (valid but not 2.0) or 'bad'. */
function checkVersion(v: string): 'ok' | 'other' | 'bad' {
  if (v === 'SIP/2.0') return 'ok';
  if (v.length < 7 || v.slice(0, 4).toUpperCase() !== 'SIP/') return 'bad';
  const dot = v.indexOf('.', 4);
  if (dot < 5 || dot === v.length - 1) return 'bad';
  for (let i = 4; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (i !== dot && (c < 48 || c > 57)) return 'bad';
  }
  return v.slice(4) === '2.0' ? 'ok' : 'other';
}

/** Request-Line = Method SP Request-URI SP SIP-Version (§7.1): exactly single SPs (RFC 4475 §3.1.2.7–10). */
function parseRequestLine(line: string, out: StartLine): void {
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || line.indexOf(' ', sp2 + 1) >= 0) throw new SipParseError('bad Request-Line');
  const method = line.slice(0, sp1);
  if (!isToken(method)) throw new SipParseError('bad Request-Line');
  const uri = parseUriStrict(line.slice(sp1 + 1, sp2), 'bad Request-URI');
  // URI headers are not allowed in a Request-URI (§19.1.1 table; RFC 4475 §3.1.2.11).
  if ((uri.scheme === 'sip' || uri.scheme === 'sips') && (uri as SipUri).headers.size > 0) throw new SipParseError('bad Request-URI');
  out.request = { method, uri };
  const v = checkVersion(line.slice(sp2 + 1));
  if (v === 'bad') throw new SipParseError('bad Request-Line');
  if (v === 'other') throw new SipParseError('SIP Version Not Supported', 505);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2). */
function parseStatusLine(line: string, out: StartLine): void {
  const sp1 = line.indexOf(' ');
  if (sp1 < 0 || checkVersion(line.slice(0, sp1)) !== 'ok') throw new SipParseError('bad Status-Line');
  // Status-Code = 3DIGIT, first digit 1-6, then SP or the end of the line.
  const c0 = line.charCodeAt(sp1 + 1);
  const code = line.slice(sp1 + 1, sp1 + 4);
  const after = line.charCodeAt(sp1 + 4);
  if (code.length !== 3 || c0 < 49 || c0 > 54 || !isDigit(line.charCodeAt(sp1 + 2)) || !isDigit(line.charCodeAt(sp1 + 3)) || (line.length > sp1 + 4 && after !== 32)) {
    throw new SipParseError('bad Status-Line');
  }
  out.response = { status: Number(code), reason: line.slice(sp1 + 5) };
}

/** Raw values of the typed headers, by CORE_ID, in order of appearance (undefined: header absent). */
type Collected = (string[] | undefined)[];

if (CORE_KEY_LIST.length !== 21) throw new Error('emptyCollected() must have one slot per typed header');
const VIA = CORE_ID.via;
const FROM = CORE_ID.from;
const TO = CORE_ID.to;
const CALL_ID = CORE_ID.callId;
const CSEQ = CORE_ID.cseq;
const MAX_FORWARDS = CORE_ID.maxForwards;
const CONTACT = CORE_ID.contact;
const ROUTE = CORE_ID.route;
const RECORD_ROUTE = CORE_ID.recordRoute;
const PATH = CORE_ID.path;
const EXPIRES = CORE_ID.expires;
const MIN_EXPIRES = CORE_ID.minExpires;
const CONTENT_TYPE = CORE_ID.contentType;
const CONTENT_LENGTH = CORE_ID.contentLength;
const WWW_AUTHENTICATE = CORE_ID.wwwAuthenticate;
const PROXY_AUTHENTICATE = CORE_ID.proxyAuthenticate;
const AUTHORIZATION = CORE_ID.authorization;
const PROXY_AUTHORIZATION = CORE_ID.proxyAuthorization;
const REQUIRE = CORE_ID.require;
const SUPPORTED = CORE_ID.supported;
const PROXY_REQUIRE = CORE_ID.proxyRequire;

function parseFrom(v: string): NameAddr {
  return parseNameAddrValue(v, 'bad From');
}
function parseTo(v: string): NameAddr {
  return parseNameAddrValue(v, 'bad To');
}

/** An ACK by its request line or CSeq, when neither parsed into typed fields. */
function isRawAck(startLine: string, cseq: string[] | undefined): boolean {
  if (startLine.slice(0, 4) === 'ACK ') return true;
  return cseq !== undefined && cseq.some((v) => /(^|\s)ACK$/.test(v));
}

const NO_LIMITS: Partial<ParseLimits> = {};

export function parseMessage(data: Buffer, limits: Partial<ParseLimits> = NO_LIMITS): ParseResult {
  // One literal, not `{ ...DEFAULT_LIMITS, ...limits }`: this runs per datagram.
  const lim: ParseLimits =
    limits === NO_LIMITS
      ? DEFAULT_LIMITS
      : {
          maxMessageSize: limits.maxMessageSize ?? DEFAULT_LIMITS.maxMessageSize,
          maxHeaders: limits.maxHeaders ?? DEFAULT_LIMITS.maxHeaders,
          maxLineLength: limits.maxLineLength ?? DEFAULT_LIMITS.maxLineLength,
        };
  let isRequest = true;
  try {
    const start = skipLeadingCrlf(data, 0);
    isRequest = !looksLikeResponse(data, start);
    if (data.length > lim.maxMessageSize) return { ok: false, error: new SipParseError('message too large', 413), isRequest };
    if (start >= data.length) return { ok: false, error: new SipParseError('empty message'), isRequest };
    // A datagram of ASCII only (the usual case) is decoded once as latin1, a plain
    // copy, and searched as a string; otherwise the head is decoded as UTF-8 (§7.3.1
    // allows UTF-8 in values). Both are cheaper than Buffer#indexOf plus a UTF-8 decode.
    const text = isAscii(data) ? data.toString('latin1') : undefined;
    let headEnd = text !== undefined ? text.indexOf('\r\n\r\n', start) : data.indexOf(CRLF_CRLF, start);
    let bodyStart: number;
    if (headEnd < 0) {
      // Tolerated: a datagram whose header section ends at the end of the datagram
      // without the empty line (seen in the RFC 5118 archives).
      if (data.length < 2 || data[data.length - 2] !== 13 || data[data.length - 1] !== 10) {
        return { ok: false, error: new SipParseError('incomplete header section'), isRequest };
      }
      headEnd = data.length - 2;
      bodyStart = data.length;
    } else {
      bodyStart = headEnd + 4;
    }
    const head = text !== undefined ? text.slice(start, headEnd) : data.toString('utf8', start, headEnd);
    return parseSections(data, head, bodyStart, lim, isRequest);
  } catch (err) {
    // Defensive: helpers only throw SipParseError, but nothing may escape.
    const error = err instanceof SipParseError ? err : new SipParseError('unparseable message');
    return { ok: false, error, isRequest };
  }
}

/**
 * Per-message parse state. A class rather than closures: the first fault wins,
 * parsing goes on so a response can still be built from the core headers.
 */
class Ctx {
  fault: SipParseError | undefined = undefined;
  readonly core: Collected = emptyCollected();

  fail(e: unknown): void {
    if (this.fault) return;
    this.fault = e instanceof SipParseError ? e : new SipParseError('unparseable message');
  }

  /** A single-valued header: the first value; several lines are a fault. */
  one(id: number): string | undefined {
    const v = this.core[id];
    if (v === undefined) return undefined;
    if (v.length > 1) this.fail(new SipParseError(`multiple ${CORE_NAME[CORE_KEY_LIST[id]]} headers`));
    return v[0];
  }

  required<T>(id: number, f: (v: string) => T): T | undefined {
    const v = this.one(id);
    if (v === undefined) {
      this.fail(new SipParseError(`missing ${CORE_NAME[CORE_KEY_LIST[id]]}`));
      return undefined;
    }
    try {
      return f(v);
    } catch (e) {
      this.fail(e);
      return undefined;
    }
  }

  opt<T>(id: number, f: (v: string, what: string) => T, what: string): T | undefined {
    const v = this.one(id);
    if (v === undefined) return undefined;
    try {
      return f(v, what);
    } catch (e) {
      this.fail(e);
      return undefined;
    }
  }

  list<T>(id: number, f: (vs: string[], what: string) => T[], what: string): T[] {
    const vs = this.core[id];
    if (vs === undefined) return [];
    try {
      return f(vs, what);
    } catch (e) {
      this.fail(e);
      return [];
    }
  }

  /** Via: all values (a list, §20.42); missing is a fault. */
  vias(): Via[] | undefined {
    const vs = this.core[VIA];
    if (vs === undefined) {
      this.fail(new SipParseError('missing Via'));
      return undefined;
    }
    try {
      return parseVia(vs);
    } catch (e) {
      this.fail(e);
      return undefined;
    }
  }

  /** Contact: a list or '*' (§10.2.2); empty when absent or broken. */
  contacts(): NameAddr[] | '*' {
    const vs = this.core[CONTACT];
    if (vs === undefined) return [];
    try {
      return parseContact(vs);
    } catch (e) {
      this.fail(e);
      return [];
    }
  }

  /** Files one unfolded header field under its typed id, or (id -1) as a raw header named `name`. */
  add(name: string, id: number, value: string, raw: RawHeader[]): void {
    const v = trimWs(value);
    if (id >= 0) {
      const list = this.core[id];
      if (list === undefined) this.core[id] = [v];
      else list.push(v);
    } else {
      raw.push({ name: name.length === 1 ? (COMPACT_RAW.get(name.toLowerCase()) ?? name) : name, value: v });
    }
  }
}

/** One slot per typed header (CORE_ID order), all present from the start: a packed array, built from a literal. */
function emptyCollected(): Collected {
  // prettier-ignore
  return [
    undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined,
    undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined,
  ];
}

/** True when some line of the header section is longer than `max` (cheap when the whole section is shorter). */
function hasLongLine(head: string, max: number): boolean {
  if (head.length <= max) return false;
  let pos = 0;
  for (;;) {
    const lf = head.indexOf('\n', pos);
    const end = lf < 0 ? head.length : lf - 1;
    if (end - pos > max) return true;
    if (lf < 0) return false;
    pos = lf + 1;
  }
}

function parseSections(data: Buffer, head: string, bodyStart: number, lim: ParseLimits, isRequest: boolean): ParseResult {
  if (hasLongLine(head, lim.maxLineLength)) return { ok: false, error: new SipParseError('line too long', 413), isRequest };
  const ctx = new Ctx();
  // Lines end in CRLF (§7); a CR or LF that is not part of a CRLF makes the message
  // bad, and that fault outranks every other (checked line by line, applied below).
  let bareLineEnd = false;
  let lf = head.indexOf('\n');
  let cr = head.indexOf('\r');
  if (lf >= 0 ? lf === 0 || cr !== lf - 1 : cr >= 0) bareLineEnd = true;
  // A line ending in a bare LF loses the octet before it (the message is rejected anyway).
  const startLine = head.slice(0, lf < 0 ? head.length : Math.max(0, lf - 1));
  const sl: StartLine = {};
  try {
    if (isRequest) parseRequestLine(startLine, sl);
    else parseStatusLine(startLine, sl);
  } catch (e) {
    ctx.fail(e);
  }

  // Unfold (§7.3.1: a line starting with SP/HT continues the previous one) and classify.
  // Works on offsets into `head`: one slice per header value, none per line.
  const core = ctx.core;
  const raw: RawHeader[] = [];
  let count = 0;
  let name: string | undefined;
  let id = -1;
  let value = '';
  for (let pos = lf < 0 ? -1 : lf + 1; pos >= 0; pos = lf < 0 ? -1 : lf + 1) {
    lf = head.indexOf('\n', pos);
    cr = head.indexOf('\r', pos);
    if (lf >= 0 ? lf === pos || cr !== lf - 1 : cr >= 0) bareLineEnd = true;
    const end = lf < 0 ? head.length : Math.max(pos, lf - 1);
    if (end > pos && isWs(head.charCodeAt(pos))) {
      if (name === undefined) ctx.fail(new SipParseError('bad header line'));
      value += ' ' + trimWs(head.slice(pos, end));
      continue;
    }
    if (name !== undefined) ctx.add(name, id, value, raw);
    name = undefined;
    if (++count > lim.maxHeaders) return { ok: false, error: new SipParseError('too many headers', 413), isRequest };
    let colon = head.indexOf(':', pos);
    if (colon >= end) colon = -1;
    let ns = pos;
    let ne = colon < 0 ? pos : colon;
    while (ns < ne && isWs(head.charCodeAt(ns))) ns++;
    while (ne > ns && isWs(head.charCodeAt(ne - 1))) ne--;
    id = coreIdAt(head, ns, ne);
    let n = '';
    if (id < 0) {
      n = head.slice(ns, ne);
      if (!isToken(n)) {
        ctx.fail(new SipParseError('bad header line'));
        continue;
      }
    }
    name = n;
    // Leading LWS skipped here (one slice instead of two); add() trims the rest.
    let vs = colon + 1;
    while (vs < end && isWs(head.charCodeAt(vs))) vs++;
    value = head.slice(vs, end);
  }
  if (name !== undefined) ctx.add(name, id, value, raw);

  // The five headers a response needs (§8.2.6.2), in this order so the fault names the first problem.
  const via = ctx.vias();
  const from = ctx.required<NameAddr>(FROM, parseFrom);
  const to = ctx.required<NameAddr>(TO, parseTo);
  const callId = ctx.required<string>(CALL_ID, parseCallId);
  const cseq = ctx.required<CSeq>(CSEQ, parseCSeq);

  const maxForwards = ctx.opt(MAX_FORWARDS, parseMaxForwards, '');
  const contact = ctx.contacts();
  const route = ctx.list(ROUTE, parseNameAddrList, 'bad Route');
  const recordRoute = ctx.list(RECORD_ROUTE, parseNameAddrList, 'bad Record-Route');
  const path = ctx.list(PATH, parseNameAddrList, 'bad Path');
  const expires = ctx.opt(EXPIRES, parseDeltaSeconds, 'bad Expires');
  const minExpires = ctx.opt(MIN_EXPIRES, parseDeltaSeconds, 'bad Min-Expires');
  const contentType = ctx.opt(CONTENT_TYPE, parseContentType, '');
  const contentLength = ctx.opt(CONTENT_LENGTH, parseContentLength, '');
  const wwwAuthenticate = ctx.list(WWW_AUTHENTICATE, parseAuth, 'bad WWW-Authenticate');
  const proxyAuthenticate = ctx.list(PROXY_AUTHENTICATE, parseAuth, 'bad Proxy-Authenticate');
  const authorization = ctx.list(AUTHORIZATION, parseAuth, 'bad Authorization');
  const proxyAuthorization = ctx.list(PROXY_AUTHORIZATION, parseAuth, 'bad Proxy-Authorization');
  const require = ctx.list(REQUIRE, parseOptionTags, 'bad Require');
  const supported = ctx.list(SUPPORTED, parseOptionTags, 'bad Supported');
  const proxyRequire = ctx.list(PROXY_REQUIRE, parseOptionTags, 'bad Proxy-Require');

  for (const h of raw) {
    // Date must be an RFC 1123 date in GMT (§20.17; RFC 4475 §3.1.2.12).
    if (h.name.length === 4 && h.name.toLowerCase() === 'date' && !isSipDate(h.value)) ctx.fail(new SipParseError('bad Date'));
  }
  // The CSeq method must match the request method (§8.2; RFC 4475 §3.1.2.17–18).
  if (sl.request && cseq && cseq.method !== sl.request.method) ctx.fail(new SipParseError('CSeq method does not match'));

  // Body (§18.3, datagram semantics; RFC 4475 §3.1.1.8 dblreq, §3.1.2.2 clerr).
  const available = data.length - bodyStart;
  let bodyLen = available;
  if (contentLength !== undefined) {
    if (contentLength > available) ctx.fail(new SipParseError('Content-Length larger than body'));
    else bodyLen = contentLength;
  }
  // A copy, so the message does not pin the receive buffer; no allocation when empty.
  const body = bodyLen === 0 ? EMPTY_BODY : Buffer.from(data.subarray(bodyStart, bodyStart + bodyLen));

  const fault = bareLineEnd ? new SipParseError('bad line ending') : ctx.fault;
  if (fault || !via || !from || !to || callId === undefined || !cseq || !(sl.request || sl.response)) {
    const error = fault ?? new SipParseError('unparseable message');
    if (!isRequest) return { ok: false, error, isRequest };
    // An ACK is never answered (§17.2.1, §17.2.3): a broken one is just dropped.
    if (cseq?.method === 'ACK' || sl.request?.method === 'ACK' || isRawAck(startLine, core[CSEQ])) return { ok: false, error, isRequest };
    if (!via || !from || !to || callId === undefined || !cseq) {
      const rawResponse = buildRawResponse({ via: core[VIA], from: core[FROM], to: core[TO], callId: core[CALL_ID], cseq: core[CSEQ] }, error.status, error.fault, newTag());
      return rawResponse ? { ok: false, error, isRequest, rawResponse } : { ok: false, error, isRequest };
    }
    // Only what createResponse copies matters here: the Request-URI is a placeholder.
    const req = bareRequest(cseq.method, { scheme: 'sip', raw: '' }, via, from, to, callId, cseq);
    req.headers = raw;
    const response = createResponse(req, error.status, error.fault);
    if (!response.to.params.has('tag')) response.to.params.set('tag', newTag());
    return { ok: false, error, isRequest, response };
  }

  let msg: SipMessage;
  if (sl.request) {
    msg = {
      kind: 'request', method: sl.request.method, uri: sl.request.uri, via, from, to, callId, cseq, contact, route, recordRoute,
      path, wwwAuthenticate, proxyAuthenticate, authorization, proxyAuthorization, require, supported, proxyRequire, headers: raw, body,
    } satisfies SipRequest;
  } else {
    const r = sl.response as { status: number; reason: string };
    msg = {
      kind: 'response', status: r.status, reason: r.reason, via, from, to, callId, cseq, contact, route, recordRoute,
      path, wwwAuthenticate, proxyAuthenticate, authorization, proxyAuthorization, require, supported, proxyRequire, headers: raw, body,
    } satisfies SipResponse;
  }
  if (maxForwards !== undefined) msg.maxForwards = maxForwards;
  if (expires !== undefined) msg.expires = expires;
  if (minExpires !== undefined) msg.minExpires = minExpires;
  if (contentType !== undefined) msg.contentType = contentType;
  if (contentLength !== undefined) msg.contentLength = contentLength;
  return { ok: true, msg };
}

