import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SqliteLocationStore } from '../../src/store/sqlite-location-store.ts';
import type { Binding } from '../../src/store/location-store.ts';
import { binding } from './helpers.ts';

/** The LocationStore contract as a few lines of obviously-correct code. */
class Model {
  readonly rows = new Map<string, Binding>();
  key = (aor: string, contact: string): string => `${aor}\u0000${contact}`;
  save(b: Binding): void {
    this.rows.set(this.key(b.aor, b.contact), b);
  }
  remove(aor: string, contact: string): void {
    this.rows.delete(this.key(aor, contact));
  }
  removeAll(aor: string): void {
    for (const [k, b] of this.rows) if (b.aor === aor) this.rows.delete(k);
  }
  purge(now: number): number {
    let n = 0;
    for (const [k, b] of this.rows) {
      if (b.expiresAt > now) continue;
      this.rows.delete(k);
      n++;
    }
    return n;
  }
  bindings(aor: string, now: number): Binding[] {
    return [...this.rows.values()]
      .filter((b) => b.aor === aor && b.expiresAt > now)
      .sort((a, b) => b.q - a.q || b.updatedAt - a.updatedAt || (a.contact < b.contact ? -1 : 1));
  }
}

const aor = fc.constantFrom('2001@lab.spacephone.test', '2002@lab.spacephone.test');
const contact = fc.constantFrom('<sip:a@192.0.2.1>', '<sip:b@192.0.2.1>', '<sip:c@192.0.2.1>;ob');
const time = fc.integer({ min: 0, max: 100 });
const op = fc.oneof(
  fc.record({ kind: fc.constant('save' as const), aor, contact, q: fc.constantFrom(0, 0.5, 1), expiresAt: time, updatedAt: time, cseq: fc.nat(1000) }),
  fc.record({ kind: fc.constant('remove' as const), aor, contact }),
  fc.record({ kind: fc.constant('removeAll' as const), aor }),
  fc.record({ kind: fc.constant('purge' as const), now: time }),
  fc.record({ kind: fc.constant('read' as const), aor, now: time }),
);

describe('SqliteLocationStore contract', () => {
  it('MUST behave like the reference model for any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const store = SqliteLocationStore.open(':memory:');
        const model = new Model();
        try {
          for (const o of ops) {
            switch (o.kind) {
              case 'save': {
                const b = binding({ aor: o.aor, contact: o.contact, q: o.q, expiresAt: o.expiresAt, updatedAt: o.updatedAt, cseq: o.cseq });
                store.save(b);
                model.save(b);
                break;
              }
              case 'remove':
                store.remove(o.aor, o.contact);
                model.remove(o.aor, o.contact);
                break;
              case 'removeAll':
                store.removeAll(o.aor);
                model.removeAll(o.aor);
                break;
              case 'purge':
                assert.equal(store.purgeExpired(o.now), model.purge(o.now));
                break;
              case 'read':
                assert.deepEqual(store.bindings(o.aor, o.now), model.bindings(o.aor, o.now));
                assert.equal(store.count(o.now), [...model.rows.values()].filter((b) => b.expiresAt > o.now).length);
                break;
            }
          }
          assert.equal(store.all(-1).length, model.rows.size);
        } finally {
          store.close();
        }
      }),
      { numRuns: 200 },
    );
  });
});
