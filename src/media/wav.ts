/**
 * Minimal RIFF/WAVE reader and writer for mono 16-bit little-endian PCM
 * (the format baresip/linphone/sox use for test audio at 8 kHz).
 */
import { SpacephoneError } from '../util/errors.ts';

export class WavFormatError extends SpacephoneError {
  readonly code = 'WAV_FORMAT';
}

export interface WavAudio {
  sampleRate: number;
  samples: Int16Array;
}

/** Writes mono S16LE PCM as a canonical 44-byte-header WAV file. */
export function writeWav(samples: Int16Array, sampleRate = 8000): Buffer {
  const dataLen = samples.length * 2;
  const out = Buffer.alloc(44 + dataLen);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataLen, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28); // byte rate
  out.writeUInt16LE(2, 32); // block align
  out.writeUInt16LE(16, 34); // bits per sample
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataLen, 40);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], 44 + i * 2);
  return out;
}

/**
 * Reads a mono S16LE WAV; skips unknown chunks (LIST, fact ...). Throws
 * WavFormatError for anything else (stereo, 8-bit, float, truncated header).
 */
export function readWav(buf: Buffer): WavAudio {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new WavFormatError('not a RIFF/WAVE file');
  }
  let off = 12;
  let sampleRate: number | undefined;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw new WavFormatError('truncated fmt chunk');
      const format = buf.readUInt16LE(body);
      const channels = buf.readUInt16LE(body + 2);
      const bits = buf.readUInt16LE(body + 14);
      // WAVE_FORMAT_EXTENSIBLE (0xfffe) with PCM subformat is accepted as PCM.
      if ((format !== 1 && format !== 0xfffe) || channels !== 1 || bits !== 16) {
        throw new WavFormatError(`unsupported WAV format ${format}, ${channels} ch, ${bits} bit`);
      }
      sampleRate = buf.readUInt32LE(body + 4);
    } else if (id === 'data') {
      if (sampleRate === undefined) throw new WavFormatError('data chunk before fmt chunk');
      const len = Math.min(size, buf.length - body) & ~1;
      const samples = new Int16Array(len / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(body + i * 2);
      return { sampleRate, samples };
    }
    off = body + size + (size & 1); // chunks are word-aligned
  }
  throw new WavFormatError('no data chunk');
}
