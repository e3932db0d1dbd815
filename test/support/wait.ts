/**
 * Waiting helpers shared by the end-to-end tests (real sockets, real time). Protocol
 * timers in unit tests use FakeClock instead; these are only for "until the other
 * side has done its part" with a bounded deadline.
 */

/** Resolves when `cond` holds (it may be async); rejects after `ms`. */
export function waitFor(cond: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      Promise.resolve(cond()).then(
        (ok) => {
          if (ok) resolve();
          else if (Date.now() > until) reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
          else setTimeout(tick, 10);
        },
        reject,
      );
    };
    tick();
  });
}

/** The arguments of the next `ev` event of `em`; rejects after `ms`. */
export function once<T extends unknown[]>(em: { once(ev: string, fn: (...a: T) => void): unknown }, ev: string, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${ev}`)), ms);
    em.once(ev, (...a: T) => {
      clearTimeout(t);
      resolve(a);
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
