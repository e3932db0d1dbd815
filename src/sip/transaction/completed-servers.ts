/**
 * Non-INVITE server transactions in Completed (RFC 3261 §17.2.2), reduced to what
 * absorbing a request retransmission needs: the final response's octets and where
 * they go. Timer J (64*T1 on UDP) keeps a transaction in Completed only to answer
 * retransmissions of the request; at 5,000 REGISTERs/s that is 320,000 transactions
 * at any moment, and keeping each whole (request, response objects, closures, one
 * clock timer) costs old-space growth and GC work on every registration.
 *
 * Timer J of every entry runs on ONE clock timer: a Map keeps insertion order, and
 * every entry of a layer waits the same J, so the oldest entry expires first. The
 * timer is armed for the oldest entry; when it fires, every due entry leaves and the
 * timer is re-armed for the next one, but no earlier than SWEEP_MS later. The clock
 * thus sees at most 1000/SWEEP_MS timers a second instead of one per transaction,
 * and an entry can outlive its Timer J by up to SWEEP_MS — harmless, since J only
 * bounds how long retransmissions are absorbed. A lone entry expires exactly at J.
 */
import { monotonicNow, type Clock, type TimerHandle } from '../clock.ts';
import type { SipResponse, Via } from '../message/types.ts';
import type { InboundContext } from '../transport/types.ts';

/** Coarseness of the shared Timer J sweep (ms). */
export const SWEEP_MS = 50;

/** Everything a Completed non-INVITE server transaction still needs (§17.2.2). */
export interface CompletedServer {
  /** Layer key (§17.2.3) = the transaction's id. */
  readonly id: string;
  readonly method: string;
  /** Serialized final response, for transports that take octets (sendResponseNow). */
  readonly bytes: Buffer | undefined;
  /** The response object, kept only for a transport without sendResponseNow. */
  readonly res: SipResponse | undefined;
  /** The response's top Via: it routes the response (§18.2.2). */
  readonly via: Via | undefined;
  /** Where the request came from. */
  readonly to: InboundContext;
  /** monotonicNow(clock) at which Timer J fires (a wall-clock step must not stretch J). */
  readonly expiresAt: number;
  /**
   * The transaction object, kept only when a TU asked to hear of transport errors
   * (§17.2.4 needs the transaction to tell it); otherwise nothing references it.
   */
  readonly tx: { expire(): void; transportFailed(err: unknown): void; destroy(): void } | undefined;
}

export class CompletedServers {
  private readonly entries = new Map<string, CompletedServer>();
  private timer: TimerHandle | undefined;
  private timerAt = 0;

  /** `onExpire` runs for each entry whose Timer J fired, after it left the store. */
  constructor(
    private readonly clock: Clock,
    private readonly onExpire: (entry: CompletedServer) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: string): CompletedServer | undefined {
    return this.entries.get(id);
  }

  add(entry: CompletedServer): void {
    // A Map keeps the first insertion position of a key: delete first so order = expiry.
    this.entries.delete(entry.id);
    this.entries.set(entry.id, entry);
    if (this.timer === undefined) this.arm(entry.expiresAt);
  }

  /** Removes `id` if its entry is `entry` (a newer entry under the same key stays). */
  remove(id: string, entry: CompletedServer): boolean {
    if (this.entries.get(id) !== entry) return false;
    this.entries.delete(id);
    if (this.entries.size === 0) this.disarm();
    return true;
  }

  /** Drops everything without expiring it (layer shutdown); transactions still referenced are destroyed. */
  clear(): void {
    for (const entry of this.entries.values()) entry.tx?.destroy();
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
    const due: CompletedServer[] = [];
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
