/**
 * Group commit over a window (SqliteLocationStore `commitWindow`): a batch
 * commits `ms` after its first staged write on the injected clock, or at once
 * when it holds `rows` writes; never before, and no promise settles before its
 * row is in the file (the node sends a REGISTER's 200 only then).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { SqliteLocationStore } from '../../src/store/sqlite-location-store.ts';
import { FakeClock } from '../../src/sip/clock.ts';
import { binding, tempDir } from './helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);

let files = 0;
const contact = (n: number): string => `<sip:2001@192.0.2.${n}:5062>`;

function open(rows: number): { store: SqliteLocationStore; clock: FakeClock; reader: Database.Database } {
  const clock = new FakeClock();
  const file = join(tmp.dir, `window-${files++}.sqlite`);
  const store = SqliteLocationStore.open(file, { cacheReads: true, busyTimeoutMs: 0, commitWindow: { clock, ms: 2, rows } });
  return { store, clock, reader: new Database(file, { readonly: true }) };
}

function rowsInFile(reader: Database.Database): string[] {
  return reader.prepare<[], { contact: string }>('SELECT contact FROM bindings ORDER BY contact').all().map((r) => r.contact);
}

describe('SqliteLocationStore commit window', () => {
  it('MUST commit writes of several event-loop turns together when the window ends, and not before', async () => {
    const { store, clock, reader } = open(64);
    let settled = 0;
    void store.stage(() => store.save(binding({ contact: contact(1), callId: 'c1' }))).then(() => settled++);
    await turn(); // a later poll phase
    void store.stage(() => store.save(binding({ contact: contact(2), callId: 'c2' }))).then(() => settled++);
    await turn();
    clock.advance(1);
    await turn();
    assert.deepEqual(rowsInFile(reader), [], 'nothing committed inside the window');
    assert.equal(settled, 0, 'no write reported durable before its commit');
    clock.advance(1);
    await turn();
    assert.deepEqual(rowsInFile(reader), [contact(1), contact(2)], 'one commit at the end of the window');
    assert.equal(settled, 2);
    reader.close();
    store.close();
  });

  it('MUST commit at once when the batch holds `rows` writes, without waiting for the window', async () => {
    const { store, reader } = open(3);
    const seen: string[][] = [];
    const writes = [1, 2, 3].map((n) => store.stage(() => store.save(binding({ contact: contact(n), callId: `c${n}` }))).then(() => seen.push(rowsInFile(reader))));
    assert.deepEqual(rowsInFile(reader), [contact(1), contact(2), contact(3)], 'committed by the third write');
    await Promise.all(writes);
    assert.equal(seen.length, 3);
    // The next write opens a new window.
    void store.stage(() => store.save(binding({ contact: contact(4), callId: 'c4' })));
    assert.equal(rowsInFile(reader).length, 3);
    reader.close();
    store.close();
  });

  it('MUST commit what is staged when closed, and leave no window timer behind', async () => {
    const { store, clock, reader } = open(64);
    const staged = store.stage(() => store.save(binding({ contact: contact(1) })));
    store.close();
    await staged;
    assert.deepEqual(rowsInFile(reader), [contact(1)]);
    assert.equal(clock.pending, 0);
    reader.close();
  });
});
