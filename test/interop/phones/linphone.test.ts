/**
 * Proof with linphone (linphone-cli 5.1.65) as a real phone. linphone needs a
 * network of its own (/work/shared/INTEROP.md): it considers the network down
 * when the route to a public address leaves from 127.0.0.1, and reads DNS only
 * from /etc/resolv.conf. So this test creates a network namespace with only `lo`
 * up, a default route over `lo` from 127.0.0.70, and its own resolv.conf, and
 * runs linphone-scenario.ts (node, baresip and linphone together) inside it.
 * Decision and details: docs/interop.md.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { requireTool } from '../../support/tools.ts';

const SCENARIO = fileURLToPath(new URL('./linphone-scenario.ts', import.meta.url));

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Namespaces left by a run that was killed (its pid is gone): remove them. */
function removeStale(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of list.matchAll(/^spphones-(\d+)\b/gm)) {
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) {
      spawnSync('ip', ['netns', 'delete', `spphones-${pid}`]);
      rmSync(`/etc/netns/spphones-${pid}`, { recursive: true, force: true });
    }
  }
}

/** A namespace with only `lo`: the phones' whole world; removed by the returned function. */
function createNamespace(name: string): () => void {
  ip('netns', 'add', name);
  const etc = `/etc/netns/${name}`;
  const remove = (): void => {
    spawnSync('ip', ['netns', 'delete', name]);
    rmSync(etc, { recursive: true, force: true });
  };
  try {
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
    // linphone's "network reachable" check: a route to the internet from a non-127.0.0.1 source.
    ip('netns', 'exec', name, 'ip', 'route', 'add', 'default', 'dev', 'lo', 'src', '127.0.0.70');
    // `ip netns exec` bind-mounts this over /etc/resolv.conf: nothing listens on
    // 127.0.0.79:53, so a stray lookup fails at once inside the namespace.
    mkdirSync(etc, { recursive: true });
    writeFileSync(`${etc}/resolv.conf`, 'nameserver 127.0.0.79\n');
  } catch (err) {
    remove();
    throw err;
  }
  return remove;
}

function runScenario(ns: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    // Without NODE_TEST_CONTEXT: under the outer runner it would make the inner
    // one speak the runner's binary protocol instead of TAP.
    const env: NodeJS.ProcessEnv = { ...process.env, SPACEPHONE_NETNS: ns };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', '--test', '--test-reporter=tap', SCENARIO], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    const killer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, out });
    });
  });
}

describe('linphone ↔ baresip through a spacephone node (isolated network namespace)', { timeout: 180_000 }, () => {
  it('MUST pass every phone obligation of linphone-scenario.ts: register, call both ways, tones, pause/resume, hangup releases, transactions end', async (t) => {
    requireTool('ip');
    requireTool('linphonec');
    requireTool('baresip');
    const ns = `spphones-${process.pid}`;
    removeStale();
    const remove = createNamespace(ns);
    try {
      const { code, out } = await runScenario(ns);
      const results = out.split('\n').filter((l) => /^\s*(not )?ok \d+ - /.test(l)).map((l) => l.trim());
      for (const r of results) t.diagnostic(r);
      const failed = results.filter((r) => r.startsWith('not ok'));
      assert.equal(failed.length, 0, `${failed.join('\n')}\n${out.slice(-4000)}`);
      assert.ok(results.filter((r) => r.startsWith('ok')).length >= 7, `expected the scenario's 6 tests and its suite to pass (exit ${code}):\n${out.slice(-4000)}`);
      assert.equal(code, 0, out.slice(-4000));
    } finally {
      remove();
    }
  });
});
