/**
 * Replay protection by nonce-count (RFC 7616 §3.4, §5.2): the highest nc
 * accepted per nonce. A bounded LRU map; an entry dies with its nonce.
 *
 * A nonce we do not remember (never used here, evicted, or issued before a
 * restart / by another node) is accepted only with nc=1; a higher nc for an
 * unknown nonce cannot be told from a replay and is refused, which makes the
 * client fetch a fresh nonce (stale=true) — one extra round trip, never a hole.
 * NOTE: after eviction a captured nc=1 request could be replayed until the
 * nonce expires; eviction only happens when more than `maxEntries` nonces are in use.
 */
export type NcVerdict = 'fresh' | 'replay';

export class NonceCountTracker {
  private readonly seen = new Map<string, { nc: number; expiresAt: number }>();

  constructor(private readonly maxEntries = 10_000) {}

  /** Checks and, when fresh, records nc for nonce. */
  accept(nonce: string, nc: number, expiresAt: number, now: number): NcVerdict {
    const entry = this.seen.get(nonce);
    if (entry && entry.expiresAt > now) {
      if (nc <= entry.nc) return 'replay';
      // Re-insert to mark as most recently used.
      this.seen.delete(nonce);
      this.seen.set(nonce, { nc, expiresAt });
      return 'fresh';
    }
    if (nc !== 1) return 'replay';
    this.prune(now);
    this.seen.set(nonce, { nc, expiresAt });
    return 'fresh';
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(now: number): void {
    if (this.seen.size < this.maxEntries) return;
    for (const [k, e] of this.seen) if (e.expiresAt <= now) this.seen.delete(k);
    while (this.seen.size >= this.maxEntries) {
      const oldest = this.seen.keys().next().value;
      if (oldest === undefined) break;
      this.seen.delete(oldest);
    }
  }
}
