import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteLocationStore } from '../../src/store/sqlite-location-store.ts';
import { openDatabase, migrate, schemaVersions } from '../../src/store/sqlite.ts';
import { MIGRATIONS } from '../../src/store/migrations.ts';
import { SchemaVersionError, StoreClosedError, StoreError } from '../../src/store/errors.ts';
import { binding, tempDir } from './helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);
let n = 0;
const file = (): string => join(tmp.dir, `db${n++}`, 'nl.sqlite');

const NOW = 1_000_000;
const AOR = '2001@lab.spacephone.test';

describe('SqliteLocationStore', () => {
  it('MUST return a saved binding unchanged, optional fields included', () => {
    const s = SqliteLocationStore.open(':memory:');
    const full = binding({
      instanceId: '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>',
      regId: 1,
      path: ['<sip:p1.example.test;lr>', '<sip:p2.example.test;lr>'],
      flow: { transport: 'tcp', address: '192.0.2.9', port: 40001, localAddress: '127.0.0.11', localPort: 5060, connectionId: 'c42' },
      userAgent: 'baresip 3.0',
      q: 0.5,
      failures: 2,
      reachable: false,
    });
    const bare = binding({ contact: '<sip:2001@192.0.2.11>' });
    s.save(full);
    s.save(bare);
    const got = s.bindings(AOR, NOW);
    assert.deepEqual(got, [bare, full]);
    assert.ok(!('instanceId' in got[0]), 'absent optional fields stay absent (not null)');
    s.close();
  });

  it('MUST order bindings by q, highest first (RFC 3261 §16.6)', () => {
    const s = SqliteLocationStore.open(':memory:');
    for (const [q, c] of [[0.1, 'a'], [1, 'b'], [0.7, 'c']] as const) s.save(binding({ q, contact: `<sip:${c}@192.0.2.1>` }));
    assert.deepEqual(s.bindings(AOR, NOW).map((b) => b.q), [1, 0.7, 0.1]);
    s.close();
  });

  it('MUST replace the binding with the same (aor, contact) on refresh', () => {
    const s = SqliteLocationStore.open(':memory:');
    s.save(binding({ cseq: 1, expiresAt: NOW + 10 }));
    s.save(binding({ cseq: 2, expiresAt: NOW + 3_600_000 }));
    const got = s.bindings(AOR, NOW);
    assert.equal(got.length, 1);
    assert.equal(got[0].cseq, 2);
    assert.equal(got[0].expiresAt, NOW + 3_600_000);
    s.close();
  });

  it('MUST hide expired bindings (expiresAt <= now) and purge only those', () => {
    const s = SqliteLocationStore.open(':memory:');
    s.save(binding({ contact: '<sip:old@192.0.2.1>', expiresAt: NOW - 1 }));
    s.save(binding({ contact: '<sip:edge@192.0.2.1>', expiresAt: NOW }));
    s.save(binding({ contact: '<sip:live@192.0.2.1>', expiresAt: NOW + 1 }));
    s.save(binding({ aor: '2002@lab.spacephone.test', expiresAt: NOW + 1 }));
    assert.deepEqual(s.bindings(AOR, NOW).map((b) => b.contact), ['<sip:live@192.0.2.1>']);
    assert.equal(s.all(NOW).length, 2);
    assert.equal(s.purgeExpired(NOW), 2);
    assert.equal(s.purgeExpired(NOW), 0);
    assert.equal(s.all(0).length, 2, 'unexpired rows survive the purge');
    s.close();
  });

  it('MUST remove one contact, or every contact of one AOR only', () => {
    const s = SqliteLocationStore.open(':memory:');
    s.save(binding({ contact: '<sip:a@192.0.2.1>' }));
    s.save(binding({ contact: '<sip:b@192.0.2.1>' }));
    s.save(binding({ aor: '2002@lab.spacephone.test' }));
    s.remove(AOR, '<sip:a@192.0.2.1>');
    assert.deepEqual(s.bindings(AOR, NOW).map((b) => b.contact), ['<sip:b@192.0.2.1>']);
    s.removeAll(AOR);
    assert.deepEqual(s.bindings(AOR, NOW), []);
    assert.equal(s.bindings('2002@lab.spacephone.test', NOW).length, 1);
    s.close();
  });

  it('MUST roll back a failed transaction as a whole', () => {
    const s = SqliteLocationStore.open(':memory:');
    assert.throws(() =>
      s.transaction(() => {
        s.save(binding({ contact: '<sip:a@192.0.2.1>' }));
        throw new Error('boom');
      }),
    );
    assert.deepEqual(s.all(NOW), []);
    s.close();
  });

  it('MUST keep bindings across close and reopen of the file', () => {
    const f = file();
    const a = SqliteLocationStore.open(f);
    a.save(binding());
    a.close();
    const b = SqliteLocationStore.open(f);
    assert.deepEqual(b.bindings(AOR, NOW), [binding()]);
    b.close();
  });

  it('MUST throw StoreClosedError after close, and close MUST be idempotent', () => {
    const s = SqliteLocationStore.open(':memory:');
    s.close();
    s.close();
    assert.throws(() => s.bindings(AOR, NOW), (e: unknown) => e instanceof StoreClosedError && e.code === 'STORE_CLOSED');
  });

  it('MUST reject a corrupted JSON column with a StoreError instead of returning garbage', () => {
    const db = openDatabase(':memory:');
    const s = new SqliteLocationStore(db);
    s.save(binding());
    db.prepare("UPDATE bindings SET flow = '{\"transport\":\"sctp\"}'").run();
    assert.throws(() => s.bindings(AOR, NOW), (e: unknown) => e instanceof StoreError && e.code === 'STORE');
    s.close();
    assert.ok(db.open, 'a store that did not open the database does not close it');
    db.close();
  });
});

describe('SQLite database', () => {
  it('MUST use WAL with synchronous=NORMAL', () => {
    const db = openDatabase(file());
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('synchronous', { simple: true }), 1);
    db.close();
  });

  it('MUST apply migrations once: reopening and re-running them changes nothing', () => {
    const f = file();
    const db1 = openDatabase(f);
    const all = MIGRATIONS.map((m) => m.version);
    assert.deepEqual(schemaVersions(db1), all);
    assert.deepEqual(migrate(db1), []);
    db1.close();
    const db2 = openDatabase(f);
    assert.deepEqual(schemaVersions(db2), all);
    db2.close();
  });

  it('MUST apply only the newer migrations to an older database', () => {
    const f = file();
    openDatabase(f, { migrations: MIGRATIONS.slice(0, 1) }).close();
    const db = openDatabase(f, { migrations: MIGRATIONS.slice(0, 1) });
    assert.deepEqual(schemaVersions(db), [1]);
    assert.deepEqual(migrate(db), MIGRATIONS.slice(1).map((m) => m.version));
    db.close();
  });

  it('MUST refuse a database written by a newer schema', () => {
    const f = file();
    openDatabase(f, { migrations: [...MIGRATIONS, { version: 99, name: 'future', sql: 'CREATE TABLE future (x)' }] }).close();
    assert.throws(() => openDatabase(f), (e: unknown) => e instanceof SchemaVersionError && /version 99 is newer/.test(e.message));
  });

  it('MUST let a second connection read a consistent snapshot while the first writes (WAL)', () => {
    const f = file();
    const a = SqliteLocationStore.open(f);
    const b = SqliteLocationStore.open(f);
    a.save(binding({ contact: '<sip:a@192.0.2.1>' }));
    assert.equal(b.bindings(AOR, NOW).length, 1, 'committed writes are visible to the other connection');
    a.transaction(() => {
      a.save(binding({ contact: '<sip:b@192.0.2.1>' }));
      // Uncommitted: the reader neither blocks nor sees it.
      assert.equal(b.bindings(AOR, NOW).length, 1);
    });
    assert.equal(b.bindings(AOR, NOW).length, 2);
    b.removeAll(AOR);
    assert.equal(a.bindings(AOR, NOW).length, 0, 'writes from either connection are visible to the other');
    a.close();
    b.close();
  });
});
