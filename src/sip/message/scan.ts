/**
 * Low-level lexical helpers shared by the URI and header parsers (RFC 3261 §25.1).
 * Everything works on already-unfolded header values (LWS = one or more SP/HT).
 * Helpers throw SipParseError; parseMessage() catches, so nothing escapes it.
 * All scanners are single-pass loops: no regular expressions with backtracking.
 */
import { SipParseError } from './errors.ts';
import type { Params } from './types.ts';

function table(chars: string, alnum: boolean): Uint8Array {
  const t = new Uint8Array(128);
  if (alnum) {
    for (let c = 48; c <= 57; c++) t[c] = 1;
    for (let c = 65; c <= 90; c++) t[c] = 1;
    for (let c = 97; c <= 122; c++) t[c] = 1;
  }
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") (§25.1). */
const TOKEN = table("-.!%*_+`'~", true);
/** Characters of an unquoted generic-param value: token / host (IPv6 references, §25.1). */
const GEN_VALUE = table("-.!%*_+`'~:[]/", true);
/** Host names and IPv4/IPv6 literals (lenient: '_' is seen in the wild). */
const HOST = table('-._', true);

export function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

export function isWs(c: number): boolean {
  return c === 32 || c === 9;
}

/** Trims SP/HT only (LWS, §25.1); String.prototype.trim would also eat BOMs and NBSPs. */
export function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

export function skipWs(s: string, i: number): number {
  while (i < s.length && isWs(s.charCodeAt(i))) i++;
  return i;
}

export function fault(what: string): SipParseError {
  return new SipParseError(what);
}

/** Reads a token at i; returns its end (== i when there is none). */
export function tokenEnd(s: string, i: number): number {
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Reads a quoted-string starting at the opening DQUOTE at s[i] (§25.1:
 * quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)). Returns the unescaped value
 * and the index after the closing quote.
 */
export function readQuoted(s: string, i: number, what: string): { value: string; end: number } {
  // Fast path: no quoted-pair before the closing quote (native searches, one slice).
  const close = s.indexOf('"', i + 1);
  if (close >= 0) {
    const bs = s.indexOf('\\', i + 1);
    if (bs < 0 || bs > close) return { value: s.slice(i + 1, close), end: close + 1 };
  }
  let out = '';
  let start = i + 1;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 92 /* \ */) {
      if (j + 1 >= s.length) break;
      const n = s.charCodeAt(j + 1);
      if (n === 10 || n === 13) throw fault(what);
      out += s.slice(start, j);
      start = j + 1;
      j++;
    } else if (c === 34 /* " */) {
      return { value: out + s.slice(start, j), end: j + 1 };
    }
  }
  throw fault(what);
}

/** Index just after the quoted-string starting at s[i] (raw, not unescaped). */
function quotedEnd(s: string, i: number, what: string): number {
  const close = s.indexOf('"', i + 1);
  if (close >= 0) {
    const bs = s.indexOf('\\', i + 1);
    if (bs < 0 || bs > close) return close + 1;
  }
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 92) j++;
    else if (c === 34) return j + 1;
  }
  throw fault(what);
}

/** Quotes a string as a quoted-string, escaping '"' and '\'; CR/LF cannot be carried and become SP. */
export function quote(s: string): string {
  // Fast path: nothing to escape (nonces, realms, names), one concatenation.
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92 || c === 127) break;
  }
  if (i === s.length) return '"' + s + '"';
  let out = '"' + s.slice(0, i);
  for (; i < s.length; i++) {
    const ch = s[i];
    const c = s.charCodeAt(i);
    if (c === 13 || c === 10) out += ' ';
    else if (ch === '"' || ch === '\\' || c < 32 || c === 127) out += '\\' + ch;
    else out += ch;
  }
  return out + '"';
}

/**
 * Splits a header value on top-level commas (§7.3.1), respecting quoted strings
 * and <...> (URIs may contain commas). Elements are trimmed; empty ones are kept
 * so the caller can reject them.
 */
export function splitList(s: string, what: string): string[] {
  // Fast path: no comma, one element (quote/bracket balance is checked by the element parser).
  if (s.indexOf(',') < 0) return [trimWs(s)];
  const out: string[] = [];
  let start = 0;
  let angle = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 && !angle) {
      i = quotedEnd(s, i, what) - 1;
    } else if (c === 60 /* < */) {
      if (angle) throw fault(what);
      angle = true;
    } else if (c === 62 /* > */) {
      angle = false;
    } else if (c === 44 /* , */ && !angle) {
      out.push(trimWs(s.slice(start, i)));
      start = i + 1;
    }
  }
  if (angle) throw fault(what);
  out.push(trimWs(s.slice(start)));
  return out;
}

/**
 * Parameter names on nearly every message (Via, From/To, Contact, Digest
 * credentials), bucketed by length. A name written exactly so is returned as this
 * constant: no slice and no lower-cased copy per parameter.
 */
const COMMON_NAMES: readonly (readonly string[])[] = (() => {
  const names = ['tag', 'branch', 'rport', 'received', 'expires', 'transport', 'lr', 'q', 'maddr', 'user', 'username', 'realm', 'nonce', 'uri', 'response', 'algorithm', 'qop', 'nc', 'cnonce', 'opaque'];
  const out: string[][] = [];
  for (const n of names) (out[n.length] ??= []).push(n);
  for (let i = 0; i < out.length; i++) out[i] ??= [];
  return out;
})();

/** s[i, e) lower-cased (a parameter name, §7.3.1: case-insensitive), a shared constant when common. */
export function lowerName(s: string, i: number, e: number): string {
  const bucket = e - i < COMMON_NAMES.length ? COMMON_NAMES[e - i] : undefined;
  if (bucket !== undefined) {
    for (let b = 0; b < bucket.length; b++) {
      const k = bucket[b];
      let j = 0;
      while (j < k.length && s.charCodeAt(i + j) === k.charCodeAt(j)) j++;
      if (j === k.length) return k;
    }
  }
  return s.slice(i, e).toLowerCase();
}

/**
 * Parses generic header parameters `*( SEMI generic-param )` from s[i] to the end
 * (§25.1; SEMI = SWS ";" SWS, EQUAL = SWS "=" SWS). Names are lower-cased; values
 * are kept as written (quoted strings keep their quotes). Returns nothing: the
 * whole rest of s must be parameters.
 */
export function parseParams(s: string, i: number, params: Params, what: string): void {
  i = skipWs(s, i);
  while (i < s.length) {
    if (s.charCodeAt(i) !== 59 /* ; */) throw fault(what);
    i = skipWs(s, i + 1);
    const ne = tokenEnd(s, i);
    if (ne === i) throw fault(what);
    const name = lowerName(s, i, ne);
    i = skipWs(s, ne);
    let value: string | null = null;
    if (i < s.length && s.charCodeAt(i) === 61 /* = */) {
      i = skipWs(s, i + 1);
      if (i < s.length && s.charCodeAt(i) === 34) {
        const e = quotedEnd(s, i, what);
        value = s.slice(i, e);
        i = e;
      } else {
        let e = i;
        while (e < s.length) {
          const c = s.charCodeAt(e);
          if (c >= 128 || GEN_VALUE[c] !== 1) break;
          e++;
        }
        if (e === i) throw fault(what);
        value = s.slice(i, e);
        i = e;
      }
      i = skipWs(s, i);
    }
    params.set(name, value);
  }
}

/** Serializes header parameters (`;name=value`), values as stored. */
export function serializeParams(params: Params): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}

/** True if s is a host: hostname, IPv4address or an IPv6 reference "[...]" (§25.1, RFC 5118). */
export function isHost(s: string): boolean {
  if (s.length === 0) return false;
  if (s.charCodeAt(0) === 91 /* [ */) {
    if (s.charCodeAt(s.length - 1) !== 93 || s.length < 4) return false;
    return isIpv6Body(s.slice(1, -1));
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || HOST[c] !== 1) return false;
  }
  return true;
}

/**
 * Lenient IPv6address check: hex digits, ':' and a trailing dotted quad, at least
 * two colons. NOTE: deliberately accepts the "three colons" form RFC 5118 §4.10
 * asks elements to tolerate (2001:db8:::192.0.2.1).
 */
export function isIpv6Body(s: string): boolean {
  let colons = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) colons++;
    else if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 46)) return false;
  }
  return colons >= 2 && s.length <= 45;
}

/** Parses 1*DIGIT; returns undefined if not all digits. Values beyond 2^53 lose precision (callers bound them). */
export function parseDigits(s: string): number | undefined {
  if (s.length === 0) return undefined;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
  }
  return n;
}
