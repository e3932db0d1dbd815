import type { Clock, TimerHandle } from '../clock.ts';

/** Named one-shot timers of one state machine, on the injected clock. */
export class TimerSet<N extends string> {
  private readonly live = new Map<N, TimerHandle>();
  constructor(private readonly clock: Clock) {}

  start(name: N, ms: number, fn: () => void): void {
    this.stop(name);
    const h = this.clock.setTimer(ms, () => {
      this.live.delete(name);
      fn();
    });
    this.live.set(name, h);
  }

  stop(name: N): void {
    const h = this.live.get(name);
    if (h) {
      this.clock.clearTimer(h);
      this.live.delete(name);
    }
  }

  stopAll(): void {
    for (const h of this.live.values()) this.clock.clearTimer(h);
    this.live.clear();
  }

  /** Names of running timers (diagnostics, tests). */
  running(): N[] {
    return [...this.live.keys()];
  }
}

/**
 * Calls a possibly-throwing send and routes sync throws and rejections to onError,
 * always asynchronously so a failure never re-enters a transition in progress.
 */
export function safeSend(send: () => Promise<unknown>, onError: (err: unknown) => void): void {
  try {
    send().catch(onError);
  } catch (err) {
    void Promise.resolve().then(() => onError(err));
  }
}
