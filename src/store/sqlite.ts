/**
 * Opening a spacephone SQLite file (better-sqlite3, synchronous by design: a
 * REGISTER is applied atomically, see location-store.ts).
 *
 * Durability choice: `journal_mode=WAL` + `synchronous=NORMAL`.
 * - A commit appends to the WAL file with write(2); the data then sits in the
 *   OS page cache, which belongs to the kernel, not to our process. A process
 *   crash — `kill -9`, OOM kill, uncaught exception — loses nothing committed;
 *   the next open replays the WAL (test/store/sqlite-crash.test.ts proves it).
 * - NORMAL fsyncs only at checkpoints, not on every commit. Only an OS crash
 *   or power loss can lose the last few transactions, and never corrupts the
 *   file. FULL would fsync per commit: milliseconds per REGISTER on real disks,
 *   a bottleneck exactly when a registration storm or a brute-force scan hits.
 * - WAL lets readers (admin API, a second process) read a consistent snapshot
 *   while the node writes.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.ts';
import { SchemaVersionError, StoreError } from './errors.ts';

export type SqliteDatabase = Database.Database;

export interface OpenOptions {
  /** How long a write waits for another connection's lock, ms (default 1000). It blocks the event loop. */
  busyTimeoutMs?: number;
  /** Migrations to apply (default: MIGRATIONS). */
  migrations?: readonly Migration[];
}

/**
 * Opens (creating file and parent directory if needed) a database file, or
 * ":memory:", sets the pragmas above and applies pending migrations.
 */
export function openDatabase(file: string, options: OpenOptions = {}): SqliteDatabase {
  let db: SqliteDatabase;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    db = new Database(file);
  } catch (err) {
    throw new StoreError(`cannot open database ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  try {
    const busyTimeoutMs = Math.max(0, Math.trunc(options.busyTimeoutMs ?? 1000));
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    setWalMode(db, busyTimeoutMs);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, options.migrations ?? MIGRATIONS);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError(`cannot prepare database ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * `journal_mode = WAL`, retried while another connection holds the lock: switching
 * a new file's mode can fail with SQLITE_BUSY at once, without the busy handler
 * (SQLite's deadlock avoidance), when two processes open the same new file together.
 */
function setWalMode(db: SqliteDatabase, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
      Atomics.wait(PAUSE, 0, 0, 5); // a synchronous 5 ms pause, like SQLite's own busy handler
    }
  }
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Applies the migrations a database has not seen yet, in version order, all in
 * one IMMEDIATE transaction (two processes opening the same new file at once
 * serialize here instead of both creating tables). Idempotent. Returns the
 * versions applied now.
 */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version < 1 || (i > 0 && sorted[i - 1].version === m.version)) {
      throw new StoreError(`invalid migration list: version ${m.version} (${m.name})`);
    }
  });
  const run = db.transaction((): number[] => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const done = new Set(db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version));
    const newest = sorted.length > 0 ? sorted[sorted.length - 1].version : 0;
    const unknown = [...done].filter((v) => v > newest);
    if (unknown.length > 0) {
      throw new SchemaVersionError(`database schema version ${Math.max(...unknown)} is newer than this spacephone (knows up to ${newest})`);
    }
    const record = db.prepare<[number, string, number]>('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    const applied: number[] = [];
    for (const m of sorted) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
      applied.push(m.version);
    }
    return applied;
  });
  return run.immediate();
}

/** Versions recorded in schema_migrations, ascending. */
export function schemaVersions(db: SqliteDatabase): number[] {
  return db.prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version').all().map((r) => r.version);
}
