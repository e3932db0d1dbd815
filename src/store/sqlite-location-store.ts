/**
 * LocationStore on SQLite (RFC 3261 §10.3 location service). One row per
 * (AOR, Contact); Path and flow are JSON columns. Statements are prepared once
 * per store. Times are ms since epoch, supplied by the caller (injected clock).
 *
 * With `cacheReads` (the node's store: the node is the only writer of its file),
 * reads of one AOR (every REGISTER, every call) are served from a write-through
 * cache of decoded bindings. Without it every read goes to the database, so
 * several connections to one file see each other's writes. Callers
 * must not modify the Binding objects they get back (nothing does; they are
 * shared with the cache). A failed transaction drops the cache.
 *
 * Group commit (`stage`, cached stores only): the writes of a REGISTER change the
 * cache at once, so the next REGISTER of the same AOR sees them, and are queued;
 * one transaction per event-loop turn (setImmediate) commits everything queued —
 * under load dozens of REGISTERs share one commit (one WAL write(2)) instead of
 * paying one each. The promise `stage` returns settles when that commit did: the
 * caller sends its 200 only then, so an answered registration survives kill -9
 * exactly as with one transaction per REGISTER. A failed commit rejects the
 * promise of every write in it and drops the cache (reads go back to the file,
 * which holds none of them). Unstaged writes (keep-alive, admin) first commit
 * what is queued, so rows are always written in the order the cache saw them.
 *
 * Where a commit runs: on a worker thread (CommitThread, the default for a cached
 * store of a file: the node's) or inline on the caller's thread. The contract above
 * is the same; on the thread, synchronous callers (unstaged writes, transaction(),
 * purgeExpired, all, count, close) block until the worker has caught up.
 *
 * NOTE: a commit window (commit after a few ms or N rows instead of per turn) was
 * measured and dropped: rows per commit rose only from 16 to 18-20 at 3,000-4,000
 * REGISTERs/s, CPU did not move, and every 200 waited up to the window longer.
 */
import type { Binding, FlowInfo, LocationStore } from './location-store.ts';
import type { TransportName } from '../sip/message/types.ts';
import { openDatabase, type OpenOptions, type SqliteDatabase } from './sqlite.ts';
import { StoreClosedError, StoreError } from './errors.ts';
import { CommitThread } from './commit-thread.ts';

interface BindingRow {
  aor: string;
  contact: string;
  instance_id: string | null;
  reg_id: number | null;
  q: number;
  expires_at: number;
  call_id: string;
  cseq: number;
  path: string;
  flow: string;
  user_agent: string | null;
  updated_at: number;
  failures: number;
  reachable: number;
  node: string;
}

/** A staged write, replayed in order by the batch commit: a statement of WRITES and its parameters. */
type PendingWrite = readonly ['save', ...RowValues] | readonly ['remove', string, string] | readonly ['removeAll', string];

/** Values of the save statement, positional in COLUMNS order (cheaper to bind than named ones). */
type RowValues = [string, string, string | null, number | null, number, number, string, number, string, string, string | null, number, number, number, string];

/** The open batch: settles when its commit did. */
interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const COMMITTED: Promise<void> = Promise.resolve();

const COLUMNS = 'aor, contact, instance_id, reg_id, q, expires_at, call_id, cseq, path, flow, user_agent, updated_at, failures, reachable, node';
// Highest q first (RFC 3261 §16.6 target order); ties: most recently refreshed first, then contact for determinism.
const ORDER = 'ORDER BY q DESC, updated_at DESC, contact';

/** The writes, by name: prepared here for inline commits and by the commit thread for its own. */
const WRITES = {
  save: `INSERT OR REPLACE INTO bindings (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  remove: 'DELETE FROM bindings WHERE aor = ? AND contact = ?',
  removeAll: 'DELETE FROM bindings WHERE aor = ?',
  purge: 'DELETE FROM bindings WHERE expires_at <= ?',
} as const;

export class SqliteLocationStore implements LocationStore {
  private readonly db: SqliteDatabase;
  private readonly ownsDatabase: boolean;
  private closed = false;
  private readonly stmt;
  /** AOR → its bindings (expired ones included until purged), in store order. */
  private readonly cache = new Map<string, Binding[]>();
  private readonly cacheReads: boolean;

  /** Where commits run: a worker thread with its own connection, or undefined (inline, on this thread). */
  private committer: CommitThread | undefined;

  /**
   * Uses an open database (see openDatabase); `ownsDatabase` makes close() close it too.
   * `commitThread` (default: on for a cached store of a file) commits on a worker thread.
   */
  constructor(db: SqliteDatabase, options: { ownsDatabase?: boolean; cacheReads?: boolean; commitThread?: boolean } = {}) {
    this.db = db;
    this.cacheReads = options.cacheReads ?? false;
    this.ownsDatabase = options.ownsDatabase ?? false;
    const threaded = options.commitThread ?? (this.cacheReads && !db.memory);
    if (threaded && (!this.cacheReads || db.memory)) throw new StoreError('a commit thread needs cached reads and a database file');
    this.committer = threaded
      ? new CommitThread(db.name, { statements: WRITES, busyTimeoutMs: Number(db.pragma('busy_timeout', { simple: true })) })
      : undefined;
    this.stmt = {
      byAor: db.prepare<[string], BindingRow>(`SELECT ${COLUMNS} FROM bindings WHERE aor = ? ${ORDER}`),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM bindings'),
      every: db.prepare<[], BindingRow>(`SELECT ${COLUMNS} FROM bindings ORDER BY aor, q DESC, updated_at DESC, contact`),
      live: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM bindings WHERE expires_at > ?'),
      all: db.prepare<[number], BindingRow>(`SELECT ${COLUMNS} FROM bindings WHERE expires_at > ? ORDER BY aor, q DESC, updated_at DESC, contact`),
      save: db.prepare<RowValues>(WRITES.save),
      remove: db.prepare<[string, string]>(WRITES.remove),
      removeAll: db.prepare<[string]>(WRITES.removeAll),
      purge: db.prepare<[number]>(WRITES.purge),
    };
    if (this.cacheReads) this.preload();
  }

  /**
   * Fills the cache with every binding of the file, so that it is complete: an
   * AOR it does not hold has no bindings, and the first REGISTER of each phone
   * costs no SELECT. Skipped for very large files (the cache then fills lazily),
   * and when a row does not decode (its AOR reports that when read, as before).
   */
  private preload(): void {
    if ((this.stmt.count.get()?.n ?? 0) > PRELOAD_MAX_ROWS) return;
    try {
      for (const row of this.stmt.every.all()) {
        const b = decode(row);
        const list = this.cache.get(b.aor);
        if (list === undefined) this.cache.set(b.aor, [b]);
        else list.push(b);
      }
      this.complete = true;
    } catch {
      this.cache.clear();
    }
  }

  /** Opens (and migrates) a file and returns a store that owns the connection. */
  static open(file: string, options?: OpenOptions & { cacheReads?: boolean; commitThread?: boolean }): SqliteLocationStore {
    return new SqliteLocationStore(openDatabase(file, options), { ownsDatabase: true, cacheReads: options?.cacheReads, commitThread: options?.commitThread });
  }

  /** The returned array may be the cache's own: callers must not modify it (the store itself replaces, never edits, cached lists). */
  bindings(aor: string, now: number): Binding[] {
    this.check();
    const list = this.cache.get(aor) ?? this.load(aor);
    // Usually nothing has expired: hand out the list itself instead of a filtered copy.
    for (const b of list) if (b.expiresAt <= now) return list.filter((x) => x.expiresAt > now);
    return list;
  }

  /** Reads an AOR from the file (and caches it when reads are cached). */
  private load(aor: string): Binding[] {
    if (this.complete) return []; // not cached: not in the file (nor staged)
    if (this.drainBeforeRead) {
      // The cache was emptied with batches in flight: the file must hold them before it is read.
      this.thread()?.drain();
      this.drainBeforeRead = false;
    }
    const list = this.stmt.byAor.all(aor).map(decode);
    if (this.cacheReads) {
      // Not while staging: dropping commits the batch, and fn's writes are not all in it yet.
      if (this.cache.size >= CACHE_MAX_AORS && !this.staging) this.dropCache();
      this.cache.set(aor, list);
    }
    return list;
  }

  save(b: Binding): void {
    this.check();
    const write = saveWrite(b);
    if (this.staging) {
      this.pending.push(write);
      this.cacheSave(b, true);
      return;
    }
    this.writeNow(write);
    this.cacheSave(b, false);
  }

  /**
   * Write-through: the cached list of b's AOR gets (a copy of) b. An AOR not
   * cached yet is read first when staging (reads must show the staged write) or
   * when the cache is complete (its absence would mean "no bindings").
   */
  private cacheSave(b: Binding, load: boolean): void {
    const list = this.cache.get(b.aor) ?? (load || this.complete ? this.load(b.aor) : undefined);
    if (list === undefined) return;
    const next = list.filter((x) => x.contact !== b.contact);
    // Spread-then-override only (no new keys): V8 keeps this copy a fast object.
    next.push({ ...b, flow: { ...b.flow }, path: b.path.slice() });
    this.cache.set(b.aor, next.sort(storeOrder));
  }

  remove(aor: string, contact: string): void {
    this.check();
    if (this.staging) this.pending.push(['remove', aor, contact]);
    else this.writeNow(['remove', aor, contact]);
    const list = this.cache.get(aor);
    if (list !== undefined) this.cache.set(aor, list.filter((x) => x.contact !== contact));
  }

  removeAll(aor: string): void {
    this.check();
    if (this.staging) this.pending.push(['removeAll', aor]);
    else this.writeNow(['removeAll', aor]);
    if (this.cacheReads) this.cache.set(aor, []);
  }

  all(now: number): Binding[] {
    this.check();
    this.settleAll();
    return this.stmt.all.all(now).map(decode);
  }

  count(now: number): number {
    this.check();
    this.settleAll();
    // NOTE: a count over the expires_at index: ~1 ms at 10,000 bindings, where all()
    // (every row decoded, Path/flow JSON parsed) took ~18 ms of event loop per scrape.
    return this.stmt.live.get(now)?.n ?? 0;
  }

  purgeExpired(now: number): number {
    this.check();
    this.flush();
    const thread = this.thread();
    const purged = thread !== undefined ? thread.commitSync([['purge', now]]) : this.stmt.purge.run(now).changes;
    // The same in the cache (kept, and complete if it was, rather than dropped).
    for (const [aor, list] of this.cache) {
      if (!list.some((b) => b.expiresAt <= now)) continue;
      const live = list.filter((b) => b.expiresAt > now);
      if (live.length > 0 || !this.complete) this.cache.set(aor, live);
      else this.cache.delete(aor);
    }
    return purged;
  }

  /** Runs fn in one transaction (e.g. a REGISTER touching several contacts). Nested calls join the outer one. */
  transaction<T>(fn: () => T): T {
    this.check();
    if (this.staging) return fn(); // inside stage(): the writes join the batch
    this.flush();
    if (this.thread() === undefined) return this.runInTransaction(fn) as T;
    // On the commit thread: fn's writes are collected as stage() does, then committed before returning.
    this.staging = true;
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.pending.length = 0;
      this.dropCache();
      throw err;
    } finally {
      this.staging = false;
    }
    this.flushSync();
    return result;
  }

  /** An unstaged write: committed (after what is staged) before this returns; throws if it failed. */
  private writeNow(write: PendingWrite): void {
    this.flush();
    const thread = this.thread();
    if (thread !== undefined) thread.commitSync([write]);
    else this.run(write);
  }

  private run(w: PendingWrite): void {
    if (w[0] === 'save') this.stmt.save.run(...(w.slice(1) as RowValues));
    else if (w[0] === 'remove') this.stmt.remove.run(w[1], w[2]);
    else this.stmt.removeAll.run(w[1]);
  }

  /** Before reading the file: everything staged is committed (waited for, on the commit thread). */
  private settleAll(): void {
    this.flush();
    this.thread()?.drain();
  }

  /**
   * The commit thread, or undefined for inline commits: also once the worker has
   * gone (it catches every batch's error, so only e.g. running out of memory ends
   * it). Its batches still out were failed; inline commits on this connection
   * take over, so the node goes on registering phones.
   */
  private thread(): CommitThread | undefined {
    const t = this.committer;
    if (t === undefined || t.usable) return t;
    this.committer = undefined;
    t.close();
    return undefined;
  }

  /**
   * Group commit (see the file comment): runs fn, whose writes are visible to
   * reads at once and committed with everything else staged in this event-loop
   * turn. The promise resolves when they are committed, rejects (StoreError) when
   * that commit failed. If fn throws, its own writes are not committed, the cache
   * is dropped and the error is rethrown. Without cached reads (other writers may
   * share the file) this is transaction(fn), committed before it returns.
   */
  stage(fn: () => void): Promise<void> {
    this.check();
    if (!this.cacheReads) {
      this.transaction(fn);
      return COMMITTED;
    }
    if (this.staging) {
      fn();
      return this.openBatch().promise;
    }
    const mark = this.pending.length;
    this.staging = true;
    try {
      fn();
    } catch (err) {
      // Undo fn's part: forget its writes; the cache may show some of them.
      this.pending.length = mark;
      this.dropCache();
      throw err;
    } finally {
      this.staging = false;
    }
    // Even when fn wrote nothing, it may have read writes staged by others: it waits for them too.
    if (this.pending.length === 0) return COMMITTED;
    return this.openBatch().promise;
  }

  /**
   * Commits what is staged now instead of at the end of the event-loop turn. On
   * the commit thread the batch is posted and its promise settles when the
   * worker answers; inline it commits before this returns.
   */
  flush(): void {
    const { writes, batch } = this.takeStaged();
    if (writes.length === 0) {
      batch?.resolve(); // its writers' writes were discarded (and they got the exception)
      return;
    }
    const thread = this.thread();
    if (thread === undefined) {
      this.commitInline(writes, batch);
      return;
    }
    let posted: Promise<number>;
    try {
      posted = thread.commit(writes);
    } catch (err) {
      this.failBatch(writes, batch, err);
      return;
    }
    posted.then(() => batch?.resolve(), (err: unknown) => this.failBatch(writes, batch, err));
  }

  /** flush(), but on the commit thread it waits for the commit (and throws if it failed). */
  private flushSync(): void {
    const thread = this.thread();
    if (thread === undefined) {
      this.flush();
      return;
    }
    const { writes, batch } = this.takeStaged();
    if (writes.length > 0) {
      try {
        thread.commitSync(writes);
      } catch (err) {
        this.failBatch(writes, batch, err);
        throw err;
      }
    }
    batch?.resolve();
  }

  private takeStaged(): { writes: PendingWrite[]; batch: Batch | undefined } {
    const writes = this.pending;
    const batch = this.batch;
    this.pending = [];
    this.batch = undefined;
    if (this.flushTimer !== undefined) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    return { writes, batch };
  }

  private commitInline(writes: PendingWrite[], batch: Batch | undefined): void {
    try {
      this.runInTransaction(() => {
        for (const w of writes) this.run(w);
      });
    } catch (err) {
      this.failBatch(writes, batch, err);
      return;
    }
    batch?.resolve();
  }

  /** A batch rolled back: the cache may show its writes, so it goes; every writer in it is told. */
  private failBatch(writes: PendingWrite[], batch: Batch | undefined, err: unknown): void {
    this.forgetCache();
    batch?.reject(new StoreError(`location store commit of ${writes.length} staged writes failed`, { cause: err }));
  }

  private openBatch(): Batch {
    if (this.batch !== undefined) return this.batch;
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Every stage() caller handles the rejection; this keeps an unwatched batch from being an unhandled rejection.
    promise.catch(() => undefined);
    this.batch = { promise, resolve, reject };
    this.flushTimer = setImmediate(() => {
      this.flushTimer = undefined;
      this.flush();
    });
    return this.batch;
  }

  /** Empties the cache; staged writes are committed first, or they would vanish from reads. */
  private dropCache(): void {
    this.flush();
    this.forgetCache();
  }

  private forgetCache(): void {
    this.cache.clear();
    this.complete = false;
    // Batches still out may hold writes the file lacks yet: the next read of the file waits for them.
    if (this.committer !== undefined && this.committer.inFlight > 0) this.drainBeforeRead = true;
  }

  /** One better-sqlite3 transaction wrapper, built once (not one per REGISTER). */
  private readonly runInTransaction = (fn: () => unknown): unknown => {
    this.txWrapper ??= this.db.transaction((f: () => unknown) => f());
    try {
      return this.txWrapper(fn);
    } catch (err) {
      // Rolled back: the cache may hold writes that never happened.
      this.forgetCache();
      throw err;
    }
  };

  private txWrapper: ((f: () => unknown) => unknown) | undefined;
  private pending: PendingWrite[] = [];
  private batch: Batch | undefined;
  private flushTimer: NodeJS.Immediate | undefined;
  private staging = false;
  /** The cache holds every AOR that has rows (see preload); false once it was dropped. */
  private complete = false;
  /** See forgetCache. */
  private drainBeforeRead = false;

  /** Idempotent. Commits what is staged; closes the database only if this store opened it. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.committer?.close();
    if (this.ownsDatabase) this.db.close();
  }

  private check(): void {
    if (this.closed) throw new StoreClosedError('location store is closed');
  }
}

/** The save write of a binding: 'save' and the statement's values, built as one array (this runs per REGISTER). */
function saveWrite(b: Binding): PendingWrite {
  return [
    'save',
    b.aor,
    b.contact,
    b.instanceId ?? null,
    b.regId ?? null,
    b.q,
    b.expiresAt,
    b.callId,
    b.cseq,
    b.path.length === 0 ? '[]' : JSON.stringify(b.path),
    JSON.stringify(b.flow),
    b.userAgent ?? null,
    b.updatedAt,
    b.failures,
    b.reachable ? 1 : 0,
    b.node,
  ];
}

/** Bound on cached AORs (a store of this node holds its own extensions; this only guards memory). */
const CACHE_MAX_AORS = 200_000;
/** Files with more rows than this are not preloaded (startup time: ~5 µs per row). */
const PRELOAD_MAX_ROWS = 100_000;

/** ORDER above, in memory: q DESC, updated_at DESC, contact (binary collation). */
function storeOrder(a: Binding, b: Binding): number {
  return b.q - a.q || b.updatedAt - a.updatedAt || (a.contact < b.contact ? -1 : a.contact > b.contact ? 1 : 0);
}

const TRANSPORTS: readonly string[] = ['udp', 'tcp', 'tls'] satisfies TransportName[];

function decode(r: BindingRow): Binding {
  const b: Binding = {
    aor: r.aor,
    contact: r.contact,
    q: r.q,
    expiresAt: r.expires_at,
    callId: r.call_id,
    cseq: r.cseq,
    path: decodePath(r),
    flow: decodeFlow(r),
    updatedAt: r.updated_at,
    failures: r.failures,
    reachable: r.reachable !== 0,
    node: r.node,
  };
  if (r.instance_id !== null) b.instanceId = r.instance_id;
  if (r.reg_id !== null) b.regId = r.reg_id;
  if (r.user_agent !== null) b.userAgent = r.user_agent;
  return b;
}

function decodePath(r: BindingRow): string[] {
  const v: unknown = parseJson(r, r.path);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw corrupt(r, 'path');
  return v;
}

function decodeFlow(r: BindingRow): FlowInfo {
  const v: unknown = parseJson(r, r.flow);
  if (typeof v !== 'object' || v === null) throw corrupt(r, 'flow');
  const f = v as Record<string, unknown>;
  if (
    typeof f.transport !== 'string' || !TRANSPORTS.includes(f.transport) ||
    typeof f.address !== 'string' || typeof f.port !== 'number' ||
    typeof f.localAddress !== 'string' || typeof f.localPort !== 'number' ||
    (f.connectionId !== undefined && typeof f.connectionId !== 'string')
  ) {
    throw corrupt(r, 'flow');
  }
  const flow: FlowInfo = { transport: f.transport as TransportName, address: f.address, port: f.port, localAddress: f.localAddress, localPort: f.localPort };
  if (typeof f.connectionId === 'string') flow.connectionId = f.connectionId;
  return flow;
}

function parseJson(r: BindingRow, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new StoreError(`binding ${r.aor} ${r.contact}: unreadable JSON column`, { cause: err });
  }
}

function corrupt(r: BindingRow, column: string): StoreError {
  return new StoreError(`binding ${r.aor} ${r.contact}: malformed ${column} column`);
}
