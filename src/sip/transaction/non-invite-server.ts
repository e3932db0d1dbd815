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
import { monotonicNow } from '../clock.ts';
import type { SipRequest, SipResponse } from '../message/types.ts';
import type { InboundContext } from '../transport/types.ts';
import type { CompletedServer } from './completed.ts';
import { IllegalTransitionError } from './errors.ts';
import { ResponseBytes } from './timer-set.ts';
import type { ServerTransaction, ServerTransactionUser, TransactionEnv } from './types.ts';

export type NonInviteServerState = 'idle' | 'trying' | 'proceeding' | 'completed' | 'terminated';

const EDGES: Record<NonInviteServerState, readonly NonInviteServerState[]> = {
  idle: ['trying'],
  trying: ['proceeding', 'completed', 'terminated'],
  proceeding: ['completed', 'terminated'],
  completed: ['terminated'],
  terminated: [],
};

/** The layer side of a non-INVITE server transaction: one shared object, no per-transaction closures. */
export interface NonInviteServerOwner {
  /** The transaction reached Terminated: drop it (and its Completed entry, if any). */
  terminated(tx: NonInviteServerTransaction): void;
  /**
   * The transaction entered Completed on an unreliable transport: from now on the
   * layer absorbs request retransmissions from `entry` and runs Timer J (§17.2.2),
   * and no longer references the transaction unless `entry.tx` is set.
   */
  park(tx: NonInviteServerTransaction, entry: CompletedServer): void;
}

/**
 * In Completed the transaction hands its retransmission duty and Timer J to the
 * layer (a CompletedTable) and keeps no timer of its own; `state` turns to
 * 'terminated' when Timer J is due, read from the clock.
 */
export class NonInviteServerTransaction implements ServerTransaction {
  readonly kind = 'non-invite-server';
  user: ServerTransactionUser | undefined = undefined;
  private current: NonInviteServerState = 'idle';
  /** monotonicNow(clock) at which Timer J fires, once Completed on an unreliable transport. */
  private timerJAt = 0;
  /** The layer's record of this transaction while Completed (it does not point back). */
  parked: CompletedServer | undefined = undefined;
  private last: SipResponse | undefined = undefined;
  private readonly lastBytes = new ResponseBytes();

  constructor(
    readonly id: string,
    readonly request: SipRequest,
    readonly context: InboundContext,
    private readonly env: TransactionEnv,
    private readonly fallbackUser: ServerTransactionUser,
    private readonly owner: NonInviteServerOwner,
  ) {}

  get state(): NonInviteServerState {
    if (this.current === 'completed' && this.timerJAt > 0 && monotonicNow(this.env.clock) >= this.timerJAt) return 'terminated';
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
    if (from !== to) this.env.observe(this.kind, this.id, this.request.method, from, to);
    switch (to) {
      case 'completed': {
        const j = this.env.timers.J;
        if (j === 0) this.transition('terminated');
        else {
          // Timer J runs in the layer's CompletedTable sweep (completed.ts says why).
          this.timerJAt = monotonicNow(this.env.clock) + j;
          this.parked = this.completedEntry();
          this.owner.park(this, this.parked);
        }
        break;
      }
      case 'terminated':
        this.owner.terminated(this);
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

  /** Final response, then Terminated without Completed (ServerTransaction.respondStateless). */
  respondStateless(res: SipResponse): void {
    if (res.status < 200) return this.respond(res);
    if (this.current !== 'trying' && this.current !== 'proceeding') return;
    this.last = res;
    this.lastBytes.forget();
    this.transition('terminated');
    // Already Terminated when the send fails (§17.2.4): the TU still hears of it.
    this.lastBytes.send(this.env.transport, res, this.context, (err) => this.tellTransportError(err));
  }

  /** A retransmission of the request (§17.2.2): Trying absorbs, Proceeding resends (Completed: the layer's entry does). */
  receiveRequest(_req: SipRequest): void {
    if (this.current === 'proceeding' || this.state === 'completed') this.sendLast();
  }

  /** Timer J fired for a transaction its Completed entry kept (see CompletedServer.tx). */
  expire(): void {
    if (this.current === 'completed') this.transition('terminated');
  }

  /** A resend from the Completed entry failed (§17.2.4). */
  transportFailed(err: unknown): void {
    this.onTransportError(err);
  }

  destroy(): void {
    this.current = 'terminated';
  }

  runningTimers(): string[] {
    return this.state === 'completed' ? ['J'] : [];
  }

  private completedEntry(): CompletedServer {
    const res = this.last as SipResponse;
    const wantsErrors = (this.user ?? this.fallbackUser).onTransportError !== undefined;
    // Octets and Via suffice for a transport with sendResponseNow; otherwise keep the object too.
    const transport = this.env.transport;
    let bytes: Buffer | undefined;
    try {
      // Already serialized by the send that just happened; a failure there was reported.
      if (transport.sendResponseNow || transport.sendResponseBytes) bytes = this.lastBytes.bytesOf(res);
    } catch {
      bytes = undefined;
    }
    const via = res.via[0];
    const octetsOnly = transport.sendResponseNow !== undefined && bytes !== undefined && via !== undefined;
    // One flat object, fields always in this order (one hidden class for every entry).
    // Only routing Via parameters are kept (§18.2.2, RFC 3581 §4): the branch and the
    // rest stay behind, and with them the request text their strings were sliced from.
    return {
      id: this.id,
      method: this.request.method,
      expiresAt: this.timerJAt,
      bytes,
      res: octetsOnly ? undefined : res,
      // The entry is its own InboundContext. Not this.context itself: that is the
      // InboundRequest, which holds the whole request.
      source: this.context.source,
      local: this.context.local,
      connectionId: this.context.connectionId,
      viaProtocol: via?.protocol,
      viaTransport: via ? via.transport : '',
      viaHost: via ? via.host : '',
      viaPort: via?.port,
      maddr: via?.params.get('maddr'),
      received: via?.params.get('received'),
      rport: via?.params.get('rport'),
      tx: wantsErrors ? this : undefined,
    };
  }

  private onTransportError(err: unknown): void {
    if (this.state === 'terminated') return;
    this.transition('terminated');
    this.tellTransportError(err);
  }

  private tellTransportError(err: unknown): void {
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
    // An inline arrow, not a bound class field: under tsx (esbuild keepNames) every named
    // arrow field costs a __name() defineProperty per transaction.
    if (res) this.lastBytes.send(this.env.transport, res, this.context, (err) => this.onTransportError(err));
  }
}
