import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DTMF_FREQS, dominantFrequency, generateTone, toneEnergy } from '../../src/media/tone.ts';
import { WavFormatError, readWav, writeWav } from '../../src/media/wav.ts';

describe('tone generator and Goertzel detector', () => {
  it('MUST generate the requested number of samples at 8 kHz within amplitude', () => {
    const t = generateTone(440, 20, { amplitude: 1000 });
    assert.equal(t.length, 160);
    assert.ok(Math.max(...t) <= 1000 && Math.max(...t) >= 990);
  });

  it('MUST find the dominant frequency among candidates', () => {
    const cands = [350, 440, 480, 620, 1000, 1400];
    for (const f of cands) assert.equal(dominantFrequency(generateTone(f, 50), cands), f);
    assert.equal(dominantFrequency(new Int16Array(400), cands), undefined);
  });

  it('MUST measure ≈A²/4 at the tone frequency and far less off it', () => {
    const pcm = generateTone(1000, 100, { amplitude: 8000 });
    const on = toneEnergy(pcm, 1000);
    assert.ok(Math.abs(on - 8000 ** 2 / 4) / (8000 ** 2 / 4) < 0.05, String(on));
    assert.ok(toneEnergy(pcm, 1400) < on / 1000);
  });

  it('MUST detect both DTMF frequencies of a dual tone', () => {
    const [row, col] = DTMF_FREQS['5'];
    const pcm = generateTone([row, col], 60);
    assert.equal(dominantFrequency(pcm, [697, 770, 852, 941]), row);
    assert.equal(dominantFrequency(pcm, [1209, 1336, 1477, 1633]), col);
  });

  it('MUST keep phase across frames with startSample', () => {
    const whole = generateTone(700, 40);
    const second = generateTone(700, 20, { startSample: 160 });
    assert.deepEqual([...second], [...whole.subarray(160)]);
  });
});

describe('WAV 8 kHz mono S16LE', () => {
  it('MUST write a canonical 44-byte header and read it back', () => {
    const pcm = generateTone(1000, 10);
    const wav = writeWav(pcm);
    assert.equal(wav.length, 44 + pcm.length * 2);
    assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
    assert.equal(wav.readUInt32LE(24), 8000);
    const back = readWav(wav);
    assert.equal(back.sampleRate, 8000);
    assert.deepEqual([...back.samples], [...pcm]);
  });

  it('MUST skip unknown chunks before data', () => {
    const pcm = Int16Array.from([1, -2, 3]);
    const wav = writeWav(pcm);
    const list = Buffer.alloc(8 + 3 + 1);
    list.write('LIST', 0, 'ascii');
    list.writeUInt32LE(3, 4);
    const withList = Buffer.concat([wav.subarray(0, 36), list, wav.subarray(36)]);
    assert.deepEqual([...readWav(withList).samples], [1, -2, 3]);
  });

  it('MUST reject stereo, non-PCM and non-WAV input with WAV_FORMAT', () => {
    const stereo = writeWav(Int16Array.from([0, 0]));
    stereo.writeUInt16LE(2, 22);
    for (const bad of [stereo, Buffer.from('RIFX....WAVE'), Buffer.alloc(3)]) {
      assert.throws(() => readWav(bad), (e: unknown) => e instanceof WavFormatError && e.code === 'WAV_FORMAT');
    }
  });
});
