import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLab } from '../../src/lab/lab.ts';
import { LabNodeStartError } from '../../src/lab/errors.ts';
import type { LabNodeInfo } from '../../src/lab/node-process.ts';
import { udpQuery, rdata } from './dns-client.ts';
import { alive, canBindTcp, canBindUdp, fakeNodeCommand, testSpecs, waitFor } from './fixtures/lab-env.ts';

function tmpDir(): string {
  return mkdtempSync(join(tmpdir(), 'spacephone-lab-'));
}

async function post(url: string): Promise<{ status: number; body: { ok: boolean; node?: LabNodeInfo; error?: { code: string; message: string } } }> {
  const r = await fetch(url, { method: 'POST' });
  return { status: r.status, body: (await r.json()) as { ok: boolean; node?: LabNodeInfo } };
}

async function nodesOf(url: string): Promise<Record<string, LabNodeInfo>> {
  const list = (await (await fetch(`${url}/api/nodes`)).json()) as LabNodeInfo[];
  return Object.fromEntries(list.map((n) => [n.name, n]));
}

describe('lab runner with fake nodes', () => {
  it('MUST start DNS, nodes and dashboard, print "lab ready" once, control nodes, and leave nothing behind', async () => {
    const dir = tmpDir();
    const specs = await testSpecs();
    const lines: string[] = [];
    const ac = new AbortController();
    const lab = await runLab({
      dir, signal: ac.signal, nodes: specs, nodeCommand: fakeNodeCommand(),
      dns: { address: '127.0.0.1', port: 0 }, dashboard: { address: '127.0.0.1', port: 0 },
      killTimeoutMs: 1000, output: (l) => lines.push(l),
    });
    const pids = new Set<number>();
    try {
      assert.equal(lines.filter((l) => l === 'lab ready').length, 1);
      assert.equal(lines.at(-1), 'lab ready');
      assert.ok(existsSync(join(dir, 'tls', 'lab-cert.pem')) && existsSync(join(dir, 'tls', 'lab-key.pem')), 'TLS files generated');
      const url = lab.dashboardUrl;

      let nodes = await nodesOf(url);
      assert.deepEqual(Object.values(nodes).map((n) => [n.name, n.state]), [['nl', 'up'], ['de', 'up'], ['space', 'up']]);
      for (const n of Object.values(nodes)) { assert.ok(alive(n.pid), `${n.name} pid alive`); pids.add(n.pid ?? -1); }

      // The lab DNS server answers for the contract zone.
      assert.ok(lab.dns);
      const a = await udpQuery(lab.dns.address, lab.dns.port, 'de.lab.spacephone.test', 'A');
      assert.equal(rdata(a.answers?.[0]), '127.0.0.12');
      const ns = await udpQuery(lab.dns.address, lab.dns.port, 'ns.lab.spacephone.test', 'A');
      assert.equal(rdata(ns.answers?.[0]), '127.0.0.1', 'the zone names the DNS server where it really listens');

      // Dashboard shows each node's registrations (fetched from the node's admin API).
      const ov = (await (await fetch(`${url}/api/overview`)).json()) as { nodes: Array<{ name: string; registrations: unknown[] }> };
      assert.deepEqual(ov.nodes.map((n) => [n.name, n.registrations.length]), [['nl', 1], ['de', 1], ['space', 1]]);
      const html = await (await fetch(`${url}/`)).text();
      assert.match(html, /<title>spacephone lab<\/title>/);
      assert.match(html, /2001@lab\.spacephone\.test/);
      assert.match(html, /&#60;fake nl&#62;/, 'node data is HTML-escaped');

      // stop / start / restart through the control API
      const dePid = nodes.de.pid;
      let r = await post(`${url}/api/nodes/de/stop`);
      assert.equal(r.status, 200);
      assert.equal(r.body.node?.state, 'down');
      assert.equal(alive(dePid), false, 'stopped node process is gone');
      assert.equal((await nodesOf(url)).de.state, 'down');
      r = await post(`${url}/api/nodes/de/stop`);
      assert.equal(r.status, 200, 'stop is idempotent');
      r = await post(`${url}/api/nodes/de/start`);
      assert.equal(r.status, 200);
      assert.equal(r.body.node?.state, 'up');
      assert.ok(alive(r.body.node?.pid) && r.body.node?.pid !== dePid);
      pids.add(r.body.node?.pid ?? -1);

      const nlPid = nodes.nl.pid;
      r = await post(`${url}/api/nodes/nl/restart`);
      assert.equal(r.body.node?.state, 'up');
      assert.notEqual(r.body.node?.pid, nlPid);
      assert.equal(alive(nlPid), false);
      pids.add(r.body.node?.pid ?? -1);

      // A node killed from outside shows as failed, and can be started again.
      const spacePid = nodes.space.pid ?? -1;
      process.kill(spacePid, 'SIGKILL');
      assert.ok(await waitFor(() => lab.node('space').state === 'failed', 3000), 'crash detected');
      r = await post(`${url}/api/nodes/space/start`);
      assert.equal(r.body.node?.state, 'up');
      pids.add(r.body.node?.pid ?? -1);

      assert.equal((await post(`${url}/api/nodes/mars/stop`)).status, 404);
      assert.equal((await post(`${url}/api/nodes/nl/explode`)).status, 404);
      nodes = await nodesOf(url);
      assert.deepEqual(Object.values(nodes).map((n) => n.state), ['up', 'up', 'up']);
    } finally {
      ac.abort();
      await lab.stopped;
    }
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} gone after shutdown`);
    assert.deepEqual(lab.nodes.map((n) => n.state), ['down', 'down', 'down']);
    const dashPort = Number(new URL(lab.dashboardUrl).port);
    assert.ok(await canBindTcp(dashPort), 'dashboard port free');
    assert.ok(lab.dns && await canBindTcp(lab.dns.port) && await canBindUdp(lab.dns.port), 'DNS ports free');
    for (const s of specs) assert.ok(await canBindTcp(s.admin.port), `${s.name} admin port free`);
    await lab.stop(); // idempotent
    rmSync(dir, { recursive: true, force: true });
  });

  it('MUST take a node off a provider and cut/restore a peer link through the control API', async () => {
    const dir = tmpDir();
    const specs = await testSpecs(['nl', 'de']);
    const lab = await runLab({
      dir, tls: false, nodes: specs, nodeCommand: fakeNodeCommand(),
      dns: false, dashboard: { address: '127.0.0.1', port: 0 }, output: () => {},
    });
    type Ov = { nodes: Array<{ name: string; status?: { trunks?: Array<{ name: string; registered: boolean }>; peers?: Array<{ name: string; up: boolean }> } }> };
    const ov = async (): Promise<Ov> => (await (await fetch(`${lab.dashboardUrl}/api/overview`)).json()) as Ov;
    const trunk = (o: Ov, node: string, t: string): boolean | undefined => o.nodes.find((n) => n.name === node)?.status?.trunks?.find((x) => x.name === t)?.registered;
    const peer = (o: Ov, node: string, p: string): boolean | undefined => o.nodes.find((n) => n.name === node)?.status?.peers?.find((x) => x.name === p)?.up;
    try {
      const url = lab.dashboardUrl;
      assert.equal(trunk(await ov(), 'nl', 'budgetphone'), true);
      assert.equal((await post(`${url}/api/nodes/nl/trunks/budgetphone/unregister`)).status, 200);
      let o = await ov();
      assert.equal(trunk(o, 'nl', 'budgetphone'), false);
      assert.equal(trunk(o, 'de', 'budgetphone'), true, 'only the named node left the provider');
      assert.equal((await post(`${url}/api/nodes/nl/trunks/budgetphone/register`)).status, 200);
      assert.equal(trunk(await ov(), 'nl', 'budgetphone'), true);
      assert.equal((await post(`${url}/api/nodes/nl/trunks/nosuch/unregister`)).status, 404, 'node 404 passed through');

      const cut = await post(`${url}/api/links/nl/de/cut`);
      assert.equal(cut.status, 200);
      o = await ov();
      assert.deepEqual([peer(o, 'nl', 'de'), peer(o, 'de', 'nl')], [false, false], 'both ends of the link are cut');
      assert.equal((await post(`${url}/api/links/de/nl/restore`)).status, 200);
      o = await ov();
      assert.deepEqual([peer(o, 'nl', 'de'), peer(o, 'de', 'nl')], [true, true]);
      assert.equal((await post(`${url}/api/links/nl/mars/cut`)).status, 404);

      await post(`${url}/api/nodes/de/stop`);
      const down = await post(`${url}/api/nodes/de/trunks/budgetphone/unregister`);
      assert.equal(down.status, 409);
      assert.equal(down.body.error?.code, 'LAB_NODE_DOWN');
      assert.equal((await post(`${url}/api/links/nl/de/cut`)).status, 409);
      const html = await (await fetch(`${url}/`)).text();
      assert.match(html, /data-post="\/api\/nodes\/nl\/trunks\/budgetphone\/unregister"/);
    } finally {
      await lab.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('MUST start in-process services before the nodes and close them after the nodes', async () => {
    const dir = tmpDir();
    const [nl] = await testSpecs(['nl']);
    const events: string[] = [];
    const lab = await runLab({
      dir, tls: false, nodes: [nl], nodeCommand: fakeNodeCommand(), dns: false, dashboard: { address: '127.0.0.1', port: 0 },
      services: [{ name: 'providers', start: async () => { events.push('providers start'); }, close: async () => { events.push(`providers close (nl ${lab.node('nl').state})`); } }],
      output: (l) => { if (l.startsWith('lab: node nl up')) events.push('nl up'); },
    });
    await lab.stop();
    assert.deepEqual(events, ['providers start', 'nl up', 'providers close (nl down)']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('MUST close the services that started when a later part fails', async () => {
    const dir = tmpDir();
    const events: string[] = [];
    const err = await runLab({
      dir, tls: false, nodes: [], dns: false, dashboard: { address: '127.0.0.1', port: 0 },
      services: [
        { name: 'a', start: async () => { events.push('a start'); }, close: async () => { events.push('a close'); } },
        { name: 'b', start: async () => { throw new Error('b cannot bind'); }, close: async () => { events.push('b close'); } },
      ],
      output: () => {},
    }).then(() => undefined, (e: unknown) => e);
    assert.match(String(err), /b cannot bind/);
    assert.deepEqual(events.sort(), ['a close', 'a start', 'b close']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('MUST fail start-up naming the node and its output tail, and stop the other nodes', async () => {
    const dir = tmpDir();
    const specs = await testSpecs();
    const err = await runLab({
      dir, tls: false, nodes: specs, nodeCommand: fakeNodeCommand({ de: ['--fail'] }),
      dns: false, dashboard: { address: '127.0.0.1', port: 0 }, output: () => {},
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof LabNodeStartError, String(err));
    assert.equal(err.code, 'LAB_NODE_START');
    assert.equal(err.node, 'de');
    assert.match(err.message, /node de exited during start \(code 3\)/);
    assert.ok(err.outputTail.some((l) => l.includes('EADDRNOTAVAIL')), err.outputTail.join('\n'));
    for (const s of specs) assert.ok(await canBindTcp(s.admin.port), `${s.name} admin port free (process gone)`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('MUST fail with LAB_SETUP naming the address when the dashboard port is taken, leaving nothing running', async () => {
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const dir = tmpDir();
    const [nl] = await testSpecs(['nl']);
    try {
      const err = await runLab({
        dir, tls: false, nodes: [nl], nodeCommand: fakeNodeCommand(), dns: { address: '127.0.0.1', port: 0 },
        dashboard: { address: '127.0.0.1', port }, output: () => {},
      }).then(() => undefined, (e: unknown) => e);
      assert.equal((err as { code?: string }).code, 'LAB_SETUP');
      assert.match(String(err), new RegExp(`dashboard: cannot listen on 127\\.0\\.0\\.1:${port}`));
      assert.ok(await canBindTcp(nl.admin.port), 'no node left running');
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('MUST report a node command that cannot be spawned, and survive an unwritable log directory', async () => {
    const { NodeProcess } = await import('../../src/lab/node-process.ts');
    const [nl] = await testSpecs(['nl']);
    const n = new NodeProcess({ spec: nl, command: { command: '/nonexistent/spacephone', args: [] }, logFile: '/nonexistent/dir/nl.log' });
    const err = await n.start().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof LabNodeStartError, String(err));
    assert.match(err.message, /node nl could not be spawned: .*ENOENT/);
    assert.equal(n.state, 'failed');
    await n.dispose();
    assert.equal(n.state, 'down');
  });

  it('MUST give up on a node whose health endpoint never answers, within the start timeout', async () => {
    const dir = tmpDir();
    const [nl] = await testSpecs(['nl']);
    const t0 = Date.now();
    const err = await runLab({
      dir, tls: false, nodes: [nl], nodeCommand: fakeNodeCommand({ nl: ['--hang'] }), startTimeoutMs: 1500, killTimeoutMs: 500,
      dns: false, dashboard: { address: '127.0.0.1', port: 0 }, output: () => {},
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof LabNodeStartError, String(err));
    assert.match(err.message, /node nl did not answer http:\/\/127\.0\.0\.1:\d+\/api\/health within 1500 ms/);
    assert.ok(Date.now() - t0 < 6000);
    rmSync(dir, { recursive: true, force: true });
  });

  it('MUST stop promptly when aborted during start-up (Ctrl-C while nodes are starting)', async () => {
    const dir = tmpDir();
    const specs = await testSpecs(['nl', 'de']);
    const ac = new AbortController();
    const started: number[] = [];
    const pending = runLab({
      dir, tls: false, nodes: specs, nodeCommand: fakeNodeCommand({ nl: ['--hang'], de: ['--hang'] }), startTimeoutMs: 60_000,
      dns: false, dashboard: { address: '127.0.0.1', port: 0 }, signal: ac.signal,
      output: (l) => { if (l.endsWith(' starting')) started.push(Date.now()); },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(await waitFor(() => started.length === 2, 5000));
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    ac.abort();
    const err = await pending;
    assert.ok(err instanceof Error, 'runLab rejects when aborted');
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
    // The hanging nodes held their admin ports: free ports prove the processes are gone.
    for (const s of specs) assert.ok(await canBindTcp(s.admin.port), `${s.name} admin port free`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('MUST start no node and close what it opened when aborted before the nodes start', async () => {
    const dir = tmpDir();
    const [nl] = await testSpecs(['nl']);
    const ac = new AbortController();
    let spawned = 0;
    let closed = 0;
    const pending = runLab({
      dir, tls: false, nodes: [nl], nodeCommand: (spec) => { spawned++; return fakeNodeCommand()(spec); },
      dns: { address: '127.0.0.1', port: 0 }, dashboard: { address: '127.0.0.1', port: 0 }, signal: ac.signal, output: () => {},
      services: [{ name: 'slow', start: () => new Promise((r) => setTimeout(r, 300)), close: async () => { closed++; } }],
    }).then(() => undefined, (e: unknown) => e);
    setTimeout(() => ac.abort(), 100);
    const err = await pending;
    assert.equal((err as Error).name, 'AbortError');
    assert.equal(spawned, 0, 'no node command was built after the abort');
    assert.equal(closed, 1, 'the started service was closed');
    rmSync(dir, { recursive: true, force: true });
  });

  it('MUST SIGKILL a node that ignores SIGTERM after the grace period', async () => {
    const dir = tmpDir();
    const [nl] = await testSpecs(['nl']);
    const lab = await runLab({
      dir, tls: false, nodes: [nl], nodeCommand: fakeNodeCommand({ nl: ['--stubborn'] }), killTimeoutMs: 400,
      dns: false, dashboard: { address: '127.0.0.1', port: 0 }, output: () => {},
    });
    const pid = lab.node('nl').pid;
    assert.ok(alive(pid));
    const t0 = Date.now();
    await lab.stop();
    assert.ok(Date.now() - t0 >= 400, 'waited the grace period');
    assert.equal(alive(pid), false);
    assert.equal(lab.node('nl').info().lastExit?.signal, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('lab runner process lifetime', () => {
  it('MUST leave no node running when the lab process itself is killed (SIGKILL)', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const dir = tmpDir();
    const specs = await testSpecs();
    const script = fileURLToPath(new URL('./fixtures/run-lab.ts', import.meta.url));
    const labProc = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(specs), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pids = await new Promise<number[]>((resolve, reject) => {
      let buf = '';
      const t = setTimeout(() => reject(new Error(`lab did not report pids: ${buf}`)), 20_000);
      labProc.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /PIDS (\[.*\])/.exec(buf);
        if (m?.[1]) { clearTimeout(t); resolve(JSON.parse(m[1]) as number[]); }
      });
    });
    try {
      assert.equal(pids.length, 3);
      for (const pid of pids) assert.ok(alive(pid));
      labProc.kill('SIGKILL');
      // The nodes see EOF on stdin (SPACEPHONE_EXIT_WITH_PARENT) and exit by themselves.
      assert.ok(await waitFor(() => pids.every((p) => !alive(p)), 5000), 'every node exited after the lab died');
      for (const s of specs) assert.ok(await canBindTcp(s.admin.port));
    } finally {
      labProc.kill('SIGKILL');
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lab CLI wrapper', () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`MUST stop every node and exit 0 on ${sig}, after printing "lab ready" and softphone instructions`, async () => {
      const { spawn } = await import('node:child_process');
      const { fileURLToPath } = await import('node:url');
      const dir = tmpDir();
      const specs = await testSpecs(['nl', 'de']);
      const script = fileURLToPath(new URL('./fixtures/run-lab.ts', import.meta.url));
      const labProc = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(specs), dir, 'cli'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      labProc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      labProc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      const exited = new Promise<number | null>((r) => labProc.on('exit', (code) => r(code)));
      try {
        assert.ok(await waitFor(() => out.includes('Ctrl-C stops the lab.'), 20_000), out);
        const lines = out.split('\n');
        assert.equal(lines.filter((l) => l === 'lab ready').length, 1);
        assert.ok(lines.indexOf('lab ready') < lines.findIndex((l) => l.includes('2001 / lab-2001')), 'instructions follow "lab ready"');
        const pids = [...out.matchAll(/node \w+ up \(pid (\d+)\)/g)].map((m) => Number(m[1]));
        assert.equal(pids.length, 2);
        labProc.kill(sig);
        assert.equal(await exited, 0);
        assert.match(out, /lab: stopped/);
        for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} gone`);
        for (const s of specs) assert.ok(await canBindTcp(s.admin.port));
      } finally {
        labProc.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
