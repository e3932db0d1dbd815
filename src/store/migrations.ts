/**
 * The schema, as an append-only list of numbered migrations. Never edit a
 * published migration: add a new one. Version numbers are strictly increasing;
 * `schema_migrations` records which ones a database file has applied.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'bindings',
    // One row per (AOR, Contact) binding (RFC 3261 §10.3). path/flow are JSON.
    sql: `
      CREATE TABLE bindings (
        aor         TEXT    NOT NULL,
        contact     TEXT    NOT NULL,
        instance_id TEXT,
        reg_id      INTEGER,
        q           REAL    NOT NULL,
        expires_at  INTEGER NOT NULL,
        call_id     TEXT    NOT NULL,
        cseq        INTEGER NOT NULL,
        path        TEXT    NOT NULL,
        flow        TEXT    NOT NULL,
        user_agent  TEXT,
        updated_at  INTEGER NOT NULL,
        failures    INTEGER NOT NULL,
        reachable   INTEGER NOT NULL,
        node        TEXT    NOT NULL,
        PRIMARY KEY (aor, contact)
      ) WITHOUT ROWID;
      CREATE INDEX bindings_expires_at ON bindings (expires_at);
    `,
  },
  {
    version: 2,
    name: 'cdrs',
    // Call detail records; times in ms since epoch, duration in ms (0 when unanswered).
    sql: `
      CREATE TABLE cdrs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id     TEXT    NOT NULL,
        from_uri    TEXT    NOT NULL,
        to_uri      TEXT    NOT NULL,
        started_at  INTEGER NOT NULL,
        answered_at INTEGER,
        ended_at    INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        result      TEXT    NOT NULL,
        status      INTEGER,
        node        TEXT    NOT NULL
      );
      CREATE INDEX cdrs_ended_at ON cdrs (ended_at);
    `,
  },
];
