/**
 * INVITE server transaction (RFC 3261 §17.2.1, with the Accepted state of
 * RFC 6026 §7.1, Figure 7).
 *
 *                                |INVITE
 *                                |pass INV to TU
 *             INVITE             V send 100 if TU won't in 200 ms
 *             send response+------------+
 *                 +--------|            |--------+ 101-199 from TU
 *                 |        |            |        | send response
 *                 +------->|            |<-------+
 *                          | Proceeding |
 *                          |            |--------+ Transport Err.
 *                          |            |        | Inform TU
 *                          |            |<-------+
 *                          +------------+
 *             300-699 from TU |    |2xx from TU
 *             send response   |    |send response
 *              +--------------+    +------------+
 *              |                                |
 * INVITE       V          Timer G fires         |
 * send response+-----------+ send response      |
 *     +--------|           |--------+           |
 *     |        |           |        |           |
 *     +------->| Completed |<-------+      INVITE  |  Transport Err.
 *              |           |               -       |  Inform TU
 *              +-----------+              +-----+  |  +-----+
 *               |  ^    |                 |     V  V  |     V
 *               |  |    |                 |  +------------+
 *               |  |    |                 +--|  Accepted  |<-+
 *               |  |    |                    |            |  | 2xx from TU
 *               |  |    |                    +------------+--+ send response
 *     ACK       |  |    |                          |  ^
 *     -         |  +--+ |  Timer H fires            |  | ACK
 *               |  ACK| |  or Transport Err.        |  | to TU
 *               V   - | |  Inform TU                |  |
 *         +-----------+ |                  Timer L  |  +--
 *         |           | |                  fires    |
 *         | Confirmed | |                  -        |
 *         |           | |                           |
 *         +-----------+ |                           |
 *               |       |                           |
 *               |Timer I|                           |
 *               |fires  |                           |
 *               |-      |                           |
 *               V       V                           |
 *         +--------------------+                    |
 *         |     Terminated     |<-------------------+
 *         +--------------------+
 *
 * 'idle' is the pseudo-state before the INVITE is passed to the TU. The
 * Completed→Completed self-edge is Timer G firing (retransmit, G doubles up to T2).
 */
import type { SipRequest, SipResponse } from '../message/types.ts';
import type { InboundContext } from '../transport/types.ts';
import { IllegalTransitionError } from './errors.ts';
import { responseTo } from './messages.ts';
import { ResponseBytes, TimerSet } from './timer-set.ts';
import type { OnTerminated, ServerTransaction, ServerTransactionUser, TransactionEnv } from './types.ts';

export type InviteServerState = 'idle' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

const EDGES: Record<InviteServerState, readonly InviteServerState[]> = {
  idle: ['proceeding'],
  proceeding: ['completed', 'accepted', 'terminated'],
  completed: ['completed', 'confirmed', 'terminated'],
  confirmed: ['terminated'],
  accepted: ['terminated'],
  terminated: [],
};

export class InviteServerTransaction implements ServerTransaction {
  readonly kind = 'invite-server';
  user: ServerTransactionUser | undefined;
  private current: InviteServerState = 'idle';
  private readonly timers: TimerSet<'trying100' | 'G' | 'H' | 'I' | 'L'>;
  private intervalG: number;
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
    this.intervalG = env.timers.G;
  }

  get state(): InviteServerState {
    return this.current;
  }

  get lastResponse(): SipResponse | undefined {
    return this.last;
  }

  start(): void {
    this.transition('proceeding');
  }

  /** The only place state changes and timers start or stop. */
  private transition(to: InviteServerState): void {
    const from = this.current;
    if (!EDGES[from].includes(to)) throw new IllegalTransitionError('invite-server', from, to);
    this.current = to;
    if (from !== to) this.env.observe(this.kind, this.id, this.request.method, from, to);
    const t = this.env.timers;
    if (from === to) {
      // Timer G fired: retransmit the final response, G = min(2G, T2) (§17.2.1).
      this.intervalG = Math.min(2 * this.intervalG, t.T2);
      this.sendLast();
      this.timers.start('G', this.intervalG, () => this.transition('completed'));
      return;
    }
    this.timers.stopAll();
    switch (to) {
      case 'proceeding':
        // §17.2.1: send 100 Trying ourselves unless the TU answers within 200 ms.
        this.timers.start('trying100', t.trying100, () => {
          if (!this.last) this.sendTrying();
        });
        break;
      case 'completed':
        this.sendLast();
        if (!this.env.reliable) this.timers.start('G', this.intervalG, () => this.transition('completed'));
        this.timers.start('H', t.H, () => this.onTimerH());
        break;
      case 'confirmed':
        if (t.I === 0) this.transition('terminated');
        else this.timers.start('I', t.I, () => this.transition('terminated'));
        break;
      case 'accepted':
        // RFC 6026 §7.1: the 2xx is sent; the TU retransmits it, we absorb INVITE retransmissions.
        this.sendLast();
        this.timers.start('L', t.L, () => this.transition('terminated'));
        break;
      case 'terminated':
        this.onTerminated();
        break;
      case 'idle':
        break;
    }
  }

  respond(res: SipResponse): void {
    const s = res.status;
    if (this.current === 'proceeding') {
      this.last = res;
      this.lastBytes.forget();
      if (s < 200) this.sendLast();
      else if (s < 300) this.transition('accepted');
      else this.transition('completed');
    } else if (this.current === 'accepted' && s >= 200 && s < 300) {
      // RFC 6026 §7.1: 2xx retransmissions from the TU pass through.
      this.last = res;
      this.lastBytes.forget();
      this.sendLast();
    }
  }

  /** A retransmission of the INVITE (§17.2.1). */
  receiveRequest(_req: SipRequest): void {
    if (this.current === 'proceeding') {
      if (this.last) this.sendLast();
      else this.sendTrying();
    } else if (this.current === 'completed') {
      this.sendLast();
    }
    // Confirmed and Accepted absorb it (RFC 6026 §7.1).
  }

  /**
   * An ACK matched to this transaction. Returns true when absorbed; false means the
   * ACK belongs to the TU (it acknowledges a 2xx, RFC 6026 §7.1).
   */
  receiveAck(_ack: SipRequest): boolean {
    switch (this.current) {
      case 'completed':
        this.transition('confirmed');
        return true;
      case 'accepted':
      case 'terminated':
        return false;
      default:
        return true;
    }
  }

  destroy(): void {
    this.timers.stopAll();
    this.current = 'terminated';
  }

  runningTimers(): string[] {
    return this.timers.running();
  }

  private onTimerH(): void {
    // Timer H: the ACK never came; tell the TU (§17.2.1).
    this.transition('terminated');
    const u = this.user ?? this.fallbackUser;
    try {
      u.onTimeout?.(this);
    } catch (err) {
      this.env.report(err);
    }
  }

  private onTransportError(err: unknown): void {
    if (this.current === 'terminated') return;
    // §17.2.4: inform the TU; a transaction that cannot deliver its response is over.
    if (this.current === 'proceeding' || this.current === 'completed') this.transition('terminated');
    const u = this.user ?? this.fallbackUser;
    try {
      if (u.onTransportError) u.onTransportError(this, err);
      else this.env.report(err);
    } catch (e) {
      this.env.report(e);
    }
  }

  private sendTrying(): void {
    // §8.2.6.1: a 100 Trying echoes Timestamp (createResponse copies it).
    this.last = responseTo(this.request, 100, 'Trying');
    this.sendLast();
  }

  private sendLast(): void {
    const res = this.last;
    if (!res) return;
    this.lastBytes.send(this.env.transport, res, this.context, (err) => this.onTransportError(err));
  }
}
