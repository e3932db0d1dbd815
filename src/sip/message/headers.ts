/**
 * Parsers for the core header fields kept as typed fields (RFC 3261 §20), plus the
 * header-name table (compact forms §7.3.3 and the IANA registry). Input values are
 * already unfolded and trimmed. Every function throws SipParseError naming the
 * header ("bad Via"); parseMessage() catches.
 */
import {
  fault,
  isHost,
  isToken,
  isTokenChar,
  isWs,
  lowerName,
  parseDigits,
  parseParams,
  readQuoted,
  skipWs,
  splitList,
  tokenEnd,
  trimWs,
} from './scan.ts';
import type { AuthValue, ContentType, CSeq, NameAddr, Via } from './types.ts';
import { parseUri } from './uri.ts';

/** Keys of the typed header fields (names of MessageCommon properties). */
export type CoreKey =
  | 'via'
  | 'from'
  | 'to'
  | 'callId'
  | 'cseq'
  | 'maxForwards'
  | 'contact'
  | 'route'
  | 'recordRoute'
  | 'path'
  | 'expires'
  | 'minExpires'
  | 'contentType'
  | 'contentLength'
  | 'wwwAuthenticate'
  | 'proxyAuthenticate'
  | 'authorization'
  | 'proxyAuthorization'
  | 'require'
  | 'supported'
  | 'proxyRequire';

/** Canonical wire name of each typed header. */
export const CORE_NAME: Record<CoreKey, string> = {
  via: 'Via',
  from: 'From',
  to: 'To',
  callId: 'Call-ID',
  cseq: 'CSeq',
  maxForwards: 'Max-Forwards',
  contact: 'Contact',
  route: 'Route',
  recordRoute: 'Record-Route',
  path: 'Path',
  expires: 'Expires',
  minExpires: 'Min-Expires',
  contentType: 'Content-Type',
  contentLength: 'Content-Length',
  wwwAuthenticate: 'WWW-Authenticate',
  proxyAuthenticate: 'Proxy-Authenticate',
  authorization: 'Authorization',
  proxyAuthorization: 'Proxy-Authorization',
  require: 'Require',
  supported: 'Supported',
  proxyRequire: 'Proxy-Require',
};

/** Lower-case name (full or compact) → typed key. */
export const CORE_KEYS = new Map<string, CoreKey>();
for (const [k, v] of Object.entries(CORE_NAME) as [CoreKey, string][]) CORE_KEYS.set(v.toLowerCase(), k);
for (const [c, k] of [
  ['v', 'via'],
  ['f', 'from'],
  ['t', 'to'],
  ['i', 'callId'],
  ['m', 'contact'],
  ['c', 'contentType'],
  ['l', 'contentLength'],
  ['k', 'supported'],
] as [string, CoreKey][]) {
  CORE_KEYS.set(c, k);
}

/**
 * Typed keys numbered 0..20 in CORE_NAME order. The parser files header values in
 * an array by this number: indexing one object by 21 different property names from
 * one code site is a megamorphic keyed access in V8, an array index is not.
 */
export const CORE_KEY_LIST = Object.keys(CORE_NAME) as CoreKey[];
export const CORE_ID = Object.fromEntries(CORE_KEY_LIST.map((k, i) => [k, i])) as Record<CoreKey, number>;

interface Candidate {
  lower: string;
  key: CoreKey;
  id: number;
}

/** Candidates bucketed by name length, for an allocation-free case-insensitive lookup. */
const BY_LENGTH: Candidate[][] = [];
for (const [lower, key] of CORE_KEYS) (BY_LENGTH[lower.length] ??= []).push({ lower, key, id: CORE_ID[key] });

/** Typed key of a header name (any case, compact forms), without allocating; undefined for raw headers. */
export function coreKeyOf(name: string): CoreKey | undefined {
  const c = candidateAt(name, 0, name.length);
  return c === undefined ? undefined : c.key;
}

/** coreKeyOf for the name s[start, end), so the parser need not slice it out. */
export function coreKeyAt(s: string, start: number, end: number): CoreKey | undefined {
  const c = candidateAt(s, start, end);
  return c === undefined ? undefined : c.key;
}

/** CORE_ID of the header name s[start, end), or -1 for a raw header. */
export function coreIdAt(s: string, start: number, end: number): number {
  const c = candidateAt(s, start, end);
  return c === undefined ? -1 : c.id;
}

function candidateAt(s: string, start: number, end: number): Candidate | undefined {
  const cands = BY_LENGTH[end - start];
  if (cands === undefined) return undefined;
  for (let k = 0; k < cands.length; k++) {
    const lower = cands[k].lower;
    let i = 0;
    for (; i < lower.length; i++) {
      let c = s.charCodeAt(start + i);
      if (c >= 65 && c <= 90) c += 32;
      if (c !== lower.charCodeAt(i)) break;
    }
    if (i === lower.length) return cands[k];
  }
  return undefined;
}

/** Compact forms of raw headers (RFC 3261 §7.3.3 and the IANA SIP header registry). */
export const COMPACT_RAW = new Map<string, string>([
  ['e', 'Content-Encoding'],
  ['s', 'Subject'],
  ['o', 'Event'],
  ['u', 'Allow-Events'],
  ['r', 'Refer-To'],
  ['b', 'Referred-By'],
  ['x', 'Session-Expires'],
  ['y', 'Identity'],
  ['n', 'Identity-Info'],
  ['a', 'Accept-Contact'],
  ['j', 'Reject-Contact'],
  ['d', 'Request-Disposition'],
]);

/**
 * name-addr / addr-spec followed by header params (§20.10, §25.1). In the bare
 * addr-spec form the URI ends at the first ';' or whitespace and everything
 * after belongs to the header; a bare URI containing ',', '?' or ';' must have
 * been written as a name-addr (§20.10), so it is rejected.
 */
export function parseNameAddrValue(s: string, what: string): NameAddr {
  let i = skipWs(s, 0);
  let displayName: string | undefined;
  let uriText: string;
  if (s.charCodeAt(i) === 34) {
    const q = readQuoted(s, i, what);
    displayName = q.value;
    i = skipWs(s, q.end);
    if (s.charCodeAt(i) !== 60) throw fault(what);
  } else {
    // *(token LWS) before '<' is a display name; otherwise it is an addr-spec.
    // NOTE: deviates from §25.1 by also accepting non-ASCII characters in an
    // unquoted display name (phones send `Jürgen <sip:...>`).
    let j = i;
    while (j < s.length) {
      const c = s.charCodeAt(j);
      if (!isTokenChar(c) && !isWs(c) && c < 128) break;
      j++;
    }
    if (s.charCodeAt(j) === 60) {
      if (j > i) {
        const dn = trimWs(s.slice(i, j));
        if (dn.length > 0) displayName = dn;
      }
      i = j;
    }
  }
  if (s.charCodeAt(i) === 60) {
    const close = s.indexOf('>', i);
    if (close < 0) throw fault(what);
    uriText = s.slice(i + 1, close);
    i = close + 1;
  } else {
    let e = i;
    while (e < s.length) {
      const c = s.charCodeAt(e);
      if (c === 59 || isWs(c)) break;
      e++;
    }
    uriText = s.slice(i, e);
    i = e;
    if (uriText.indexOf('?') >= 0 || uriText.indexOf(',') >= 0) throw fault(what);
  }
  const uri = parseUri(uriText, what);
  const na: NameAddr = { uri, params: new Map() };
  if (displayName !== undefined) na.displayName = displayName;
  parseParams(s, i, na.params, what);
  return na;
}

export function parseNameAddrList(values: string[], what: string): NameAddr[] {
  const out: NameAddr[] = [];
  for (const v of values) for (const e of splitList(v, what)) out.push(parseNameAddrValue(e, what));
  return out;
}

/** Contact: '*' alone (REGISTER removing all bindings, §10.2.2) or a list of name-addrs. */
export function parseContact(values: string[]): NameAddr[] | '*' {
  if (values.length === 1 && values[0] === '*') return '*';
  for (const v of values) if (v === '*') throw fault('bad Contact');
  return parseNameAddrList(values, 'bad Contact');
}

/** via-parm = sent-protocol LWS sent-by *( SEMI via-params ) (§20.42). */
export function parseViaValue(s: string): Via {
  const what = 'bad Via';
  let i = skipWs(s, 0);
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport; the usual
  // "SIP/2.0/" is matched in place (case-insensitively), anything else token by token.
  let protocol = 'SIP/2.0';
  if (s.length > i + 8 && s.charCodeAt(i + 3) === 47 && s.charCodeAt(i + 7) === 47 && s.startsWith('2.0', i + 4) && (s.charCodeAt(i) | 32) === 115 && (s.charCodeAt(i + 1) | 32) === 105 && (s.charCodeAt(i + 2) | 32) === 112) {
    i = skipWs(s, i + 8);
  } else {
    const p: string[] = [];
    for (let n = 0; n < 2; n++) {
      const e = tokenEnd(s, i);
      if (e === i) throw fault(what);
      p.push(s.slice(i, e));
      i = skipWs(s, e);
      if (s.charCodeAt(i) !== 47) throw fault(what);
      i = skipWs(s, i + 1);
    }
    protocol = `${p[0]}/${p[1]}`.toUpperCase();
  }
  const te = tokenEnd(s, i);
  if (te === i) throw fault(what);
  const transport = s.slice(i, te).toUpperCase();
  i = skipWs(s, te);
  // host [ COLON port ]; the LWS before sent-by was consumed above.
  let hostEnd: number;
  if (s.charCodeAt(i) === 91) {
    const close = s.indexOf(']', i);
    if (close < 0) throw fault(what);
    hostEnd = close + 1;
  } else {
    hostEnd = i;
    while (hostEnd < s.length) {
      const c = s.charCodeAt(hostEnd);
      if (c === 58 || c === 59 || isWs(c)) break;
      hostEnd++;
    }
  }
  const host = s.slice(i, hostEnd);
  if (!isHost(host)) throw fault(what);
  i = skipWs(s, hostEnd);
  const via: Via = { protocol, transport, host, params: new Map() };
  if (s.charCodeAt(i) === 58) {
    i = skipWs(s, i + 1);
    // port = 1*DIGIT (§25.1), read in place: at most 5 digits, 0..65535.
    let pe = i;
    let port = 0;
    while (pe < s.length && s.charCodeAt(pe) >= 48 && s.charCodeAt(pe) <= 57) port = port * 10 + s.charCodeAt(pe++) - 48;
    if (pe === i || pe - i > 5 || port > 65535) throw fault(what);
    via.port = port;
    i = pe;
  }
  parseParams(s, i, via.params, what);
  return via;
}

export function parseVia(values: string[]): Via[] {
  const out: Via[] = [];
  for (const v of values) for (const e of splitList(v, 'bad Via')) out.push(parseViaValue(e));
  return out;
}

/** Call-ID = word [ "@" word ] (§20.8): a non-empty run without whitespace. */
export function parseCallId(s: string): string {
  if (s.length === 0) throw fault('bad Call-ID');
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 127) throw fault('bad Call-ID');
  }
  return s;
}

const UINT32_MAX = 4294967295;

/** CSeq = 1*DIGIT LWS Method (§20.16); the number must fit 32 bits (§8.1.1.5). */
export function parseCSeq(s: string): CSeq {
  let e = 0;
  while (e < s.length && !isWs(s.charCodeAt(e))) e++;
  const num = s.slice(0, e);
  const seq = parseDigits(num);
  const ms = skipWs(s, e);
  const method = s.slice(ms);
  if (seq === undefined || num.length > 20 || seq > UINT32_MAX || ms === e || !isToken(method)) throw fault('bad CSeq');
  return { seq, method };
}

/** Max-Forwards = 1*DIGIT, 0–255 (§20.22). */
export function parseMaxForwards(s: string): number {
  const n = parseDigits(s);
  if (n === undefined || n > 255) throw fault('bad Max-Forwards');
  return n;
}

/**
 * delta-seconds (§20.19, §20.23). NOTE: a value beyond 2^32-1 is clamped to
 * 2^32-1 instead of rejected (§20.19 gives the range; clamping keeps registrations
 * from huge-but-valid digit strings working).
 */
export function parseDeltaSeconds(s: string, what: string): number {
  const n = parseDigits(s);
  if (n === undefined) throw fault(what);
  return n > UINT32_MAX ? UINT32_MAX : n;
}

/** Content-Length = 1*DIGIT (§20.14). */
export function parseContentLength(s: string): number {
  const n = parseDigits(s);
  if (n === undefined || s.length > 15) throw fault('bad Content-Length');
  return n;
}

/** media-type = m-type SLASH m-subtype *(SEMI m-parameter) (§20.15). */
export function parseContentType(s: string): ContentType {
  const what = 'bad Content-Type';
  const te = tokenEnd(s, 0);
  let i = skipWs(s, te);
  if (te === 0 || s.charCodeAt(i) !== 47) throw fault(what);
  i = skipWs(s, i + 1);
  const se = tokenEnd(s, i);
  if (se === i) throw fault(what);
  const ct: ContentType = { type: `${s.slice(0, te)}/${s.slice(i, se)}`.toLowerCase(), params: new Map() };
  parseParams(s, se, ct.params, what);
  return ct;
}

/** Option tags (Require, Supported, Proxy-Require; §20.32): lower-cased tokens, empty values allowed. */
export function parseOptionTags(values: string[], what: string): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (v.length === 0) continue;
    for (const e of splitList(v, what)) {
      if (!isToken(e)) throw fault(what);
      out.push(e.toLowerCase());
    }
  }
  return out;
}

/**
 * challenge / credentials (§25.1, RFC 7616): `scheme LWS param *(COMMA param)`.
 * Several challenges may share one header line: an element of the comma list
 * that starts with `token LWS token =` begins a new one.
 */
export function parseAuth(values: string[], what: string): AuthValue[] {
  if (values.length === 1) {
    const one = parseAuthSimple(values[0]);
    if (one !== undefined) return [one];
  }
  return parseAuthGeneral(values, what);
}

/**
 * The usual shape in one pass, without splitting the value into elements first:
 * one challenge, `scheme 1*LWS name EQUAL value *(COMMA name EQUAL value)` with
 * plain token values and no quoted-pair anywhere. Returns undefined
 * for anything else (several challenges, escapes, '<' or '"' in a token value,
 * empty elements, a fault ...), which parseAuthGeneral then reads — so for every
 * input this gives the same AuthValue as parseAuthGeneral, or nothing.
 */
function parseAuthSimple(s: string): AuthValue | undefined {
  // One search for quoted-pairs up front, not one per quoted value to the end of s.
  if (s.indexOf('\\') >= 0) return undefined;
  const t = tokenEnd(s, 0);
  let i = skipWs(s, t);
  if (t === 0 || i === t || i >= s.length) return undefined;
  const params = new Map<string, string>();
  for (;;) {
    const ne = tokenEnd(s, i);
    if (ne === i) return undefined;
    const name = lowerName(s, i, ne);
    i = skipWs(s, ne);
    if (s.charCodeAt(i) !== 61 /* = */) return undefined;
    i = skipWs(s, i + 1);
    let value: string;
    if (s.charCodeAt(i) === 34 /* " */) {
      const close = s.indexOf('"', i + 1);
      if (close < 0) return undefined;
      value = s.slice(i + 1, close);
      i = close + 1;
    } else {
      let ve = i;
      for (; ve < s.length; ve++) {
        const c = s.charCodeAt(ve);
        if (c === 44 /* , */ || isWs(c)) break;
        if (c === 34 || c === 60 || c === 62) return undefined; // '"', '<', '>' need splitList's rules
      }
      value = s.slice(i, ve);
      i = ve;
    }
    params.set(name, value);
    i = skipWs(s, i);
    if (i >= s.length) return { scheme: s.slice(0, t), params };
    if (s.charCodeAt(i) !== 44) return undefined;
    i = skipWs(s, i + 1);
    // The next element must be a parameter (`token EQUAL`), not a new challenge or empty.
    const te = tokenEnd(s, i);
    if (te === i || s.charCodeAt(skipWs(s, te)) !== 61) return undefined;
  }
}

/** Every form parseAuth accepts: split at top-level commas, then element by element. */
export function parseAuthGeneral(values: string[], what: string): AuthValue[] {
  const out: AuthValue[] = [];
  for (const v of values) {
    let cur: AuthValue | undefined;
    for (const e of splitList(v, what)) {
      let i = 0;
      const t = tokenEnd(e, 0);
      if (t === 0) throw fault(what);
      const after = skipWs(e, t);
      if (!cur || (after > t && after < e.length && e.charCodeAt(after) !== 61)) {
        cur = { scheme: e.slice(0, t), params: new Map() };
        out.push(cur);
        i = after;
        if (i >= e.length) continue;
      }
      const ne = tokenEnd(e, i);
      if (ne === i) throw fault(what);
      const name = lowerName(e, i, ne);
      i = skipWs(e, ne);
      if (e.charCodeAt(i) !== 61) throw fault(what);
      i = skipWs(e, i + 1);
      let value: string;
      if (e.charCodeAt(i) === 34) {
        const q = readQuoted(e, i, what);
        value = q.value;
        i = q.end;
      } else {
        let ve = i;
        while (ve < e.length && !isWs(e.charCodeAt(ve))) ve++;
        value = e.slice(i, ve);
        i = ve;
      }
      if (skipWs(e, i) !== e.length) throw fault(what);
      cur.params.set(name, value);
    }
  }
  return out;
}

const DAYS = new Set(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']);
const MONTHS = new Set(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']);

/** SIP-date = rfc1123-date, always "GMT" (§20.17, RFC 4475 §3.1.2.12). */
export function isSipDate(s: string): boolean {
  // "Sat, 15 Oct 2005 04:44:56 GMT"
  if (s.length !== 29 || s[3] !== ',' || s[4] !== ' ' || s[7] !== ' ' || s[11] !== ' ' || s[16] !== ' ') return false;
  if (!DAYS.has(s.slice(0, 3)) || !MONTHS.has(s.slice(8, 11)) || s.slice(25) !== ' GMT') return false;
  const digits = [5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24];
  for (const d of digits) {
    const c = s.charCodeAt(d);
    if (c < 48 || c > 57) return false;
  }
  return s[19] === ':' && s[22] === ':';
}

