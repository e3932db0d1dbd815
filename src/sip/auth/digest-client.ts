/**
 * Digest authentication, client side (RFC 3261 §22.2–§22.3, RFC 7616, RFC 8760).
 *
 * authorize(req, res) answers the challenges of a 401/407 by adding
 * Authorization / Proxy-Authorization credentials to `req` (the request that
 * was challenged; the caller then re-sends it with a new CSeq and branch).
 * One credential per realm (RFC 3261 §22.3: a forking proxy may gather
 * challenges of several realms), strongest offered algorithm (RFC 8760 §2.4),
 * qop=auth with a fresh cnonce and an nc counting per nonce.
 *
 * Giving up (returns false), so a wrong password never loops:
 * - the challenged request already carried our credentials for that realm and the
 *   new challenge is not stale=true (RFC 3261 §22.2: the credentials were refused);
 * - more than `maxStaleRetries` stale challenges in a row for one Call-ID and realm;
 * - no challenge we can answer (unknown scheme/algorithm, auth-int only, other realm).
 */
import { randomBytes } from 'node:crypto';
import type { AuthValue, SipRequest, SipResponse } from '../message/types.ts';
import { serializeUri } from '../message/uri.ts';
import {
  ALGORITHM_PREFERENCE,
  DigestError,
  digestResponse,
  formatNc,
  ha1 as computeHa1,
  isDigest,
  parseAlgorithm,
  qopOptions,
  type DigestAlgorithm,
} from './digest.ts';

export interface DigestClientOptions {
  username: string;
  /** The password, or precomputed HA1 values (then realm-specific, see `ha1`). */
  password?: string;
  /** HA1 per algorithm for the realm the account lives in (RFC 7616 §3.4.2). */
  ha1?: Partial<Record<DigestAlgorithm, string>>;
  /** Only answer challenges from these realms (default: any realm). */
  realms?: string[];
  /** Algorithms we are willing to use, strongest first (default SHA-512-256, SHA-256, MD5). */
  algorithms?: DigestAlgorithm[];
  /** cnonce source (inject for tests). */
  cnonce?: () => string;
  /** Consecutive stale=true challenges tolerated per Call-ID and realm (default 2). */
  maxStaleRetries?: number;
}

const MAX_TRACKED = 256;

export class DigestClient {
  private readonly algorithms: readonly DigestAlgorithm[];
  private readonly ncByNonce = new Map<string, number>();
  private readonly staleStreak = new Map<string, number>();

  constructor(private readonly opts: DigestClientOptions) {
    if (opts.password === undefined && opts.ha1 === undefined) throw new DigestError('DigestClient needs a password or ha1');
    this.algorithms = opts.algorithms ?? ALGORITHM_PREFERENCE;
  }

  /** Adds credentials answering `challenge` to `req`. False: give up (see file comment). */
  authorize(req: SipRequest, challenge: SipResponse): boolean {
    let values: AuthValue[];
    let field: 'authorization' | 'proxyAuthorization';
    if (challenge.status === 401) {
      values = challenge.wwwAuthenticate;
      field = 'authorization';
    } else if (challenge.status === 407) {
      values = challenge.proxyAuthenticate;
      field = 'proxyAuthorization';
    } else {
      return false;
    }

    // Best challenge per realm.
    const chosen = new Map<string, { value: AuthValue; algorithm: DigestAlgorithm }>();
    for (const v of values) {
      if (!isDigest(v)) continue;
      const realm = v.params.get('realm');
      const nonce = v.params.get('nonce');
      if (realm === undefined || nonce === undefined) continue;
      if (this.opts.realms && !this.opts.realms.includes(realm)) continue;
      const algorithm = parseAlgorithm(v.params.get('algorithm'));
      if (algorithm === undefined || !this.algorithms.includes(algorithm) || !this.canUse(algorithm)) continue;
      const qops = qopOptions(v);
      if (qops.length > 0 && !qops.includes('auth')) continue;
      const prev = chosen.get(realm);
      if (!prev || this.algorithms.indexOf(algorithm) < this.algorithms.indexOf(prev.algorithm)) {
        chosen.set(realm, { value: v, algorithm });
      }
    }
    if (chosen.size === 0) return false;

    const next: AuthValue[] = [];
    for (const [realm, { value, algorithm }] of chosen) {
      const had = req[field].some((c) => isDigest(c) && c.params.get('realm') === realm);
      const stale = value.params.get('stale')?.toLowerCase() === 'true';
      const key = `${req.callId}\u0000${realm}`;
      if (had && !stale) return false; // our credentials were refused
      if (had && stale) {
        const streak = (this.staleStreak.get(key) ?? 0) + 1;
        if (streak > (this.opts.maxStaleRetries ?? 2)) return false;
        this.remember(this.staleStreak, key, streak);
      } else {
        this.staleStreak.delete(key);
      }
      next.push(this.credentials(req, realm, value, algorithm));
    }
    const realms = new Set(chosen.keys());
    req[field] = [...req[field].filter((c) => !(isDigest(c) && realms.has(c.params.get('realm') ?? ''))), ...next];
    return true;
  }

  private canUse(algorithm: DigestAlgorithm): boolean {
    return this.opts.password !== undefined || this.opts.ha1?.[algorithm] !== undefined;
  }

  private credentials(req: SipRequest, realm: string, challenge: AuthValue, algorithm: DigestAlgorithm): AuthValue {
    const nonce = challenge.params.get('nonce') ?? '';
    const uri = serializeUri(req.uri);
    const ha1 =
      this.opts.password !== undefined
        ? computeHa1(this.opts.username, realm, this.opts.password, algorithm)
        : (this.opts.ha1?.[algorithm] ?? '');
    const useQop = qopOptions(challenge).includes('auth');
    const params = new Map<string, string>([
      ['username', this.opts.username],
      ['realm', realm],
      ['nonce', nonce],
      ['uri', uri],
    ]);
    if (useQop) {
      const nc = (this.ncByNonce.get(nonce) ?? 0) + 1;
      this.remember(this.ncByNonce, nonce, nc);
      const cnonce = this.opts.cnonce ? this.opts.cnonce() : randomBytes(16).toString('hex');
      const ncStr = formatNc(nc);
      params.set('response', digestResponse({ algorithm, ha1, method: req.method, uri, nonce, qop: { nc: ncStr, cnonce } }));
      params.set('algorithm', algorithm);
      params.set('cnonce', cnonce);
      params.set('qop', 'auth');
      params.set('nc', ncStr);
    } else {
      params.set('response', digestResponse({ algorithm, ha1, method: req.method, uri, nonce }));
      params.set('algorithm', algorithm);
    }
    const opaque = challenge.params.get('opaque');
    if (opaque !== undefined) params.set('opaque', opaque);
    return { scheme: 'Digest', params };
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > MAX_TRACKED) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }
}
