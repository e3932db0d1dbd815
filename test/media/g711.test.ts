import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALAW_TO_ULAW, ULAW_TO_ALAW, alawToLinear, alawToUlaw, decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw,
  linearToAlaw, linearToUlaw, ulawToAlaw, ulawToLinear,
} from '../../src/media/g711.ts';
import { generateTone, signalPower } from '../../src/media/tone.ts';

describe('G.711 (ITU-T G.711)', () => {
  it('MUST produce the reference values for silence and full scale', () => {
    assert.equal(linearToUlaw(0), 0xff);
    assert.equal(ulawToLinear(0xff), 0);
    assert.equal(ulawToLinear(0x7f), 0);
    assert.equal(ulawToLinear(0x00), -32124);
    assert.equal(ulawToLinear(0x80), 32124);
    assert.equal(linearToUlaw(32767), 0x80);
    assert.equal(linearToUlaw(-32768), 0x00);
    assert.equal(linearToAlaw(0), 0xd5);
    assert.equal(alawToLinear(0xd5), 8);
    assert.equal(alawToLinear(0x55), -8);
    assert.equal(alawToLinear(0xaa), 32256);
    assert.equal(alawToLinear(0x2a), -32256);
    assert.equal(linearToAlaw(32767), 0xaa);
  });

  it('MUST reproduce every code word after decode then encode', () => {
    for (let b = 0; b < 256; b++) {
      if (b !== 0x7f) assert.equal(linearToUlaw(ulawToLinear(b)), b, `µ-law ${b}`); // 0x7f is µ-law "negative zero"
      assert.equal(linearToAlaw(alawToLinear(b)), b, `A-law ${b}`);
    }
  });

  it('MUST keep the round-trip error within the quantisation step of each segment', () => {
    for (let x = -32768; x < 32768; x++) {
      const a = Math.abs(x);
      const eu = Math.abs(x - ulawToLinear(linearToUlaw(x)));
      const ea = Math.abs(x - alawToLinear(linearToAlaw(x)));
      // 4-bit mantissa: half a step is at most 1/32 of the value, plus the small-signal step.
      assert.ok(eu <= a / 16 + 8 || a > 32635, `µ-law ${x} err ${eu}`);
      assert.ok(ea <= a / 16 + 8 || a > 32256, `A-law ${x} err ${ea}`);
    }
  });

  it('MUST encode a 1 kHz tone with more than 30 dB SNR in both laws', () => {
    const pcm = generateTone(1000, 100, { amplitude: 10000 });
    for (const [enc, dec] of [[encodeUlaw, decodeUlaw], [encodeAlaw, decodeAlaw]] as const) {
      const back = dec(enc(pcm));
      const noise = new Int16Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) noise[i] = pcm[i] - back[i];
      const snr = 10 * Math.log10(signalPower(pcm) / signalPower(noise));
      assert.ok(snr > 30, `SNR ${snr.toFixed(1)} dB`);
    }
  });

  it('MUST transcode µ-law ↔ A-law byte-wise to the nearest code of the other law', () => {
    for (let b = 0; b < 256; b++) {
      assert.equal(ULAW_TO_ALAW[b], linearToAlaw(ulawToLinear(b)));
      assert.equal(ALAW_TO_ULAW[b], linearToUlaw(alawToLinear(b)));
      const v = ulawToLinear(b);
      assert.ok(Math.abs(v - alawToLinear(ULAW_TO_ALAW[b])) <= Math.abs(v) / 16 + 8);
    }
    const payload = Buffer.from([0xff, 0x80, 0x00, 0x7f]);
    assert.deepEqual([...ulawToAlaw(payload)], [...payload].map((b) => ULAW_TO_ALAW[b]));
    // µ → A → µ stays within one step of the original.
    for (const b of alawToUlaw(ulawToAlaw(payload)).keys()) {
      const orig = ulawToLinear(payload[b]);
      const back = ulawToLinear(alawToUlaw(ulawToAlaw(payload))[b]);
      assert.ok(Math.abs(orig - back) <= Math.abs(orig) / 16 + 8, `${orig} vs ${back}`);
    }
  });
});
