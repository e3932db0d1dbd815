/**
 * Non-INVITE transactions in Completed, reduced to what their remaining duty needs.
 *
 * - Server (RFC 3261 §17.2.2): Timer J (64*T1 on UDP) keeps it in Completed only to
 *   answer retransmissions of the request with the final response: its octets and
 *   where they go suffice. At 5,000 REGISTERs/s that is 320,000 transactions at any
 *   moment; keeping each whole (request, response objects, closures, one clock
 *   timer) costs old-space growth and GC work on every registration.
 * - Client (§17.1.2.2): Timer K (T4 on UDP) keeps it in Completed only to absorb
 *   retransmissions of the final response: the key suffices.
 *
 * The timers of every entry of a table run on ONE clock timer: a Map keeps insertion
 * order, and every entry of a table waits the same J (or K), so the oldest entry
 * expires first. The timer is armed for the oldest entry; when it fires, every due
 * entry leaves and the timer is re-armed for the next one, but no earlier than
 * SWEEP_MS later. The clock thus sees at most 1000/SWEEP_MS timers a second instead
 * of one per transaction, and an entry can outlive its timer by up to SWEEP_MS —
 * harmless, since J and K only bound how long retransmissions are absorbed. A lone
 * entry expires exactly on time.
 */
import { monotonicNow, type Clock, type TimerHandle } from '../clock.ts';
import type { SipResponse, Via } from '../message/types.ts';
import type { InboundContext } from '../transport/types.ts';

/** Coarseness of the shared Timer J / Timer K sweep (ms). */
export const SWEEP_MS = 50;

/** What a table entry has: the transaction key and when its timer fires. */
export interface Expiring {
  readonly id: string;
  /** monotonicNow(clock) at which the timer fires (a wall-clock step must not stretch it). */
  readonly expiresAt: number;
}

/** A Completed non-INVITE client transaction (§17.1.2.2): absorbs responses until Timer K. */
export interface CompletedClient extends Expiring {
  readonly method: string;
}

/**
 * Everything a Completed non-INVITE server transaction still needs (§17.2.2). The
 * entry is itself the InboundContext its response goes to (source, local,
 * connectionId), and the routing part of the response's top Via is kept as flat
 * fields, not as a Via with a params Map: 320,000 of these live at 5,000 REGISTER/s,
 * and a retransmission (the only use of the Via) is rare. See `entryVia`.
 */
export interface CompletedServer extends Expiring, InboundContext {
  /** Layer key (§17.2.3) = the transaction's id. */
  readonly id: string;
  readonly method: string;
  /** Serialized final response, for transports that take octets (sendResponseNow). */
  readonly bytes: Buffer | undefined;
  /** The response object, kept only for a transport without sendResponseNow. */
  readonly res: SipResponse | undefined;
  /** The response's top Via, routing part only (§18.2.2, RFC 3581 §4); undefined when it had none. */
  readonly viaProtocol: string | undefined;
  readonly viaTransport: string;
  readonly viaHost: string;
  readonly viaPort: number | undefined;
  readonly maddr: string | null | undefined;
  readonly received: string | null | undefined;
  readonly rport: string | null | undefined;
  /**
   * The transaction object, kept only when a TU asked to hear of transport errors
   * (§17.2.4 needs the transaction to tell it); otherwise nothing references it.
   */
  readonly tx: { expire(): void; transportFailed(err: unknown): void; destroy(): void } | undefined;
}

/** The routing Via of a Completed entry, rebuilt for a retransmission (§17.2.2). */
export function entryVia(entry: CompletedServer): Via | undefined {
  if (entry.viaProtocol === undefined) return undefined;
  const params = new Map<string, string | null>();
  if (entry.maddr !== undefined) params.set('maddr', entry.maddr);
  if (entry.received !== undefined) params.set('received', entry.received);
  if (entry.rport !== undefined) params.set('rport', entry.rport);
  return { protocol: entry.viaProtocol, transport: entry.viaTransport, host: entry.viaHost, port: entry.viaPort, params };
}

export class CompletedTable<E extends Expiring> {
  private readonly entries = new Map<string, E>();
  private timer: TimerHandle | undefined;
  private timerAt = 0;

  /** `onExpire` runs for each entry whose Timer J fired, after it left the store. */
  constructor(
    private readonly clock: Clock,
    private readonly onExpire: (entry: E) => void,
    /** Called for each entry dropped by clear() (layer shutdown). */
    private readonly onClear?: (entry: E) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: string): E | undefined {
    return this.entries.get(id);
  }

  add(entry: E): void {
    // A Map keeps the first insertion position of a key: delete first so order = expiry.
    this.entries.delete(entry.id);
    this.entries.set(entry.id, entry);
    if (this.timer === undefined) this.arm(entry.expiresAt);
  }

  /** Removes `id` if its entry is `entry` (a newer entry under the same key stays). */
  remove(id: string, entry: E): boolean {
    if (this.entries.get(id) !== entry) return false;
    this.entries.delete(id);
    if (this.entries.size === 0) this.disarm();
    return true;
  }

  /** Drops everything without expiring it (layer shutdown). */
  clear(): void {
    if (this.onClear) for (const entry of this.entries.values()) this.onClear(entry);
    this.entries.clear();
    this.disarm();
  }

  private arm(at: number): void {
    this.timerAt = at;
    this.timer = this.clock.setTimer(Math.max(0, at - monotonicNow(this.clock)), () => this.sweep());
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    this.timer = undefined;
    const now = Math.max(monotonicNow(this.clock), this.timerAt);
    const due: E[] = [];
    for (const entry of this.entries.values()) {
      if (entry.expiresAt > now) break;
      due.push(entry);
    }
    for (const entry of due) this.entries.delete(entry.id);
    const next = this.entries.values().next();
    if (!next.done) this.arm(Math.max(next.value.expiresAt, now + SWEEP_MS));
    for (const entry of due) this.onExpire(entry);
  }
}
