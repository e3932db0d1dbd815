/**
 * The transport layer boundary (RFC 3261 §18). The transaction layer talks to
 * transports only through `TransportLayer`; tests substitute a fake.
 */
import type { Endpoint, SipRequest, SipResponse, Via } from '../message/types.ts';

/** Where an inbound message came from, kept so responses go back the right way (§18.2.2). */
export interface InboundContext {
  /** Remote address and port the bytes came from (the peer's socket). */
  source: Endpoint;
  /** Local listen address and port the bytes arrived on. */
  local: Endpoint;
  /** For tcp/tls: the connection it arrived on, to send responses over it (§18.2.2). */
  connectionId?: string;
}

export interface InboundRequest extends InboundContext {
  msg: SipRequest;
}
export interface InboundResponse extends InboundContext {
  msg: SipResponse;
}

/** Direction-tagged bytes for the SIP trace hook (STYLE.md §11). */
export interface TraceEvent {
  direction: 'in' | 'out';
  remote: Endpoint;
  local: Endpoint;
  data: Buffer;
}

export interface TransportEvents {
  /** A well-formed request; the transport already stamped `received`/`rport` on Via[0] (§18.2.1, RFC 3581). */
  request(req: InboundRequest): void;
  response(res: InboundResponse): void;
  trace(ev: TraceEvent): void;
}

export interface TransportLayer {
  /**
   * Sends a request to a resolved target. The transport rewrites Via[0]'s transport
   * and sent-by to the socket it actually uses (§18.1.1), switching UDP to TCP when
   * the message is near the path MTU. Rejects with a TransportError on failure.
   * Resolves with the endpoint/connection used.
   */
  sendRequest(req: SipRequest, target: Endpoint): Promise<InboundContext>;
  /** Sends a response the way §18.2.2 and RFC 3581 §4 say, given where its request came from. */
  sendResponse(res: SipResponse, to: InboundContext): Promise<void>;
  /**
   * Optional: like sendResponse, with `data` the already serialized `res` (server
   * transactions keep the bytes of their last response for retransmissions).
   */
  sendResponseBytes?(data: Buffer, res: SipResponse, to: InboundContext): Promise<void>;
  /**
   * Optional hot-path form of sendResponseBytes: fire-and-forget, no Promise. `via`
   * is the response's top Via (it routes the response, §18.2.2). A failure reaches
   * `onError` if given, else the transport's own fault reporting; it is never thrown
   * and never reported synchronously (so it cannot re-enter a state transition).
   */
  sendResponseNow?(data: Buffer, via: Via, to: InboundContext, onError?: (err: unknown) => void): void;
  /** Whether the transport of this name is reliable (tcp/tls) — controls retransmission timers (§17). */
  isReliable(transport: Endpoint['transport']): boolean;
  /** A local endpoint (listen address) for the given transport, e.g. for Contact/Via. */
  localEndpoint(transport: Endpoint['transport'], family?: 4 | 6): Endpoint | undefined;
  on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this;
  off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this;
  close(): Promise<void>;
}
