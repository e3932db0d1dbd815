/**
 * Looks at a datagram's bytes before it is parsed, for decisions that must cost
 * far less than parsing (overload shedding). Approximate by design: a caller may
 * only use it where a wrong guess is harmless (e.g. dropping a UDP datagram,
 * which the sender retransmits, RFC 3261 §17.1.2.2).
 */

const REGISTER_SP = Buffer.from('REGISTER ', 'latin1');
/** In "Authorization" and "Proxy-Authorization" as phones write them (header names are case-insensitive: "AUTHORIZATION:" is missed). */
const CREDENTIALS = Buffer.from('uthorization', 'latin1');

/** A REGISTER request carrying no credentials: the first half of a new registration handshake. */
export function isUncredentialedRegister(data: Buffer): boolean {
  return (
    data.length > REGISTER_SP.length &&
    data.compare(REGISTER_SP, 0, REGISTER_SP.length, 0, REGISTER_SP.length) === 0 &&
    data.indexOf(CREDENTIALS, REGISTER_SP.length) < 0
  );
}
