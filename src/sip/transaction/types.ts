/**
 * Roles at the transaction boundary (RFC 3261 §17): what a client or server
 * transaction needs from below (transport, clock) and tells the TU above.
 */
import type { Clock } from '../clock.ts';
import type { Endpoint, RawHeader, SipRequest, SipResponse } from '../message/types.ts';
import type { InboundContext, TransportLayer } from '../transport/types.ts';
import type { TimerValues } from './timers.ts';

/** What a state machine needs to run: where to send, which clock, which timer values. */
export interface TransactionEnv {
  transport: TransportLayer;
  clock: Clock;
  timers: TimerValues;
  reliable: boolean;
  /**
   * Timer values for a reliable transport, for a client transaction whose request the
   * transport moved from UDP to TCP (§18.1.1 MTU rule): reliability follows the
   * transport actually used (§17.1.1.2, §17.1.2.2).
   */
  reliableTimers: TimerValues;
  /** Receives exceptions thrown by TU callbacks and transport failures nobody else hears of. */
  report(err: unknown): void;
  /**
   * Diagnostics (STYLE.md §11): every state change of every transaction. Positional,
   * so that no event object is built per transition when nobody listens.
   */
  observe(kind: TransactionStateEvent['kind'], id: string, method: string, from: string, to: string): void;
}

export interface TransactionStateEvent {
  kind: 'invite-client' | 'non-invite-client' | 'invite-server' | 'non-invite-server';
  id: string;
  method: string;
  from: string;
  to: string;
}

export type ClientTransactionState = 'idle' | 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';
export type ServerTransactionState = 'idle' | 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/** The TU of a client transaction. Timeouts and transport failures arrive as synthesized 408/503 (see isSynthetic). */
export interface ClientTransactionUser {
  onResponse(res: SipResponse, tx: ClientTransaction): void;
}

export interface ClientTransaction {
  readonly kind: 'invite-client' | 'non-invite-client';
  readonly request: SipRequest;
  readonly target: Endpoint;
  readonly state: ClientTransactionState;
  /** Layer key: branch + CSeq method (§17.1.3). */
  readonly id: string;
  /**
   * INVITE only: send a CANCEL for this request (§9.1). Deferred until a provisional
   * response arrives; a no-op once a final response was received.
   */
  cancel(user?: ClientTransactionUser, headers?: RawHeader[]): void;
  /** Stops all timers without telling the TU (layer shutdown). */
  destroy(): void;
}

/** Optional TU callbacks of a server transaction (§17.2.1 Timer H, §17.2.4). */
export interface ServerTransactionUser {
  /** Timer H fired: the ACK for our non-2xx final response never came. */
  onTimeout?(tx: ServerTransaction): void;
  /** A response could not be sent (§17.2.4). */
  onTransportError?(tx: ServerTransaction, err: unknown): void;
}

export interface ServerTransaction {
  readonly kind: 'invite-server' | 'non-invite-server';
  readonly request: SipRequest;
  /** Where the request came from; responses go back this way (§18.2.2). */
  readonly context: InboundContext;
  readonly state: ServerTransactionState;
  readonly id: string;
  /** Last response handed to the transaction by the TU (or the automatic 100 Trying). */
  readonly lastResponse: SipResponse | undefined;
  user: ServerTransactionUser | undefined;
  /** Hands a response from the TU to the transaction (§17.2). Ignored once terminated or after a final (except INVITE 2xx in Accepted). */
  respond(res: SipResponse): void;
  /**
   * Optional (non-INVITE only): sends a final response and ends the transaction at
   * once, without Completed, as a stateless UAS would (RFC 3261 §8.2.7): a
   * retransmission of the request is then a new request, answered anew. For answers
   * that are as right and as cheap the second time — a digest challenge, an overload
   * 503 — this saves holding the transaction for Timer J (64·T1 on UDP).
   */
  respondStateless?(res: SipResponse): void;
  destroy(): void;
}

/** Called by a machine when it reaches Terminated, so the layer drops it from its table. */
export type OnTerminated = () => void;
