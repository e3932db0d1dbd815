import { SpacephoneError } from '../../util/errors.ts';

/** Why a transport operation failed; stable values, usable in logs and metrics. */
export type TransportFailure =
  | 'no-socket' // no listener/socket for the wanted transport and address family
  | 'connect-failed'
  | 'connect-timeout'
  | 'connection-closed'
  | 'send-failed'
  | 'unroutable' // a response whose Via gives no address we can send to (§18.2.2)
  | 'closed' // the transport was closed
  | 'listen-failed'
  | 'listener-threw' // a user event listener threw; reported, never propagated to the socket
  | 'bad-message'; // malformed inbound bytes that were dropped or answered statelessly

/**
 * A transport-level failure (RFC 3261 §18). The transaction layer turns a rejected
 * send into a 503 for its user (§8.1.3.1, §17.1.1.2).
 */
export class TransportError extends SpacephoneError {
  readonly code = 'SIP_TRANSPORT';
  constructor(
    readonly reason: TransportFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
