/**
 * UAS core retransmission of a 2xx to INVITE until the ACK arrives (RFC 3261
 * §13.3.1.4). The INVITE server transaction sits in Accepted (RFC 6026) and only
 * passes these retransmissions on; the UAS core drives them, end to end, whatever
 * the transport (a UDP hop may lie between us and the UAC).
 *
 *               2xx sent
 *                  |
 *                  V          retransmit timer fires
 *            +-----------+    re-send 2xx, interval = min(2*interval, T2)
 *            |           |--------+
 *            |  Waiting  |        |
 *            |           |<-------+
 *            +-----------+
 *        ACK   |       |  64*T1 without ACK
 *         -    |       |  tell TU (§13.3.1.4: session SHOULD end with BYE)
 *              V       V
 *        +-------+  +----------+
 *        | Acked |  | TimedOut |
 *        +-------+  +----------+
 *
 * `stop()` (e.g. a BYE or CANCEL race) goes to Stopped from Waiting.
 */
import type { Clock } from '../clock.ts';
import { IllegalTransitionError } from '../transaction/errors.ts';
import { TimerSet } from '../transaction/timer-set.ts';
import { timerValues, type TimerBase } from '../transaction/timers.ts';

export type Uas2xxState = 'idle' | 'waiting' | 'acked' | 'timedout' | 'stopped';

const EDGES: Record<Uas2xxState, readonly Uas2xxState[]> = {
  idle: ['waiting'],
  waiting: ['waiting', 'acked', 'timedout', 'stopped'],
  acked: [],
  timedout: [],
  stopped: [],
};

export interface Uas2xxOptions {
  clock: Clock;
  timers?: Partial<TimerBase>;
  /** Passes the 2xx to the transport again, e.g. `() => inviteTx.respond(ok)`. */
  resend: () => void;
  /** 64*T1 passed without ACK (§13.3.1.4). */
  onTimeout: () => void;
}

export class Uas2xxRetransmitter {
  private current: Uas2xxState = 'idle';
  private readonly timers: TimerSet<'retransmit' | 'giveUp'>;
  private interval: number;
  private readonly T2: number;
  private readonly giveUpMs: number;

  constructor(private readonly opts: Uas2xxOptions) {
    const t = timerValues(opts.timers, false);
    this.timers = new TimerSet(opts.clock);
    this.interval = t.T1;
    this.T2 = t.T2;
    this.giveUpMs = t.H; // 64*T1
  }

  get state(): Uas2xxState {
    return this.current;
  }

  /** Call right after the first 2xx was handed to the server transaction. */
  start(): void {
    this.transition('waiting');
  }

  /** The ACK for this 2xx arrived (matched by the TU: dialog id and CSeq number). */
  ack(): void {
    if (this.current === 'waiting') this.transition('acked');
  }

  stop(): void {
    if (this.current === 'waiting') this.transition('stopped');
  }

  /** The only place state changes and timers start or stop. */
  private transition(to: Uas2xxState): void {
    const from = this.current;
    if (!EDGES[from].includes(to)) throw new IllegalTransitionError('uas-2xx', from, to);
    this.current = to;
    if (to === 'waiting') {
      if (from === 'waiting') {
        this.opts.resend();
        this.interval = Math.min(2 * this.interval, this.T2);
      } else {
        this.timers.start('giveUp', this.giveUpMs, () => this.transition('timedout'));
      }
      this.timers.start('retransmit', this.interval, () => this.transition('waiting'));
      return;
    }
    this.timers.stopAll();
    if (to === 'timedout') this.opts.onTimeout();
  }
}
