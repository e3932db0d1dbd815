/**
 * One call of a SimPhone, either direction. Events: `ringing` (a 18x arrived),
 * `answered`, `ended` (reason: 'bye' | 'cancelled' | 'failed' | 'local'),
 * `reinvite` (the peer changed the session, e.g. hold).
 */
import { EventEmitter } from 'node:events';
import type { Dialog } from '../../sip/dialog/dialog.ts';
import type { Uas2xxRetransmitter } from '../../sip/dialog/uas-2xx-retransmit.ts';
import type { SipResponse } from '../../sip/message/types.ts';
import type { ClientTransaction, ServerTransaction } from '../../sip/transaction/types.ts';
import { dominantFrequency } from '../../media/tone.ts';
import { answerDirection, parseAudio, type Direction, type G711Codec } from '../../media/sdp.ts';
import type { RtpAudio } from './rtp-audio.ts';
import { ptOf } from './sdp.ts';

export type SimCallState = 'calling' | 'ringing' | 'answered' | 'ended';

export interface SimCallEvents {
  ringing: [res: SipResponse];
  answered: [];
  ended: [reason: 'bye' | 'cancelled' | 'failed' | 'local'];
  reinvite: [direction: Direction];
}

/** What a call asks of its phone (kept narrow so SimCall stays transport-free). */
export interface SimCallHost {
  answer(call: SimCall): void;
  reject(call: SimCall, status: number): void;
  hangup(call: SimCall): void;
  reoffer(call: SimCall, direction: Direction): Promise<number>;
}

export class SimCall extends EventEmitter<SimCallEvents> {
  state: SimCallState = 'calling';
  dialog: Dialog | undefined;
  /** Final status of an outgoing INVITE (or of our answer to an incoming one). */
  finalStatus: number | undefined;
  /** Reason header of a CANCEL we received (RFC 3326). */
  cancelReason: string | undefined;
  /** Remote direction from the last SDP received. */
  remoteDirection: Direction = 'sendrecv';
  inviteTx: ServerTransaction | ClientTransaction | undefined;
  retransmitter: Uas2xxRetransmitter | undefined;
  /** Why the call ended, once it has. */
  endReason: SimCallEvents['ended'][0] | undefined;
  /** The peer's offer (incoming calls). */
  offer: string | undefined;

  constructor(
    readonly direction: 'in' | 'out',
    readonly callId: string,
    readonly audio: RtpAudio,
    private readonly host: SimCallHost,
    readonly codecs: readonly G711Codec[],
  ) {
    super();
  }

  answer(): void {
    this.host.answer(this);
  }
  reject(status = 486): void {
    this.host.reject(this, status);
  }
  hangup(): void {
    this.host.hangup(this);
  }
  /** re-INVITE with a=sendonly (RFC 3264 §8.4). Resolves with the final status. */
  hold(): Promise<number> {
    return this.host.reoffer(this, 'sendonly');
  }
  resume(): Promise<number> {
    return this.host.reoffer(this, 'sendrecv');
  }
  sendTone(freq: number, ms: number): Promise<void> {
    return this.audio.sendTone(freq, ms);
  }
  /** Dominant frequency of everything received (Goertzel over the candidates). */
  heardFrequency(candidates: number[]): number | undefined {
    return dominantFrequency(this.audio.received(), candidates);
  }

  /** Applies a remote SDP (offer or answer): where to send, which codec. Returns the remote's direction. */
  applyRemote(sdp: string): Direction {
    const a = parseAudio(sdp);
    this.audio.remote = { address: a.address, port: a.port };
    const pick = a.codecs.find((c) => this.codecs.includes(c.name.toUpperCase() as G711Codec));
    if (pick) {
      this.audio.codec = pick.name.toUpperCase() as G711Codec;
      this.audio.pt = pick.pt;
    }
    this.remoteDirection = a.effectiveDirection;
    return a.effectiveDirection;
  }

  /** The direction we answer an offer of `offered` with (RFC 3264 §6.1). */
  static answerTo(offered: Direction): Direction {
    return answerDirection(offered);
  }

  /** Codec our answer uses: first of the offer we support. */
  answerCodecs(): G711Codec[] {
    return [this.audio.codec];
  }

  ptFor(c: G711Codec): number {
    return ptOf(c);
  }

  setState(s: SimCallState): void {
    if (this.state === 'ended') return;
    this.state = s;
  }

  end(reason: SimCallEvents['ended'][0]): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endReason = reason;
    this.retransmitter?.stop();
    this.dialog?.terminate();
    this.audio.close();
    this.emit('ended', reason);
  }
}
