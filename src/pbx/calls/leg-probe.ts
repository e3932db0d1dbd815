/**
 * Liveness probe of an answered call's dialogs: an in-dialog OPTIONS on each leg
 * every interval (RFC 3261 §11: OPTIONS may be sent within a dialog; §12.2.1.2: a
 * 481 or 408 to an in-dialog request ends the dialog). A B2BUA holds media ports
 * for both legs, so it must not depend on a BYE ever arriving: a BYE can be lost
 * for good (seen under overload: the kernel dropped the caller's BYE and SIPp took
 * our retransmitted 2xx to the INVITE for the 200 to its BYE).
 *
 *              start()
 *                 |
 *                 V        interval elapsed: OPTIONS to every leg still up
 *           +-----------+ -------------------------------> +---------+
 *           |  waiting  |                                   | probing |
 *           +-----------+ <------------------------------- +---------+
 *                 |         every leg answered (any other        |
 *          stop() |         final response: the dialog lives)    | 481 / 408 (real or Timer F) /
 *                 V                                              | our 503 (transport): onGone(leg)
 *           +-----------+ <--------------------------------------+
 *           |  stopped  |            (also stop() while probing)
 *           +-----------+
 *
 * NOTE: RFC 4028 session timers do this with re-INVITE/UPDATE when both peers
 * support them; the OPTIONS probe needs nothing from the peers but an answer.
 */
import type { Clock, TimerHandle } from '../../sip/clock.ts';
import type { Dialog } from '../../sip/dialog/dialog.ts';
import type { Endpoint, SipResponse } from '../../sip/message/types.ts';
import type { TransactionLayer } from '../../sip/transaction/layer.ts';
import { isSynthetic } from '../../sip/transaction/messages.ts';
import type { LegName } from '../../media/relay.ts';
import { CallError } from './errors.ts';

export type LegProbeState = 'idle' | 'waiting' | 'probing' | 'stopped';

const EDGES: Record<LegProbeState, readonly LegProbeState[]> = {
  idle: ['waiting', 'stopped'],
  waiting: ['probing', 'stopped'],
  probing: ['waiting', 'stopped'],
  stopped: [],
};

export interface ProbedLeg {
  leg: LegName;
  dialog: Dialog;
  target: Endpoint;
}

export interface LegProbeOptions {
  clock: Clock;
  layer: TransactionLayer;
  intervalMs: number;
  /** The legs whose dialog is up, asked at each round. */
  legs(): ProbedLeg[];
  /** A leg answered 481/408 or could not be reached; its dialog is already terminated. */
  onGone(leg: LegName, status: number): void;
  /** A probe could not be sent (diagnostics). */
  onError(err: unknown, leg: LegName): void;
}

/** True when a final response to an in-dialog request says the dialog is gone (§12.2.1.2). */
export function dialogGone(res: SipResponse): boolean {
  return res.status === 481 || res.status === 408 || (res.status === 503 && isSynthetic(res));
}

export class LegProbe {
  private current: LegProbeState = 'idle';
  private timer: TimerHandle | undefined;
  private pending = 0;

  constructor(private readonly opts: LegProbeOptions) {}

  get state(): LegProbeState {
    return this.current;
  }

  start(): void {
    if (this.current === 'idle') this.transition('waiting');
  }

  stop(): void {
    if (this.current !== 'stopped') this.transition('stopped');
  }

  /** The only place the state changes and the interval timer starts or stops. */
  private transition(to: LegProbeState): void {
    if (!EDGES[this.current].includes(to)) throw new CallError('CALL_STATE', `probe ${this.current} -> ${to}`);
    this.current = to;
    this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
    if (to === 'waiting') this.timer = this.opts.clock.setTimer(this.opts.intervalMs, () => this.transition('probing'));
    if (to === 'probing') this.sendRound();
  }

  private sendRound(): void {
    this.pending = 0;
    for (const p of this.opts.legs()) {
      if (p.dialog.state === 'terminated') continue;
      try {
        const options = p.dialog.createRequest('OPTIONS');
        this.opts.layer.request(options, p.target, { onResponse: (res) => this.onResponse(p, res) });
        this.pending++;
      } catch (err) {
        this.opts.onError(err, p.leg);
      }
    }
    if (this.pending === 0) this.transition('waiting');
  }

  private onResponse(p: ProbedLeg, res: SipResponse): void {
    if (res.status < 200 || this.current !== 'probing') return;
    this.pending--;
    if (dialogGone(res)) {
      p.dialog.terminate(); // no BYE to a leg that is gone
      this.transition('stopped');
      this.opts.onGone(p.leg, res.status);
      return;
    }
    // Any other answer, even 405/501, proves the dialog is alive.
    if (this.pending === 0) this.transition('waiting');
  }
}
