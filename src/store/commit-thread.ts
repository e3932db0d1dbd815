/**
 * Runs write batches of one SQLite file on a worker thread, so that the node's
 * event loop does not spend its time in sqlite3_step and COMMIT (measured: ~12 %
 * of the node's busy main thread at 4,000 REGISTERs/s with digest auth).
 *
 * The worker (commit-thread-worker.mjs) holds its own connection to the file and
 * knows a fixed set of named statements. A batch is a list of `[name, ...params]`
 * writes; it commits in one transaction or not at all. Batches commit strictly in
 * the order they were posted (one worker, one message queue), so an unstaged
 * write posted after a staged batch lands after it, as the reads saw them.
 *
 * `commit` answers through a promise (the event loop goes on); `commitSync` and
 * `drain` block the calling thread (Atomics.wait on a shared counter the worker
 * advances after each batch, then the replies are read with receiveMessageOnPort),
 * for the rare callers that need the file up to date before they return.
 *
 * NOTE: the main thread pays a structured clone per batch (a few µs for dozens of
 * rows) instead of the statements; a REGISTER's 200 waits for the worker's reply,
 * i.e. one more event-loop hop (well under a millisecond when idle).
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { StoreError } from './errors.ts';

/** One write: the statement's name and its positional parameters. */
export type Write = readonly [name: string, ...params: readonly (string | number | null)[]];

interface Reply {
  seq: number;
  /** Rows changed by the whole batch (sqlite3_changes summed). */
  changes?: number;
  error?: { message: string; code?: string };
}

interface Waiter {
  resolve: (changes: number) => void;
  reject: (err: StoreError) => void;
}

export interface CommitThreadOptions {
  /** Named statements the worker prepares (SQL text, `?` parameters). */
  statements: Readonly<Record<string, string>>;
  /** busy_timeout of the worker's connection, ms (default 1000). */
  busyTimeoutMs?: number;
  /** How long commitSync/drain block at most before giving up, ms (default 30 s). */
  syncTimeoutMs?: number;
}

export class CommitThread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** [0]: seq of the last batch the worker settled. */
  private readonly settled: Int32Array;
  private readonly waiting = new Map<number, Waiter>();
  private readonly syncTimeoutMs: number;
  private seq = 0;
  /** Why the worker can no longer commit (it exited or failed to start). */
  private broken: StoreError | undefined;
  private closed = false;

  constructor(file: string, options: CommitThreadOptions) {
    this.syncTimeoutMs = options.syncTimeoutMs ?? 30_000;
    const shared = new SharedArrayBuffer(4);
    this.settled = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./commit-thread-worker.mjs', import.meta.url), {
      workerData: { file, statements: options.statements, busyTimeoutMs: options.busyTimeoutMs ?? 1000, settled: shared, port: port2 },
      transferList: [port2],
      // The worker is plain JavaScript: it needs none of the parent's loaders or flags.
      execArgv: [],
    });
    // Neither keeps the process alive by itself; the port is ref'd while a batch is out.
    this.worker.unref();
    this.port.on('message', (r: Reply) => this.settle(r));
    this.port.unref();
    this.worker.on('error', (err) => this.fail(new StoreError(`commit thread failed: ${err.message}`, { cause: err })));
    this.worker.on('exit', (code) => this.fail(new StoreError(`commit thread exited (code ${code})`)));
  }

  /** Commits a batch on the worker; resolves with the rows it changed, rejects (StoreError) if it rolled back. */
  commit(writes: readonly Write[]): Promise<number> {
    const seq = this.post(writes);
    return new Promise<number>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      if (this.waiting.size === 1) this.port.ref();
    });
  }

  /** Commits a batch and blocks until it did; returns the rows it changed, throws StoreError if it failed. */
  commitSync(writes: readonly Write[]): number {
    const seq = this.post(writes);
    let result: { changes: number } | { error: StoreError } | undefined;
    this.waiting.set(seq, { resolve: (changes) => (result = { changes }), reject: (error) => (result = { error }) });
    this.waitUntil(seq);
    if (result === undefined) throw new StoreError('commit thread gave no answer for a batch');
    if ('error' in result) throw result.error;
    return result.changes;
  }

  /** Blocks until every batch posted so far has committed or failed (their promises settle on the next turns). */
  drain(): void {
    this.waitUntil(this.seq);
  }

  /** False once closed, or once the worker is gone (every later batch would fail). */
  get usable(): boolean {
    return !this.closed && this.broken === undefined;
  }

  /** Batches posted and not yet answered. */
  get inFlight(): number {
    return this.waiting.size;
  }

  /** Waits for what is in flight, then stops the worker (its connection closes with it). Idempotent. */
  close(): void {
    if (this.closed) return;
    if (this.broken === undefined) {
      try {
        this.drain();
      } catch {
        // Already reported to each batch's caller.
      }
    }
    this.closed = true;
    this.port.close();
    void this.worker.terminate();
  }

  private post(writes: readonly Write[]): number {
    if (this.closed) throw new StoreError('commit thread is closed');
    if (this.broken !== undefined) throw this.broken;
    const seq = ++this.seq;
    this.worker.postMessage({ seq, writes });
    return seq;
  }

  /** Blocks until the worker settled batch `seq`, then takes its replies off the port. */
  private waitUntil(seq: number): void {
    const deadline = Date.now() + this.syncTimeoutMs;
    for (;;) {
      this.takeReplies();
      if (this.broken !== undefined) throw this.broken;
      const done = Atomics.load(this.settled, 0);
      if (done >= seq && !this.waiting.has(seq)) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new StoreError(`commit thread did not answer within ${this.syncTimeoutMs} ms`);
      // Wakes when the worker advances the counter (or after 100 ms, to recheck the deadline).
      if (done < seq) Atomics.wait(this.settled, 0, done, Math.min(left, 100));
    }
  }

  private takeReplies(): void {
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) this.settle(m.message as Reply);
  }

  private settle(r: Reply): void {
    const w = this.waiting.get(r.seq);
    if (w === undefined) return;
    this.waiting.delete(r.seq);
    if (this.waiting.size === 0) this.port.unref();
    if (r.error === undefined) w.resolve(r.changes ?? 0);
    else w.reject(new StoreError(`commit failed: ${r.error.message}`, { cause: r.error }));
  }

  /** The worker is gone: every batch still out failed, and so will every later one. */
  private fail(err: StoreError): void {
    if (this.closed) return;
    this.broken ??= err;
    this.takeReplies();
    for (const w of this.waiting.values()) w.reject(this.broken);
    this.waiting.clear();
    this.port.unref();
  }
}
