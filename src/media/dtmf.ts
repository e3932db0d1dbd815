/**
 * RFC 4733 telephone-event payload (§2.3) and a digit detector.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |     event     |E|R| volume    |          duration             |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * All packets of one event carry the same RTP timestamp (the event start,
 * §2.5.1.2); the final packet (E bit) is sent three times (§2.5.1.4). The
 * detector keys events on (SSRC, timestamp) and reports each digit once.
 */

export interface TelephoneEvent {
  /** Event code, 0..255 (DTMF: 0-9, 10 '*', 11 '#', 12-15 A-D, 16 flash; §3.2). */
  event: number;
  end: boolean;
  /** Power level in -dBm0, 0..63 (§2.3.4). */
  volume: number;
  /** Duration in timestamp units (§2.3.5). */
  duration: number;
}

const DIGITS = '0123456789*#ABCD';

/** Maps a DTMF event code to its character ('!' for flash, §3.2); undefined for others. */
export function eventToDigit(event: number): string | undefined {
  if (event >= 0 && event < 16) return DIGITS[event];
  if (event === 16) return '!';
  return undefined;
}

/** Maps a DTMF character to its event code; undefined when not a DTMF symbol. */
export function digitToEvent(digit: string): number | undefined {
  if (digit === '!') return 16;
  const i = DIGITS.indexOf(digit.toUpperCase());
  return digit.length === 1 && i >= 0 ? i : undefined;
}

/** Decodes a telephone-event payload; undefined when shorter than 4 bytes. */
export function decodeTelephoneEvent(payload: Buffer): TelephoneEvent | undefined {
  if (payload.length < 4) return undefined;
  return {
    event: payload[0],
    end: (payload[1] & 0x80) !== 0,
    volume: payload[1] & 0x3f,
    duration: payload.readUInt16BE(2),
  };
}

/** Encodes a telephone-event payload (R bit always 0, §2.3.3). */
export function encodeTelephoneEvent(e: TelephoneEvent): Buffer {
  const out = Buffer.alloc(4);
  out[0] = e.event & 0xff;
  out[1] = (e.end ? 0x80 : 0) | (Math.max(0, Math.min(63, e.volume)) & 0x3f);
  out.writeUInt16BE(Math.max(0, Math.min(0xffff, e.duration)), 2);
  return out;
}

export interface DetectedDigit {
  digit: string;
  event: number;
  /** Duration in timestamp units (last value seen). */
  duration: number;
  ssrc: number;
  timestamp: number;
  /** False when the event ended without an E-bit packet (superseded / flushed). */
  ended: boolean;
}

/**
 * Turns a stream of telephone-event packets into digits. A digit is reported once,
 * on the first end packet (retransmitted ends are ignored), or when a new event
 * starts before the previous one ended (lost end packets, §2.5.2.1), or on flush().
 */
export class DtmfDetector {
  private current: { key: string; ssrc: number; timestamp: number; event: number; duration: number } | undefined;
  /** Keys of recently finished events, so late end retransmissions are ignored. */
  private readonly finished: string[] = [];

  constructor(private readonly onDigit: (d: DetectedDigit) => void) {}

  /** Feeds one RTP packet already known to be telephone-event. */
  push(ssrc: number, timestamp: number, payload: Buffer): void {
    const ev = decodeTelephoneEvent(payload);
    if (!ev) return;
    const key = `${ssrc >>> 0}:${timestamp >>> 0}`;
    if (this.finished.includes(key)) return;
    if (this.current && this.current.key !== key) this.finish(false);
    if (!this.current) this.current = { key, ssrc, timestamp, event: ev.event, duration: ev.duration };
    this.current.duration = Math.max(this.current.duration, ev.duration);
    if (ev.end) this.finish(true);
  }

  /** Reports an event still in progress (e.g. at stream end). */
  flush(): void {
    if (this.current) this.finish(false);
  }

  private finish(ended: boolean): void {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    this.finished.push(c.key);
    if (this.finished.length > 16) this.finished.shift();
    const digit = eventToDigit(c.event);
    if (digit === undefined) return;
    this.onDigit({ digit, event: c.event, duration: c.duration, ssrc: c.ssrc, timestamp: c.timestamp, ended });
  }
}
