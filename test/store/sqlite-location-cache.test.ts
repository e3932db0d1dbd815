import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteLocationStore } from '../../src/store/sqlite-location-store.ts';
import { binding } from './helpers.ts';

const NOW = 1_000_000;
const AOR = '2001@lab.spacephone.test';

/** The same store read from its cache and straight from the database must agree. */
function agree(s: SqliteLocationStore, now = NOW): void {
  const fresh = new SqliteLocationStore((s as unknown as { db: ConstructorParameters<typeof SqliteLocationStore>[0] }).db);
  assert.deepEqual(s.bindings(AOR, now), fresh.bindings(AOR, now));
}

describe('SqliteLocationStore with cacheReads (the node is the only writer)', () => {
  it('MUST read back exactly what the database holds after save, replace, remove and removeAll', () => {
    const s = SqliteLocationStore.open(':memory:', { cacheReads: true });
    assert.deepEqual(s.bindings(AOR, NOW), []);
    s.save(binding({ contact: '<sip:a@192.0.2.1>', q: 0.5 }));
    s.save(binding({ contact: '<sip:b@192.0.2.1>', q: 1 }));
    agree(s);
    assert.deepEqual(s.bindings(AOR, NOW).map((b) => b.contact), ['<sip:b@192.0.2.1>', '<sip:a@192.0.2.1>'], 'highest q first');
    s.save(binding({ contact: '<sip:a@192.0.2.1>', q: 1, updatedAt: NOW + 5 }));
    agree(s);
    assert.deepEqual(s.bindings(AOR, NOW).map((b) => b.contact), ['<sip:a@192.0.2.1>', '<sip:b@192.0.2.1>'], 'tie on q: most recently updated first');
    s.remove(AOR, '<sip:a@192.0.2.1>');
    agree(s);
    s.removeAll(AOR);
    agree(s);
    assert.equal(s.bindings(AOR, NOW).length, 0);
    s.close();
  });

  it('MUST hide bindings once expired and forget purged ones', () => {
    const s = SqliteLocationStore.open(':memory:', { cacheReads: true });
    s.save(binding({ contact: '<sip:a@192.0.2.1>', expiresAt: NOW + 1000 }));
    assert.equal(s.bindings(AOR, NOW).length, 1);
    assert.equal(s.bindings(AOR, NOW + 1000).length, 0, 'expiresAt <= now is expired');
    assert.equal(s.purgeExpired(NOW + 1000), 1);
    agree(s, NOW);
    assert.equal(s.bindings(AOR, NOW).length, 0);
    s.close();
  });

  it('MUST NOT keep the writes of a rolled-back transaction', () => {
    const s = SqliteLocationStore.open(':memory:', { cacheReads: true });
    s.save(binding({ contact: '<sip:a@192.0.2.1>' }));
    s.bindings(AOR, NOW);
    assert.throws(() => s.transaction(() => {
      s.save(binding({ contact: '<sip:b@192.0.2.1>' }));
      throw new Error('fail mid-REGISTER');
    }), /fail mid-REGISTER/);
    assert.deepEqual(s.bindings(AOR, NOW).map((b) => b.contact), ['<sip:a@192.0.2.1>']);
    s.close();
  });

  it('MUST NOT be changed by a caller modifying the Binding it saved', () => {
    const s = SqliteLocationStore.open(':memory:', { cacheReads: true });
    s.bindings(AOR, NOW);
    const b = binding({ contact: '<sip:a@192.0.2.1>' });
    s.save(b);
    b.reachable = false;
    b.flow.port = 1;
    assert.equal(s.bindings(AOR, NOW)[0]?.reachable, true);
    assert.notEqual(s.bindings(AOR, NOW)[0]?.flow.port, 1);
    s.close();
  });
});
