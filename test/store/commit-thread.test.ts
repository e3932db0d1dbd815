/**
 * CommitThread: write batches of a SQLite file committed on a worker thread,
 * in order, all or nothing, answered by promise or (commitSync/drain) by blocking.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CommitThread } from '../../src/store/commit-thread.ts';
import { StoreError } from '../../src/store/errors.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);

const STATEMENTS = {
  put: 'INSERT INTO t (k, v) VALUES (?, ?)',
  set: 'UPDATE t SET v = ? WHERE k = ?',
  wipe: 'DELETE FROM t',
};
let files = 0;

function setup(busyTimeoutMs = 1000): { thread: CommitThread; db: Database.Database; file: string } {
  const file = join(tmp.dir, `commit-${files++}.sqlite`);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  return { thread: new CommitThread(file, { statements: STATEMENTS, busyTimeoutMs }), db, file };
}

const rows = (db: Database.Database): [string, number][] =>
  db.prepare<[], { k: string; v: number }>('SELECT k, v FROM t ORDER BY k').all().map((r) => [r.k, r.v]);

describe('CommitThread', () => {
  it('MUST commit batches in the order they were posted and resolve each with its changed rows', async () => {
    const { thread, db } = setup();
    const first = thread.commit([['put', 'a', 1], ['put', 'b', 2]]);
    const second = thread.commit([['set', 10, 'a']]);
    assert.equal(await first, 2);
    assert.equal(await second, 1);
    assert.deepEqual(rows(db), [['a', 10], ['b', 2]]);
    thread.close();
    db.close();
  });

  it('MUST commit on another thread: the rows appear while this thread is busy', () => {
    const { thread, db } = setup();
    void thread.commit([['put', 'a', 1]]);
    // Inline commits could not happen before this loop returns; the worker's do.
    const deadline = Date.now() + 5000;
    while (rows(db).length === 0 && Date.now() < deadline);
    assert.deepEqual(rows(db), [['a', 1]]);
    thread.close();
    db.close();
  });

  it('MUST roll back a failing batch entirely, reject it with a StoreError, and go on with the next one', async () => {
    const { thread, db } = setup();
    await thread.commit([['put', 'a', 1]]);
    const bad = thread.commit([['put', 'b', 2], ['put', 'a', 3]]); // 'a' exists: constraint error after b
    const next = thread.commit([['put', 'c', 4]]);
    await assert.rejects(bad, (err: unknown) => err instanceof StoreError && /UNIQUE/.test(err.message));
    assert.equal(await next, 1);
    assert.deepEqual(rows(db), [['a', 1], ['c', 4]], 'nothing of the failed batch');
    thread.close();
    db.close();
  });

  it('MUST block in commitSync until the batch is in the file, return its changes and throw its failure', () => {
    const { thread, db } = setup();
    assert.equal(thread.commitSync([['put', 'a', 1], ['put', 'b', 2]]), 2);
    assert.deepEqual(rows(db), [['a', 1], ['b', 2]]);
    assert.throws(() => thread.commitSync([['put', 'a', 9]]), StoreError);
    assert.equal(thread.commitSync([['wipe']]), 2);
    assert.deepEqual(rows(db), []);
    thread.close();
    db.close();
  });

  it('MUST let drain() return only when every posted batch is settled, and settle their promises', async () => {
    const { thread, db } = setup();
    const done: number[] = [];
    const all = [1, 2, 3].map((n) => thread.commit([['put', `k${n}`, n]]).then(() => done.push(n)));
    thread.drain();
    assert.equal(rows(db).length, 3, 'in the file when drain returns');
    assert.equal(thread.inFlight, 0);
    await Promise.all(all);
    assert.deepEqual(done, [1, 2, 3]);
    thread.close();
    db.close();
  });

  it('MUST report SQLITE_BUSY from its own connection as a failed batch (busy timeout honoured)', async () => {
    const { thread, db, file } = setup(0);
    const locker = new Database(file);
    locker.exec('BEGIN IMMEDIATE');
    await assert.rejects(thread.commit([['put', 'a', 1]]), (err: unknown) => err instanceof StoreError && /locked|busy/i.test(err.message));
    locker.exec('ROLLBACK');
    locker.close();
    assert.equal(await thread.commit([['put', 'a', 1]]), 1);
    thread.close();
    db.close();
  });

  it('MUST refuse work after close() with a StoreError, and close idempotently', () => {
    const { thread, db } = setup();
    thread.close();
    thread.close();
    assert.throws(() => thread.commitSync([['put', 'a', 1]]), StoreError);
    assert.throws(() => void thread.commit([['put', 'a', 1]]), StoreError);
    db.close();
  });

  it('MUST fail every batch with a StoreError when its file cannot be opened, instead of hanging', async () => {
    const thread = new CommitThread(join(tmp.dir, 'no-such-dir', 'x.sqlite'), { statements: STATEMENTS });
    await assert.rejects(thread.commit([['put', 'a', 1]]), StoreError);
    assert.throws(() => thread.commitSync([['put', 'a', 1]]), StoreError);
    thread.close();
  });
});
