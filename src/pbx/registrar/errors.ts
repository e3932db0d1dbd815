/**
 * Registrar faults and the table that maps each to its SIP response
 * (STYLE.md §6). A fault is raised while checking a REGISTER (RFC 3261 §10.3
 * steps 1–7) and turned into exactly one response by the registrar; it never
 * escapes to the network handler.
 */
import { SpacephoneError } from '../../util/errors.ts';

export type RegistrarErrorCode =
  | 'REG_NOT_REGISTER'
  | 'REG_DOMAIN_NOT_SERVED'
  | 'REG_BAD_EXTENSION'
  | 'REG_AOR_FORBIDDEN'
  | 'REG_AOR_NOT_FOUND'
  | 'REG_BAD_REQUEST'
  | 'REG_STAR_WITH_EXPIRES'
  | 'REG_STAR_WITH_OTHERS'
  | 'REG_INTERVAL_TOO_BRIEF'
  | 'REG_FIRST_HOP_LACKS_OUTBOUND'
  | 'REG_TOO_MANY_BINDINGS'
  | 'REG_OUT_OF_ORDER'
  | 'REG_STORE_FAILED';

/** Status and default reason phrase per fault. */
export const REGISTRAR_FAULTS: Readonly<Record<RegistrarErrorCode, { status: number; reason: string }>> = {
  // Registrars accept only REGISTER (§10.3); §8.2.1: 405 with Allow.
  REG_NOT_REGISTER: { status: 405, reason: 'Method Not Allowed' },
  // §10.3 step 1 + §21.4.4: 404 also when the domain is not handled here.
  REG_DOMAIN_NOT_SERVED: { status: 404, reason: 'Not Found' },
  // §10.3 step 2 / §8.2.2.3: 420 listing the unsupported tags in Unsupported.
  REG_BAD_EXTENSION: { status: 420, reason: 'Bad Extension' },
  // §10.3 step 4: authenticated user not authorized for this AOR.
  REG_AOR_FORBIDDEN: { status: 403, reason: 'Forbidden' },
  // §10.3 step 5: AOR not valid for the domain.
  REG_AOR_NOT_FOUND: { status: 404, reason: 'Not Found' },
  REG_BAD_REQUEST: { status: 400, reason: 'Bad Request' },
  // §10.3 step 6.
  REG_STAR_WITH_EXPIRES: { status: 400, reason: 'Contact * Requires Expires 0' },
  REG_STAR_WITH_OTHERS: { status: 400, reason: 'Contact * Must Be Alone' },
  // §10.3 step 7 / §21.4.17: 423 with Min-Expires.
  REG_INTERVAL_TOO_BRIEF: { status: 423, reason: 'Interval Too Brief' },
  // RFC 5626 §6 / §11.6.
  REG_FIRST_HOP_LACKS_OUTBOUND: { status: 439, reason: 'First Hop Lacks Outbound Support' },
  // Local policy (a flood of contacts from one account); final, the phone must not retry.
  REG_TOO_MANY_BINDINGS: { status: 403, reason: 'Too Many Bindings' },
  // §10.3 step 7: "the update MUST be aborted and the request fails" — a server error.
  REG_OUT_OF_ORDER: { status: 500, reason: 'Server Internal Error' },
  // §10.3 step 7: a failed commit is a 500 and tentative updates are undone.
  REG_STORE_FAILED: { status: 500, reason: 'Server Internal Error' },
};

export class RegistrarError extends SpacephoneError {
  readonly status: number;
  constructor(
    readonly code: RegistrarErrorCode,
    /** Detail for diagnostics; used as the reason phrase of 400s (§21.4.1 allows it). */
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    super(detail ? `${code}: ${detail}` : code, options);
    this.status = REGISTRAR_FAULTS[code].status;
  }

  /** Reason phrase to send: a 400 explains itself, other statuses keep the standard phrase. */
  get reason(): string {
    return this.code === 'REG_BAD_REQUEST' && this.detail ? this.detail : REGISTRAR_FAULTS[this.code].reason;
  }
}
