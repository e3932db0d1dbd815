/**
 * ITU-T G.711 µ-law and A-law companding (the reference algorithm, as in the
 * Sun g711.c / ITU G.191 STL), with precomputed tables:
 * - decode tables: 256 entries byte → PCM16
 * - encode: computed per sample (cheap bit arithmetic)
 * - direct µ-law ↔ A-law byte tables for transcoding without a PCM round trip
 *   (ITU-T G.711 Tables 3 and 4 are equivalent to decode-then-encode).
 */

const BIAS = 0x84; // µ-law bias (132), G.711 §3
const CLIP = 32635;

/** A-law segment end points on the 13-bit magnitude (Sun g711.c seg_aend). */
const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

function alawSegment(val: number): number {
  for (let i = 0; i < 8; i++) if (val <= SEG_AEND[i]) return i;
  return 8;
}

/** Encodes one linear PCM16 sample to a µ-law byte. */
export function linearToUlaw(sample: number): number {
  let pcm = Math.max(-32768, Math.min(32767, Math.trunc(sample)));
  const mask = pcm < 0 ? 0x7f : 0xff;
  if (pcm < 0) pcm = -pcm;
  if (pcm > CLIP) pcm = CLIP;
  pcm += BIAS;
  // Exponent = position of the highest set bit among bits 14..7 (0 below that).
  let exp = 7;
  for (let m = 0x4000; (pcm & m) === 0 && exp > 0; m >>= 1) exp--;
  const mantissa = (pcm >> (exp + 3)) & 0x0f;
  return ((exp << 4) | mantissa) ^ mask;
}

/** Decodes a µ-law byte to a linear PCM16 sample. */
export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  let t = ((u & 0x0f) << 3) + BIAS;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? BIAS - t : t - BIAS;
}

/** Encodes one linear PCM16 sample to an A-law byte. */
export function linearToAlaw(sample: number): number {
  let pcm = Math.max(-32768, Math.min(32767, Math.trunc(sample))) >> 3; // 13-bit
  let mask: number;
  if (pcm >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  const seg = alawSegment(pcm);
  if (seg >= 8) return 0x7f ^ mask;
  let aval = seg << 4;
  aval |= seg < 2 ? (pcm >> 1) & 0x0f : (pcm >> seg) & 0x0f;
  return aval ^ mask;
}

/** Decodes an A-law byte to a linear PCM16 sample. */
export function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else {
    t += 0x108;
    t <<= seg - 1;
  }
  return a & 0x80 ? t : -t;
}

function buildTable(fn: (b: number) => number): Int16Array {
  const t = new Int16Array(256);
  for (let i = 0; i < 256; i++) t[i] = fn(i);
  return t;
}

/** byte → PCM16 for µ-law. */
export const ULAW_DECODE: Int16Array = buildTable(ulawToLinear);
/** byte → PCM16 for A-law. */
export const ALAW_DECODE: Int16Array = buildTable(alawToLinear);

function buildXcode(decode: Int16Array, encode: (s: number) => number): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = encode(decode[i]);
  return t;
}

/** µ-law byte → A-law byte. */
export const ULAW_TO_ALAW: Uint8Array = buildXcode(ULAW_DECODE, linearToAlaw);
/** A-law byte → µ-law byte. */
export const ALAW_TO_ULAW: Uint8Array = buildXcode(ALAW_DECODE, linearToUlaw);

/** Transcodes a µ-law payload to A-law (new buffer). */
export function ulawToAlaw(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = ULAW_TO_ALAW[payload[i]];
  return out;
}

/** Transcodes an A-law payload to µ-law (new buffer). */
export function alawToUlaw(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = ALAW_TO_ULAW[payload[i]];
  return out;
}

/** Encodes PCM16 samples to µ-law bytes. */
export function encodeUlaw(pcm: Int16Array): Buffer {
  const out = Buffer.allocUnsafe(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = linearToUlaw(pcm[i]);
  return out;
}

/** Encodes PCM16 samples to A-law bytes. */
export function encodeAlaw(pcm: Int16Array): Buffer {
  const out = Buffer.allocUnsafe(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = linearToAlaw(pcm[i]);
  return out;
}

/** Decodes µ-law bytes to PCM16 samples. */
export function decodeUlaw(payload: Buffer): Int16Array {
  const out = new Int16Array(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = ULAW_DECODE[payload[i]];
  return out;
}

/** Decodes A-law bytes to PCM16 samples. */
export function decodeAlaw(payload: Buffer): Int16Array {
  const out = new Int16Array(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = ALAW_DECODE[payload[i]];
  return out;
}
