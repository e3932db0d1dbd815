/**
 * All of a node's stores on one SQLite file (one connection, one WAL).
 * close() closes the stores, then the connection; idempotent.
 */
import { openDatabase, type OpenOptions, type SqliteDatabase } from './sqlite.ts';
import { SqliteLocationStore } from './sqlite-location-store.ts';
import { SqliteCdrStore } from './cdr-store.ts';

export interface SqliteStores {
  db: SqliteDatabase;
  location: SqliteLocationStore;
  cdr: SqliteCdrStore;
  close(): void;
}

/** `cacheReads`: this process is the only writer of the file (see SqliteLocationStore). */
export function openSqliteStores(file: string, options?: OpenOptions & { cacheReads?: boolean }): SqliteStores {
  const db = openDatabase(file, options);
  const location = new SqliteLocationStore(db, { cacheReads: options?.cacheReads });
  const cdr = new SqliteCdrStore(db);
  let closed = false;
  return {
    db,
    location,
    cdr,
    close() {
      if (closed) return;
      closed = true;
      location.close();
      cdr.close();
      db.close();
    },
  };
}
