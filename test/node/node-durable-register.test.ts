/**
 * The node sends a REGISTER's 200 only once the binding is committed to its
 * SQLite file (group commit, SqliteLocationStore.stage): at the moment the 200
 * goes onto the wire, another connection to the file already sees the row, so
 * a node killed with SIGKILL right after answering still has the binding.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { DOMAIN, startTestNode, type NodeUnderTest } from './node-harness.ts';

describe('PbxNode REGISTER durability', () => {
  let t: NodeUnderTest;
  let reader: Database.Database;

  before(async () => {
    t = await startTestNode();
    reader = new Database(t.node.node.database, { readonly: true });
  });
  after(async () => {
    reader.close();
    await t.close();
  });

  it('MUST NOT put a REGISTER 200 on the wire before its binding is in the database file', async () => {
    const seen: { rows: number }[] = [];
    const count = reader.prepare<[string], { n: number }>('SELECT count(*) AS n FROM bindings WHERE aor = ?');
    // 'trace' is emitted synchronously as each datagram is sent.
    t.node.transport.on('trace', (ev) => {
      if (ev.direction !== 'out') return;
      const text = ev.data.toString('latin1');
      if (text.startsWith('SIP/2.0 200') && /\r\nCSeq: \d+ REGISTER\r\n/i.test(text)) {
        seen.push({ rows: count.get(`2001@${DOMAIN}`)?.n ?? 0 });
      }
    });
    const phone = await t.phone('2001');
    assert.equal(await phone.register(), 200);
    assert.equal(seen.length, 1, 'one 200 sent');
    assert.equal(seen[0].rows, 1, 'the binding was committed before the 200 left');
  });
});
