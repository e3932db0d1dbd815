/**
 * Call detail records: one row per finished call, written by the PBX when a
 * call ends, read by the admin API/dashboard. Times are ms since epoch.
 */
import { openDatabase, type OpenOptions, type SqliteDatabase } from './sqlite.ts';
import { StoreClosedError, StoreError } from './errors.ts';

/** How the call ended. */
export type CdrResult = 'answered' | 'no-answer' | 'busy' | 'rejected' | 'cancelled' | 'failed';
const RESULTS: readonly string[] = ['answered', 'no-answer', 'busy', 'rejected', 'cancelled', 'failed'] satisfies CdrResult[];

export interface NewCdr {
  /** Call-ID of the inbound leg. */
  callId: string;
  /** From / To URIs (or numbers) as shown to the operator. */
  from: string;
  to: string;
  startedAt: number;
  /** Set when the call was answered (2xx). */
  answeredAt?: number;
  endedAt: number;
  result: CdrResult;
  /** Final SIP status of the call (200, 486, 487 ...), when there was one. */
  status?: number;
  /** Node that handled the call. */
  node: string;
}

export interface Cdr extends NewCdr {
  id: number;
  /** Talk time: endedAt - answeredAt, 0 when unanswered. */
  durationMs: number;
}

export interface CdrStore {
  insert(cdr: NewCdr): Cdr;
  /** The newest `limit` records (by end time), newest first. */
  recent(limit: number): Cdr[];
  close(): void;
}

interface CdrRow {
  id: number;
  call_id: string;
  from_uri: string;
  to_uri: string;
  started_at: number;
  answered_at: number | null;
  ended_at: number;
  duration_ms: number;
  result: string;
  status: number | null;
  node: string;
}

export const MAX_RECENT = 10_000;

export class SqliteCdrStore implements CdrStore {
  private readonly db: SqliteDatabase;
  private readonly ownsDatabase: boolean;
  private closed = false;
  private readonly stmt;

  constructor(db: SqliteDatabase, options: { ownsDatabase?: boolean } = {}) {
    this.db = db;
    this.ownsDatabase = options.ownsDatabase ?? false;
    this.stmt = {
      insert: db.prepare<[string, string, string, number, number | null, number, number, string, number | null, string]>(
        `INSERT INTO cdrs (call_id, from_uri, to_uri, started_at, answered_at, ended_at, duration_ms, result, status, node)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      recent: db.prepare<[number], CdrRow>('SELECT * FROM cdrs ORDER BY ended_at DESC, id DESC LIMIT ?'),
    };
  }

  static open(file: string, options?: OpenOptions): SqliteCdrStore {
    return new SqliteCdrStore(openDatabase(file, options), { ownsDatabase: true });
  }

  insert(c: NewCdr): Cdr {
    this.check();
    if (!RESULTS.includes(c.result)) throw new StoreError(`invalid CDR result ${JSON.stringify(c.result)}`);
    const durationMs = c.answeredAt !== undefined ? Math.max(0, c.endedAt - c.answeredAt) : 0;
    const info = this.stmt.insert.run(c.callId, c.from, c.to, c.startedAt, c.answeredAt ?? null, c.endedAt, durationMs, c.result, c.status ?? null, c.node);
    return { ...c, id: Number(info.lastInsertRowid), durationMs };
  }

  recent(limit: number): Cdr[] {
    this.check();
    const n = Number.isFinite(limit) ? Math.min(MAX_RECENT, Math.max(0, Math.trunc(limit))) : 0;
    return this.stmt.recent.all(n).map(decode);
  }

  /** Idempotent. Closes the database only if this store opened it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsDatabase) this.db.close();
  }

  private check(): void {
    if (this.closed) throw new StoreClosedError('CDR store is closed');
  }
}

function decode(r: CdrRow): Cdr {
  const c: Cdr = {
    id: r.id,
    callId: r.call_id,
    from: r.from_uri,
    to: r.to_uri,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    durationMs: r.duration_ms,
    result: (RESULTS.includes(r.result) ? r.result : 'failed') as CdrResult,
    node: r.node,
  };
  if (r.answered_at !== null) c.answeredAt = r.answered_at;
  if (r.status !== null) c.status = r.status;
  return c;
}
