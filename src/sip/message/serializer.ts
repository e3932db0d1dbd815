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

/** Always the name-addr form `"Display" <uri>;params`, which is unambiguous (§20.10). */
export function serializeNameAddr(n: NameAddr): string {
  const dn = n.displayName !== undefined ? quote(n.displayName) + ' ' : '';
  return clean(`${dn}<${serializeUri(n.uri)}>${serializeParams(n.params)}`);
}

export function serializeVia(v: Via): string {
  const port = v.port !== undefined ? `:${v.port}` : '';
  return clean(`${v.protocol}/${v.transport} ${v.host}${port}${serializeParams(v.params)}`);
}

/** Digest parameters that are never quoted (RFC 7616 §3.3–3.4). */
const UNQUOTED = new Set(['algorithm', 'stale', 'nc']);

export function serializeAuth(a: AuthValue, credentials: boolean): string {
  const digest = a.scheme.toLowerCase() === 'digest';
  const parts: string[] = [];
  for (const [k, v] of a.params) {
    // qop is a quoted list in a challenge but a bare token in credentials (RFC 7616 §3.4).
    const bare = isToken(v) && (!digest || UNQUOTED.has(k) || (credentials && k === 'qop'));
    parts.push(`${k}=${bare ? v : quote(v)}`);
  }
  return clean(parts.length > 0 ? `${a.scheme} ${parts.join(', ')}` : a.scheme);
}

export function serializeContentType(c: ContentType): string {
  return clean(c.type + serializeParams(c.params));
}

/** Start line + typed headers + raw headers (without Content-Length), as header lines. */
export function headerLines(msg: SipMessage): string[] {
  const lines: string[] = [];
  lines.push(msg.kind === 'request' ? clean(`${msg.method} ${serializeUri(msg.uri)} SIP/2.0`) : `SIP/2.0 ${msg.status} ${clean(msg.reason)}`);
  for (const v of msg.via) lines.push('Via: ' + serializeVia(v));
  if (msg.maxForwards !== undefined) lines.push(`Max-Forwards: ${msg.maxForwards}`);
  for (const r of msg.route) lines.push('Route: ' + serializeNameAddr(r));
  for (const r of msg.recordRoute) lines.push('Record-Route: ' + serializeNameAddr(r));
  for (const r of msg.path) lines.push('Path: ' + serializeNameAddr(r));
  lines.push('From: ' + serializeNameAddr(msg.from));
  lines.push('To: ' + serializeNameAddr(msg.to));
  lines.push('Call-ID: ' + clean(msg.callId));
  lines.push(`CSeq: ${msg.cseq.seq} ${clean(msg.cseq.method)}`);
  if (msg.contact === '*') lines.push('Contact: *');
  else for (const c of msg.contact) lines.push('Contact: ' + serializeNameAddr(c));
  if (msg.expires !== undefined) lines.push(`Expires: ${msg.expires}`);
  if (msg.minExpires !== undefined) lines.push(`Min-Expires: ${msg.minExpires}`);
  if (msg.require.length > 0) lines.push('Require: ' + clean(msg.require.join(', ')));
  if (msg.proxyRequire.length > 0) lines.push('Proxy-Require: ' + clean(msg.proxyRequire.join(', ')));
  if (msg.supported.length > 0) lines.push('Supported: ' + clean(msg.supported.join(', ')));
  for (const a of msg.wwwAuthenticate) lines.push('WWW-Authenticate: ' + serializeAuth(a, false));
  for (const a of msg.proxyAuthenticate) lines.push('Proxy-Authenticate: ' + serializeAuth(a, false));
  for (const a of msg.authorization) lines.push('Authorization: ' + serializeAuth(a, true));
  for (const a of msg.proxyAuthorization) lines.push('Proxy-Authorization: ' + serializeAuth(a, true));
  if (msg.contentType !== undefined) lines.push('Content-Type: ' + serializeContentType(msg.contentType));
  for (const h of msg.headers) lines.push(`${clean(h.name)}: ${clean(h.value)}`);
  return lines;
}

export function serializeMessage(msg: SipMessage): Buffer {
  const lines = headerLines(msg);
  lines.push(`Content-Length: ${msg.body.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
  return msg.body.length === 0 ? head : Buffer.concat([head, msg.body]);
}
