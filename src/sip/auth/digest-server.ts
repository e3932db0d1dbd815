/**
 * Digest authentication, server side (RFC 3261 §22.2/§22.3, RFC 7616, RFC 8760).
 *
 * - challenge() gives one WWW-/Proxy-Authenticate value per algorithm, strongest
 *   first (RFC 8760 §2.4: the UAC takes the first it supports), all with qop="auth".
 * - Nonces are stateless (see nonce.ts); any node with the same secret and realm
 *   accepts them.
 * - verify() returns a discriminated union. An unknown user and a wrong password
 *   both give { result: 'rejected', reason: 'bad-credentials' } after the same
 *   work (a dummy HA1 stands in for the missing user), so neither the wire answer
 *   nor the timing tells them apart.
 * - Replays are refused by nonce-count (nc-tracker.ts). Requests without qop
 *   (RFC 2069 clients) cannot be protected that way; they are accepted unless
 *   `allowNoQop` is false.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { AuthValue, SipRequest, SipResponse } from '../message/types.ts';
import { serializeUri } from '../message/uri.ts';
import { parseUri } from '../message/uri.ts';
import type { Uri } from '../message/types.ts';
import {
  DIGEST_HEX_LENGTH,
  constantTimeEqual,
  ha2Of,
  isDigest,
  parseAlgorithm,
  parsedDigestUriMatches,
  responseFromHa2,
  type DigestAlgorithm,
} from './digest.ts';
import { NonceMint } from './nonce.ts';
import { NonceCountTracker } from './nc-tracker.ts';

export interface DigestServerOptions {
  realm: string;
  /** HMAC key for nonces; share it between nodes that should accept each other's nonces. */
  secret: string | Buffer;
  clock: Clock;
  /** Nonce lifetime (default 300 s). */
  nonceTtlSec?: number;
  /** Offered algorithms, in order of preference (default SHA-256, MD5). */
  algorithms?: DigestAlgorithm[];
  /** Fixed opaque value to send and require back (optional). */
  opaque?: string;
  /** Accept credentials without qop (RFC 2069). Default true. */
  allowNoQop?: boolean;
  /** Bound on remembered nonces for nc replay checks (default 10000). */
  maxTrackedNonces?: number;
}

export interface ChallengeOptions {
  stale?: boolean;
  /** 407 Proxy-Authenticate rather than 401 WWW-Authenticate (only matters for applyChallenge). */
  proxy?: boolean;
}

/** Credential store lookup: HA1 for this user, realm and algorithm, or undefined for an unknown user. */
export type Ha1Lookup = (username: string, realm: string, algorithm: DigestAlgorithm) => { ha1: string } | undefined;

export type DigestVerdict =
  | { result: 'ok'; username: string; realm: string; algorithm: DigestAlgorithm; qop: 'auth' | 'none' }
  /** Send a (new) challenge: no credentials for our realm, a nonce we did not issue, an expired nonce, a replayed nc, an algorithm we do not offer. */
  | { result: 'challenge'; reason: 'missing' | 'bad-nonce' | 'stale' | 'replay' | 'unsupported'; stale: boolean }
  /** Wrong password or unknown user — deliberately the same (send 403, or a fresh 401). */
  | { result: 'rejected'; reason: 'bad-credentials'; username: string }
  /** Malformed credentials or a digest-uri that is not the Request-URI (RFC 7616 §3.4.6): send 400. */
  | { result: 'bad-request'; reason: string };

export interface VerifyOptions {
  /** Read Proxy-Authorization (a proxy's 407 flow) rather than Authorization. */
  proxy?: boolean;
}

const NC_RE = /^[0-9a-fA-F]{8}$/;

/**
 * Entries of the per-server memo tables below. Phones send the same digest-uri
 * and method with every REGISTER, so these hit nearly always; they are emptied
 * when full, which bounds what a flood of made-up values can cost in memory.
 */
const MEMO_MAX = 1024;

function memo<V>(table: Map<string, V>, key: string, compute: () => V): V {
  let v = table.get(key);
  if (v === undefined) {
    v = compute();
    if (table.size >= MEMO_MAX) table.clear();
    table.set(key, v);
  }
  return v;
}

function parseOrNull(uri: string): Uri | null {
  try {
    return parseUri(uri);
  } catch {
    return null;
  }
}

export class DigestServer {
  readonly realm: string;
  private readonly mint: NonceMint;
  private readonly tracker: NonceCountTracker;
  private readonly algorithms: DigestAlgorithm[];
  private readonly nonceTtlMs: number;
  private readonly dummyHa1: Record<DigestAlgorithm, string>;
  /** digest-uri text → parsed (null: does not parse). */
  private readonly digestUris = new Map<string, Uri | null>();
  /** digest-uri → HA2 for one algorithm and method (keyed by the uri alone: no key string to build). */
  private readonly ha2s = new Map<string, { algorithm: DigestAlgorithm; method: string; ha2: string }>();

  constructor(private readonly opts: DigestServerOptions) {
    this.realm = opts.realm;
    this.mint = new NonceMint(opts.secret, opts.realm);
    this.tracker = new NonceCountTracker(opts.maxTrackedNonces);
    this.algorithms = opts.algorithms ?? ['SHA-256', 'MD5'];
    this.nonceTtlMs = (opts.nonceTtlSec ?? 300) * 1000;
    const dummy = (a: DigestAlgorithm): string => randomBytes(DIGEST_HEX_LENGTH[a] / 2).toString('hex');
    this.dummyHa1 = { 'SHA-512-256': dummy('SHA-512-256'), 'SHA-256': dummy('SHA-256'), MD5: dummy('MD5') };
  }

  /** Challenge values, one per offered algorithm, sharing one fresh nonce. */
  challenge(opts: ChallengeOptions = {}): AuthValue[] {
    const nonce = this.mint.issue(this.opts.clock.now() + this.nonceTtlMs);
    return this.algorithms.map((algorithm) => {
      const params = new Map<string, string>();
      params.set('realm', this.realm);
      params.set('nonce', nonce);
      params.set('algorithm', algorithm);
      params.set('qop', 'auth');
      if (this.opts.opaque !== undefined) params.set('opaque', this.opts.opaque);
      if (opts.stale) params.set('stale', 'true');
      return { scheme: 'Digest', params };
    });
  }

  /** Puts a fresh challenge into a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) response. */
  applyChallenge(res: SipResponse, opts: ChallengeOptions = {}): void {
    const values = this.challenge(opts);
    if (opts.proxy) res.proxyAuthenticate = values;
    else res.wwwAuthenticate = values;
  }

  private ha2(algorithm: DigestAlgorithm, method: string, uri: string): string {
    const known = this.ha2s.get(uri);
    if (known !== undefined && known.algorithm === algorithm && known.method === method) return known.ha2;
    const ha2 = ha2Of(algorithm, method, uri);
    if (this.ha2s.size >= MEMO_MAX) this.ha2s.clear();
    this.ha2s.set(uri, { algorithm, method, ha2 });
    return ha2;
  }

  verify(req: SipRequest, lookup: Ha1Lookup, opts: VerifyOptions = {}): DigestVerdict {
    const all = opts.proxy ? req.proxyAuthorization : req.authorization;
    // RFC 3261 §22.3: use the credentials whose realm is ours; others belong to other hops.
    const creds = all.find((c) => isDigest(c) && c.params.get('realm') === this.realm);
    if (!creds) return { result: 'challenge', reason: 'missing', stale: false };
    const p = creds.params;

    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    if (username === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return { result: 'bad-request', reason: 'incomplete credentials' };
    }
    const algorithm = parseAlgorithm(p.get('algorithm'));
    if (algorithm === undefined || !this.algorithms.includes(algorithm)) {
      return { result: 'challenge', reason: 'unsupported', stale: false };
    }

    let qop: { nc: string; cnonce: string } | undefined;
    const qopValue = p.get('qop');
    if (qopValue !== undefined) {
      if (qopValue.toLowerCase() !== 'auth') return { result: 'challenge', reason: 'unsupported', stale: false };
      const nc = p.get('nc');
      const cnonce = p.get('cnonce');
      if (nc === undefined || !NC_RE.test(nc) || cnonce === undefined || cnonce === '') {
        return { result: 'bad-request', reason: 'bad nc or cnonce' };
      }
      qop = { nc, cnonce };
    } else if (this.opts.allowNoQop === false) {
      return { result: 'challenge', reason: 'unsupported', stale: false };
    }

    const parsedUri = memo(this.digestUris, uri, () => parseOrNull(uri));
    if (parsedUri === null || !parsedDigestUriMatches(uri, parsedUri, req.uri, () => serializeUri(req.uri))) {
      return { result: 'bad-request', reason: 'digest uri does not match Request-URI' };
    }
    if (this.opts.opaque !== undefined && p.get('opaque') !== this.opts.opaque) {
      return { result: 'challenge', reason: 'bad-nonce', stale: false };
    }

    const now = this.opts.clock.now();
    const nonceCheck = this.mint.check(nonce, now);
    if (!nonceCheck.valid) return { result: 'challenge', reason: 'bad-nonce', stale: false };

    // Same work for unknown users: compute against a dummy HA1 (no timing oracle).
    const found = lookup(username, this.realm, algorithm);
    const ha1 = found?.ha1 ?? this.dummyHa1[algorithm];
    const expected = responseFromHa2({ algorithm, ha1, method: req.method, uri, nonce, qop }, this.ha2(algorithm, req.method, uri));
    const match = constantTimeEqual(response.toLowerCase(), expected);
    if (!match || !found) return { result: 'rejected', reason: 'bad-credentials', username };

    // RFC 7616 §3.3: stale=true only when the response was right for the old nonce.
    if (nonceCheck.expired) return { result: 'challenge', reason: 'stale', stale: true };
    if (qop && this.tracker.accept(nonce, parseInt(qop.nc, 16), nonceCheck.expiresAt, now) === 'replay') {
      return { result: 'challenge', reason: 'replay', stale: true };
    }
    return { result: 'ok', username, realm: this.realm, algorithm, qop: qop ? 'auth' : 'none' };
  }
}
