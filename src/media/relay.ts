/**
 * Two-leg RTP/RTCP relay for a B2BUA call (RFC 3550 translator-like forwarding:
 * SSRC, sequence numbers and timestamps pass unchanged; PT is rewritten and the
 * payload transcoded when the legs use different G.711 laws).
 *
 *   phone A  <-- RTP/RTCP -->  [leg a sockets] relay [leg b sockets]  <-- RTP/RTCP -->  phone B
 *
 * Symmetric RTP latching (RFC 4961 symmetric RTP; common SBC practice for NAT):
 *  - Before any packet arrives on a leg, we send to the SDP address (if usable).
 *  - The first valid RTP packet (version 2, parseable, a PT negotiated on that leg)
 *    latches the leg: from then on we send to its source address:port, and packets
 *    from any other source are dropped (no media hijack by a third party).
 *  - Re-latch: a different source takes over only after the latched source has been
 *    silent for `relatchAfterMs` (default 3000; 0 = never), e.g. a NAT rebinding.
 *    `configure()` with a new remote (re-INVITE) clears the latch.
 *  - With `strictSourceAddress` the source IP must equal the SDP IP (trunks that are
 *    not behind NAT); the port may still differ.
 *  - RTCP latches the same way on the RTCP socket; until then RTCP is sent to the
 *    latched RTP address with port + 1, else to the SDP RTCP port.
 *
 * Hold: a direction A→B is forwarded only if A's direction allows sending and B's
 * allows receiving (RFC 3264 §5.1 sendonly/recvonly/inactive).
 */
import { EventEmitter } from 'node:events';
import type { RemoteInfo } from 'node:dgram';
import { isRtcp, parseRtp, rtpPayloadOffset } from './rtp-packet.ts';
import { ALAW_TO_ULAW, ULAW_TO_ALAW } from './g711.ts';
import { DtmfDetector, type DetectedDigit } from './dtmf.ts';
import type { PortPool, RtpSocketPair } from './port-pool.ts';
import type { Direction } from './sdp.ts';

export type LegName = 'a' | 'b';

export interface RtpEndpoint {
  address: string;
  port: number;
  /** Defaults to port + 1. */
  rtcpPort?: number;
}

export interface RelayLegMedia {
  /** Remote from SDP; undefined or port 0 / 0.0.0.0 = wait for latching. */
  remote?: RtpEndpoint;
  /** Audio codec on this leg (PCMU/PCMA transcode; other names pass through only to the same name). */
  codec: string;
  /** PT used for the codec on this leg (sent to it, and accepted from it). */
  pt: number;
  /** PT of telephone-event on this leg; undefined = events are dropped. */
  telephoneEvent?: number;
  /** Extra PTs the endpoint may send with for the codec/events (offerer's numbers, RFC 3264 §6.1). */
  recvPt?: number;
  recvTelephoneEvent?: number;
  direction: Direction;
}

export interface LegCounters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  rtcpIn: number;
  rtcpOut: number;
  /** Packets dropped: garbage, unknown PT, wrong source, hold, no destination. */
  dropped: number;
}

export interface RelayEvents {
  dtmf: [leg: LegName, digit: DetectedDigit];
  latch: [leg: LegName, kind: 'rtp' | 'rtcp', source: { address: string; port: number }];
}

export interface MediaRelayOptions {
  /** Local bind address per leg (e.g. public address for a, internal for b). */
  addressA: string;
  addressB?: string;
  relatchAfterMs?: number;
  strictSourceAddress?: boolean;
  /** Time source for the re-latch rule (injectable for tests). */
  clock?: { now(): number };
}

function freshCounters(): LegCounters {
  return { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, rtcpIn: 0, rtcpOut: 0, dropped: 0 };
}

function canSend(d: Direction): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}
function canRecv(d: Direction): boolean {
  return d === 'sendrecv' || d === 'recvonly';
}
function usable(ep: RtpEndpoint | undefined): ep is RtpEndpoint {
  return !!ep && ep.port > 0 && ep.address !== '0.0.0.0' && ep.address !== '::';
}

interface Latch {
  address: string;
  port: number;
  lastSeen: number;
}

class Leg {
  media: RelayLegMedia | undefined;
  rtpLatch: Latch | undefined;
  rtcpLatch: Latch | undefined;
  readonly counters = freshCounters();
  readonly dtmf: DtmfDetector;

  constructor(
    readonly name: LegName,
    readonly sockets: RtpSocketPair,
    onDigit: (d: DetectedDigit) => void,
  ) {
    this.dtmf = new DtmfDetector(onDigit);
  }

  rtpDestination(): { address: string; port: number } | undefined {
    if (this.rtpLatch) return this.rtpLatch;
    const r = this.media?.remote;
    return usable(r) ? { address: r.address, port: r.port } : undefined;
  }

  rtcpDestination(): { address: string; port: number } | undefined {
    if (this.rtcpLatch) return this.rtcpLatch;
    if (this.rtpLatch) return { address: this.rtpLatch.address, port: this.rtpLatch.port + 1 };
    const r = this.media?.remote;
    return usable(r) ? { address: r.address, port: r.rtcpPort ?? r.port + 1 } : undefined;
  }
}

export class MediaRelay extends EventEmitter<RelayEvents> {
  private readonly legs: Record<LegName, Leg>;
  private readonly relatchAfterMs: number;
  private readonly strict: boolean;
  private readonly clock: { now(): number };
  private isClosed = false;

  /** Allocates both legs' socket pairs from `pool`; releases them if the second fails. */
  static async create(pool: PortPool, opts: MediaRelayOptions): Promise<MediaRelay> {
    const a = await pool.allocate(opts.addressA);
    let b: RtpSocketPair;
    try {
      b = await pool.allocate(opts.addressB ?? opts.addressA);
    } catch (err) {
      a.close();
      throw err;
    }
    return new MediaRelay(a, b, opts);
  }

  constructor(a: RtpSocketPair, b: RtpSocketPair, opts: Omit<MediaRelayOptions, 'addressA' | 'addressB'> = {}) {
    super();
    this.relatchAfterMs = opts.relatchAfterMs ?? 3000;
    this.strict = opts.strictSourceAddress ?? false;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.legs = {
      a: new Leg('a', a, (d) => this.emit('dtmf', 'a', d)),
      b: new Leg('b', b, (d) => this.emit('dtmf', 'b', d)),
    };
    for (const leg of [this.legs.a, this.legs.b]) {
      const other = leg === this.legs.a ? this.legs.b : this.legs.a;
      leg.sockets.rtp.on('message', (msg, rinfo) => this.onRtp(leg, other, msg, rinfo));
      leg.sockets.rtcp.on('message', (msg, rinfo) => this.onRtcp(leg, other, msg, rinfo));
    }
  }

  /** Local RTP/RTCP endpoint of a leg (what goes into that leg's SDP). */
  local(leg: LegName): { address: string; rtpPort: number; rtcpPort: number } {
    const s = this.legs[leg].sockets;
    return { address: s.address, rtpPort: s.rtpPort, rtcpPort: s.rtcpPort };
  }

  /**
   * Sets a leg's negotiated media (after an answer or re-INVITE). A changed remote
   * address clears that leg's latch, so the new SDP address is used until media flows.
   */
  configure(leg: LegName, media: RelayLegMedia): void {
    if (this.isClosed) return;
    const l = this.legs[leg];
    const old = l.media?.remote;
    const neu = media.remote;
    if (!old || !neu || old.address !== neu.address || old.port !== neu.port) {
      l.rtpLatch = undefined;
      l.rtcpLatch = undefined;
    }
    // One literal, every key in one order: the per-packet path reads this object, so
    // every leg's media keeps one hidden class (a spread of the caller's object would
    // copy its shape, or add `remote` after the fact when it was absent).
    const r = media.remote;
    l.media = {
      remote: r ? { address: r.address, port: r.port, rtcpPort: r.rtcpPort } : undefined,
      codec: media.codec,
      pt: media.pt,
      telephoneEvent: media.telephoneEvent,
      recvPt: media.recvPt,
      recvTelephoneEvent: media.recvTelephoneEvent,
      direction: media.direction,
    };
  }

  /** Changes only the direction of a leg (hold/resume). */
  setDirection(leg: LegName, direction: Direction): void {
    const m = this.legs[leg].media;
    if (m) m.direction = direction;
  }

  /** Where a leg's RTP goes now (latched source or SDP address). */
  destination(leg: LegName): { address: string; port: number } | undefined {
    const d = this.legs[leg].rtpDestination();
    return d ? { address: d.address, port: d.port } : undefined;
  }

  counters(leg: LegName): LegCounters {
    return { ...this.legs[leg].counters };
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Closes both legs' sockets and returns their ports. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const leg of [this.legs.a, this.legs.b]) {
      leg.sockets.rtp.removeAllListeners('message');
      leg.sockets.rtcp.removeAllListeners('message');
      leg.sockets.close();
    }
    this.removeAllListeners();
  }

  /** Latching rule (see file comment). Returns false when the packet must be dropped. */
  private acceptSource(leg: Leg, kind: 'rtp' | 'rtcp', rinfo: RemoteInfo): boolean {
    const now = this.clock.now();
    const latch = kind === 'rtp' ? leg.rtpLatch : leg.rtcpLatch;
    if (latch && latch.address === rinfo.address && latch.port === rinfo.port) {
      latch.lastSeen = now;
      return true;
    }
    if (this.strict) {
      const r = leg.media?.remote;
      if (!usable(r) || r.address !== rinfo.address) return false;
    }
    if (latch && (this.relatchAfterMs <= 0 || now - latch.lastSeen < this.relatchAfterMs)) return false;
    const fresh = { address: rinfo.address, port: rinfo.port, lastSeen: now };
    if (kind === 'rtp') leg.rtpLatch = fresh;
    else leg.rtcpLatch = fresh;
    this.emit('latch', leg.name, kind, { address: rinfo.address, port: rinfo.port });
    return true;
  }

  private onRtp(leg: Leg, other: Leg, msg: Buffer, rinfo: RemoteInfo): void {
    if (this.isClosed) return;
    try {
      this.forwardRtp(leg, other, msg, rinfo);
    } catch {
      // Hostile input must never escape a socket handler.
      leg.counters.dropped++;
    }
  }

  private forwardRtp(leg: Leg, other: Leg, msg: Buffer, rinfo: RemoteInfo): void {
    const inM = leg.media;
    const outM = other.media;
    // Symmetric RTP on one port (RFC 5761): RTCP arriving on the RTP socket is handled as RTCP.
    if (isRtcp(msg)) {
      this.onRtcp(leg, other, msg, rinfo);
      return;
    }
    const pkt = parseRtp(msg);
    if (!pkt || !inM) {
      leg.counters.dropped++;
      return;
    }
    const pt = pkt.payloadType;
    const isAudio = pt === inM.pt || (inM.recvPt !== undefined && pt === inM.recvPt);
    const isEvent = inM.telephoneEvent !== undefined && (pt === inM.telephoneEvent || pt === inM.recvTelephoneEvent);
    if (!isAudio && !isEvent) {
      leg.counters.dropped++;
      return;
    }
    if (!this.acceptSource(leg, 'rtp', rinfo)) {
      leg.counters.dropped++;
      return;
    }
    leg.counters.packetsIn++;
    leg.counters.bytesIn += msg.length;
    if (isEvent) leg.dtmf.push(pkt.ssrc, pkt.timestamp, pkt.payload);
    if (!outM || !canSend(inM.direction) || !canRecv(outM.direction)) {
      leg.counters.dropped++;
      return;
    }
    const dest = other.rtpDestination();
    if (!dest) {
      leg.counters.dropped++;
      return;
    }
    const out = Buffer.from(msg);
    if (isEvent) {
      if (outM.telephoneEvent === undefined) {
        leg.counters.dropped++;
        return;
      }
      out[1] = (out[1] & 0x80) | (outM.telephoneEvent & 0x7f);
    } else {
      let table: Uint8Array | undefined;
      if (inM.codec !== outM.codec) {
        if (inM.codec === 'PCMU' && outM.codec === 'PCMA') table = ULAW_TO_ALAW;
        else if (inM.codec === 'PCMA' && outM.codec === 'PCMU') table = ALAW_TO_ULAW;
        else {
          leg.counters.dropped++;
          return;
        }
      }
      out[1] = (out[1] & 0x80) | (outM.pt & 0x7f);
      if (table) {
        // Offset from the original: the rewritten PT byte could look like RTCP (RFC 5761 §4).
        const start = rtpPayloadOffset(msg);
        const end = out.length - pkt.paddingLength;
        for (let i = start; i < end; i++) out[i] = table[out[i]];
      }
    }
    other.counters.packetsOut++;
    other.counters.bytesOut += out.length;
    other.sockets.rtp.send(out, dest.port, dest.address);
  }

  private onRtcp(leg: Leg, other: Leg, msg: Buffer, rinfo: RemoteInfo): void {
    if (this.isClosed) return;
    try {
      // RTCP passes unchanged: SSRCs are kept end to end, so reports stay meaningful.
      if (!isRtcp(msg) || !leg.media || !other.media) {
        leg.counters.dropped++;
        return;
      }
      if (!this.acceptSource(leg, 'rtcp', rinfo)) {
        leg.counters.dropped++;
        return;
      }
      leg.counters.rtcpIn++;
      const dest = other.rtcpDestination();
      if (!dest) return;
      other.counters.rtcpOut++;
      other.sockets.rtcp.send(msg, dest.port, dest.address);
    } catch {
      leg.counters.dropped++;
    }
  }
}

/** Alias: the same two-leg bridge under the name used in DESIGN.md. */
export { MediaRelay as RtpBridge };
