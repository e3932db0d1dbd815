/**
 * Tone generation (PCM16, default 8 kHz) and Goertzel single-bin detection, used
 * for call-progress tones, DTMF in tests and codec verification.
 */

export const SAMPLE_RATE = 8000;

export interface ToneOptions {
  /** Peak amplitude per component, 0..32767 (default 8000 ≈ -12 dBFS). */
  amplitude?: number;
  sampleRate?: number;
  /** Sample index to start at, so consecutive frames stay phase-continuous. */
  startSample?: number;
}

/** Sine (or sum of sines) of `durationMs`; samples clipped to PCM16. */
export function generateTone(freqs: number | number[], durationMs: number, opts: ToneOptions = {}): Int16Array {
  const rate = opts.sampleRate ?? SAMPLE_RATE;
  const amp = opts.amplitude ?? 8000;
  const start = opts.startSample ?? 0;
  const list = Array.isArray(freqs) ? freqs : [freqs];
  const n = Math.round((durationMs * rate) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (const f of list) v += amp * Math.sin((2 * Math.PI * f * (start + i)) / rate);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return out;
}

/** DTMF row/column frequencies (ITU-T Q.23). */
export const DTMF_FREQS: Record<string, [number, number]> = {
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477], A: [697, 1633],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477], B: [770, 1633],
  '7': [852, 1209], '8': [852, 1336], '9': [852, 1477], C: [852, 1633],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477], D: [941, 1633],
};

/**
 * Goertzel power of `freq` in `pcm`, divided by N² so that a sine of peak
 * amplitude A at `freq` yields ≈ A²/4 whatever the block length.
 */
export function toneEnergy(pcm: Int16Array, freq: number, sampleRate = SAMPLE_RATE): number {
  const n = pcm.length;
  if (n === 0) return 0;
  const coeff = 2 * Math.cos((2 * Math.PI * freq) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = pcm[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return power / (n * n);
}

/** Mean signal power (A²/2 for a sine of peak A). */
export function signalPower(pcm: Int16Array): number {
  if (pcm.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < pcm.length; i++) sum += pcm[i] * pcm[i];
  return sum / pcm.length;
}

/**
 * The candidate frequency with the most Goertzel energy, or undefined when the
 * block is silent (all energies below `minEnergy`).
 */
export function dominantFrequency(
  pcm: Int16Array,
  candidates: number[],
  opts: { sampleRate?: number; minEnergy?: number } = {},
): number | undefined {
  const min = opts.minEnergy ?? 100;
  let best: number | undefined;
  let bestE = min;
  for (const f of candidates) {
    const e = toneEnergy(pcm, f, opts.sampleRate ?? SAMPLE_RATE);
    if (e > bestE) {
      bestE = e;
      best = f;
    }
  }
  return best;
}
