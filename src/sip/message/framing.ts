/**
 * Message framing on stream transports (RFC 3261 §18.3): the header section ends
 * at the first CRLFCRLF, and Content-Length (mandatory on streams) gives the body
 * length. Also recognises RFC 5626 §4.4.1 keep-alives: CRLFCRLF "ping" and CRLF
 * "pong" between messages (§7.5 asks to ignore CRLFs before a start line).
 */
import { SipParseError } from './errors.ts';
import { DEFAULT_LIMITS } from './limits.ts';
import { trimWs } from './scan.ts';

export type FrameResult =
  /** A complete header section starts at `start`; the message occupies [start, end). Check buf.length >= end. */
  | { kind: 'message'; start: number; headerEnd: number; contentLength: number; end: number }
  /** A CRLFCRLF ping (reply with CRLF) or a lone CRLF (pong) occupying [offset, end). */
  | { kind: 'ping' | 'pong'; end: number }
  /** Not enough bytes yet to know. */
  | 'need-more'
  /** The stream cannot be framed (close the connection): missing/bad Content-Length, too large. */
  | SipParseError;

const CRLF_CRLF = Buffer.from('\r\n\r\n');

/**
 * Frames the next message of a stream buffer starting at `offset`.
 * `headerEnd` is the index just after the CRLFCRLF; `end = headerEnd + contentLength`.
 */
export function findMessageEnd(buf: Buffer, offset: number, maxMessageSize = DEFAULT_LIMITS.maxMessageSize): FrameResult {
  const avail = buf.length - offset;
  if (avail <= 0) return 'need-more';
  if (buf[offset] === 13) {
    if (avail < 2) return 'need-more';
    if (buf[offset + 1] !== 10) return new SipParseError('bad line ending');
    if (avail < 4) return avail === 2 ? { kind: 'pong', end: offset + 2 } : 'need-more';
    if (buf[offset + 2] === 13 && buf[offset + 3] === 10) return { kind: 'ping', end: offset + 4 };
    return { kind: 'pong', end: offset + 2 };
  }
  const idx = buf.indexOf(CRLF_CRLF, offset);
  if (idx < 0) {
    return avail > maxMessageSize ? new SipParseError('message too large', 413) : 'need-more';
  }
  const headerEnd = idx + 4;
  if (headerEnd - offset > maxMessageSize) return new SipParseError('message too large', 413);
  // Find Content-Length / l among the header lines (folded continuation lines included).
  const head = buf.toString('latin1', offset, idx);
  const lines = head.split('\r\n');
  let found: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    const colon = l.indexOf(':');
    if (colon < 0) continue;
    const name = trimWs(l.slice(0, colon)).toLowerCase();
    if (name !== 'content-length' && name !== 'l') continue;
    let v = l.slice(colon + 1);
    while (i + 1 < lines.length && (lines[i + 1].startsWith(' ') || lines[i + 1].startsWith('\t'))) v += lines[++i];
    if (found !== undefined) return new SipParseError('multiple Content-Length headers');
    found = trimWs(v);
  }
  if (found === undefined) return new SipParseError('missing Content-Length');
  if (!/^[0-9]{1,10}$/.test(found)) return new SipParseError('bad Content-Length');
  const contentLength = Number(found);
  if (headerEnd - offset + contentLength > maxMessageSize) return new SipParseError('message too large', 413);
  return { kind: 'message', start: offset, headerEnd, contentLength, end: headerEnd + contentLength };
}
