/**
 * Message framing on stream transports (RFC 3261 §18.3) with RFC 5626 §4.4.1
 * CRLF keep-alives.
 *
 * On a stream the Content-Length header is the only way to find where a message
 * ends, so it is mandatory (§18.3, §20.14). Between messages a peer may send a
 * double CRLF "ping"; the receiver answers with a single CRLF "pong". A lone CRLF
 * before a message is ignored (§7.5), which also covers pongs.
 *
 * The framer is pure (bytes in, frames out) so it can be tested byte by byte.
 */

export type FrameFault = 'missing-content-length' | 'bad-content-length' | 'too-large';

export type Frame =
  | { kind: 'message'; data: Buffer }
  | { kind: 'ping' }
  | { kind: 'pong' }
  /**
   * The stream can no longer be framed; the connection must be closed. `head` holds
   * the header block when one was read, so a 400 can still be attempted.
   */
  | { kind: 'error'; fault: FrameFault; head?: Buffer };

const CR = 0x0d;
const LF = 0x0a;
const HEADER_END = Buffer.from('\r\n\r\n');
/** Content-Length values with more digits than this are refused before Number(). */
const MAX_LENGTH_DIGITS = 9;

export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** Offset from which to keep searching for the end of the header block. */
  private scanFrom = 0;
  private failed = false;

  constructor(private readonly maxMessageSize: number) {}

  /** Bytes held while waiting for the rest of a message. */
  get buffered(): number {
    return this.buf.length;
  }

  /**
   * Feeds a chunk and returns the complete frames it finishes. `awaitingPong` says a
   * ping of ours is outstanding, so a lone CRLF is a pong rather than half a ping.
   * After an 'error' frame the framer ignores all further input.
   */
  push(chunk: Buffer, awaitingPong = false): Frame[] {
    if (this.failed) return [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    for (;;) {
      const step = this.next(awaitingPong);
      if (!step) break;
      out.push(step);
      if (step.kind === 'pong') awaitingPong = false;
      if (step.kind === 'error') {
        this.failed = true;
        this.buf = Buffer.alloc(0);
        break;
      }
    }
    return out;
  }

  private consume(n: number): void {
    this.buf = this.buf.subarray(n);
    this.scanFrom = 0;
  }

  private next(awaitingPong: boolean): Frame | undefined {
    const b = this.buf;
    if (b.length === 0) return undefined;
    // Keep-alives and stray line ends live only between messages (scanFrom === 0).
    if (this.scanFrom === 0 && (b[0] === CR || b[0] === LF)) {
      if (b[0] === LF) {
        this.consume(1); // bare LF between messages: tolerated like CRLF (§7.5 robustness)
        return this.next(awaitingPong);
      }
      if (b.length < 2) return undefined;
      if (b[1] !== LF) {
        this.consume(1);
        return this.next(awaitingPong);
      }
      if (b.length >= 4 && b[2] === CR && b[3] === LF) {
        this.consume(4);
        return { kind: 'ping' };
      }
      // A lone CRLF: a pong when we are waiting for one, or when what follows cannot
      // complete a ping; otherwise wait for two more bytes to tell.
      if (awaitingPong || (b.length >= 3 && b[2] !== CR)) {
        this.consume(2);
        return { kind: 'pong' };
      }
      if (b.length >= 4) {
        // "\r\n\r" followed by something other than LF: the CRLF was a pong.
        this.consume(2);
        return { kind: 'pong' };
      }
      return undefined;
    }
    const idx = b.indexOf(HEADER_END, Math.max(0, this.scanFrom - 3));
    if (idx < 0) {
      this.scanFrom = Math.max(1, b.length);
      if (b.length > this.maxMessageSize) return { kind: 'error', fault: 'too-large' };
      return undefined;
    }
    this.scanFrom = idx + 1; // non-zero: we are inside a message
    const headEnd = idx + HEADER_END.length;
    const head = b.subarray(0, headEnd);
    const length = contentLength(head);
    if (length === 'missing') return { kind: 'error', fault: 'missing-content-length', head: Buffer.from(head) };
    if (length === 'bad') return { kind: 'error', fault: 'bad-content-length', head: Buffer.from(head) };
    if (headEnd + length > this.maxMessageSize) return { kind: 'error', fault: 'too-large', head: Buffer.from(head) };
    if (b.length < headEnd + length) return undefined;
    const data = Buffer.from(b.subarray(0, headEnd + length));
    this.consume(headEnd + length);
    return { kind: 'message', data };
  }
}

/** Reads Content-Length (or compact `l`, §7.3.3) from a header block, unfolding LWS (§7.3.1). */
export function contentLength(head: Buffer): number | 'missing' | 'bad' {
  const lines = head.toString('latin1').replace(/\r\n[ \t]+/g, ' ').split('\r\n');
  let found: number | undefined;
  for (let i = 1; i < lines.length; i++) {
    const m = /^(content-length|l)[ \t]*:(.*)$/i.exec(lines[i]);
    if (!m) continue;
    const v = m[2].trim();
    if (!/^\d+$/.test(v) || v.length > MAX_LENGTH_DIGITS) return 'bad';
    const n = Number(v);
    // Two different lengths leave the end of the message ambiguous (request smuggling).
    if (found !== undefined && found !== n) return 'bad';
    found = n;
  }
  return found === undefined ? 'missing' : found;
}
