/**
 * RFC 2782 target selection: lowest priority first; inside one priority a
 * weighted random order.
 *
 * RFC 2782 ("Usage rules"): arrange the records of a priority so that weight-0
 * records come first, sum the weights, pick a uniform random number in
 * [0, sum], take the first record whose running sum is >= that number, remove
 * it and repeat. Weight-0 records thereby get a very small chance of being
 * picked before heavier ones. When all weights are 0 the order is uniformly random.
 */
import type { SrvRecord } from './dns-client.ts';

/** Uniform random number in [0, 1), like Math.random. */
export type RandomSource = () => number;

export function orderSrv(records: readonly SrvRecord[], random: RandomSource = Math.random): SrvRecord[] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of records) {
    const group = byPriority.get(r.priority);
    if (group) group.push(r);
    else byPriority.set(r.priority, [r]);
  }
  const out: SrvRecord[] = [];
  for (const prio of [...byPriority.keys()].sort((a, b) => a - b)) {
    out.push(...weightedOrder(byPriority.get(prio) ?? [], random));
  }
  return out;
}

export function weightedOrder(group: readonly SrvRecord[], random: RandomSource): SrvRecord[] {
  // Zero weights first, as RFC 2782 prescribes; stable otherwise.
  const pool = [...group.filter((r) => r.weight === 0), ...group.filter((r) => r.weight > 0)];
  const out: SrvRecord[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((s, r) => s + r.weight, 0);
    let index: number;
    if (total === 0) {
      index = Math.min(pool.length - 1, Math.floor(random() * pool.length));
    } else {
      const pick = Math.min(total, Math.floor(random() * (total + 1)));
      let running = 0;
      index = pool.length - 1;
      for (let i = 0; i < pool.length; i++) {
        running += pool[i].weight;
        if (running >= pick) {
          index = i;
          break;
        }
      }
    }
    out.push(pool[index]);
    pool.splice(index, 1);
  }
  return out;
}
