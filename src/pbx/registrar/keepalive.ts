/**
 * Keep-alive of registered flows (RFC 5626 §4.4 spirit, node-driven): every
 * interval the node pings each unexpired binding — OPTIONS over UDP, CRLF on
 * streams, supplied as `ping` — counts consecutive failures, marks a binding
 * unreachable after `maxFailures` and reachable again on the next success.
 * Each tick also purges expired bindings (RFC 3261 §10.3: a binding lives only
 * until its expiry).
 *
 * NOTE: unreachable bindings keep being pinged, so a phone whose NAT flow comes
 * back is used again without waiting for its next REGISTER.
 *
 * Lifecycle: runs from construction; `stop()` is idempotent and cancels the
 * timer; results of pings still in flight after stop() are ignored.
 */
import type { Clock, TimerHandle } from '../../sip/clock.ts';
import type { Binding, LocationStore } from '../../store/location-store.ts';

export interface KeepAliveOptions {
  store: LocationStore;
  clock: Clock;
  intervalSec: number;
  maxFailures: number;
  /** Resolves true when the binding answered; false or a rejection counts as a failure. */
  ping: (binding: Binding) => Promise<boolean>;
  /** Called when a binding's reachability flips. */
  onReachability?: (binding: Binding, reachable: boolean) => void;
}

export class KeepAliveScheduler {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private running = false;

  constructor(private readonly opts: KeepAliveOptions) {
    if (!(opts.intervalSec > 0) || !(opts.maxFailures >= 1)) throw new RangeError('bad keep-alive settings');
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.opts.clock.setTimer(this.opts.intervalSec * 1000, () => {
      this.arm();
      void this.tick();
    });
  }

  /**
   * One round: purge expired bindings, then ping all live ones in parallel.
   * A round still waiting for slow pings makes the next round skip.
   */
  async tick(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    try {
      const { store, clock } = this.opts;
      store.purgeExpired(clock.now());
      const targets = store.all(clock.now());
      await Promise.all(targets.map((b) => this.probe(b)));
    } finally {
      this.running = false;
    }
  }

  private async probe(b: Binding): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.opts.ping(b);
    } catch {
      ok = false;
    }
    if (this.stopped) return;
    const { store, clock } = this.opts;
    // Re-read: the phone may have re-registered (fresh binding) or gone meanwhile.
    const current = store.bindings(b.aor, clock.now()).find((x) => x.contact === b.contact);
    if (!current || current.updatedAt !== b.updatedAt || current.callId !== b.callId || current.cseq !== b.cseq) return;
    const failures = ok ? 0 : current.failures + 1;
    const reachable = ok ? true : current.reachable && failures < this.opts.maxFailures;
    if (failures === current.failures && reachable === current.reachable) return;
    // updatedAt stays: it records the last REGISTER, not keep-alive bookkeeping.
    const next: Binding = { ...current, failures, reachable };
    store.save(next);
    if (reachable !== current.reachable) this.opts.onReachability?.(next, reachable);
  }

  /** Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}
