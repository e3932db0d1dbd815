/**
 * Stateless nonces (RFC 7616 §3.3 suggests "time-stamp H(time-stamp ":" ETag
 * ":" secret)"): each nonce carries its own expiry and an HMAC over
 * realm, expiry and a random part, keyed with the server secret. Any node that
 * knows the secret can check a nonce; nothing is stored per nonce.
 *
 *   nonce = expiry-ms(base36) "." random(12 bytes, base64url) "." HMAC-SHA256(secret, realm "." expiry "." random)[0..16](base64url)
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { randomBase64url } from '../message/random.ts';

export type NonceCheck = { valid: false } | { valid: true; expiresAt: number; expired: boolean };

export class NonceMint {
  constructor(
    private readonly secret: string | Buffer,
    private readonly realm: string,
  ) {}

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
    if (!/^[0-9a-z]{1,12}$/.test(exp)) return { valid: false };
    const given = Buffer.from(mac, 'base64url');
    const expected = Buffer.from(this.mac(exp, rand), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { valid: false };
    const expiresAt = parseInt(exp, 36);
    return { valid: true, expiresAt, expired: expiresAt <= now };
  }

  private mac(exp: string, rand: string): string {
    return createHmac('sha256', this.secret).update(`${this.realm}.${exp}.${rand}`).digest().subarray(0, 16).toString('base64url');
  }
}
