/**
 * Random identifiers for the hot path (tags, branches, Call-IDs, nonces): bytes
 * come from one pooled buffer refilled by crypto.randomFillSync, instead of a
 * crypto.randomBytes call (a native call and an allocation) per identifier.
 * Same CSPRNG, same entropy per identifier; each byte is handed out once.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

function take(n: number): number {
  if (n > POOL_SIZE) throw new RangeError('random pool request too large');
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += n;
  return at;
}

/** `n` random bytes as 2n lower-case hex digits. */
export function randomHex(n: number): string {
  const at = take(n);
  return pool.toString('hex', at, at + n);
}

/** `n` random bytes as base64url (no padding). */
export function randomBase64url(n: number): string {
  const at = take(n);
  return pool.toString('base64url', at, at + n);
}
