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
 */
import type { Binding, FlowInfo, LocationStore } from './location-store.ts';
import type { TransportName } from '../sip/message/types.ts';
import { openDatabase, type OpenOptions, type SqliteDatabase } from './sqlite.ts';
import { StoreClosedError, StoreError } from './errors.ts';

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

const COLUMNS = 'aor, contact, instance_id, reg_id, q, expires_at, call_id, cseq, path, flow, user_agent, updated_at, failures, reachable, node';
// Highest q first (RFC 3261 §16.6 target order); ties: most recently refreshed first, then contact for determinism.
const ORDER = 'ORDER BY q DESC, updated_at DESC, contact';

export class SqliteLocationStore implements LocationStore {
  private readonly db: SqliteDatabase;
  private readonly ownsDatabase: boolean;
  private closed = false;
  private readonly stmt;
  /** AOR → its bindings (expired ones included until purged), in store order. */
  private readonly cache = new Map<string, Binding[]>();
  private readonly cacheReads: boolean;

  /** Uses an open database (see openDatabase); `ownsDatabase` makes close() close it too. */
  constructor(db: SqliteDatabase, options: { ownsDatabase?: boolean; cacheReads?: boolean } = {}) {
    this.db = db;
    this.cacheReads = options.cacheReads ?? false;
    this.ownsDatabase = options.ownsDatabase ?? false;
    this.stmt = {
      byAor: db.prepare<[string], BindingRow>(`SELECT ${COLUMNS} FROM bindings WHERE aor = ? ${ORDER}`),
      all: db.prepare<[number], BindingRow>(`SELECT ${COLUMNS} FROM bindings WHERE expires_at > ? ORDER BY aor, q DESC, updated_at DESC, contact`),
      save: db.prepare<Record<string, string | number | null>>(
        `INSERT OR REPLACE INTO bindings (${COLUMNS}) VALUES
         (@aor, @contact, @instance_id, @reg_id, @q, @expires_at, @call_id, @cseq, @path, @flow, @user_agent, @updated_at, @failures, @reachable, @node)`,
      ),
      remove: db.prepare<[string, string]>('DELETE FROM bindings WHERE aor = ? AND contact = ?'),
      removeAll: db.prepare<[string]>('DELETE FROM bindings WHERE aor = ?'),
      purge: db.prepare<[number]>('DELETE FROM bindings WHERE expires_at <= ?'),
    };
  }

  /** Opens (and migrates) a file and returns a store that owns the connection. */
  static open(file: string, options?: OpenOptions & { cacheReads?: boolean }): SqliteLocationStore {
    return new SqliteLocationStore(openDatabase(file, options), { ownsDatabase: true, cacheReads: options?.cacheReads });
  }

  bindings(aor: string, now: number): Binding[] {
    this.check();
    let list = this.cache.get(aor);
    if (list === undefined) {
      list = this.stmt.byAor.all(aor).map(decode);
      if (this.cacheReads) {
        if (this.cache.size >= CACHE_MAX_AORS) this.cache.clear();
        this.cache.set(aor, list);
      }
    }
    return list.filter((b) => b.expiresAt > now);
  }

  save(b: Binding): void {
    this.check();
    this.saveRow(b);
    const list = this.cache.get(b.aor);
    if (list === undefined) return;
    const next = list.filter((x) => x.contact !== b.contact);
    next.push({ ...b, flow: { ...b.flow }, path: [...b.path] });
    this.cache.set(b.aor, next.sort(storeOrder));
  }

  private saveRow(b: Binding): void {
    this.stmt.save.run({
      aor: b.aor,
      contact: b.contact,
      instance_id: b.instanceId ?? null,
      reg_id: b.regId ?? null,
      q: b.q,
      expires_at: b.expiresAt,
      call_id: b.callId,
      cseq: b.cseq,
      path: JSON.stringify(b.path),
      flow: JSON.stringify(b.flow),
      user_agent: b.userAgent ?? null,
      updated_at: b.updatedAt,
      failures: b.failures,
      reachable: b.reachable ? 1 : 0,
      node: b.node,
    });
  }

  remove(aor: string, contact: string): void {
    this.check();
    this.stmt.remove.run(aor, contact);
    const list = this.cache.get(aor);
    if (list !== undefined) this.cache.set(aor, list.filter((x) => x.contact !== contact));
  }

  removeAll(aor: string): void {
    this.check();
    this.stmt.removeAll.run(aor);
    if (this.cacheReads) this.cache.set(aor, []);
  }

  all(now: number): Binding[] {
    this.check();
    return this.stmt.all.all(now).map(decode);
  }

  purgeExpired(now: number): number {
    this.check();
    this.cache.clear();
    return this.stmt.purge.run(now).changes;
  }

  /** Runs fn in one transaction (e.g. a REGISTER touching several contacts). Nested calls join the outer one. */
  transaction<T>(fn: () => T): T {
    this.check();
    return this.runInTransaction(fn) as T;
  }

  /** One better-sqlite3 transaction wrapper, built once (not one per REGISTER). */
  private readonly runInTransaction = (fn: () => unknown): unknown => {
    this.txWrapper ??= this.db.transaction((f: () => unknown) => f());
    try {
      return this.txWrapper(fn);
    } catch (err) {
      // Rolled back: the cache may hold writes that never happened.
      this.cache.clear();
      throw err;
    }
  };

  private txWrapper: ((f: () => unknown) => unknown) | undefined;

  /** Idempotent. Closes the database only if this store opened it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsDatabase) this.db.close();
  }

  private check(): void {
    if (this.closed) throw new StoreClosedError('location store is closed');
  }
}

/** Bound on cached AORs (a store of this node holds its own extensions; this only guards memory). */
const CACHE_MAX_AORS = 200_000;

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
