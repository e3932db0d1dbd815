import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openSqliteStores } from '../../src/store/stores.ts';
import { StoreError } from '../../src/store/errors.ts';
import type { CdrResult, NewCdr } from '../../src/store/cdr-store.ts';
import { binding, tempDir } from './helpers.ts';
import { join } from 'node:path';

function cdr(over: Partial<NewCdr> = {}): NewCdr {
  return { callId: 'c1', from: 'sip:+31455550199@budgetphone', to: 'sip:2001@lab.spacephone.test', startedAt: 1000, endedAt: 5000, result: 'no-answer', status: 480, node: 'nl', ...over };
}

describe('SqliteCdrStore', () => {
  it('MUST store a CDR with talk time = end - answer, and 0 when unanswered', () => {
    const s = openSqliteStores(':memory:');
    const a = s.cdr.insert(cdr({ answeredAt: 2000, result: 'answered', status: 200 }));
    assert.equal(a.durationMs, 3000);
    const b = s.cdr.insert(cdr({ callId: 'c2', endedAt: 6000 }));
    assert.equal(b.durationMs, 0);
    assert.ok(b.id > a.id);
    assert.deepEqual(s.cdr.recent(10), [b, a]);
    s.close();
  });

  it('MUST return the newest records first, at most limit', () => {
    const s = openSqliteStores(':memory:');
    for (let i = 0; i < 5; i++) s.cdr.insert(cdr({ callId: `c${i}`, endedAt: 10_000 + i }));
    assert.deepEqual(s.cdr.recent(3).map((c) => c.callId), ['c4', 'c3', 'c2']);
    assert.deepEqual(s.cdr.recent(0), []);
    assert.deepEqual(s.cdr.recent(-5), []);
    s.close();
  });

  it('MUST reject an unknown result value', () => {
    const s = openSqliteStores(':memory:');
    assert.throws(() => s.cdr.insert(cdr({ result: 'weird' as CdrResult })), StoreError);
    s.close();
  });

  it('MUST keep CDRs and bindings in one file across reopen; close MUST be idempotent', () => {
    const tmp = tempDir();
    try {
      const f = join(tmp.dir, 'nl.sqlite');
      const s1 = openSqliteStores(f);
      s1.cdr.insert(cdr());
      s1.location.save(binding());
      s1.close();
      s1.close();
      const s2 = openSqliteStores(f);
      assert.equal(s2.cdr.recent(10).length, 1);
      assert.equal(s2.location.all(0).length, 1);
      s2.close();
    } finally {
      tmp.cleanup();
    }
  });
});
