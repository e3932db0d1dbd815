/**
 * In-memory location service (RFC 3261 §10.3 "location service"). Used by tests,
 * the lab, and as a fallback when no persistent store is configured. Keeps the
 * same semantics as the SQLite store: a binding is identified by (aor, contact),
 * expired bindings are invisible to readers and deleted by purgeExpired().
 *
 * Bindings are copied in and out so callers can never mutate stored state by
 * accident (the registrar computes a tentative set before committing).
 */
import type { Binding, LocationStore } from '../../store/location-store.ts';

export function copyBinding(b: Binding): Binding {
  return { ...b, path: [...b.path], flow: { ...b.flow } };
}

/** Highest q first; among equal q the most recently written first (RFC 3261 §16.6 order hint). */
export function byPreference(a: Binding, b: Binding): number {
  return b.q - a.q || b.updatedAt - a.updatedAt;
}

export class MemoryLocationStore implements LocationStore {
  private readonly byAor = new Map<string, Map<string, Binding>>();
  private closed = false;

  bindings(aor: string, now: number): Binding[] {
    const m = this.byAor.get(aor);
    if (!m) return [];
    return [...m.values()].filter((b) => b.expiresAt > now).map(copyBinding).sort(byPreference);
  }

  save(binding: Binding): void {
    let m = this.byAor.get(binding.aor);
    if (!m) {
      m = new Map();
      this.byAor.set(binding.aor, m);
    }
    m.set(binding.contact, copyBinding(binding));
  }

  remove(aor: string, contact: string): void {
    const m = this.byAor.get(aor);
    if (!m) return;
    m.delete(contact);
    if (m.size === 0) this.byAor.delete(aor);
  }

  removeAll(aor: string): void {
    this.byAor.delete(aor);
  }

  all(now: number): Binding[] {
    const out: Binding[] = [];
    for (const m of this.byAor.values()) {
      for (const b of m.values()) if (b.expiresAt > now) out.push(copyBinding(b));
    }
    return out.sort((a, b) => (a.aor < b.aor ? -1 : a.aor > b.aor ? 1 : byPreference(a, b)));
  }

  count(now: number): number {
    let n = 0;
    for (const m of this.byAor.values()) for (const b of m.values()) if (b.expiresAt > now) n++;
    return n;
  }

  purgeExpired(now: number): number {
    let n = 0;
    for (const [aor, m] of this.byAor) {
      for (const [contact, b] of m) {
        if (b.expiresAt <= now) {
          m.delete(contact);
          n++;
        }
      }
      if (m.size === 0) this.byAor.delete(aor);
    }
    return n;
  }

  /** Idempotent; a closed memory store simply forgets everything. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.byAor.clear();
  }
}
