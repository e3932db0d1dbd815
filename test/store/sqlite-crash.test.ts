import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteLocationStore } from '../../src/store/sqlite-location-store.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);
const writer = fileURLToPath(new URL('./fixtures/kill-writer.ts', import.meta.url));
const countWriter = fileURLToPath(new URL('./fixtures/count-writer.ts', import.meta.url));

function run(args: string[]): Promise<number | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', countWriter, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

describe('SQLite durability', () => {
  it('MUST keep every committed binding when the writing process is killed with SIGKILL', async () => {
    const file = join(tmp.dir, 'crash.sqlite');
    const child = spawn(process.execPath, ['--import', 'tsx', writer, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let saved = -1;
    let buf = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^saved (\d+)$/.exec(l);
        if (m) saved = Number(m[1]);
      }
      // Kill in the middle of the write loop, well past the first checkpoint-free commits.
      if (saved >= 200 && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    assert.equal(await exited, 'SIGKILL');
    assert.ok(saved >= 200, `child reported ${saved} saves`);

    const store = SqliteLocationStore.open(file);
    const rows = store.all(0);
    store.close();
    const cseqs = new Set(rows.map((b) => b.cseq));
    for (let i = 0; i <= saved; i++) assert.ok(cseqs.has(i), `binding ${i} was reported committed but is lost`);
  });

  it('MUST serialize two processes creating and writing the same file at once without losing a write', async () => {
    const file = join(tmp.dir, 'shared.sqlite');
    // Both children open the (new) file at the same instant, racing the migrations too.
    const startAt = String(Date.now() + 4000);
    const codes = await Promise.all([run([file, 'a', '3000', startAt]), run([file, 'b', '3000', startAt])]);
    assert.deepEqual(codes, [0, 0]);
    const store = SqliteLocationStore.open(file);
    const contacts = store.all(0).map((b) => b.contact);
    store.close();
    assert.equal(contacts.length, 6000);
    assert.equal(contacts.filter((c) => c.startsWith('<sip:a')).length, 3000);
  });
});
