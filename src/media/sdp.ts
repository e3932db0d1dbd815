/**
 * SDP offer/answer helpers for a B2BUA that anchors media (RFC 3264, RFC 4566).
 *
 * Leg A sends us an offer; we send leg B a rewritten offer (our relay address,
 * only the G.711 codecs and telephone-event we can relay, no ICE/SRTP/DTLS);
 * B answers; we build the answer for A from A's offer and B's answer.
 *
 *   A --offer(A)--> [B2BUA] --rewriteOffer--> B
 *   A <--answer---- [B2BUA] <--answer(B)----- B
 *                 negotiateAnswer(offer(A), answer(B))
 *
 * NOTE: only the first audio m= line is anchored; every other m= line is
 * disabled with port 0 (RFC 3264 §6, §8.2 keep the m= count stable).
 */
import sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { SpacephoneError } from '../util/errors.ts';

export type G711Codec = 'PCMU' | 'PCMA';
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export class SdpError extends SpacephoneError {
  constructor(
    /** All but SDP_INVALID mean "answer 488 Not Acceptable Here" (RFC 3261 §21.4.26). */
    readonly code: 'SDP_INVALID' | 'SDP_NO_COMMON_CODEC' | 'SDP_UNSUPPORTED_TRANSPORT',
    message: string,
  ) {
    super(message);
  }
}

export interface SdpCodec {
  name: string;
  pt: number;
  rate: number;
}

/** What one audio m= line says (after session-level defaults are applied). */
export interface AudioDescription {
  /** Remote RTP address (c= of the media, else session); '0.0.0.0' = RFC 2543 hold. */
  address: string;
  port: number;
  /** a=rtcp port, else port + 1 (RFC 3605). */
  rtcpPort: number;
  protocol: string;
  /** Formats in preference order (static PT 0/8 resolved without a=rtpmap). */
  codecs: SdpCodec[];
  /** PT of telephone-event/8000, if offered. */
  telephoneEvent?: number;
  /** a=fmtp of telephone-event (events supported, e.g. "0-16"). */
  telephoneEventFmtp?: string;
  /** Direction as written (media level, else session level, else sendrecv). */
  direction: Direction;
  /** Effective direction: c=0.0.0.0 removes "recv" (RFC 3264 §8.4, RFC 2543 hold). */
  effectiveDirection: Direction;
  /** True when the sender puts us on hold (sendonly, inactive or c=0.0.0.0). */
  onHold: boolean;
  ptime?: number;
}

const STATIC_PT: Record<number, SdpCodec> = {
  0: { name: 'PCMU', pt: 0, rate: 8000 },
  8: { name: 'PCMA', pt: 8, rate: 8000 },
};

function parseSdp(sdp: string): SessionDescription {
  let s: SessionDescription;
  try {
    s = sdpTransform.parse(sdp);
  } catch (err) {
    throw new SdpError('SDP_INVALID', `unparseable SDP: ${String(err)}`);
  }
  if (!s || !Array.isArray(s.media)) throw new SdpError('SDP_INVALID', 'SDP has no media');
  return s;
}

function audioIndex(s: SessionDescription): number {
  return s.media.findIndex((m) => m.type === 'audio');
}

function codecsOf(m: MediaDescription): SdpCodec[] {
  const pts = String(m.payloads ?? '')
    .split(/\s+/)
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
  const out: SdpCodec[] = [];
  for (const pt of pts) {
    const map = (m.rtp ?? []).find((r) => r.payload === pt);
    if (map) out.push({ name: map.codec, pt, rate: map.rate ?? 8000 });
    else if (STATIC_PT[pt]) out.push(STATIC_PT[pt]);
  }
  return out;
}

function removeRecv(d: Direction): Direction {
  if (d === 'sendrecv') return 'sendonly';
  if (d === 'recvonly') return 'inactive';
  return d;
}

function describe(s: SessionDescription, m: MediaDescription): AudioDescription {
  const address = m.connection?.ip ?? s.connection?.ip;
  if (!address) throw new SdpError('SDP_INVALID', 'audio stream has no c= line');
  const codecs = codecsOf(m);
  const te = codecs.find((c) => c.name.toLowerCase() === 'telephone-event' && c.rate === 8000);
  const direction: Direction = m.direction ?? s.direction ?? 'sendrecv';
  const hold0 = address === '0.0.0.0' || address === '::';
  const effectiveDirection = hold0 ? removeRecv(direction) : direction;
  return {
    address,
    port: m.port,
    rtcpPort: m.rtcp?.port ?? m.port + 1,
    protocol: m.protocol,
    codecs,
    telephoneEvent: te?.pt,
    telephoneEventFmtp: te ? (m.fmtp ?? []).find((f) => f.payload === te.pt)?.config : undefined,
    direction,
    effectiveDirection,
    onHold: effectiveDirection === 'sendonly' || effectiveDirection === 'inactive',
    ptime: m.ptime,
  };
}

/** Parses the first audio stream of an SDP body. Throws SdpError('SDP_INVALID'). */
export function parseAudio(sdp: string): AudioDescription {
  const s = parseSdp(sdp);
  const i = audioIndex(s);
  if (i < 0) throw new SdpError('SDP_INVALID', 'SDP has no audio stream');
  return describe(s, s.media[i]);
}

/** Direction a re-INVITE's SDP asks for (hold detection for the B2BUA). */
export function holdState(sdp: string): { direction: Direction; onHold: boolean } {
  const a = parseAudio(sdp);
  return { direction: a.effectiveDirection, onHold: a.onHold };
}

/** The direction an answerer uses in reply to an offered one (RFC 3264 §6.1). */
export function answerDirection(offered: Direction): Direction {
  if (offered === 'sendonly') return 'recvonly';
  if (offered === 'recvonly') return 'sendonly';
  return offered;
}

/**
 * Our o= line on one leg: a fixed session id and a version that increases only
 * when the SDP we send on that leg changes (RFC 3264 §8: "the version MUST be
 * incremented by one" for a changed description, kept for an identical one).
 */
export class SdpOrigin {
  readonly sessionId: string;
  private version: number;
  private lastBody: string | undefined;

  constructor(
    readonly address: string,
    readonly username = 'spacephone',
  ) {
    // Session id: NTP-ish number, unique enough per leg (RFC 4566 §5.2).
    this.sessionId = String(Math.floor(Date.now() / 1000) * 1000 + Math.floor(Math.random() * 1000));
    this.version = Math.floor(Math.random() * 1000);
  }

  get currentVersion(): number {
    return this.version;
  }

  /** Version to put in o= for `body` (the SDP without its o= line). */
  stamp(body: string): number {
    if (this.lastBody !== undefined && this.lastBody !== body) this.version++;
    this.lastBody = body;
    return this.version;
  }
}

/** Our media endpoint on one leg plus its o= state. */
export interface SdpLeg {
  address: string;
  port: number;
  origin: SdpOrigin;
}

function ipVer(address: string): number {
  return address.includes(':') ? 6 : 4;
}

function buildSdp(leg: SdpLeg, media: MediaDescription[]): string {
  const session: SessionDescription = {
    version: 0,
    origin: { username: leg.origin.username, sessionId: leg.origin.sessionId, sessionVersion: 0, netType: 'IN', ipVer: ipVer(leg.origin.address), address: leg.origin.address },
    name: 'spacephone',
    connection: { version: ipVer(leg.address), ip: leg.address },
    timing: { start: 0, stop: 0 },
    media,
  };
  // Written once with version 0 (the key SdpOrigin compares), then only the o=
  // line's version is patched in: sdp-transform's writer is the costliest part of
  // a call's SDP work (regex formatting, ~50 KiB of garbage per write).
  const bodyKey = sdpTransform.write(session);
  const version = leg.origin.stamp(bodyKey);
  const zero = `o=${leg.origin.username} ${leg.origin.sessionId} 0 `;
  return bodyKey.replace(zero, () => `o=${leg.origin.username} ${leg.origin.sessionId} ${version} `);
}

/** A disabled copy of an m= line we do not anchor (port 0, RFC 3264 §6 / §8.2). */
function disabled(m: MediaDescription): MediaDescription {
  return { type: m.type, port: 0, protocol: m.protocol, payloads: m.payloads, rtp: [], fmtp: [] };
}

function audioMedia(
  leg: SdpLeg,
  codecs: SdpCodec[],
  direction: Direction,
  extra: { ptime?: number; eventFmtp?: string; protocol?: string } = {},
): MediaDescription {
  const m: MediaDescription = {
    type: 'audio',
    port: leg.port,
    protocol: extra.protocol ?? 'RTP/AVP',
    payloads: codecs.map((c) => c.pt).join(' '),
    rtp: codecs.map((c) => ({ payload: c.pt, codec: c.name, rate: c.rate })),
    // Events are relayed as they are, so the sender's event list is passed on (RFC 4733 §2.4.1).
    fmtp: codecs.filter((c) => c.name === 'telephone-event').map((c) => ({ payload: c.pt, config: extra.eventFmtp ?? '0-16' })),
    direction,
  };
  if (extra.ptime) m.ptime = extra.ptime;
  return m;
}

export interface RewriteOptions {
  /** G.711 codecs we may offer, in our preference (default PCMU, PCMA). */
  codecs?: G711Codec[];
  /** Add the other G.711 law when the offer has only one, so B may pick it and we transcode (default true). */
  transcode?: boolean;
}

export interface RewrittenOffer {
  /** The SDP to send on the other leg. */
  sdp: string;
  /** The original offer's audio stream. */
  offer: AudioDescription;
  /** Formats we offered, in order. */
  codecs: SdpCodec[];
}

function isG711(name: string): name is G711Codec {
  return name === 'PCMU' || name === 'PCMA';
}

/**
 * Plain RTP only: an answer must keep the offer's transport (RFC 3264 §6), and
 * we cannot terminate SRTP (RTP/SAVP, SAVPF, DTLS), so such offers get a 488.
 * SDES a=crypto inside RTP/AVP ("best effort SRTP") is simply dropped.
 */
function checkTransport(d: AudioDescription): void {
  const p = d.protocol.toUpperCase();
  if (p !== 'RTP/AVP' && p !== 'RTP/AVPF') {
    throw new SdpError('SDP_UNSUPPORTED_TRANSPORT', `unsupported media transport ${d.protocol}`);
  }
}

/**
 * Rewrites an offer from one leg into the offer we send on the other leg.
 * Throws SdpError SDP_NO_COMMON_CODEC when the offer has no G.711 (→ 488).
 */
export function rewriteOffer(offerSdp: string, leg: SdpLeg, opts: RewriteOptions = {}): RewrittenOffer {
  const { s, ai, offer, codecs } = acceptOffer(offerSdp, opts);
  // The direction passes through unchanged: we relay, so B sees what A asked for.
  const extra = { ptime: offer.ptime, eventFmtp: offer.telephoneEventFmtp };
  const media = s.media.map((m, i) => (i === ai ? audioMedia(leg, codecs, offer.direction, extra) : disabled(m)));
  return { sdp: buildSdp(leg, media), offer, codecs };
}

/**
 * The checks of rewriteOffer without building an SDP: throws the same SdpError
 * (SDP_INVALID, SDP_NO_COMMON_CODEC ...) for an offer rewriteOffer would refuse.
 * For validating an INVITE before any media is allocated.
 */
export function checkOffer(offerSdp: string, opts: RewriteOptions = {}): AudioDescription {
  return acceptOffer(offerSdp, opts).offer;
}

function acceptOffer(offerSdp: string, opts: RewriteOptions): { s: SessionDescription; ai: number; offer: AudioDescription; codecs: SdpCodec[] } {
  const allowed = opts.codecs ?? ['PCMU', 'PCMA'];
  const s = parseSdp(offerSdp);
  const ai = audioIndex(s);
  if (ai < 0) throw new SdpError('SDP_NO_COMMON_CODEC', 'offer has no audio stream');
  const offer = describe(s, s.media[ai]);
  checkTransport(offer);
  const codecs: SdpCodec[] = [];
  for (const c of offer.codecs) {
    const name = c.name.toUpperCase();
    if (isG711(name) && allowed.includes(name) && c.rate === 8000 && !codecs.some((x) => x.name === name)) {
      codecs.push({ name, pt: c.pt, rate: 8000 });
    }
  }
  if (offer.port === 0 || codecs.length === 0) {
    throw new SdpError('SDP_NO_COMMON_CODEC', `no supported codec in offer (${offer.codecs.map((c) => c.name).join(',') || 'none'})`);
  }
  if (opts.transcode ?? true) {
    for (const name of allowed) {
      if (!codecs.some((c) => c.name === name)) codecs.push({ name, pt: name === 'PCMU' ? 0 : 8, rate: 8000 });
    }
  }
  if (offer.telephoneEvent !== undefined) codecs.push({ name: 'telephone-event', pt: offer.telephoneEvent, rate: 8000 });
  return { s, ai, offer, codecs };
}

/**
 * One leg's media parameters after offer/answer. Structurally a RelayLegMedia:
 * pass it to `MediaRelay.configure()` as is.
 */
export interface NegotiatedLeg {
  /** Where the endpoint wants its RTP (SDP; the relay may latch elsewhere). */
  remote: { address: string; port: number; rtcpPort: number };
  codec: G711Codec;
  /** PT to send the codec with to this endpoint. */
  pt: number;
  /** PT of telephone-event on this leg; undefined unless both legs support it. */
  telephoneEvent?: number;
  /**
   * PTs this endpoint sends with when they differ from `pt`/`telephoneEvent`: an
   * answerer sends with the numbers of the offer it got (RFC 3264 §6.1), which
   * need not be those of its answer.
   */
  recvPt?: number;
  recvTelephoneEvent?: number;
  /** This endpoint's direction as it declared it (after c=0.0.0.0 correction). */
  direction: Direction;
}

export interface Negotiation {
  /** The answer we send back to the offerer. */
  sdp: string;
  /** The leg that sent the original offer (leg A for an INVITE from A; B for B's re-INVITE). */
  offerer: NegotiatedLeg;
  /** The leg that received our rewritten offer and answered it. */
  answerer: NegotiatedLeg;
  /** True when A and B use different G.711 laws and the relay transcodes. */
  transcode: boolean;
}

/**
 * RFC 3264 §6: picks the codec from B's answer and builds the answer for A.
 * `answerSdp` must answer the offer that `rewriteOffer(offerSdp, …)` produced
 * with the same options (its PT numbers are derived again here).
 * The first codec of B's answer that A offered wins; if A offered none of them
 * but both sides have a G.711 law, the first of each is used and the relay
 * transcodes. Throws SdpError SDP_NO_COMMON_CODEC otherwise (→ 488 on leg A).
 */
export function negotiateAnswer(offerSdp: string, answerSdp: string, legA: SdpLeg, opts: RewriteOptions = {}): Negotiation {
  const so = parseSdp(offerSdp);
  const oi = audioIndex(so);
  if (oi < 0) throw new SdpError('SDP_NO_COMMON_CODEC', 'offer has no audio stream');
  const offer = describe(so, so.media[oi]);
  checkTransport(offer);
  const answer = parseAudio(answerSdp);
  // The PTs B was offered, i.e. the ones B sends with (A's numbers, static 0/8 for added laws).
  const ourOffer = rewriteOffer(offerSdp, { address: legA.address, port: 1, origin: new SdpOrigin(legA.address) }, opts).codecs;
  if (answer.port === 0) throw new SdpError('SDP_NO_COMMON_CODEC', 'answer rejected the audio stream');
  const g711 = (list: SdpCodec[]): SdpCodec[] =>
    list.filter((c) => isG711(c.name.toUpperCase()) && c.rate === 8000).map((c) => ({ ...c, name: c.name.toUpperCase() }));
  const offered = g711(offer.codecs);
  const answered = g711(answer.codecs);
  let pickB: SdpCodec | undefined;
  let pickA: SdpCodec | undefined;
  for (const c of answered) {
    const match = offered.find((o) => o.name === c.name);
    if (match) {
      pickB = c;
      pickA = match;
      break;
    }
  }
  if (!pickB && answered.length > 0 && offered.length > 0) {
    pickB = answered[0];
    pickA = offered[0];
  }
  if (!pickA || !pickB) {
    throw new SdpError('SDP_NO_COMMON_CODEC', 'no G.711 codec common to both legs');
  }
  const te = offer.telephoneEvent !== undefined && answer.telephoneEvent !== undefined;
  const answerCodecs: SdpCodec[] = [pickA];
  if (te && offer.telephoneEvent !== undefined) answerCodecs.push({ name: 'telephone-event', pt: offer.telephoneEvent, rate: 8000 });
  // We relay, so A's answer carries B's (corrected) direction.
  const extra = { ptime: answer.ptime, eventFmtp: offer.telephoneEventFmtp, protocol: offer.protocol };
  const media = so.media.map((m, i) => (i === oi ? audioMedia(legA, answerCodecs, answer.effectiveDirection, extra) : disabled(m)));
  const offeredToB = ourOffer.find((c) => c.name === pickB?.name)?.pt;
  return {
    sdp: buildSdp(legA, media),
    offerer: {
      remote: { address: offer.address, port: offer.port, rtcpPort: offer.rtcpPort },
      codec: pickA.name as G711Codec,
      pt: pickA.pt,
      telephoneEvent: te ? offer.telephoneEvent : undefined,
      direction: offer.effectiveDirection,
    },
    answerer: {
      remote: { address: answer.address, port: answer.port, rtcpPort: answer.rtcpPort },
      codec: pickB.name as G711Codec,
      pt: pickB.pt,
      telephoneEvent: te ? answer.telephoneEvent : undefined,
      recvPt: offeredToB !== undefined && offeredToB !== pickB.pt ? offeredToB : undefined,
      recvTelephoneEvent: te && offer.telephoneEvent !== answer.telephoneEvent ? offer.telephoneEvent : undefined,
      direction: answer.effectiveDirection,
    },
    transcode: pickA.name !== pickB.name,
  };
}
