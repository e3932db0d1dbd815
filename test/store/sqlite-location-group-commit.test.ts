/**
 * Group commit of the location store (SqliteLocationStore.stage): staged writes
 * are visible to reads at once, committed together at the end of the event-loop
 * turn, and the promise of a write settles only when it is in the file (or its
 * batch failed, which then applies none of the batch).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteLocationStore } from '../../src/store/sqlite-location-store.ts';
import { StoreError } from '../../src/store/errors.ts';
import { binding, tempDir } from './helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);

const AOR = '2001@lab.spacephone.test';
const NOW = 1_000_000;
let files = 0;

function openStore(commitThread: boolean): { store: SqliteLocationStore; file: string; reader: Database.Database } {
  const file = join(tmp.dir, `group-${files++}.sqlite`);
  const store = SqliteLocationStore.open(file, { cacheReads: true, busyTimeoutMs: 0, commitThread });
  // A second connection: what another process (or the node after kill -9) would read.
  const reader = new Database(file, { readonly: true });
  return { store, file, reader };
}

function rowsInFile(reader: Database.Database): string[] {
  return reader.prepare<[], { contact: string }>('SELECT contact FROM bindings ORDER BY contact').all().map((r) => r.contact);
}

const contact = (n: number): string => `<sip:2001@192.0.2.${n}:5062>`;

// The node commits on a worker thread (commit-thread.ts); inline commits are the same contract.
for (const commitThread of [true, false]) describe(`SqliteLocationStore group commit (${commitThread ? 'on the commit thread' : 'inline'})`, () => {
  const open = (): ReturnType<typeof openStore> => openStore(commitThread);

  it('MUST show a staged binding to reads at once but write it to the file only at the end of the event-loop turn', async () => {
    const { store, reader } = open();
    const done = store.stage(() => store.save(binding({ contact: contact(1) })));
    assert.deepEqual(store.bindings(AOR, NOW).map((b) => b.contact), [contact(1)], 'the next REGISTER of the AOR sees it');
    assert.deepEqual(rowsInFile(reader), [], 'not committed yet');
    assert.equal(store.count(NOW), 1, 'count() sees the staged write (it commits first)');
    await done;
    assert.deepEqual(rowsInFile(reader), [contact(1)], 'committed when the promise resolves');
    reader.close();
    store.close();
  });

  it('MUST commit every write staged in one turn together and resolve each only once its row is in the file', async () => {
    const { store, reader } = open();
    const seen: string[][] = [];
    const writes = [1, 2, 3].map((n) =>
      store.stage(() => store.save(binding({ contact: contact(n), callId: `c${n}` }))).then(() => seen.push(rowsInFile(reader))),
    );
    await Promise.all(writes);
    assert.equal(seen.length, 3);
    for (const rows of seen) assert.deepEqual(rows, [contact(1), contact(2), contact(3)], 'one commit holds the whole batch');
    reader.close();
    store.close();
  });

  it('MUST reject every write of a batch whose commit fails, and then show none of them', async () => {
    const { store, file, reader } = open();
    await store.stage(() => store.save(binding({ contact: contact(1) })));
    // Another connection holds the write lock: the batch commit fails (SQLITE_BUSY, busy timeout 0).
    const locker = new Database(file);
    locker.exec('BEGIN IMMEDIATE');
    const a = store.stage(() => store.save(binding({ contact: contact(2) })));
    const b = store.stage(() => {
      store.remove(AOR, contact(1));
      store.save(binding({ contact: contact(3) }));
    });
    assert.deepEqual(store.bindings(AOR, NOW).map((x) => x.contact).sort(), [contact(2), contact(3)], 'staged: visible');
    const results = await Promise.allSettled([a, b]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(r.status === 'rejected' && r.reason instanceof StoreError, 'a typed StoreError');
    }
    locker.exec('ROLLBACK');
    locker.close();
    assert.deepEqual(store.bindings(AOR, NOW).map((x) => x.contact), [contact(1)], 'nothing of the failed batch, the removal undone too');
    assert.deepEqual(rowsInFile(reader), [contact(1)]);
    // The store keeps working afterwards.
    await store.stage(() => store.save(binding({ contact: contact(4) })));
    assert.deepEqual(rowsInFile(reader), [contact(1), contact(4)]);
    reader.close();
    store.close();
  });

  it('MUST commit staged writes before an unstaged write, so the file ends as the reads say', async () => {
    const { store, reader } = open();
    const staged = store.stage(() => store.save(binding({ contact: contact(1), cseq: 1 })));
    // e.g. the keep-alive scheduler marking the binding unreachable in the same turn
    store.save(binding({ contact: contact(1), cseq: 1, reachable: false }));
    await staged;
    const row = reader.prepare<[], { reachable: number }>('SELECT reachable FROM bindings').get();
    assert.equal(row?.reachable, 0);
    assert.equal(store.bindings(AOR, NOW)[0].reachable, false);
    reader.close();
    store.close();
  });

  it('MUST apply none of the writes of a staged function that throws, and rethrow', async () => {
    const { store, reader } = open();
    const other = store.stage(() => store.save(binding({ contact: contact(1) })));
    assert.throws(
      () =>
        store.stage(() => {
          store.save(binding({ contact: contact(2) }));
          throw new Error('bug in the middle of a REGISTER');
        }),
      /bug in the middle/,
    );
    await other;
    assert.deepEqual(store.bindings(AOR, NOW).map((b) => b.contact), [contact(1)]);
    assert.deepEqual(rowsInFile(reader), [contact(1)]);
    reader.close();
    store.close();
  });

  it('MUST have committed the writes of transaction(fn) when it returns, after what was staged before', () => {
    const { store, reader } = open();
    void store.stage(() => store.save(binding({ contact: contact(1) })));
    store.transaction(() => {
      store.remove(AOR, contact(1));
      store.save(binding({ contact: contact(2) }));
    });
    assert.deepEqual(rowsInFile(reader), [contact(2)]);
    assert.deepEqual(store.bindings(AOR, NOW).map((b) => b.contact), [contact(2)]);
    reader.close();
    store.close();
  });

  if (commitThread) {
    it('MUST go on with inline commits once the commit thread is gone, failing only the batch it took along', async () => {
      const { store, reader } = open();
      await store.stage(() => store.save(binding({ contact: contact(1) })));
      // Failure injection: the worker ends (in real life: out of memory) with a batch on its way.
      const worker = (store as unknown as { committer: { worker: { terminate(): Promise<number> } } }).committer.worker;
      const lost = store.stage(() => store.save(binding({ contact: contact(2) })));
      await worker.terminate();
      await assert.rejects(lost, StoreError);
      await store.stage(() => store.save(binding({ contact: contact(3) })));
      store.save(binding({ contact: contact(4) }));
      assert.equal(store.purgeExpired(NOW - 1), 0);
      assert.deepEqual(store.bindings(AOR, NOW).map((b) => b.contact).sort(), [contact(1), contact(3), contact(4)]);
      assert.deepEqual(rowsInFile(reader), [contact(1), contact(3), contact(4)]);
      reader.close();
      store.close();
    });
  }

  it('MUST commit what is staged when closed', async () => {
    const { store, reader } = open();
    const staged = store.stage(() => store.save(binding({ contact: contact(1) })));
    store.close();
    await staged;
    assert.deepEqual(rowsInFile(reader), [contact(1)]);
    reader.close();
  });

  it('MUST answer from a cache preloaded at open exactly as the file does, through saves and purges', () => {
    const file = join(tmp.dir, `preload-${commitThread}.sqlite`);
    const first = SqliteLocationStore.open(file);
    const aors = ['2001@lab.spacephone.test', '2002@lab.spacephone.test', '2003@lab.spacephone.test'];
    first.save(binding({ aor: aors[0], contact: contact(1), q: 0.5 }));
    first.save(binding({ aor: aors[0], contact: contact(2), q: 1, expiresAt: NOW + 10 }));
    first.save(binding({ aor: aors[1], contact: contact(3) }));
    first.close();
    const cached = SqliteLocationStore.open(file, { cacheReads: true, commitThread });
    const direct = SqliteLocationStore.open(file); // reads the file every time
    const agree = (now: number): void => {
      for (const aor of [...aors, 'nobody@lab.spacephone.test']) assert.deepEqual(cached.bindings(aor, now), direct.bindings(aor, now), aor);
    };
    agree(NOW);
    assert.deepEqual(cached.bindings(aors[0], NOW).map((b) => b.contact), [contact(2), contact(1)]);
    cached.save(binding({ aor: aors[2], contact: contact(4) })); // an AOR the preload did not see
    agree(NOW);
    assert.equal(cached.bindings(aors[2], NOW).length, 1);
    assert.equal(cached.purgeExpired(NOW + 10), 1);
    agree(NOW);
    agree(NOW + 10);
    cached.close();
    direct.close();
  });

  it('MUST commit before returning when reads are not cached (other writers share the file)', () => {
    const file = join(tmp.dir, `uncached-${commitThread}.sqlite`);
    const store = SqliteLocationStore.open(file);
    const reader = new Database(file, { readonly: true });
    void store.stage(() => store.save(binding({ contact: contact(1) })));
    assert.deepEqual(rowsInFile(reader), [contact(1)]);
    reader.close();
    store.close();
  });
});
