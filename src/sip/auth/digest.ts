/**
 * HTTP Digest as used by SIP (RFC 3261 §22.4), with the algorithms of RFC 7616
 * §3.4.1–3.4.3 that RFC 8760 brings to SIP. Shared by DigestServer and DigestClient.
 *
 *   HA1      = H(username ":" realm ":" password)
 *   HA2      = H(method ":" digest-uri)                             (qop=auth or none)
 *   response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)   (qop=auth)
 *   response = H(HA1 ":" nonce ":" HA2)                             (no qop, RFC 2069)
 *
 * "-sess" variants and qop=auth-int are not supported.
 */
import * as crypto from 'node:crypto';
import { SpacephoneError } from '../../util/errors.ts';
import { parseUri } from '../message/uri.ts';
import { isSipUri, type AuthValue, type Uri } from '../message/types.ts';

export type DigestAlgorithm = 'SHA-512-256' | 'SHA-256' | 'MD5';

const NODE_HASH: Record<DigestAlgorithm, string> = { 'SHA-512-256': 'sha512-256', 'SHA-256': 'sha256', MD5: 'md5' };

/** Hex digest length per algorithm. */
export const DIGEST_HEX_LENGTH: Record<DigestAlgorithm, number> = { 'SHA-512-256': 64, 'SHA-256': 64, MD5: 32 };

/** Client preference, strongest first (RFC 8760 §2.4: the client uses the first it supports). */
export const ALGORITHM_PREFERENCE: readonly DigestAlgorithm[] = ['SHA-512-256', 'SHA-256', 'MD5'];

export class DigestError extends SpacephoneError {
  readonly code = 'SIP_DIGEST';
  constructor(message: string) {
    super(message);
  }
}

/** Maps an `algorithm` parameter to ours; absent means MD5 (RFC 7616 §3.3). undefined if unsupported. */
export function parseAlgorithm(value: string | undefined): DigestAlgorithm | undefined {
  if (value === undefined) return 'MD5';
  const upper = value.toUpperCase();
  return (ALGORITHM_PREFERENCE as readonly string[]).includes(upper) ? (upper as DigestAlgorithm) : undefined;
}

/**
 * crypto.hash (Node >= 20.12) hashes in one native call, ~4x cheaper than a
 * createHash object for these short inputs (three of them per REGISTER);
 * older Node 20 releases lack it. Both hash the UTF-8 bytes of the string.
 */
const oneShot: ((algorithm: string, data: string, encoding: 'hex') => string) | undefined =
  typeof (crypto as { hash?: unknown }).hash === 'function' ? crypto.hash : undefined;

export function hash(algorithm: DigestAlgorithm, data: string): string {
  if (oneShot !== undefined) return oneShot(NODE_HASH[algorithm], data, 'hex');
  return crypto.createHash(NODE_HASH[algorithm]).update(data, 'utf8').digest('hex');
}

/** HA1 = H(username:realm:password) (RFC 7616 §3.4.2). Store this instead of the password. */
export function ha1(username: string, realm: string, password: string, algorithm: DigestAlgorithm): string {
  return hash(algorithm, `${username}:${realm}:${password}`);
}

export interface DigestResponseInput {
  algorithm: DigestAlgorithm;
  ha1: string;
  method: string;
  uri: string;
  nonce: string;
  /** Present for qop=auth: nc is the 8-hex-digit string as sent. */
  qop?: { nc: string; cnonce: string };
}

export function digestResponse(i: DigestResponseInput): string {
  return responseFromHa2(i, ha2Of(i.algorithm, i.method, i.uri));
}

/** HA2 = H(method ":" digest-uri) (qop=auth or none). */
export function ha2Of(algorithm: DigestAlgorithm, method: string, uri: string): string {
  return hash(algorithm, `${method}:${uri}`);
}

/** The response from a known HA2 (a server may reuse it: phones send the same method and uri every time). */
export function responseFromHa2(i: DigestResponseInput, ha2: string): string {
  const ha1Lower = i.ha1.toLowerCase();
  if (i.qop) return hash(i.algorithm, `${ha1Lower}:${i.nonce}:${i.qop.nc}:${i.qop.cnonce}:auth:${ha2}`);
  return hash(i.algorithm, `${ha1Lower}:${i.nonce}:${ha2}`);
}

/**
 * a === b in time that depends on the lengths only, not on where the strings
 * differ (response and nonce MAC checks: no timing oracle). For the ASCII text
 * compared here this is what timingSafeEqual on their bytes does, without
 * allocating two Buffers.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** nc as 8 lower-case hex digits (RFC 7616 §3.4). */
export function formatNc(n: number): string {
  return n.toString(16).padStart(8, '0');
}

export function isDigest(v: AuthValue): boolean {
  return v.scheme.toLowerCase() === 'digest';
}

/** The qop tokens of a challenge's quoted list, lower-cased. */
export function qopOptions(challenge: AuthValue): string[] {
  const q = challenge.params.get('qop');
  if (q === undefined) return [];
  return q
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

/**
 * Loose digest-uri check (RFC 7616 §3.4.6 asks the server to check it names the
 * requested resource): for SIP URIs scheme, user, host (case-insensitive) and port
 * must match; parameters are ignored because proxies and clients differ on them.
 * Other URIs compare case-insensitively as strings.
 */
export function digestUriMatches(digestUri: string, requestUri: Uri, serialized: string): boolean {
  let parsed: Uri;
  try {
    parsed = parseUri(digestUri);
  } catch {
    return false;
  }
  return parsedDigestUriMatches(digestUri, parsed, requestUri, () => serialized);
}

/** digestUriMatches with the digest-uri already parsed; `serialized` is asked for only when a URI is not a SIP URI. */
export function parsedDigestUriMatches(digestUri: string, parsed: Uri, requestUri: Uri, serialized: () => string): boolean {
  if (isSipUri(parsed) && isSipUri(requestUri)) {
    return (
      parsed.scheme === requestUri.scheme &&
      parsed.user === requestUri.user &&
      parsed.host.toLowerCase() === requestUri.host.toLowerCase() &&
      parsed.port === requestUri.port
    );
  }
  return digestUri.toLowerCase() === serialized().toLowerCase();
}
