/**
 * Overload protection for a node. A SIP server that accepts more new work than it
 * can finish answers late; UDP clients then retransmit (RFC 3261 §17.1.2.2), which
 * adds load, and throughput collapses. Instead, while overloaded, new work is
 * refused early with 503 + Retry-After (RFC 3261 §21.5.4; RFC 6357 §4 calls this
 * "local overload control").
 *
 * Three signals:
 * - event-loop lag (LoopLagSampler, EWMA): a timer due every `sampleMs` that fires
 *   `d` ms late measures `d` ms of lag (long synchronous work);
 * - event-loop utilization (perf_hooks ELU, EWMA; off by default: a loop busy
 *   ~100 % of the time may still keep up);
 * - the kernel UDP receive-queue delay (`queueDelay`, the transport's probe,
 *   src/sip/transport/queue-probe.ts): under a UDP flood neither of the above sees
 *   the backlog — libuv reads datagrams in batches and timers still run every
 *   turn — while requests wait in the 4 MiB kernel queue; past T1 (500 ms) clients
 *   retransmit. The probe waits in that same queue, so it measures what they see.
 *
 * States (OverloadGuard; while overloaded a share of new requests is refused):
 *
 *        lag > enterLagMs  or  utilization > enterUtilization  or  queue delay > enterQueueDelayMs
 *   ok -----------------------------------------------------------------------------------------> overloaded
 *      <-----------------------------------------------------------------------------------------   |
 *        reject share back at 0, lowered by 0.05 per adjustMs while lag < exitLagMs,                | share raised per adjustment
 *        utilization < exitUtilization and queue delay < exitQueueDelayMs (between: held)           | while a signal is above enter
 *
 * Share raise per adjustment (at most every `adjustMs`, max 0.95): +0.1 for lag or
 * utilization; for the queue delay 0.1 × (delay − enter) / (enter − exit), at most
 * 0.2 (see queueStep). Measured on the 2-core bench box, SIPp REGISTER+digest
 * (`PROBE_RUNS=2 PROBE_ROUNDS=4 npx tsx bench/hotpath/register-sipp.ts RATE`), the
 * node without the queue signal collapsed: 8,000/s → 4,253 then 2,898 ok/s with
 * 46,065 / 66,187 SIPp retransmissions (and that day even 6,000/s → 1,884–4,612/s,
 * 13,000–94,000 retransmissions). With it: see docs/config.md `## overload`.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '../sip/clock.ts';
import type { SipRequest } from '../sip/message/types.ts';
import { isUncredentialedRegister } from '../sip/message/prescan.ts';

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
  /**
   * How long datagrams wait in the kernel receive queue (ms), e.g. the transport's
   * udpQueueDelayMs(); undefined = unknown (no probe), read as 0.
   */
  queueDelay?: () => number | undefined;
  /** Queue delay (ms) above which the node is overloaded; default Infinity (never). */
  enterQueueDelayMs?: number;
  /** Queue delay below which it recovers; default = enterQueueDelayMs. */
  exitQueueDelayMs?: number;
  /**
   * Queue delay (ms) above which new REGISTERs are dropped unread (dropDatagram)
   * until it falls below enterQueueDelayMs; default Infinity (never).
   */
  dropQueueDelayMs?: number;
  /** Called when dropping starts or stops (for logs). */
  onShedding?: (shedding: boolean, signals: OverloadSignals) => void;
  retryAfterSec: number;
  /** Called on every state change (for logs and metrics). */
  onChange?: (overloaded: boolean, signals: OverloadSignals) => void;
}

/** The signals as read at a decision (logs). */
export interface OverloadSignals {
  lagMs: number;
  utilization: number;
  queueDelayMs: number;
}

export type OverloadState = 'ok' | 'overloaded';

/** Reject-share steps: up fast, down slowly (additive both ways, capped). */
const SHARE_UP = 0.1;
const SHARE_DOWN = 0.05;
const SHARE_MAX = 0.95;

/**
 * Share raise for a queue delay above the enter threshold: SHARE_UP once the delay
 * is a whole hysteresis span (enter - exit) above it, proportionally less below
 * that, at most twice SHARE_UP. The queue delay moves with the load, so its size
 * says how hard to push. A fixed +0.1 per adjustment ran the share to 95 % at
 * 205-244 ms (6,000 REGISTER/s, a load the node nearly keeps up with) and refused
 * 17,000 of 40,000.
 */
function queueStep(queue: number, enterQ: number, exitQ: number): number {
  const span = Math.max(1, enterQ - exitQ);
  return SHARE_UP * Math.min(2, (queue - enterQ) / span);
}

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
  /** Datagrams dropped unread since start (metrics). */
  dropped = 0;
  private shedding = false;

  constructor(private readonly opts: OverloadOptions) {
    if (opts.exitLagMs > opts.enterLagMs) throw new RangeError('exitLagMs must be <= enterLagMs');
    if ((opts.exitUtilization ?? 0) > (opts.enterUtilization ?? 1)) throw new RangeError('exitUtilization must be <= enterUtilization');
    if ((opts.exitQueueDelayMs ?? 0) > (opts.enterQueueDelayMs ?? Number.POSITIVE_INFINITY)) throw new RangeError('exitQueueDelayMs must be <= enterQueueDelayMs');
    if ((opts.dropQueueDelayMs ?? Number.POSITIVE_INFINITY) < (opts.enterQueueDelayMs ?? Number.POSITIVE_INFINITY)) throw new RangeError('dropQueueDelayMs must be >= enterQueueDelayMs');
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
    // Adjustments happen when requests ask: after a quiet spell (no requests, nothing
    // measured as high) the share falls by every step that spell lasted, not by one,
    // or the first requests after it would meet the share of the last overload.
    const elapsedSteps = Math.floor((now - this.lastAdjust) / this.opts.adjustMs);
    this.lastAdjust = now;
    const signals = this.signals();
    const { lagMs: lag, utilization: busy, queueDelayMs: queue } = signals;
    const enterU = this.opts.enterUtilization ?? 1;
    const exitU = this.opts.exitUtilization ?? enterU;
    const enterQ = this.opts.enterQueueDelayMs ?? Number.POSITIVE_INFINITY;
    const exitQ = this.opts.exitQueueDelayMs ?? enterQ;
    this.shed(queue > (this.opts.dropQueueDelayMs ?? Number.POSITIVE_INFINITY) || (this.shedding && queue >= enterQ), signals);
    if (lag > this.opts.enterLagMs || busy > enterU) {
      this.share = Math.min(SHARE_MAX, this.share + SHARE_UP);
      this.transition('overloaded', signals);
    } else if (queue > enterQ) {
      this.share = Math.min(SHARE_MAX, this.share + queueStep(queue, enterQ, exitQ));
      this.transition('overloaded', signals);
    } else if (this.current === 'overloaded' && lag < this.opts.exitLagMs && busy < exitU && queue < exitQ) {
      this.share = Math.max(0, this.share - SHARE_DOWN * Math.min(elapsedSteps, SHARE_MAX / SHARE_DOWN + 1));
      if (this.share < 1e-9) {
        this.share = 0;
        this.credit = 0;
        this.transition('ok', signals);
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

  /**
   * Before parsing (the transport's shedding filter): drop this datagram unread?
   * Only while the receive-queue delay is past dropQueueDelayMs, and only a
   * REGISTER without credentials. By then clients have retransmitted what waits
   * (T1 = 500 ms), and even a 503 costs about what the 401 it replaces does
   * (parse, response, send): at 10,000 REGISTERs/s the 503s alone kept the queue
   * full and goodput fell to ~3,500/s. A drop costs a few byte compares; phones
   * retransmit and get in once the queue is short. Credentialed REGISTERs
   * (handshakes half done) and every other request are parsed as usual.
   */
  dropDatagram(data: Buffer): boolean {
    if (!this.shedding) return false;
    // New REGISTERs no longer reach shouldReject, so the signals are read here (at most every adjustMs).
    this.state();
    if (!this.shedding || !isUncredentialedRegister(data)) return false;
    this.dropped++;
    return true;
  }

  close(): void {
    this.opts.source.close();
  }

  private shed(on: boolean, signals: OverloadSignals): void {
    if (on === this.shedding) return;
    this.shedding = on;
    this.opts.onShedding?.(on, signals);
  }

  /** The current signal values (ms, 0..1, ms). */
  signals(): OverloadSignals {
    return { lagMs: this.opts.source.lagMs(), utilization: this.opts.source.utilization?.() ?? 0, queueDelayMs: this.opts.queueDelay?.() ?? 0 };
  }

  private transition(to: OverloadState, signals: OverloadSignals): void {
    if (to === this.current) return;
    this.current = to;
    this.opts.onChange?.(to === 'overloaded', signals);
  }
}
