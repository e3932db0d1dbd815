/**
 * INVITE client transaction (RFC 3261 §17.1.1, with the Accepted state of
 * RFC 6026 §7.2, Figure 5).
 *
 *                                |INVITE from TU
 *              Timer A fires     |INVITE sent      Timer B fires
 *              Reset A,          V                 or Transport Err.
 *              INVITE sent +-----------+           inform TU
 *                +---------|           |--------------------------+
 *                |         |  Calling  |                          |
 *                +-------->|           |-----------+              |
 *   300-699                +-----------+ 2xx       |              |
 *   ACK sent                  |  |       2xx to TU |              |
 *   resp. to TU               |  |1xx              |              |
 *   +-------------------------+  |1xx to TU        |              |
 *   |                            |                 |              |
 *   |                1xx         V                 |              |
 *   |                1xx to TU +-----------+       |              |
 *   |                +---------|           |       |              |
 *   |                |         |Proceeding |------>|              |
 *   |                +-------->|           | 2xx   |              |
 *   |                          +-----------+ 2xx to TU            |
 *   |       300-699                 |              |              |
 *   |       ACK sent,               |              |              |
 *   |       resp. to TU             |              V              |
 *   |                               |        +-----------+        |
 *   |                               |        | Accepted  |---+    |
 *   |                               |        +-----------+   |    |
 *   |                               |         2xx  |  ^      |    |
 *   |                               |    2xx to TU +--+      |    |
 *   |  +-----------+                |                        |    |
 *   |  |           |<---------------+        Timer M fires   |    |
 *   +->| Completed |                         -               |    |
 *      |           |                                         |    |
 *      +-----------+                                         |    |
 *        ^   |                                               |    |
 *        |   | Timer D fires                                 |    |
 *    300-699 | -                                             V    |
 *    ACK sent|                                         +-----------+
 *        +---+                                         | Terminated|
 *                                                      +-----------+
 *
 * 'idle' is the pseudo-state before the INVITE is handed to the transport.
 */
import type { Endpoint, RawHeader, SipRequest, SipResponse } from '../message/types.ts';
import { IllegalTransitionError } from './errors.ts';
import { buildCancel, buildNon2xxAck, syntheticResponse } from './messages.ts';
import type { InboundContext } from '../transport/types.ts';
import { safeSend, TimerSet } from './timer-set.ts';
import { afterSend } from './timers.ts';
import type { ClientTransaction, ClientTransactionUser, OnTerminated, TransactionEnv } from './types.ts';

export type InviteClientState = 'idle' | 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

const EDGES: Record<InviteClientState, readonly InviteClientState[]> = {
  idle: ['calling'],
  // calling -> calling: Timer A fired, retransmit and double A (§17.1.1.2).
  calling: ['calling', 'proceeding', 'completed', 'accepted', 'terminated'],
  proceeding: ['completed', 'accepted', 'terminated'],
  completed: ['terminated'],
  accepted: ['terminated'],
  terminated: [],
};

/** Sends a CANCEL as its own non-INVITE client transaction (supplied by the layer). */
export type CancelSender = (cancel: SipRequest, target: Endpoint, user: ClientTransactionUser) => void;

const NOBODY: ClientTransactionUser = { onResponse: () => undefined };

export class InviteClientTransaction implements ClientTransaction {
  readonly kind = 'invite-client';
  private current: InviteClientState = 'idle';
  private readonly timers: TimerSet<'A' | 'B' | 'D' | 'M' | 'cancelGuard'>;
  private intervalA: number;
  private finalResponse: SipResponse | undefined;
  private ack: SipRequest | undefined;
  private cancelState: 'none' | 'pending' | 'sent' = 'none';
  private cancelUser: ClientTransactionUser = NOBODY;
  /** Extra headers for our CANCEL, e.g. Reason (RFC 3326). */
  private cancelHeaders: RawHeader[] = [];
  /** Where the INVITE actually went: `target`, or its TCP twin after an MTU switch. */
  private sentTo: Endpoint;

  constructor(
    readonly id: string,
    readonly request: SipRequest,
    readonly target: Endpoint,
    private env: TransactionEnv,
    private readonly user: ClientTransactionUser,
    private readonly onTerminated: OnTerminated,
    private readonly sendCancel: CancelSender,
  ) {
    this.timers = new TimerSet(env.clock);
    this.intervalA = env.timers.A;
    this.sentTo = target;
  }

  get state(): InviteClientState {
    return this.current;
  }

  /** Hands the INVITE to the transport (§17.1.1.2). */
  start(): void {
    this.transition('calling');
  }

  /** The only place state changes and timers start or stop. */
  private transition(to: InviteClientState): void {
    const from = this.current;
    if (!EDGES[from].includes(to)) throw new IllegalTransitionError('invite-client', from, to);
    this.current = to;
    if (from !== to) this.env.observe(this.kind, this.id, this.request.method, from, to);
    const t = this.env.timers;
    if (from === to) {
      // Timer A fired after the INVITE went out over TCP (§18.1.1): nothing to retransmit.
      if (this.env.reliable) return;
      // Timer A fired in Calling: retransmit, double A without cap (§17.1.1.2).
      this.intervalA *= 2;
      this.sendInvite();
      this.timers.start('A', this.intervalA, () => this.transition('calling'));
      return;
    }
    this.timers.stopAll();
    switch (to) {
      case 'calling':
        this.sendInvite();
        if (!this.env.reliable) this.timers.start('A', this.intervalA, () => this.transition('calling'));
        this.timers.start('B', t.B, () => this.giveUp());
        break;
      case 'proceeding':
        break;
      case 'completed':
        // §17.1.1.3: the transaction itself ACKs a non-2xx final response.
        if (this.finalResponse) this.ack = buildNon2xxAck(this.request, this.finalResponse);
        this.sendAck();
        if (t.D === 0) this.transition('terminated');
        else this.timers.start('D', t.D, () => this.transition('terminated'));
        break;
      case 'accepted':
        // RFC 6026 §7.2: stay to pass 2xx retransmissions (from other forks too) to the TU.
        this.timers.start('M', t.M, () => this.transition('terminated'));
        break;
      case 'terminated':
        this.onTerminated();
        break;
      case 'idle':
        break;
    }
  }

  /** A response matched to this transaction by the layer (§17.1.3). */
  receiveResponse(res: SipResponse): void {
    const s = res.status;
    switch (this.current) {
      case 'calling':
      case 'proceeding':
        if (s < 200) {
          if (this.current === 'calling') this.transition('proceeding');
          this.deliver(res);
          // §9.1: a CANCEL waits for a provisional response.
          if (this.cancelState === 'pending') this.doCancel();
        } else if (s < 300) {
          this.cancelState = this.cancelState === 'pending' ? 'none' : this.cancelState;
          this.transition('accepted');
          this.deliver(res);
        } else {
          this.cancelState = this.cancelState === 'pending' ? 'none' : this.cancelState;
          this.finalResponse = res;
          this.transition('completed');
          this.deliver(res);
        }
        break;
      case 'completed':
        // Retransmitted final response: ACK again, do not bother the TU (§17.1.1.2).
        if (s >= 300) this.sendAck();
        break;
      case 'accepted':
        // RFC 6026 §7.2: 2xx in Accepted go to the TU (it ACKs them); others are dropped.
        if (s >= 200 && s < 300) this.deliver(res);
        break;
      default:
        break;
    }
  }

  cancel(user?: ClientTransactionUser, headers: RawHeader[] = []): void {
    if (this.cancelState !== 'none') return;
    this.cancelUser = user ?? NOBODY;
    this.cancelHeaders = headers.map((h) => ({ ...h }));
    if (this.current === 'calling') this.cancelState = 'pending';
    else if (this.current === 'proceeding') this.doCancel();
  }

  destroy(): void {
    this.timers.stopAll();
    this.current = 'terminated';
  }

  /** Running timer names (diagnostics and tests). */
  runningTimers(): string[] {
    return this.timers.running();
  }

  private doCancel(): void {
    this.cancelState = 'sent';
    // §9.1: the CANCEL goes to the same address, port and transport as the INVITE.
    const cancel = buildCancel(this.request);
    cancel.headers.push(...this.cancelHeaders);
    this.sendCancel(cancel, this.sentTo, this.cancelUser);
    // §9.1: no final response 64*T1 after the CANCEL → consider the INVITE cancelled
    // and destroy the transaction (Proceeding has no Timer B). The TU hears a 408.
    // NOTE: started outside transition() because it is not a state change; any
    // transition (a final response arriving) stops it with the other timers.
    this.timers.start('cancelGuard', this.env.timers.B, () => this.giveUp());
  }

  /** Timer B in Calling, or the §9.1 CANCEL guard in Proceeding: the TU hears a 408 (§17.1.1.2, §8.1.3.1). */
  private giveUp(): void {
    const res = syntheticResponse(this.request, 408);
    this.transition('terminated');
    this.deliver(res);
  }

  private onTransportError(err: unknown): void {
    if (this.current !== 'calling' && this.current !== 'proceeding') {
      this.env.report(err);
      return;
    }
    // §17.1.1.2 / §8.1.3.1: transport failure is a 503 to the TU.
    this.transition('terminated');
    this.deliver(syntheticResponse(this.request, 503));
  }

  private sendInvite(): void {
    safeSend(
      () => this.env.transport.sendRequest(this.request, this.target).then((ctx) => this.onSent(ctx)),
      (err) => this.onTransportError(err),
    );
  }

  /**
   * The transport may have moved the INVITE from UDP to TCP (§18.1.1 MTU rule):
   * from then on the transaction runs with reliable-transport timers (no Timer A
   * retransmissions, Timer D = 0) and the ACK and CANCEL follow it.
   */
  private onSent(ctx: InboundContext): void {
    const moved = afterSend(this.env, this.target, ctx);
    if (moved) ({ env: this.env, sentTo: this.sentTo } = moved);
  }

  private sendAck(): void {
    const ack = this.ack;
    if (!ack) return;
    // §17.1.1.3: same address, port and transport as the INVITE.
    safeSend(
      () => this.env.transport.sendRequest(ack, this.sentTo),
      (err) => this.env.report(err),
    );
  }

  private deliver(res: SipResponse): void {
    try {
      this.user.onResponse(res, this);
    } catch (err) {
      this.env.report(err);
    }
  }
}
