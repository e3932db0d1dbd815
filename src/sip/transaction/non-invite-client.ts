/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).
 *
 *                                    |Request from TU
 *                                    |send request
 *                Timer E             V
 *                send request  +-----------+
 *                    +---------|           |-------------------+
 *                    |         |  Trying   |  Timer F          |
 *                    +-------->|           |  or Transport Err.|
 *                              +-----------+  inform TU        |
 *                 200-699         |  |                         |
 *                 resp. to TU     |  |1xx                      |
 *                 +---------------+  |resp. to TU              |
 *                 |                  |                         |
 *                 |   Timer E        V       Timer F           |
 *                 |   send req +-----------+ or Transport Err. |
 *                 |  +---------|           | inform TU         |
 *                 |  |         |Proceeding |------------------>|
 *                 |  +-------->|           |-----+             |
 *                 |            +-----------+     |1xx          |
 *                 |              |      ^        |resp to TU   |
 *                 | 200-699      |      +--------+             |
 *                 | resp. to TU  |                             |
 *                 |              |                             |
 *                 |              V                             |
 *                 |            +-----------+                   |
 *                 |            |           |                   |
 *                 |            | Completed |                   |
 *                 |            |           |                   |
 *                 |            +-----------+                   |
 *                 |              ^   |                         |
 *                 |              |   | Timer K                 |
 *                 +--------------+   | -                       |
 *                                    |                         |
 *                                    V                         |
 *              NOTE:           +-----------+                   |
 *                              |           |                   |
 *          transitions         | Terminated|<------------------+
 *          labeled with        |           |
 *          the event           +-----------+
 *          over the action
 *          to take
 *
 * Self-edges Trying→Trying and Proceeding→Proceeding are Timer E firing: the
 * request is retransmitted and E re-armed (doubling capped at T2 in Trying, T2 in
 * Proceeding). In Completed the layer absorbs response retransmissions and runs
 * Timer K for it (a CompletedTable sweep, completed.ts); `state` turns to
 * 'terminated' when Timer K is due, read from the clock.
 */
import type { Endpoint, SipRequest, SipResponse } from '../message/types.ts';
import { IllegalTransitionError } from './errors.ts';
import { syntheticResponse } from './messages.ts';
import type { InboundContext } from '../transport/types.ts';
import { safeSend, TimerSet } from './timer-set.ts';
import { afterSend } from './timers.ts';
import type { ClientTransaction, ClientTransactionUser, TransactionEnv } from './types.ts';
import { monotonicNow } from '../clock.ts';
import type { CompletedClient } from './completed.ts';

export type NonInviteClientState = 'idle' | 'trying' | 'proceeding' | 'completed' | 'terminated';

const EDGES: Record<NonInviteClientState, readonly NonInviteClientState[]> = {
  idle: ['trying'],
  trying: ['trying', 'proceeding', 'completed', 'terminated'],
  proceeding: ['proceeding', 'completed', 'terminated'],
  completed: ['terminated'],
  terminated: [],
};

/** The layer side of a non-INVITE client transaction: one shared object, no per-transaction closures. */
export interface NonInviteClientOwner {
  /** The transaction reached Terminated: drop it. */
  terminated(tx: NonInviteClientTransaction): void;
  /**
   * The transaction entered Completed on an unreliable transport: from now on the
   * layer absorbs response retransmissions for `entry.id` until Timer K (§17.1.2.2)
   * and no longer references the transaction.
   */
  park(tx: NonInviteClientTransaction, entry: CompletedClient): void;
}

export class NonInviteClientTransaction implements ClientTransaction {
  readonly kind = 'non-invite-client';
  private current: NonInviteClientState = 'idle';
  private readonly timers: TimerSet<'E' | 'F'>;
  private intervalE: number;
  /** monotonicNow(clock) at which Timer K fires, once Completed on an unreliable transport. */
  private timerKAt = 0;

  constructor(
    readonly id: string,
    readonly request: SipRequest,
    readonly target: Endpoint,
    private env: TransactionEnv,
    private readonly user: ClientTransactionUser,
    private readonly owner: NonInviteClientOwner,
  ) {
    this.timers = new TimerSet(env.clock);
    this.intervalE = env.timers.E;
  }

  get state(): NonInviteClientState {
    if (this.current === 'completed' && this.timerKAt > 0 && monotonicNow(this.env.clock) >= this.timerKAt) return 'terminated';
    return this.current;
  }

  start(): void {
    this.transition('trying');
  }

  /** The only place state changes and timers start or stop. */
  private transition(to: NonInviteClientState): void {
    const from = this.current;
    if (!EDGES[from].includes(to)) throw new IllegalTransitionError('non-invite-client', from, to);
    this.current = to;
    if (from !== to) this.env.observe(this.kind, this.id, this.request.method, from, to);
    const t = this.env.timers;
    if (from === to) {
      // Timer E fired after the request went out over TCP (§18.1.1): nothing to retransmit.
      if (this.env.reliable) return;
      // Timer E fired: retransmit; in Trying double up to T2, in Proceeding use T2 (§17.1.2.2).
      this.intervalE = to === 'trying' ? Math.min(2 * this.intervalE, t.T2) : t.T2;
      this.sendRequest();
      this.timers.start('E', this.intervalE, () => this.transition(this.current));
      return;
    }
    switch (to) {
      case 'trying':
        this.sendRequest();
        if (!this.env.reliable) this.timers.start('E', this.intervalE, () => this.transition(this.current));
        this.timers.start('F', t.F, () => this.onTimerF());
        break;
      case 'proceeding':
        // E and F keep running (§17.1.2.2).
        break;
      case 'completed':
        this.timers.stopAll();
        if (t.K === 0) this.transition('terminated');
        else {
          // Timer K runs in the layer's CompletedTable sweep (completed.ts says why).
          this.timerKAt = monotonicNow(this.env.clock) + t.K;
          this.owner.park(this, { id: this.id, method: this.request.method, expiresAt: this.timerKAt });
        }
        break;
      case 'terminated':
        this.timers.stopAll();
        this.owner.terminated(this);
        break;
      case 'idle':
        break;
    }
  }

  receiveResponse(res: SipResponse): void {
    if (this.current !== 'trying' && this.current !== 'proceeding') return; // Completed absorbs retransmissions.
    if (res.status < 200) {
      if (this.current === 'trying') this.transition('proceeding');
    } else {
      this.transition('completed');
    }
    this.deliver(res);
  }

  cancel(): void {
    // §9.1: only INVITE is cancelled; CANCEL of a non-INVITE is pointless (RFC 3261 §9).
  }

  destroy(): void {
    this.timers.stopAll();
    this.current = 'terminated';
  }

  runningTimers(): string[] {
    return this.state === 'completed' ? ['K'] : this.timers.running();
  }

  private onTimerF(): void {
    // Timer F: tell the TU with a 408 (§17.1.2.2, §8.1.3.1).
    this.transition('terminated');
    this.deliver(syntheticResponse(this.request, 408));
  }

  private onTransportError(err: unknown): void {
    if (this.current !== 'trying' && this.current !== 'proceeding') {
      this.env.report(err);
      return;
    }
    this.transition('terminated');
    this.deliver(syntheticResponse(this.request, 503));
  }

  private sendRequest(): void {
    safeSend(
      () => this.env.transport.sendRequest(this.request, this.target).then((ctx) => this.onSent(ctx)),
      (err) => this.onTransportError(err),
    );
  }

  /** Moved from UDP to TCP by the transport (§18.1.1): reliable timers from now on (E stops, K = 0). */
  private onSent(ctx: InboundContext): void {
    const moved = afterSend(this.env, this.target, ctx);
    if (moved) this.env = moved.env;
  }

  private deliver(res: SipResponse): void {
    try {
      this.user.onResponse(res, this);
    } catch (err) {
      this.env.report(err);
    }
  }
}
