/**
 * Builders and header accessors for SIP messages (RFC 3261 §8.1.1, §8.2.6).
 */
import { randomHex } from './random.ts';
import { SpacephoneError } from '../../util/errors.ts';
import {
  coreKeyOf,
  CORE_NAME,
  COMPACT_RAW,
  type CoreKey,
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
import { reasonPhrase } from './reason.ts';
import { isToken, trimWs } from './scan.ts';
import { headerLines } from './serializer.ts';
import type { CSeq, NameAddr, SipMessage, SipRequest, SipResponse, SipUri, Uri, Via } from './types.ts';

export { reasonPhrase } from './reason.ts';
export { uriEquals, aorOf } from './uri.ts';

/** Raised by setHeader() for a value that does not parse as the typed header. */
export class HeaderValueError extends SpacephoneError {
  readonly code = 'SIP_HEADER_VALUE';
}

/*
 * Hot-path object shapes. V8 gives every object a hidden class from its keys and
 * their order; code that reads messages stays fast while it sees few classes. So
 * every message, URI, name-addr and Via is built by ONE object literal listing all
 * its mandatory keys in the order of types.ts (the parser uses the same order), and
 * optional keys are appended afterwards, always in that same order. Do not build
 * them as `{ ...emptyFields(), kind, status, ... }`: on Node 20 (V8 11.3) a spread
 * followed by keys the spread did not have costs ~1 µs per added key and can leave
 * the object in slow dictionary mode (createResponse took 22 µs that way).
 */

/** Copies a parameter map. A set() loop: `new Map(p)` goes through the generic iterator protocol and is several times slower. */
function cloneParams<V>(p: Map<string, V>): Map<string, V> {
  const out = new Map<string, V>();
  for (const [k, v] of p) out.set(k, v);
  return out;
}

export function cloneUri(u: Uri): Uri {
  if (u.scheme === 'sip' || u.scheme === 'sips') {
    const s = u as SipUri;
    const out: SipUri = { scheme: s.scheme, host: s.host, params: cloneParams(s.params), headers: cloneParams(s.headers) };
    if (s.user !== undefined) out.user = s.user;
    if (s.password !== undefined) out.password = s.password;
    if (s.port !== undefined) out.port = s.port;
    return out;
  }
  if (u.scheme === 'tel' && 'number' in u) return { scheme: 'tel', number: u.number, params: cloneParams(u.params) };
  return { ...u };
}

/**
 * The list fields and body every message carries, empty. NOTE: for building a
 * message prefer bareRequest()/bareResponse(): spreading this object into a literal
 * that adds more keys is slow on V8 (see above).
 */
export function emptyFields(): Omit<SipRequest, 'kind' | 'method' | 'uri' | 'via' | 'from' | 'to' | 'callId' | 'cseq'> {
  return {
    contact: [],
    route: [],
    recordRoute: [],
    path: [],
    wwwAuthenticate: [],
    proxyAuthenticate: [],
    authorization: [],
    proxyAuthorization: [],
    require: [],
    supported: [],
    proxyRequire: [],
    headers: [],
    body: EMPTY_BODY,
  };
}

/**
 * The one zero-length body every message without a body shares: it has no octets
 * to mutate, and `msg.body = ...` replaces it rather than writing into it.
 */
export const EMPTY_BODY: Buffer = Buffer.alloc(0);

/**
 * A request with only the mandatory fields (lists empty, no body, no optional
 * headers), in the canonical key order; set further fields by assignment.
 * Takes the given objects as they are (no copies).
 */
export function bareRequest(method: string, uri: Uri, via: Via[], from: NameAddr, to: NameAddr, callId: string, cseq: CSeq): SipRequest {
  return {
    kind: 'request', method, uri, via, from, to, callId, cseq,
    contact: [], route: [], recordRoute: [], path: [], wwwAuthenticate: [], proxyAuthenticate: [], authorization: [],
    proxyAuthorization: [], require: [], supported: [], proxyRequire: [], headers: [], body: EMPTY_BODY,
  };
}

/** A response with only the mandatory fields, like bareRequest(). */
export function bareResponse(status: number, reason: string, via: Via[], from: NameAddr, to: NameAddr, callId: string, cseq: CSeq): SipResponse {
  return {
    kind: 'response', status, reason, via, from, to, callId, cseq,
    contact: [], route: [], recordRoute: [], path: [], wwwAuthenticate: [], proxyAuthenticate: [], authorization: [],
    proxyAuthorization: [], require: [], supported: [], proxyRequire: [], headers: [], body: EMPTY_BODY,
  };
}

export function cloneNameAddr(n: NameAddr): NameAddr {
  const out: NameAddr = { uri: cloneUri(n.uri), params: cloneParams(n.params) };
  if (n.displayName !== undefined) out.displayName = n.displayName;
  return out;
}

export function cloneVia(v: Via): Via {
  const out: Via = { protocol: v.protocol, transport: v.transport, host: v.host, params: cloneParams(v.params) };
  if (v.port !== undefined) out.port = v.port;
  return out;
}

/** "z9hG4bK" magic cookie (§8.1.1.7) + 96 random bits. */
export function newBranch(): string {
  return 'z9hG4bK' + randomHex(12);
}

/** From/To tag: 64 random bits (§19.3 asks for at least 32). */
export function newTag(): string {
  return randomHex(8);
}

/** Call-ID: 128 random bits (§8.1.1.4). */
export function newCallId(): string {
  return randomHex(16);
}

/**
 * Response to `req` (§8.2.6.2): copies Via (all, in order), From, To, Call-ID and
 * CSeq; for 100 Trying also Timestamp (§8.2.6.1). The caller adds the To tag.
 */
export function createResponse(req: SipRequest, status: number, reason?: string): SipResponse {
  const via: Via[] = [];
  for (let i = 0; i < req.via.length; i++) via.push(cloneVia(req.via[i]));
  const cseq: CSeq = { seq: req.cseq.seq, method: req.cseq.method };
  const res = bareResponse(status, reason ?? reasonPhrase(status), via, cloneNameAddr(req.from), cloneNameAddr(req.to), req.callId, cseq);
  if (status === 100) {
    for (const h of req.headers) if (h.name.toLowerCase() === 'timestamp') res.headers.push({ name: 'Timestamp', value: h.value });
  }
  return res;
}

export interface RequestInit {
  method: string;
  uri: Uri;
  from: NameAddr;
  to: NameAddr;
  /** Defaults to a fresh Call-ID. */
  callId?: string;
  /** Defaults to 1. */
  cseq?: number;
  /** Usually filled in by the transaction/transport layer; defaults to []. */
  via?: Via[];
  /** Defaults to 70 (§8.1.1.6). */
  maxForwards?: number;
  contact?: NameAddr[];
  route?: NameAddr[];
  headers?: { name: string; value: string }[];
  body?: Buffer;
  contentType?: string;
}

/** A new request (§8.1.1); a From tag is added when missing (§8.1.1.3). */
export function createRequest(init: RequestInit): SipRequest {
  const from = cloneNameAddr(init.from);
  if (!from.params.has('tag')) from.params.set('tag', newTag());
  const cseq: CSeq = { seq: init.cseq ?? 1, method: init.method };
  const req = bareRequest(init.method, init.uri, init.via ?? [], from, cloneNameAddr(init.to), init.callId ?? newCallId(), cseq);
  if (init.contact !== undefined) req.contact = init.contact;
  if (init.route !== undefined) req.route = init.route;
  if (init.headers !== undefined) req.headers = init.headers.map((h) => ({ name: h.name, value: h.value }));
  if (init.body !== undefined) req.body = init.body;
  // Optional fields in the canonical order (maxForwards, expires, minExpires, contentType, contentLength).
  req.maxForwards = init.maxForwards ?? 70;
  if (init.contentType !== undefined) req.contentType = parseContentType(init.contentType);
  return req;
}

function fullName(name: string): { key?: CoreKey; name: string } {
  const lower = name.toLowerCase();
  const key = coreKeyOf(name);
  if (key) return { key, name: CORE_NAME[key] };
  return { name: COMPACT_RAW.get(lower) ?? name };
}

/**
 * All values of a header, one per header line as it would be serialized.
 * Accepts any case and compact names; typed headers are rendered from their fields.
 */
export function getHeaders(msg: SipMessage, name: string): string[] {
  const f = fullName(name);
  const prefix = f.name.toLowerCase() + ': ';
  if (f.key) {
    if (f.key === 'contentLength') return [String(msg.body.length)];
    const out: string[] = [];
    for (const line of headerLines(msg).slice(1)) {
      if (line.slice(0, prefix.length).toLowerCase() === prefix) out.push(line.slice(prefix.length));
    }
    return out;
  }
  const lower = f.name.toLowerCase();
  return msg.headers.filter((h) => h.name.toLowerCase() === lower).map((h) => h.value);
}

/** First value of a header (see getHeaders). */
export function getHeader(msg: SipMessage, name: string): string | undefined {
  return getHeaders(msg, name)[0];
}

/**
 * Replaces a header. Raw headers: all lines of that name are removed and one is
 * appended. Typed headers are parsed into their field (throws HeaderValueError if
 * the value does not parse). Content-Length cannot be set: it follows the body.
 */
export function setHeader(msg: SipMessage, name: string, value: string): void {
  const f = fullName(name);
  if (!f.key) {
    if (!isToken(f.name)) throw new HeaderValueError(`invalid header name`);
    removeHeader(msg, f.name);
    msg.headers.push({ name: f.name, value });
    return;
  }
  const v = trimWs(value);
  try {
    switch (f.key) {
      case 'via': msg.via = parseVia([v]); break;
      case 'from': msg.from = parseNameAddrValue(v, 'bad From'); break;
      case 'to': msg.to = parseNameAddrValue(v, 'bad To'); break;
      case 'callId': msg.callId = parseCallId(v); break;
      case 'cseq': msg.cseq = parseCSeq(v); break;
      case 'maxForwards': msg.maxForwards = parseMaxForwards(v); break;
      case 'contact': msg.contact = parseContact([v]); break;
      case 'route': msg.route = parseNameAddrList([v], 'bad Route'); break;
      case 'recordRoute': msg.recordRoute = parseNameAddrList([v], 'bad Record-Route'); break;
      case 'path': msg.path = parseNameAddrList([v], 'bad Path'); break;
      case 'expires': msg.expires = parseDeltaSeconds(v, 'bad Expires'); break;
      case 'minExpires': msg.minExpires = parseDeltaSeconds(v, 'bad Min-Expires'); break;
      case 'contentType': msg.contentType = parseContentType(v); break;
      case 'contentLength': parseContentLength(v); break;
      case 'wwwAuthenticate': msg.wwwAuthenticate = parseAuth([v], 'bad WWW-Authenticate'); break;
      case 'proxyAuthenticate': msg.proxyAuthenticate = parseAuth([v], 'bad Proxy-Authenticate'); break;
      case 'authorization': msg.authorization = parseAuth([v], 'bad Authorization'); break;
      case 'proxyAuthorization': msg.proxyAuthorization = parseAuth([v], 'bad Proxy-Authorization'); break;
      case 'require': msg.require = parseOptionTags([v], 'bad Require'); break;
      case 'supported': msg.supported = parseOptionTags([v], 'bad Supported'); break;
      case 'proxyRequire': msg.proxyRequire = parseOptionTags([v], 'bad Proxy-Require'); break;
    }
  } catch (err) {
    throw new HeaderValueError(`invalid ${f.name} value`, { cause: err });
  }
}

/**
 * Removes a header. Raw: every line of that name. Typed: list headers become
 * empty, optional ones undefined; mandatory ones (Via excepted) cannot be removed
 * and throw HeaderValueError.
 */
export function removeHeader(msg: SipMessage, name: string): void {
  const f = fullName(name);
  if (!f.key) {
    const lower = f.name.toLowerCase();
    msg.headers = msg.headers.filter((h) => h.name.toLowerCase() !== lower);
    return;
  }
  switch (f.key) {
    case 'via': case 'contact': case 'route': case 'recordRoute': case 'path':
    case 'wwwAuthenticate': case 'proxyAuthenticate': case 'authorization': case 'proxyAuthorization':
    case 'require': case 'supported': case 'proxyRequire':
      msg[f.key] = [];
      return;
    case 'maxForwards': case 'expires': case 'minExpires': case 'contentType': case 'contentLength':
      delete msg[f.key];
      return;
    default:
      throw new HeaderValueError(`${f.name} is mandatory and cannot be removed`);
  }
}
