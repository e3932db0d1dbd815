/**
 * Stateless nonces (RFC 7616 §3.3 suggests "time-stamp H(time-stamp ":" ETag
 * ":" secret)"): each nonce carries its own expiry and a keyed hash over
 * realm, expiry and a random part. Any node that knows the secret can check a
 * nonce; nothing needs to be stored per nonce.
 *
 *   nonce = expiry-ms(base36) "." random(12 bytes, base64url) "." MAC(base64url)
 *   MAC   = base64url(SHA-256(realm "." expiry "." random ":" hex(secret)))[0..22]  (132 bits)
 *
 * The MAC is RFC 7616 §3.3's own form, H(data ":" secret), with the secret last
 * (so SHA-256 length extension cannot reach it) and the result truncated to
 * 132 bits. NOTE: it replaced HMAC-SHA256: one createHmac costs ~4 µs (a key
 * and context object per call), a one-shot crypto.hash to text ~0.8 µs (to a
 * Buffer it is twice that: the Buffer allocation), and a nonce is
 * minted for every 401 — a third of a registration's crypto. Forging still
 * needs the 256-bit secret; nonces of a node running an older build fail here
 * and cost the phone one more 401, as after a restart (secrets are per process).
 */
import * as crypto from 'node:crypto';
import { randomBase64url } from '../message/random.ts';
import { constantTimeEqual } from './digest.ts';

export type NonceCheck = { valid: false } | { valid: true; expiresAt: number; expired: boolean };

const NONCE_EXP_RE = /^[0-9a-z]{1,12}$/;

const MAC_LENGTH = 22;

/** base64url SHA-256 of the UTF-8 bytes: one-shot crypto.hash (Node >= 20.12), else a createHash object. */
const sha256: (data: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'base64url')
    : (data) => crypto.createHash('sha256').update(data, 'utf8').digest('base64url');

export class NonceMint {
  /** hex(secret), converted once. */
  private readonly key: string;

  constructor(
    secret: string | Buffer,
    private readonly realm: string,
  ) {
    this.key = (typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret).toString('hex');
  }

  issue(expiresAt: number): string {
    const exp = Math.floor(expiresAt).toString(36);
    const rand = randomBase64url(12);
    return `${exp}.${rand}.${this.mac(exp, rand)}`;
  }

  check(nonce: string, now: number): NonceCheck {
    if (nonce.length > 128) return { valid: false };
    const parts = nonce.split('.');
    if (parts.length !== 3) return { valid: false };
    const [exp, rand, mac] = parts;
    if (!NONCE_EXP_RE.test(exp)) return { valid: false };
    if (mac.length !== MAC_LENGTH || !constantTimeEqual(mac, this.mac(exp, rand))) return { valid: false };
    const expiresAt = parseInt(exp, 36);
    return { valid: true, expiresAt, expired: expiresAt <= now };
  }

  /** The first 22 base64url digits (132 bits) of SHA-256(realm "." exp "." rand ":" hex(secret)). */
  private mac(exp: string, rand: string): string {
    return sha256(`${this.realm}.${exp}.${rand}:${this.key}`).slice(0, MAC_LENGTH);
  }
}
