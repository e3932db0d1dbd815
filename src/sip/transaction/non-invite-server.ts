/**
 * Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).
 *
 *                                   |Request received
 *                                   |pass to TU
 *                                   V
 *                             +-----------+
 *                             |           |
 *                             | Trying    |-------------+
 *                             |           |             |
 *                             +-----------+             |200-699 from TU
 *                                   |                   |send response
 *                                   |1xx from TU        |
 *                                   |send response      |
 *                                   |                   |
 *                Request            V      1xx from TU  |
 *                send response+-----------+send response|
 *                    +--------|           |--------+    |
 *                    |        | Proceeding|        |    |
 *                    +------->|           |<-------+    |
 *             +<--------------|           |             |
 *             |Trnsprt Err    +-----------+             |
 *             |Inform TU            |                   |
 *             |                     |                   |
 *             |                     |200-699 from TU    |
 *             |                     |send response      |
 *             |  Request            V                   |
 *             |  send response+-----------+             |
 *             |      +--------|           |             |
 *             |      |        | Completed |<------------+
 *             |      +------->|           |
 *             +<--------------|           |
 *             |Trnsprt Err    +-----------+
 *             |Inform TU            |
 *             |                     |Timer J fires
 *             |                     |-
 *             |                     |
 *             |                     V
 *             |               +-----------+
 *             |               |           |
 *             +-------------->| Terminated|
 *                             |           |
 *                             +-----------+
 */
import type { SipRequest, SipResponse } from '../message/types.ts';
import type { InboundContext } from '../transport/types.ts';
import { IllegalTransitionError } from './errors.ts';
import { ResponseBytes, safeSend, TimerSet } from './timer-set.ts';
import type { OnTerminated, ServerTransaction, ServerTransactionUser, TransactionEnv } from './types.ts';

export type NonInviteServerState = 'idle' | 'trying' | 'proceeding' | 'completed' | 'terminated';

const EDGES: Record<NonInviteServerState, readonly NonInviteServerState[]> = {
  idle: ['trying'],
  trying: ['proceeding', 'completed', 'terminated'],
  proceeding: ['completed', 'terminated'],
  completed: ['terminated'],
  terminated: [],
};

export class NonInviteServerTransaction implements ServerTransaction {
  readonly kind = 'non-invite-server';
  user: ServerTransactionUser | undefined;
  private current: NonInviteServerState = 'idle';
  private readonly timers: TimerSet<'J'>;
  private last: SipResponse | undefined;
  private readonly lastBytes = new ResponseBytes();

  constructor(
    readonly id: string,
    readonly request: SipRequest,
    readonly context: InboundContext,
    private readonly env: TransactionEnv,
    private readonly fallbackUser: ServerTransactionUser,
    private readonly onTerminated: OnTerminated,
  ) {
    this.timers = new TimerSet(env.clock);
  }

  get state(): NonInviteServerState {
    return this.current;
  }

  get lastResponse(): SipResponse | undefined {
    return this.last;
  }

  start(): void {
    this.transition('trying');
  }

  /** The only place state changes and timers start or stop. */
  private transition(to: NonInviteServerState): void {
    const from = this.current;
    if (!EDGES[from].includes(to)) throw new IllegalTransitionError('non-invite-server', from, to);
    this.current = to;
    if (from !== to) this.env.observe({ kind: this.kind, id: this.id, method: this.request.method, from, to });
    switch (to) {
      case 'completed': {
        const j = this.env.timers.J;
        if (j === 0) this.transition('terminated');
        else this.timers.start('J', j, () => this.transition('terminated'));
        break;
      }
      case 'terminated':
        this.timers.stopAll();
        this.onTerminated();
        break;
      default:
        break;
    }
  }

  respond(res: SipResponse): void {
    if (this.current !== 'trying' && this.current !== 'proceeding') return; // finals after the first are discarded
    this.last = res;
      this.lastBytes.forget();
    this.sendLast();
    if (res.status < 200) {
      if (this.current === 'trying') this.transition('proceeding');
    } else {
      this.transition('completed');
    }
  }

  /** A retransmission of the request (§17.2.2): Trying absorbs, later states resend. */
  receiveRequest(_req: SipRequest): void {
    if (this.current === 'proceeding' || this.current === 'completed') this.sendLast();
  }

  destroy(): void {
    this.timers.stopAll();
    this.current = 'terminated';
  }

  runningTimers(): string[] {
    return this.timers.running();
  }

  private onTransportError(err: unknown): void {
    if (this.current === 'terminated') return;
    this.transition('terminated');
    const u = this.user ?? this.fallbackUser;
    try {
      if (u.onTransportError) u.onTransportError(this, err);
      else this.env.report(err);
    } catch (e) {
      this.env.report(e);
    }
  }

  private sendLast(): void {
    const res = this.last;
    if (!res) return;
    safeSend(
      () => this.lastBytes.send(this.env.transport, res, this.context),
      (err) => this.onTransportError(err),
    );
  }
}
