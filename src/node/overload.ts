/**
 * Overload protection for a node. A SIP server that accepts more new work than it
 * can finish answers late; UDP clients then retransmit (RFC 3261 §17.1.2.2), which
 * adds load, and throughput collapses. Instead, while the event loop lags, new
 * work is refused early with 503 + Retry-After (RFC 3261 §21.5.4; RFC 6357 §4
 * calls this "local overload control").
 *
 * Two signals, sampled by a timer on the injected clock and smoothed (EWMA):
 * - event-loop lag: a timer due every `sampleMs` that fires `d` ms late measures
 *   `d` ms of lag (long synchronous work);
 * - event-loop utilization (perf_hooks ELU, the share of time the loop was busy):
 *   under a UDP flood the lag stays small (libuv reads datagrams in batches and
 *   timers still run every turn) while the kernel queue, and with it the answer
 *   delay seen by clients, grows; a loop busy ~100% of the time is the sign.
 * States (OverloadGuard; while overloaded a share of new requests is refused):
 *
 *        lag > enterLagMs  or  utilization > enterUtilization
 *   ok --------------------------------------------------------> overloaded
 *      <--------------------------------------------------------   | share +0.1 while above enter,
 *        reject share back at 0 (lowered by 0.05 per adjustment   | -0.05 while below exit (max 0.95)
 *        while lag < exitLagMs and utilization < exitUtilization) |
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '../sip/clock.ts';
import type { SipRequest } from '../sip/message/types.ts';

/** Where the lag comes from: the sampler below, or a test's fake. */
export interface LagSource {
  /** Smoothed event-loop lag in ms. */
  lagMs(): number;
  /** Smoothed share of time the event loop was busy, 0..1 (optional). */
  utilization?(): number;
  close(): void;
}

/** Reads the process's event-loop utilization since the previous call (0..1). */
export type UtilizationProbe = () => number;

export function eluProbe(): UtilizationProbe {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, last);
    last = now;
    return delta.utilization;
  };
}

/** Samples timer lateness (and loop utilization) on the clock; EWMA with weight 1/4 per sample. */
export class LoopLagSampler implements LagSource {
  private smoothed = 0;
  private busy = 0;
  private timer: TimerHandle | undefined;
  private expected = 0;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly sampleMs: number,
    private readonly probe: UtilizationProbe | undefined = eluProbe(),
  ) {
    this.arm();
  }

  lagMs(): number {
    return this.smoothed;
  }

  utilization(): number {
    return this.busy;
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
      if (this.probe) this.busy += (this.probe() - this.busy) / 4;
      this.arm();
    });
  }
}

export interface OverloadOptions {
  source: LagSource;
  /** Drives the admission control: the reject share is adjusted at most every `adjustMs`. */
  clock: Clock;
  adjustMs: number;
  enterLagMs: number;
  exitLagMs: number;
  /** Loop utilization (0..1) above which the node is overloaded; default 1 (never). */
  enterUtilization?: number;
  /** Utilization below which it recovers; default = enterUtilization. */
  exitUtilization?: number;
  retryAfterSec: number;
  /** Called on every state change (for logs and metrics). */
  onChange?: (overloaded: boolean, lagMs: number) => void;
}

export type OverloadState = 'ok' | 'overloaded';

/** Reject-share steps: up fast, down slowly (additive both ways, capped). */
const SHARE_UP = 0.1;
const SHARE_DOWN = 0.05;
const SHARE_MAX = 0.95;

/**
 * Admission control. All-or-nothing shedding collapses goodput: the 503s alone
 * keep a flooded loop busy, so the node would stay "overloaded" and refuse
 * everything. Instead a share of new requests is refused, raised while the
 * signals are above the enter thresholds and lowered while below the exit ones,
 * so that the node keeps finishing as much new work as it can.
 */
export class OverloadGuard {
  private current: OverloadState = 'ok';
  private share = 0;
  private credit = 0;
  private lastAdjust = Number.NEGATIVE_INFINITY;
  /** Requests refused since start (metrics). */
  rejected = 0;

  constructor(private readonly opts: OverloadOptions) {
    if (opts.exitLagMs > opts.enterLagMs) throw new RangeError('exitLagMs must be <= enterLagMs');
    if ((opts.exitUtilization ?? 0) > (opts.enterUtilization ?? 1)) throw new RangeError('exitUtilization must be <= enterUtilization');
  }

  get retryAfterSec(): number {
    return this.opts.retryAfterSec;
  }

  /** Share (0..0.95) of new requests currently refused. */
  get rejectShare(): number {
    return this.share;
  }

  /** Reads the signals (at most every adjustMs) and adjusts the reject share; returns the state. */
  state(): OverloadState {
    const now = this.opts.clock.now();
    if (now - this.lastAdjust < this.opts.adjustMs) return this.current;
    this.lastAdjust = now;
    const lag = this.opts.source.lagMs();
    const busy = this.opts.source.utilization?.() ?? 0;
    const enterU = this.opts.enterUtilization ?? 1;
    const exitU = this.opts.exitUtilization ?? enterU;
    if (lag > this.opts.enterLagMs || busy > enterU) {
      this.share = Math.min(SHARE_MAX, this.share + SHARE_UP);
      this.transition('overloaded', lag);
    } else if (this.current === 'overloaded' && lag < this.opts.exitLagMs && busy < exitU) {
      this.share = Math.max(0, this.share - SHARE_DOWN);
      if (this.share < 1e-9) {
        this.share = 0;
        this.credit = 0;
        this.transition('ok', lag);
      }
    }
    return this.current;
  }

  /**
   * Should this request be refused with 503? Only new work is: REGISTER and INVITE
   * outside a dialog that answer no challenge. A request with credentials
   * continues a handshake whose first half we already paid for; in-dialog
   * requests, ACK, CANCEL, BYE and OPTIONS end or keep up existing work. While
   * overloaded, `rejectShare` of those are refused, evenly spread.
   */
  shouldReject(req: SipRequest): boolean {
    if (req.method !== 'REGISTER' && req.method !== 'INVITE') return false;
    if (req.to.params.has('tag')) return false;
    if (req.authorization.length > 0 || req.proxyAuthorization.length > 0) return false;
    if (this.state() !== 'overloaded') return false;
    this.credit += this.share;
    if (this.credit < 1 - 1e-9) return false; // (float sums: ten times 0.1 is 0.999…)
    this.credit -= 1;
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
