import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { orderSrv } from '../../../src/sip/resolver/srv-order.ts';
import type { SrvRecord } from '../../../src/sip/resolver/dns-client.ts';

/** mulberry32: small seeded PRNG so the statistics are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const srv = (target: string, priority: number, weight: number): SrvRecord => ({ target, priority, weight, port: 5060 });

function firstPicks(records: SrvRecord[], draws: number, seed = 42): Map<string, number> {
  const random = seeded(seed);
  const counts = new Map<string, number>();
  for (let i = 0; i < draws; i++) {
    const first = orderSrv(records, random)[0].target;
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  return counts;
}

describe('RFC 2782 SRV ordering', () => {
  it('MUST put every lower-priority record before any higher-priority one regardless of weight', () => {
    const random = seeded(1);
    for (let i = 0; i < 200; i++) {
      const order = orderSrv([srv('de', 20, 1000), srv('nl', 10, 0), srv('be', 30, 5), srv('fr', 20, 0)], random);
      assert.equal(order[0].target, 'nl');
      assert.deepEqual(new Set(order.slice(1, 3).map((r) => r.target)), new Set(['de', 'fr']));
      assert.equal(order[3].target, 'be');
    }
  });

  it('MUST split first picks ~2:1 for weights 20:10 within one priority', () => {
    const counts = firstPicks([srv('nl', 10, 20), srv('de', 10, 10)], 30_000);
    const ratio = (counts.get('nl') ?? 0) / (counts.get('de') ?? 1);
    // Expected 21/10 with RFC 2782's [0, sum] draw; generous bounds.
    assert.ok(ratio > 1.85 && ratio < 2.35, `ratio ${ratio}`);
  });

  it('MUST give a weight-0 record a small but non-zero chance when others have weight', () => {
    const counts = firstPicks([srv('zero', 10, 0), srv('heavy', 10, 10)], 22_000);
    const zero = counts.get('zero') ?? 0;
    // RFC 2782 draw in [0, 10]: zero goes first only on 0 → 1/11.
    assert.ok(zero > 1500 && zero < 2500, `zero picked first ${zero} times`);
  });

  it('MUST pick uniformly when all weights are 0', () => {
    const counts = firstPicks([srv('a', 10, 0), srv('b', 10, 0), srv('c', 10, 0)], 30_000);
    for (const t of ['a', 'b', 'c']) {
      const n = counts.get(t) ?? 0;
      assert.ok(n > 9000 && n < 11000, `${t}: ${n}`);
    }
  });

  it('MUST return every record exactly once', () => {
    const records = [srv('a', 1, 5), srv('b', 1, 0), srv('c', 2, 7), srv('d', 1, 9), srv('e', 2, 0)];
    const random = seeded(7);
    for (let i = 0; i < 100; i++) {
      const order = orderSrv(records, random);
      assert.deepEqual(order.map((r) => r.target).sort(), ['a', 'b', 'c', 'd', 'e']);
    }
  });
});
