/**
 * Overload protection for a node. A SIP server that accepts more new work than it
 * can finish answers late; UDP clients then retransmit (RFC 3261 §17.1.2.2), which
 * adds load, and throughput collapses. Instead, while the event loop lags, new
 * work is refused early with 503 + Retry-After (RFC 3261 §21.5.4; RFC 6357 §4
 * calls this "local overload control").
 *
 * The signal is event-loop lag, sampled by a timer on the injected clock: a timer
 * due every `sampleMs` that fires `d` ms late measures `d` ms of lag. The lag is
 * smoothed (EWMA) and compared with two thresholds (hysteresis):
 *
 *        lag > enterLagMs
 *   ok ------------------> overloaded
 *      <------------------
 *        lag < exitLagMs
 */
import type { Clock, TimerHandle } from '../sip/clock.ts';
import type { SipRequest } from '../sip/message/types.ts';

/** Where the lag comes from: the sampler below, or a test's fake. */
export interface LagSource {
  /** Smoothed event-loop lag in ms. */
  lagMs(): number;
  close(): void;
}

/** Samples timer lateness on the clock; EWMA with weight 1/4 per sample. */
export class LoopLagSampler implements LagSource {
  private smoothed = 0;
  private timer: TimerHandle | undefined;
  private expected = 0;
  private closed = false;

  constructor(private readonly clock: Clock, private readonly sampleMs: number) {
    this.arm();
  }

  lagMs(): number {
    return this.smoothed;
  }

  close(): void {
    this.closed = true;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.closed) return;
    this.expected = this.clock.now() + this.sampleMs;
    this.timer = this.clock.setTimer(this.sampleMs, () => {
      const late = Math.max(0, this.clock.now() - this.expected);
      this.smoothed += (late - this.smoothed) / 4;
      this.arm();
    });
  }
}

export interface OverloadOptions {
  source: LagSource;
  enterLagMs: number;
  exitLagMs: number;
  retryAfterSec: number;
  /** Called on every state change (for logs and metrics). */
  onChange?: (overloaded: boolean, lagMs: number) => void;
}

export type OverloadState = 'ok' | 'overloaded';

export class OverloadGuard {
  private current: OverloadState = 'ok';
  /** Requests refused since start (metrics). */
  rejected = 0;

  constructor(private readonly opts: OverloadOptions) {
    if (opts.exitLagMs > opts.enterLagMs) throw new RangeError('exitLagMs must be <= enterLagMs');
  }

  get retryAfterSec(): number {
    return this.opts.retryAfterSec;
  }

  /** Reads the lag and applies the hysteresis; returns the state. */
  state(): OverloadState {
    const lag = this.opts.source.lagMs();
    if (this.current === 'ok' && lag > this.opts.enterLagMs) this.transition('overloaded', lag);
    else if (this.current === 'overloaded' && lag < this.opts.exitLagMs) this.transition('ok', lag);
    return this.current;
  }

  /**
   * Should this request be refused with 503? Only new work is: REGISTER and INVITE
   * outside a dialog that answer no challenge. A request with credentials
   * continues a handshake whose first half we already paid for; in-dialog
   * requests, ACK, CANCEL, BYE and OPTIONS end or keep up existing work.
   */
  shouldReject(req: SipRequest): boolean {
    if (req.method !== 'REGISTER' && req.method !== 'INVITE') return false;
    if (req.to.params.has('tag')) return false;
    if (req.authorization.length > 0 || req.proxyAuthorization.length > 0) return false;
    if (this.state() !== 'overloaded') return false;
    this.rejected++;
    return true;
  }

  close(): void {
    this.opts.source.close();
  }

  private transition(to: OverloadState, lag: number): void {
    if (to === this.current) return;
    this.current = to;
    this.opts.onChange?.(to === 'overloaded', lag);
  }
}
