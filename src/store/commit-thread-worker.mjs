// The worker side of CommitThread (commit-thread.ts): its own connection to the
// file, the named statements it was given, one transaction per batch, in order.
// Plain JavaScript so that it loads without the parent's TypeScript loader.
// Protocol: in { seq, writes: [name, ...params][] }; out on `port`
// { seq, changes } or { seq, error: { message, code } }, then settled[0] = seq.
import { workerData, parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, statements, busyTimeoutMs, settled, port } = workerData;
const counter = new Int32Array(settled);
const db = new Database(file);
// Per connection (journal_mode=WAL is a property of the file, set by the opener).
db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
db.pragma('synchronous = NORMAL');

const prepared = new Map(Object.entries(statements).map(([name, sql]) => [name, db.prepare(sql)]));

const runBatch = db.transaction((writes) => {
  let changes = 0;
  for (const [name, ...params] of writes) {
    const stmt = prepared.get(name);
    if (stmt === undefined) throw new Error(`unknown statement ${name}`);
    changes += stmt.run(...params).changes;
  }
  return changes;
});

parentPort.on('message', ({ seq, writes }) => {
  let reply;
  try {
    reply = { seq, changes: runBatch(writes) };
  } catch (err) {
    reply = { seq, error: { message: err instanceof Error ? err.message : String(err), code: err?.code } };
  }
  // The reply is queued before the counter moves: a thread woken by the counter finds it.
  port.postMessage(reply);
  Atomics.store(counter, 0, seq);
  Atomics.notify(counter, 0);
});
