/**
 * Injected clock. Protocol timers (RFC 3261 §17 Timers A–M, registration expiry,
 * keep-alives) run on a Clock so tests advance time instead of sleeping.
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Milliseconds since the epoch (monotonic enough for timers). */
  now(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle | undefined): void;
  /**
   * Optional: milliseconds on a clock that never steps (unlike now(), which follows
   * the wall clock). For deadlines kept as numbers rather than as timers, such as
   * the shared Timer J sweep. Use monotonicNow(clock), which falls back to now().
   */
  monotonic?(): number;
}

/** The clock's monotonic time if it has one, else now(). */
export function monotonicNow(clock: Clock): number {
  return clock.monotonic ? clock.monotonic() : clock.now();
}

export class SystemClock implements Clock {
  private readonly live = new Map<number, NodeJS.Timeout>();
  private nextId = 1;
  now(): number {
    return Date.now();
  }
  monotonic(): number {
    return performance.now();
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(() => {
      this.live.delete(id);
      fn();
    }, ms);
    this.live.set(id, t);
    return { id };
  }
  clearTimer(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const t = this.live.get(handle.id);
    if (t) {
      clearTimeout(t);
      this.live.delete(handle.id);
    }
  }
}

/** Deterministic clock for tests: timers fire only inside advance(). */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void; seq: number }>();
  constructor(start = 1_000_000) {
    this.current = start;
  }
  now(): number {
    return this.current;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn, seq: id });
    return { id };
  }
  clearTimer(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete(handle.id);
  }
  /** Number of timers still pending. */
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward by ms, firing due timers in time order (ties: creation order). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let nextId = -1;
      let next: { at: number; fn: () => void; seq: number } | undefined;
      for (const [id, t] of this.timers) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) {
          next = t;
          nextId = id;
        }
      }
      if (!next) break;
      this.timers.delete(nextId);
      this.current = next.at;
      next.fn();
    }
    this.current = target;
  }
}
