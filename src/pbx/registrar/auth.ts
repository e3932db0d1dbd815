/**
 * What the registrar needs from authentication (RFC 3261 §10.3 step 3, §22).
 *
 * Contract for implementations (the digest server adapter):
 * - `challenge`: no credentials for our realm, OR credentials that do not verify —
 *   wrong password AND unknown username alike. The two MUST be indistinguishable
 *   (same outcome, same timing class), otherwise extensions can be enumerated
 *   from outside (the classic Asterisk `alwaysauthreject` hole).
 * - `stale`: the digest verified but its nonce expired (RFC 7616 §3.3 stale=true).
 *   Only reachable with the right password, so it leaks nothing.
 * - `forbidden`: refusal that does not depend on whether the user exists
 *   (e.g. a banned source address, a rate limit). Never "unknown user".
 * - `bad-request`: malformed credentials (RFC 7616 §3.4.6, e.g. digest-uri not the
 *   Request-URI) → 400. Must also be decided without looking the user up.
 * Unknown schemes (RFC 4475 §3.3.7 regaut01) count as "no credentials": `challenge`.
 */
import type { SipRequest } from '../../sip/message/types.ts';

export type RegistrarAuthResult = { ok: true; user: string } | { ok: false; response: 'challenge' | 'stale' | 'forbidden' | 'bad-request' };

export interface RegistrarAuth {
  check(req: SipRequest): RegistrarAuthResult;
}
