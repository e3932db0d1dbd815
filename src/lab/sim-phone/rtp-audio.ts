/**
 * The media side of a simulated phone: one RTP socket pair from a PortPool,
 * sending a tone as G.711 RTP (20 ms frames, RFC 3551 §4.5.14) and recording the
 * audio it receives (decoded by PT: 0 = PCMU, 8 = PCMA) so a test can check with
 * Goertzel which frequency the other side sent.
 */
import { randomInt } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw } from '../../media/g711.ts';
import type { PortPool, RtpSocketPair } from '../../media/port-pool.ts';
import { parseRtp, serializeRtp } from '../../media/rtp-packet.ts';
import type { G711Codec } from '../../media/sdp.ts';
import { generateTone } from '../../media/tone.ts';

const FRAME = 160; // 20 ms at 8 kHz

export class RtpAudio {
  remote: { address: string; port: number } | undefined;
  codec: G711Codec = 'PCMU';
  pt = 0;
  private readonly chunks: Int16Array[] = [];
  private seq = randomInt(0, 0xffff);
  private ts = randomInt(0, 0x7fffffff);
  private readonly ssrc = randomInt(1, 0x7fffffff);
  private sending: NodeJS.Timeout | undefined;
  packetsIn = 0;

  private constructor(private readonly pair: RtpSocketPair) {
    pair.rtp.on('message', (msg: Buffer, _r: RemoteInfo) => this.onPacket(msg));
  }

  static async open(pool: PortPool, address: string): Promise<RtpAudio> {
    return new RtpAudio(await pool.allocate(address));
  }

  get address(): string {
    return this.pair.address;
  }
  get port(): number {
    return this.pair.rtpPort;
  }

  /** Sends `freq` Hz for `ms` as RTP, a frame every `paceMs` (faster than real time is fine for tests). */
  sendTone(freq: number, ms: number, paceMs = 5): Promise<void> {
    this.stopSending();
    const frames = Math.ceil(ms / 20);
    let i = 0;
    return new Promise((resolve) => {
      const tick = (): void => {
        if (i >= frames || this.pair.closed) {
          this.stopSending();
          resolve();
          return;
        }
        this.sendFrame(generateTone(freq, 20, { startSample: i * FRAME }));
        i++;
      };
      this.sending = setInterval(tick, paceMs);
    });
  }

  private sendFrame(pcm: Int16Array): void {
    const r = this.remote;
    if (!r || r.port === 0) return;
    const payload = this.codec === 'PCMU' ? encodeUlaw(pcm) : encodeAlaw(pcm);
    const pkt = serializeRtp({ payloadType: this.pt, sequenceNumber: this.seq, timestamp: this.ts, ssrc: this.ssrc, payload });
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + FRAME) >>> 0;
    this.pair.rtp.send(pkt, r.port, r.address);
  }

  private onPacket(msg: Buffer): void {
    const p = parseRtp(msg);
    if (!p) return;
    if (p.payloadType === 0) this.chunks.push(decodeUlaw(p.payload));
    else if (p.payloadType === 8) this.chunks.push(decodeAlaw(p.payload));
    else return;
    this.packetsIn++;
  }

  /** Everything received so far, concatenated. */
  received(): Int16Array {
    const n = this.chunks.reduce((s, c) => s + c.length, 0);
    const out = new Int16Array(n);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  clearReceived(): void {
    this.chunks.length = 0;
    this.packetsIn = 0;
  }

  private stopSending(): void {
    if (this.sending) clearInterval(this.sending);
    this.sending = undefined;
  }

  close(): void {
    this.stopSending();
    this.pair.close();
  }
}
