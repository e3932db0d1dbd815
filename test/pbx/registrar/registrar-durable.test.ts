/**
 * Registrar.handleDurable with the group-committing SQLite store: a 200 leaves
 * only once the binding is in the file (a registration that was answered
 * survives kill -9), a failed batch commit answers 500 to every REGISTER in it
 * (RFC 3261 §10.3 step 7: all or nothing), answers that wrote nothing are
 * immediate.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteLocationStore } from '../../../src/store/sqlite-location-store.ts';
import type { SipResponse } from '../../../src/sip/message/types.ts';
import type { Binding } from '../../../src/store/location-store.ts';
import { AUTH100, DOMAIN, FLOW, contactsOf, register, setup } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'spacephone-registrar-durable-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function durableSetup(onChange?: (aor: string, bindings: Binding[]) => void) {
  const file = join(dir, `reg-${files++}.sqlite`);
  const store = SqliteLocationStore.open(file, { cacheReads: true, busyTimeoutMs: 0 });
  const errors: unknown[] = [];
  const s = setup({ store, onError: (e) => errors.push(e), onChange });
  const reader = new Database(file, { readonly: true });
  const rows = (): string[] => reader.prepare<[], { contact: string }>('SELECT contact FROM bindings ORDER BY contact').all().map((r) => r.contact);
  const close = (): void => {
    reader.close();
    store.close();
  };
  return { ...s, store, file, rows, errors, close };
}

/** handleDurable as a promise of its one answer. */
function handle(t: ReturnType<typeof durableSetup>, contact: string, cseq = 1, user = '100'): Promise<SipResponse> {
  const auth = user === '100' ? AUTH100 : { user, password: `secret${user}` };
  return new Promise<SipResponse>((resolve) => {
    t.registrar.handleDurable(register({ user, auth, contacts: [contact], callId: `call-${contact}`, cseq }), FLOW, resolve);
  });
}

describe('Registrar.handleDurable (group commit)', () => {
  it('MUST send the 200 only after its binding is committed to the file', async () => {
    const t = durableSetup();
    let rowsWhenAnswered: string[] | undefined;
    const answered = new Promise<SipResponse>((resolve) => {
      t.registrar.handleDurable(register({ auth: AUTH100, contacts: ['<sip:100@192.0.2.1:5062>'] }), FLOW, (res) => {
        rowsWhenAnswered = t.rows();
        resolve(res);
      });
    });
    assert.equal(rowsWhenAnswered, undefined, 'no answer before the commit');
    assert.deepEqual(t.rows(), [], 'nothing in the file yet');
    const res = await answered;
    assert.equal(res.status, 200);
    assert.deepEqual(contactsOf(res).map((c) => c.uri), ['100@192.0.2.1:5062']);
    assert.deepEqual(rowsWhenAnswered, ['sip:100@192.0.2.1:5062'], 'the row was in the file when the 200 was handed out');
    t.close();
  });

  it('MUST let a REGISTER of the same AOR in the same turn see the staged binding', async () => {
    const t = durableSetup();
    const first = handle(t, '<sip:100@192.0.2.1:5062>');
    const second = handle(t, '<sip:100@192.0.2.2:5062>');
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.status, 200);
    assert.deepEqual(contactsOf(b).map((c) => c.uri).sort(), ['100@192.0.2.1:5062', '100@192.0.2.2:5062']);
    assert.deepEqual(t.rows(), ['sip:100@192.0.2.1:5062', 'sip:100@192.0.2.2:5062']);
    t.close();
  });

  it('MUST answer 500 to every REGISTER of a batch whose commit failed, and keep none of their bindings', async () => {
    const t = durableSetup();
    const locker = new Database(t.file);
    locker.exec('BEGIN IMMEDIATE'); // the commit will fail with SQLITE_BUSY
    const answers = await Promise.all([handle(t, '<sip:100@192.0.2.1:5062>'), handle(t, '<sip:101@192.0.2.9:5062>', 1, '101')]);
    locker.exec('ROLLBACK');
    locker.close();
    assert.deepEqual(answers.map((r) => r.status), [500, 500]);
    for (const r of answers) assert.ok(r.to.params.get('tag'), '500 carries a To tag');
    assert.equal(t.errors.length, 2, 'each failure reported');
    assert.deepEqual(t.store.bindings(`100@${DOMAIN}`, t.clock.now()), []);
    assert.deepEqual(t.rows(), []);
    // The next REGISTER works again.
    assert.equal((await handle(t, '<sip:100@192.0.2.1:5062>', 2)).status, 200);
    assert.deepEqual(t.rows(), ['sip:100@192.0.2.1:5062']);
    t.close();
  });

  it('MUST answer every REGISTER of one batch after its commit, in arrival order, even when one reply throws', async () => {
    const t = durableSetup();
    const order: string[] = [];
    let rowsAtFirst: string[] | undefined;
    const regs = [['100', 1], ['101', 1], ['100', 2]] as const;
    const done = new Promise<void>((resolve) => {
      for (const [user, host] of regs) {
        const auth = user === '100' ? AUTH100 : { user, password: `secret${user}` };
        t.registrar.handleDurable(register({ user, auth, contacts: [`<sip:${user}@192.0.2.${host}:5062>`], callId: `c${user}-${host}` }), FLOW, (res) => {
          rowsAtFirst ??= t.rows();
          order.push(`${user}:${host}:${res.status}`);
          if (order.length === regs.length) resolve();
          if (order.length === 1) throw new Error('a reply that throws');
        });
      }
    });
    await done;
    assert.deepEqual(order, ['100:1:200', '101:1:200', '100:2:200'], 'all answered, in order, despite the throw');
    assert.equal(rowsAtFirst?.length, 3, 'the whole batch was in the file before the first 200');
    t.close();
  });

  it('MUST answer a challenge at once, without waiting for a commit', () => {
    const t = durableSetup();
    let res: SipResponse | undefined;
    t.registrar.handleDurable(register({ contacts: ['<sip:100@192.0.2.1:5062>'] }), FLOW, (r) => {
      res = r;
    });
    assert.equal(res?.status, 401);
    t.close();
  });

  it('MUST report a staged change through onChange only once it is committed', async () => {
    const changes: string[] = [];
    const t = durableSetup((aor) => changes.push(aor));
    const pending = handle(t, '<sip:100@192.0.2.1:5062>');
    assert.deepEqual(changes, []);
    assert.equal((await pending).status, 200);
    assert.deepEqual(changes, [`100@${DOMAIN}`]);
    t.close();
  });
});
