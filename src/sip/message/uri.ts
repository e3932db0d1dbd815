/**
 * SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966; IPv6 references per
 * RFC 5118). Other schemes are kept verbatim as OtherUri (§19.1: elements must
 * carry URIs they do not understand; the application answers 416 if needed).
 *
 * Representation: user, password, URI parameter names/values and URI header
 * values are stored unescaped (§19.1.4 compares them unescaped); parameter names
 * are lower-cased. The serializer re-escapes what the grammar does not allow.
 */
import { SipParseError } from './errors.ts';
import { isHost, lowerName } from './scan.ts';
import type { Params, SipUri, TelUri, Uri } from './types.ts';

function set(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (let c = 48; c <= 57; c++) t[c] = 1;
  for (let c = 65; c <= 90; c++) t[c] = 1;
  for (let c = 97; c <= 122; c++) t[c] = 1;
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}
const MARK = "-_.!~*'()";
/** user = 1*( unreserved / escaped / user-unreserved ) */
const USER_OK = set(MARK + '&=+$,;?/');
/** password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ) */
const PASSWORD_OK = set(MARK + '&=+$,');
/** paramchar = param-unreserved / unreserved / escaped */
const PARAM_OK = set(MARK + '[]/:&+$');
/** hname / hvalue = 1*( hnv-unreserved / unreserved / escaped ) */
const HEADER_OK = set(MARK + '[]/?:+$');

function bad(what: string): SipParseError {
  return new SipParseError(what);
}

/** %-unescapes (RFC 3986 escaped = "%" HEXDIG HEXDIG), decoding the octets as UTF-8. */
export function unescape(s: string, what: string): string {
  if (s.indexOf('%') < 0) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      const h = parseInt(s.slice(i + 1, i + 3), 16);
      if (i + 2 >= s.length || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2)) || Number.isNaN(h)) throw bad(what);
      bytes.push(h);
      i += 2;
    } else if (c < 128) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(s[i] ?? '', 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** %-escapes every character not allowed unescaped by `ok`, as UTF-8 octets. */
export function escape(s: string, ok: Uint8Array): string {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || ok[c] !== 1) {
      plain = false;
      break;
    }
  }
  if (plain) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b < 128 && ok[b] === 1 ? String.fromCharCode(b) : '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}

function checkChars(s: string, what: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // No whitespace, controls, or the delimiters that frame a URI (§25.1).
    if (c <= 32 || c === 127 || c === 34 || c === 60 || c === 62) throw bad(what);
  }
}

/**
 * uri-parameters (§19.1.1) of `s[from, to)`, the text after the first ';':
 * `name[=value]` separated by ';'. Empty text is no parameters; an empty element is a fault.
 * Works on offsets (no split): most URIs carry one parameter or none.
 */
function parseUriParams(s: string, from: number, to: number, params: Params, what: string): void {
  if (from >= to) return;
  const pct = s.indexOf('%', from);
  const plain = pct < 0 || pct >= to;
  for (let i = from; ; ) {
    let e = s.indexOf(';', i);
    if (e < 0 || e > to) e = to;
    if (e === i) throw bad(what);
    let eq = s.indexOf('=', i);
    if (eq >= e) eq = -1;
    const ne = eq < 0 ? e : eq;
    // No escape in the parameters (the usual case): names read in place, common ones shared.
    const name = plain ? lowerName(s, i, ne) : unescape(s.slice(i, ne), what).toLowerCase();
    if (name.length === 0) throw bad(what);
    params.set(name, eq < 0 ? null : unescape(s.slice(eq + 1, e), what));
    if (e === to) return;
    i = e + 1;
  }
}

/**
 * Parses a URI; throws SipParseError (fault `what`) on malformed input.
 * `sip:user:password@host:port;params?headers` (§19.1.1), `tel:number;params`,
 * anything else with a valid scheme as OtherUri.
 */
export function parseUri(s: string, what = 'bad URI'): Uri {
  checkChars(s, what);
  // Fast path for the common lower-case "sip:" (no slice, no case folding).
  if (s.charCodeAt(3) === 58 && s.charCodeAt(0) === 115 && s.charCodeAt(1) === 105 && s.charCodeAt(2) === 112) {
    return parseSip('sip', s, 4, what);
  }
  const colon = s.indexOf(':');
  if (colon <= 0) throw bad(what);
  const scheme = s.slice(0, colon).toLowerCase();
  for (let i = 0; i < scheme.length; i++) {
    const c = scheme.charCodeAt(i);
    const alpha = c >= 97 && c <= 122;
    if (!(alpha || (i > 0 && ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)))) throw bad(what);
  }
  if (scheme === 'sip' || scheme === 'sips') return parseSip(scheme, s, colon + 1, what);
  if (scheme === 'tel') return parseTel(s.slice(colon + 1), what);
  if (colon + 1 >= s.length) throw bad(what);
  return { scheme, raw: s };
}

/** Port digits s[from, to): port = 1*DIGIT (§25.1), at most 5 digits, 0..65535; read without slicing them out. */
function portAt(s: string, from: number, to: number, what: string): number {
  if (to === from || to - from > 5) throw bad(what);
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) throw bad(what);
    n = n * 10 + c;
  }
  if (n > 65535) throw bad(what);
  return n;
}

/** The part of a sip/sips URI after "scheme:", which starts at s[start]. Offsets into s: no copy of the rest. */
function parseSip(scheme: 'sip' | 'sips', s: string, start: number, what: string): SipUri {
  // One literal in the canonical key order; user, password and port are appended
  // in that order when present (build.ts cloneUri does the same).
  const uri: SipUri = { scheme, host: '', params: new Map(), headers: new Map() };
  let i = start;
  const at = s.indexOf('@', start);
  if (at >= 0) {
    let pc = s.indexOf(':', start);
    if (pc >= at) pc = -1;
    const userEnd = pc < 0 ? at : pc;
    if (userEnd === start) throw bad(what);
    uri.user = unescape(s.slice(start, userEnd), what);
    if (pc >= 0) uri.password = unescape(s.slice(pc + 1, at), what);
    i = at + 1;
  }
  // hostport (§25.1); an IPv6 reference keeps its brackets (RFC 5118 §4.4).
  let hostEnd: number;
  if (s.charCodeAt(i) === 91) {
    const close = s.indexOf(']', i);
    if (close < 0) throw bad(what);
    hostEnd = close + 1;
  } else {
    hostEnd = i;
    while (hostEnd < s.length) {
      const c = s.charCodeAt(hostEnd);
      if (c === 58 || c === 59 || c === 63) break;
      hostEnd++;
    }
  }
  uri.host = s.slice(i, hostEnd);
  if (!isHost(uri.host)) throw bad(what);
  i = hostEnd;
  if (s.charCodeAt(i) === 58) {
    let pe = i + 1;
    while (pe < s.length && s.charCodeAt(pe) !== 59 && s.charCodeAt(pe) !== 63) pe++;
    uri.port = portAt(s, i + 1, pe, what);
    i = pe;
  }
  const q = s.indexOf('?', i);
  if (s.charCodeAt(i) === 59) parseUriParams(s, i + 1, q < 0 ? s.length : q, uri.params, what);
  else if (i < s.length && i !== q) throw bad(what);
  if (q >= 0) {
    for (const h of s.slice(q + 1).split('&')) {
      const eq = h.indexOf('=');
      if (eq <= 0) throw bad(what);
      uri.headers.set(unescape(h.slice(0, eq), what), unescape(h.slice(eq + 1), what));
    }
  }
  return uri;
}

function parseTel(rest: string, what: string): TelUri {
  const semi = rest.indexOf(';');
  const number = semi < 0 ? rest : rest.slice(0, semi);
  if (number.length === 0 || number.indexOf('?') >= 0 || number.indexOf('@') >= 0) throw bad(what);
  const uri: TelUri = { scheme: 'tel', number, params: new Map() };
  if (semi >= 0) parseUriParams(rest, semi + 1, rest.length, uri.params, what);
  return uri;
}

function serializeUriParams(params: Params): string {
  let out = '';
  for (const [k, v] of params) out += ';' + escape(k, PARAM_OK) + (v === null ? '' : '=' + escape(v, PARAM_OK));
  return out;
}

export function serializeUri(u: Uri): string {
  if (u.scheme === 'sip' || u.scheme === 'sips') {
    const s = u as SipUri;
    let out = s.scheme + ':';
    if (s.user !== undefined) {
      out += escape(s.user, USER_OK);
      if (s.password !== undefined) out += ':' + escape(s.password, PASSWORD_OK);
      out += '@';
    }
    out += s.host;
    if (s.port !== undefined) out += ':' + s.port;
    out += serializeUriParams(s.params);
    let sep = '?';
    for (const [k, v] of s.headers) {
      out += sep + escape(k, HEADER_OK) + '=' + escape(v, HEADER_OK);
      sep = '&';
    }
    return out;
  }
  if (u.scheme === 'tel') {
    const t = u as TelUri;
    return 'tel:' + t.number + serializeUriParams(t.params);
  }
  return 'raw' in u ? u.raw : u.scheme + ':';
}

/** Parameters that must match if present in either URI (§19.1.4). */
const STRICT_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'];

function paramsEqual(a: Params, b: Params, strict: readonly string[]): boolean {
  for (const name of strict) {
    if (a.has(name) !== b.has(name)) return false;
  }
  for (const [k, v] of a) {
    if (!b.has(k)) continue;
    const w = b.get(k);
    if (v === w) continue;
    if ((v ?? '').toLowerCase() !== (w ?? '').toLowerCase() || (v === null) !== (w === null)) return false;
  }
  return true;
}

/** Strips tel visual separators (RFC 3966 §5.1.1) for comparison. */
function telDigits(n: string): string {
  let out = '';
  for (const ch of n) if (ch !== '-' && ch !== '.' && ch !== '(' && ch !== ')') out += ch.toLowerCase();
  return out;
}

/**
 * URI equality per RFC 3261 §19.1.4: userinfo case-sensitive, host case-insensitive,
 * explicit port never equals an absent one, user/ttl/method/maddr/transport must
 * match if present in either, other params only if present in both, URI headers
 * must all match. tel URIs per RFC 3966 §4 (separators ignored, params all match).
 */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (a.scheme === 'sip' || a.scheme === 'sips') {
    const x = a as SipUri;
    const y = b as SipUri;
    if (x.user !== y.user || x.password !== y.password || x.port !== y.port) return false;
    if (x.host !== y.host && x.host.toLowerCase() !== y.host.toLowerCase()) return false;
    if (!paramsEqual(x.params, y.params, STRICT_PARAMS)) return false;
    if (x.headers.size !== y.headers.size) return false;
    if (x.headers.size === 0) return true;
    const yh = new Map<string, string>();
    for (const [k, v] of y.headers) yh.set(k.toLowerCase(), v);
    for (const [k, v] of x.headers) if (yh.get(k.toLowerCase()) !== v) return false;
    return true;
  }
  if (a.scheme === 'tel') {
    const x = a as TelUri;
    const y = b as TelUri;
    if (telDigits(x.number) !== telDigits(y.number) || x.params.size !== y.params.size) return false;
    return paramsEqual(x.params, y.params, [...x.params.keys()]);
  }
  return 'raw' in a && 'raw' in b && a.raw.toLowerCase() === b.raw.toLowerCase();
}

/** Address-of-record key "user@host" with lower-cased host (§10.3 step 5); tel: the number. */
export function aorOf(uri: Uri): string {
  if (uri.scheme === 'sip' || uri.scheme === 'sips') {
    const s = uri as SipUri;
    const host = s.host.toLowerCase();
    return s.user !== undefined ? `${s.user}@${host}` : host;
  }
  if (uri.scheme === 'tel') return telDigits((uri as TelUri).number);
  return 'raw' in uri ? uri.raw : uri.scheme;
}

