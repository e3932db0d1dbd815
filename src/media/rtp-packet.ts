/**
 * RTP fixed header parse/serialize (RFC 3550 §5.1) and RTP/RTCP demultiplexing
 * (RFC 5761 §4). Parsing never throws: short or malformed datagrams yield
 * `undefined` so a network handler can simply drop them.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                           timestamp                           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           synchronization source (SSRC) identifier            |
 *  +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *  |            contributing source (CSRC) identifiers             |
 *  |                             ....                              |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

export const RTP_HEADER_LENGTH = 12;

export interface RtpHeaderExtension {
  /** "defined by profile" 16-bit field (RFC 3550 §5.3.1). */
  profile: number;
  /** Extension body (length is a multiple of 4 bytes). */
  data: Buffer;
}

export interface RtpPacket {
  version: 2;
  /** Padding bit as received; `payload` already excludes the padding bytes. */
  padding: boolean;
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcs: number[];
  extension?: RtpHeaderExtension;
  payload: Buffer;
  /** Number of padding bytes stripped (last octet of the packet, RFC 3550 §5.1). */
  paddingLength: number;
}

/**
 * RFC 5761 §4: with RTP and RTCP on one port, a second octet (M+PT) in
 * 192..223 (i.e. PT 64..95 with M set, or RTCP packet types 192..223) means RTCP.
 * RTCP SR/RR/SDES/BYE/APP are 200..204.
 */
export function isRtcp(buf: Buffer): boolean {
  if (buf.length < 8) return false;
  if (buf[0] >> 6 !== 2) return false;
  const pt = buf[1];
  return pt >= 192 && pt <= 223;
}

/** True when `buf` looks like an RTP packet (version 2, not RTCP, header fits). */
export function isRtp(buf: Buffer): boolean {
  return buf.length >= RTP_HEADER_LENGTH && buf[0] >> 6 === 2 && !isRtcp(buf);
}

/** Parses an RTP packet; returns undefined for anything that is not valid RTP. */
export function parseRtp(buf: Buffer): RtpPacket | undefined {
  if (!isRtp(buf)) return undefined;
  const b0 = buf[0];
  const b1 = buf[1];
  const padding = (b0 & 0x20) !== 0;
  const hasExt = (b0 & 0x10) !== 0;
  const cc = b0 & 0x0f;
  let off = RTP_HEADER_LENGTH;
  if (buf.length < off + cc * 4) return undefined;
  const csrcs: number[] = [];
  for (let i = 0; i < cc; i++) {
    csrcs.push(buf.readUInt32BE(off));
    off += 4;
  }
  let extension: RtpHeaderExtension | undefined;
  if (hasExt) {
    if (buf.length < off + 4) return undefined;
    const profile = buf.readUInt16BE(off);
    const words = buf.readUInt16BE(off + 2);
    off += 4;
    if (buf.length < off + words * 4) return undefined;
    extension = { profile, data: Buffer.from(buf.subarray(off, off + words * 4)) };
    off += words * 4;
  }
  let end = buf.length;
  let paddingLength = 0;
  if (padding) {
    paddingLength = buf[buf.length - 1];
    // RFC 3550 §5.1: the count includes itself, so 0 is invalid.
    if (paddingLength === 0 || off + paddingLength > buf.length) return undefined;
    end -= paddingLength;
  }
  return {
    version: 2,
    padding,
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequenceNumber: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    csrcs,
    extension,
    payload: Buffer.from(buf.subarray(off, end)),
    paddingLength,
  };
}

export interface RtpPacketInit {
  marker?: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcs?: number[];
  extension?: RtpHeaderExtension;
  payload: Buffer;
  /** Bytes of padding to append (0..255); 0 = no padding bit. */
  paddingLength?: number;
}

/** Serializes an RTP packet. Out-of-range fields are masked to their width. */
export function serializeRtp(p: RtpPacketInit): Buffer {
  const csrcs = (p.csrcs ?? []).slice(0, 15);
  const extData = p.extension ? p.extension.data : undefined;
  const extWords = extData ? Math.ceil(extData.length / 4) : 0;
  const pad = Math.max(0, Math.min(255, p.paddingLength ?? 0));
  const len = RTP_HEADER_LENGTH + csrcs.length * 4 + (p.extension ? 4 + extWords * 4 : 0) + p.payload.length + pad;
  const out = Buffer.alloc(len);
  out[0] = 0x80 | (pad > 0 ? 0x20 : 0) | (p.extension ? 0x10 : 0) | csrcs.length;
  out[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  out.writeUInt16BE(p.sequenceNumber & 0xffff, 2);
  out.writeUInt32BE(p.timestamp >>> 0, 4);
  out.writeUInt32BE(p.ssrc >>> 0, 8);
  let off = RTP_HEADER_LENGTH;
  for (const c of csrcs) {
    out.writeUInt32BE(c >>> 0, off);
    off += 4;
  }
  if (p.extension && extData) {
    out.writeUInt16BE(p.extension.profile & 0xffff, off);
    out.writeUInt16BE(extWords, off + 2);
    off += 4;
    extData.copy(out, off);
    off += extWords * 4;
  }
  p.payload.copy(out, off);
  off += p.payload.length;
  if (pad > 0) out[len - 1] = pad;
  return out;
}

/** Offset of the payload in a valid RTP packet (header + CSRC + extension), or -1. */
export function rtpPayloadOffset(buf: Buffer): number {
  if (!isRtp(buf)) return -1;
  let off = RTP_HEADER_LENGTH + (buf[0] & 0x0f) * 4;
  if ((buf[0] & 0x10) !== 0) {
    if (buf.length < off + 4) return -1;
    off += 4 + buf.readUInt16BE(off + 2) * 4;
  }
  return off <= buf.length ? off : -1;
}
