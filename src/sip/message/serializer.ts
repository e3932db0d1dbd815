/**
 * SIP message serializer (RFC 3261 §7). Typed headers are written first in a
 * canonical order (Via first, as §7.3.1 asks proxies to keep Via on top), then the
 * raw headers in their original order, then Content-Length recomputed from the
 * body (always written: it is mandatory on streams, §18.3, §20.14).
 *
 * CR and LF never reach the wire from a value: they are replaced by SP, so a
 * hostile value cannot inject header lines.
 */
import { isToken, quote, serializeParams } from './scan.ts';
import type { AuthValue, ContentType, NameAddr, SipMessage, Via } from './types.ts';
import { serializeUri } from './uri.ts';

export { serializeUri } from './uri.ts';

function clean(s: string): string {
  return s.indexOf('\r') < 0 && s.indexOf('\n') < 0 ? s : s.replace(/[\r\n]/g, ' ');
}

/** Identity: the fast path writes values as they are and checks the whole head once (see headText). */
function asIs(s: string): string {
  return s;
}

type Clean = (s: string) => string;

function nameAddr(n: NameAddr, c: Clean): string {
  const dn = n.displayName !== undefined ? quote(n.displayName) + ' ' : '';
  return c(dn + '<' + serializeUri(n.uri) + '>' + serializeParams(n.params));
}

function via(v: Via, c: Clean): string {
  const port = v.port !== undefined ? ':' + v.port : '';
  return c(v.protocol + '/' + v.transport + ' ' + v.host + port + serializeParams(v.params));
}

/** Case-insensitive "Digest" without allocating a lower-cased copy. */
function isDigest(scheme: string): boolean {
  return scheme.length === 6 && (scheme === 'Digest' || scheme.toLowerCase() === 'digest');
}

/** Digest parameters that are never quoted (RFC 7616 §3.3–3.4). */
function isUnquotedDigestParam(k: string): boolean {
  return k === 'algorithm' || k === 'stale' || k === 'nc';
}

function auth(a: AuthValue, credentials: boolean, c: Clean): string {
  const digest = isDigest(a.scheme);
  let out = '';
  for (const [k, v] of a.params) {
    // qop is a quoted list in a challenge but a bare token in credentials (RFC 7616 §3.4).
    const bare = (!digest || isUnquotedDigestParam(k) || (credentials && k === 'qop')) && isToken(v);
    out += (out.length === 0 ? ' ' : ', ') + k + '=' + (bare ? v : quote(v));
  }
  return c(a.scheme + out);
}

function contentType(t: ContentType, c: Clean): string {
  return c(t.type + serializeParams(t.params));
}

/** Always the name-addr form `"Display" <uri>;params`, which is unambiguous (§20.10). */
export function serializeNameAddr(n: NameAddr): string {
  return nameAddr(n, clean);
}

export function serializeVia(v: Via): string {
  return via(v, clean);
}

export function serializeAuth(a: AuthValue, credentials: boolean): string {
  return auth(a, credentials, clean);
}

export function serializeContentType(c: ContentType): string {
  return contentType(c, clean);
}

/** Collects header lines into one string, counting them. */
class HeadWriter {
  text = '';
  lines = 0;
  /** Appends `line` + CRLF. `+=` builds a rope that is flattened once, when encoded. */
  line(line: string): void {
    this.text += line + '\r\n';
    this.lines++;
  }
}

/**
 * Start line + typed headers + raw headers, each value passed through `c`; with
 * `contentLength`, also Content-Length and the empty line: the complete head.
 */
function writeHead(msg: SipMessage, c: Clean, contentLength: number | undefined): HeadWriter {
  const w = new HeadWriter();
  w.line(msg.kind === 'request' ? c(msg.method + ' ' + serializeUri(msg.uri) + ' SIP/2.0') : 'SIP/2.0 ' + msg.status + ' ' + c(msg.reason));
  for (const v of msg.via) w.line('Via: ' + via(v, c));
  if (msg.maxForwards !== undefined) w.line('Max-Forwards: ' + msg.maxForwards);
  for (const r of msg.route) w.line('Route: ' + nameAddr(r, c));
  for (const r of msg.recordRoute) w.line('Record-Route: ' + nameAddr(r, c));
  for (const r of msg.path) w.line('Path: ' + nameAddr(r, c));
  w.line('From: ' + nameAddr(msg.from, c));
  w.line('To: ' + nameAddr(msg.to, c));
  w.line('Call-ID: ' + c(msg.callId));
  w.line('CSeq: ' + msg.cseq.seq + ' ' + c(msg.cseq.method));
  if (msg.contact === '*') w.line('Contact: *');
  else for (const r of msg.contact) w.line('Contact: ' + nameAddr(r, c));
  if (msg.expires !== undefined) w.line('Expires: ' + msg.expires);
  if (msg.minExpires !== undefined) w.line('Min-Expires: ' + msg.minExpires);
  if (msg.require.length > 0) w.line('Require: ' + c(msg.require.join(', ')));
  if (msg.proxyRequire.length > 0) w.line('Proxy-Require: ' + c(msg.proxyRequire.join(', ')));
  if (msg.supported.length > 0) w.line('Supported: ' + c(msg.supported.join(', ')));
  for (const a of msg.wwwAuthenticate) w.line('WWW-Authenticate: ' + auth(a, false, c));
  for (const a of msg.proxyAuthenticate) w.line('Proxy-Authenticate: ' + auth(a, false, c));
  for (const a of msg.authorization) w.line('Authorization: ' + auth(a, true, c));
  for (const a of msg.proxyAuthorization) w.line('Proxy-Authorization: ' + auth(a, true, c));
  if (msg.contentType !== undefined) w.line('Content-Type: ' + contentType(msg.contentType, c));
  for (const h of msg.headers) w.line(c(h.name) + ': ' + c(h.value));
  if (contentLength !== undefined) {
    w.line('Content-Length: ' + contentLength);
    w.line(''); // the empty line ending the header section
  }
  return w;
}

/** Number of CR and LF characters in s (native searches: far cheaper per character than a charCodeAt loop). */
function countLineBreaks(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  for (let i = s.indexOf('\r'); i >= 0; i = s.indexOf('\r', i + 1)) n++;
  return n;
}

/**
 * The head, CR/LF-safe (see the file comment). Values are written as they are and
 * the result is checked once: it must hold exactly the CRLFs the writer put there.
 * Only when a value carried CR or LF is the head rewritten with every value
 * cleaned. (Cleaning each value on the fast path flattened every intermediate
 * rope, which was most of the serializer's time.)
 */
function headText(msg: SipMessage, contentLength: number | undefined): string {
  const w = writeHead(msg, asIs, contentLength);
  if (countLineBreaks(w.text) === 2 * w.lines) return w.text;
  return writeHead(msg, clean, contentLength).text;
}

/** Start line + typed headers + raw headers (without Content-Length), as header lines. */
export function headerLines(msg: SipMessage): string[] {
  // Values are cleaned of CR/LF, so CRLF splits exactly at line ends.
  const lines = headText(msg, undefined).split('\r\n');
  lines.pop();
  return lines;
}

export function serializeMessage(msg: SipMessage): Buffer {
  const head = headText(msg, msg.body.length);
  if (msg.body.length === 0) return Buffer.from(head, 'utf8');
  const headLen = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLen + msg.body.length);
  out.write(head, 0, 'utf8');
  msg.body.copy(out, headLen);
  return out;
}
