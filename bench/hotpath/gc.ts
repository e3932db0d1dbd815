/**
 * Runtime probe of the node process (GC, threads, memory): the node runs as its
 * own process (`bin/spacephone.mjs start`, like the bench and the lab) with
 * extra node/V8 flags, and is driven from here.
 *
 *   npx tsx bench/hotpath/gc.ts register N WINDOW [node flags...]
 *       N REGISTER→401→REGISTER→200 exchanges from an in-process UDP client
 *       (WINDOW in flight, retransmits after 500 ms so a lost datagram cannot
 *       stall the run); prints the node's CPU µs per registration split into the
 *       main thread and the other threads (V8 GC helpers, libuv pool), read from
 *       /proc/<pid>/task/<tid>/stat.
 *   npx tsx bench/hotpath/gc.ts calls N RATE [node flags...]
 *       N INVITE…BYE calls with SIPp (test/interop/sipp uas.xml + uac-auth.xml,
 *       1 s hold); RSS and V8 heap sampled; with GC_SNAPSHOTS=1 the node gets
 *       --heapsnapshot-signal=SIGUSR2 and writes a snapshot before and after
 *       (and 40 s after, past 64*T1) into the printed directory.
 *
 * Addresses (own ones, so it can run beside bench/hotpath/register-*.ts, which
 * use 127.0.0.90/93): node 127.0.0.94:5060 (admin :8094), SIPp UAS
 * 127.0.0.95:5060, clients 127.0.0.96.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSipp, startSipp, stopSipp } from '../../test/support/tools.ts';
import { authUri, pbxConfigYaml, registerCsv, scenario, uacCsv, users, writeFiles } from '../../test/interop/sipp/gen.ts';

const NODE_IP = '127.0.0.94';
const UAS_IP = '127.0.0.95';
const CLIENT_IP = '127.0.0.96';
const FIRST = 10000;
const USERS = 10_000;
const CALLEE = FIRST + USERS - 1;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU (ms) of each thread of `pid`, main thread first, by thread name. */
export function threadCpu(pid: number): { main: number; others: number; byName: Map<string, number>; byTid: Map<string, number> } {
  let main = 0;
  let others = 0;
  const byName = new Map<string, number>();
  const byTid = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // thread gone
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * 10; // utime + stime, 100 Hz ticks
    if (tid === String(pid)) main += ms;
    else others += ms;
    byName.set(name, (byName.get(name) ?? 0) + ms);
    byTid.set(`${tid}(${name})`, ms);
  }
  return { main, others, byName, byTid };
}

/** System-wide UDP datagrams the kernel dropped for a full receive buffer (/proc/net/snmp). */
export function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp: '));
  const head = lines[0]?.split(' ') ?? [];
  const vals = lines[1]?.split(' ') ?? [];
  return Number(vals[head.indexOf('RcvbufErrors')]);
}

export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Pauses reported by --trace-gc lines of the node (main-thread ms; helper threads not included). */
export const gcStats = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, allocatedMiB: 0, promotedMiB: 0, copiedMiB: 0 };
/** With --trace-opt --trace-deopt: optimized compilations and deoptimizations, by function. */
export const jitStats = { compiled: new Map<string, number>(), deopts: new Map<string, number>() };

function traceGc(line: string): void {
  // --trace-gc-nvp: bytes allocated since the previous GC, promoted to old space, copied inside the young generation.
  const nvp = /\ballocated=(\d+).*?\bpromoted=(\d+).*?\bnew_space_survived=(\d+)/.exec(line);
  if (nvp) {
    gcStats.allocatedMiB += Number(nvp[1]) / 2 ** 20;
    gcStats.promotedMiB += Number(nvp[2]) / 2 ** 20;
    gcStats.copiedMiB += Number(nvp[3]) / 2 ** 20;
  }
  // --trace-gc-nvp has no --trace-gc summary line: count its pauses by kind (gc=s scavenge, else mark-compact).
  const pause = /\bpause=([\d.]+) .*?\bgc=(\w+)/.exec(line);
  if (pause) {
    countPause(pause[2] === 's', Number(pause[1]));
    return;
  }
  const opt = /^\[completed (?:compiling|optimizing) .*?<JSFunction (\S*)/.exec(line);
  if (opt) jitStats.compiled.set(opt[1] ?? '', (jitStats.compiled.get(opt[1] ?? '') ?? 0) + 1);
  const de = /^\[bailout \(kind: ([^)]*)\).*?<JSFunction (\S*)/.exec(line);
  if (de) jitStats.deopts.set(`${de[2]} ${de[1]}`, (jitStats.deopts.get(`${de[2]} ${de[1]}`) ?? 0) + 1);
  const m = /: (Scavenge|Mark-Compact|Mark-Compact \(reduce\)|Minor Mark-Compact)\b.*?MB, ([\d.]+) \/ ([\d.]+) ms/.exec(line);
  if (m) countPause(m[1] === 'Scavenge', Number(m[2]));
}

function countPause(scavenge: boolean, ms: number): void {
  if (scavenge) {
    gcStats.scavenges++;
    gcStats.scavengeMs += ms;
  } else {
    gcStats.markCompacts++;
    gcStats.markCompactMs += ms;
  }
}

/** `bin/spacephone.mjs start` with extra node flags; resolves once it printed "ready". */
export function startNode(config: string, flags: string[], diagDir: string): Promise<ChildProcess> {
  const args = [...flags, `--diagnostic-dir=${diagDir}`, 'bin/spacephone.mjs', 'start', '--config', config, '--node', 'pbx'];
  // GC_TREE: run the node of another checkout (e.g. a worktree of an older commit).
  const child = spawn(process.execPath, args, { cwd: process.env.GC_TREE, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPACEPHONE_LOG_LEVEL: 'warn' } });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`node not ready: ${out.slice(-500)}`)), 30_000);
    const onData = (d: Buffer): void => {
      for (const line of d.toString().split('\n')) traceGc(line);
      out = (out + d.toString()).slice(-5000);
      if (out.includes('node pbx ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited ${code}: ${out.slice(-500)}`));
    });
  });
}

function stopNode(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGINT');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

async function metrics(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${NODE_IP}:8094/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** RSS next to the V8 heap and external (Buffer) memory, from the node's /metrics. */
async function memory(pid: number): Promise<string> {
  const m = await metrics();
  const mib = (b: number | undefined): string => ((b ?? NaN) / 2 ** 20).toFixed(0);
  return `RSS ${rssMiB(pid).toFixed(0)} MiB = heap ${mib(m.nodejs_heap_size_total_bytes)} (used ${mib(m.nodejs_heap_size_used_bytes)}) + external ${mib(m.nodejs_external_memory_bytes)} MiB + rest`;
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

/** N digest registrations from one UDP socket, WINDOW in flight; retransmits after 500 ms. */
async function registerLoad(n: number, window: number): Promise<{ ms: number; retransmissions: number }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, CLIENT_IP, () => r()));
  sock.setRecvBufferSize(4 << 20);
  const port = sock.address().port;
  const pending = new Map<string, { msg: string; sentAt: number }>();
  let started = 0;
  let done = 0;
  let seq = 0;
  let retransmissions = 0;
  let finish = (): void => undefined;
  const finished = new Promise<void>((r) => { finish = r; });
  const send = (callId: string, msg: string): void => {
    pending.set(callId, { msg, sentAt: Date.now() });
    sock.send(msg, 5060, NODE_IP);
  };
  const reg = (user: number, callId: string, cseq: number, auth?: string): void => {
    send(callId, `REGISTER sip:${NODE_IP}:5060 SIP/2.0\r\nVia: SIP/2.0/UDP ${CLIENT_IP}:${port};branch=z9hG4bK${seq++}x;rport\r\nFrom: <sip:${user}@${NODE_IP}>;tag=t${callId}\r\nTo: <sip:${user}@${NODE_IP}>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\nContact: <sip:${user}@${CLIENT_IP}:${port}>\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Expires: 3600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`);
  };
  const next = (): void => {
    if (started >= n) return;
    const i = started++;
    reg(FIRST + (i % USERS), `g${i}`, 1);
  };
  sock.on('message', (m) => {
    const s = m.toString('latin1');
    const status = s.slice(8, 11);
    const callId = /\r\nCall-ID: (\S+)/i.exec(s)?.[1] ?? '';
    if (!pending.has(callId)) return; // a late duplicate
    const user = Number(/\r\nTo: <sip:(\d+)@/i.exec(s)?.[1]);
    if (status === '401') {
      const nonce = /nonce="([^"]+)"/.exec(s)?.[1] ?? '';
      const realm = /realm="([^"]+)"/.exec(s)?.[1] ?? '';
      const uri = `sip:${NODE_IP}:5060`;
      const resp = md5(`${md5(`${user}:${realm}:pw-${user}`)}:${nonce}:${md5(`REGISTER:${uri}`)}`);
      reg(user, callId, 2, `Digest username="${user}",realm="${realm}",nonce="${nonce}",uri="${uri}",response="${resp}",algorithm=MD5`);
    } else if (status === '200') {
      pending.delete(callId);
      if (++done === n) finish();
      else next();
    }
  });
  const retrans = setInterval(() => {
    const now = Date.now();
    for (const p of pending.values()) {
      if (now - p.sentAt < 500) continue;
      p.sentAt = now;
      retransmissions++;
      sock.send(p.msg, 5060, NODE_IP);
    }
  }, 100);
  const t0 = performance.now();
  for (let i = 0; i < window; i++) next();
  await finished;
  clearInterval(retrans);
  sock.close();
  return { ms: performance.now() - t0, retransmissions };
}

function setup(): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gc-probe-'));
  const config = join(dir, 'pbx.yaml');
  writeFiles({ [config]: pbxConfigYaml({ nodeName: 'pbx', address: NODE_IP, port: 5060, rtp: { minPort: 40000, maxPort: 49999 }, database: join(dir, 'pbx.sqlite'), firstUser: FIRST, userCount: USERS, admin: { address: NODE_IP, port: 8094 } }) });
  return { dir, config };
}

/** Asks the node (started with --heapsnapshot-signal=SIGUSR2) for a heap snapshot in `dir`; waits for it. */
async function heapSnapshot(pid: number, dir: string, label: string): Promise<void> {
  const count = (): number => readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).length;
  const before = count();
  process.kill(pid, 'SIGUSR2');
  while (count() === before) await sleep(200);
  await sleep(3000); // the file appears before it is complete
  console.log(`snapshot ${label}: RSS ${rssMiB(pid).toFixed(0)} MiB`);
}

async function registerMode(n: number, window: number, flags: string[]): Promise<void> {
  const { dir, config } = setup();
  const snapshots = process.env.GC_SNAPSHOTS === '1';
  const node = await startNode(config, [...flags, ...(snapshots ? ['--heapsnapshot-signal=SIGUSR2'] : [])], dir);
  const pid = node.pid ?? 0;
  try {
    await sleep(500);
    // Round 1 creates the 10,000 bindings; round 2+ refresh them (the steady state).
    const rounds = Number(process.env.GC_ROUNDS ?? 3);
    for (let round = 0; round < rounds; round++) {
      const c0 = threadCpu(pid);
      const g0 = { ...gcStats };
      const r = await registerLoad(n, window);
      const c1 = threadCpu(pid);
      const gc = `GC: ${gcStats.scavenges - g0.scavenges} scavenges ${(gcStats.scavengeMs - g0.scavengeMs).toFixed(0)} ms, ${gcStats.markCompacts - g0.markCompacts} mark-compacts ${(gcStats.markCompactMs - g0.markCompactMs).toFixed(0)} ms` +
        // Allocation per registration, from --trace-gc-nvp (counted up to the last GC of the round).
        (gcStats.allocatedMiB > g0.allocatedMiB
          ? `; per reg: allocated ${(((gcStats.allocatedMiB - g0.allocatedMiB) * 2 ** 20) / n).toFixed(0)} B, promoted ${(((gcStats.promotedMiB - g0.promotedMiB) * 2 ** 20) / n).toFixed(0)} B`
          : '');
      const per = (ms: number): string => ((ms * 1000) / n).toFixed(0);
      const names = [...c1.byName.entries()].map(([k, v]) => `${k} ${per(v - (c0.byName.get(k) ?? 0))}`).join(', ');
      console.log(`[${flags.join(' ') || 'default'}] round ${round}: ${n} in ${r.ms.toFixed(0)} ms = ${((n / r.ms) * 1000).toFixed(0)}/s, retrans ${r.retransmissions}; node CPU µs/reg: main ${per(c1.main - c0.main)} + other threads ${per(c1.others - c0.others)} (${names}); RSS ${rssMiB(pid).toFixed(0)} MiB; ${gc}`);
      if (snapshots && round === 1 && process.env.GC_SETTLE !== '1') await heapSnapshot(pid, dir, 'right after round 1 (transactions in Timer J)');
      console.log(`  ${await memory(pid)}`);
    }
    if (process.env.GC_SETTLE === '1') {
      await sleep(40_000);
      console.log(`40 s later: ${await memory(pid)}`);
      if (snapshots) {
        await heapSnapshot(pid, dir, 'settled (a snapshot starts with a full GC)');
        console.log(`after the snapshot: ${await memory(pid)}`);
      }
    }
    if (snapshots) console.log('dir', dir);
  } finally {
    await stopNode(node);
  }
}

async function callsMode(n: number, rate: number, flags: string[]): Promise<void> {
  const { dir, config } = setup();
  const snapshots = process.env.GC_SNAPSHOTS === '1';
  const node = await startNode(config, [...flags, ...(snapshots ? ['--heapsnapshot-signal=SIGUSR2'] : [])], dir);
  const pid = node.pid ?? 0;
  const snap = async (label: string): Promise<void> => {
    if (snapshots) await heapSnapshot(pid, dir, label);
  };
  const sample = (label: string): void => console.log(`${label}: RSS ${rssMiB(pid).toFixed(0)} MiB`);
  try {
    await sleep(500);
    const csv = join(dir, 'callee.csv');
    writeFiles({ [csv]: registerCsv([CALLEE], `${UAS_IP}:5060`) });
    const reg = await runSipp({ args: [`${NODE_IP}:5060`, '-sf', scenario('register-auth'), '-inf', csv, '-i', UAS_IP, '-p', '5060', '-m', '1', '-nostdin', '-timeout', '10s'], timeoutMs: 15_000 });
    if (reg.code !== 0) throw new Error(`callee registration failed: sipp exit ${reg.code} ${reg.stderr}`);
    const uas = startSipp(['-sf', scenario('uas'), '-i', UAS_IP, '-p', '5060', '-mp', '26500', '-buff_size', '4194304']);
    await sleep(300);
    sample('start');
    await snap('before');
    const c0 = threadCpu(pid);
    const drops0 = udpRcvbufErrors();
    const g0 = { ...gcStats };
    const uac = join(dir, 'uac.csv');
    writeFiles({ [uac]: uacCsv(users(FIRST, n), CALLEE) });
    const holdMs = 1000;
    const t0 = Date.now();
    const ticker = setInterval(() => sample(`  t+${((Date.now() - t0) / 1000).toFixed(0)}s`), 5000);
    const run = await runSipp({
      args: [`${NODE_IP}:5060`, '-sf', scenario('uac-auth'), '-inf', uac, '-auth_uri', authUri(CALLEE, `${NODE_IP}:5060`), '-i', CLIENT_IP, '-p', '5300', '-mp', '28500', '-m', String(n), '-r', String(rate), '-l', String(rate * 4), '-d', String(holdMs), '-buff_size', '4194304', '-nostdin', '-timeout', '180s'],
      timeoutMs: 200_000,
      statFile: join(dir, 'uac-stat.csv'),
    });
    clearInterval(ticker);
    const elapsed = (Date.now() - t0) / 1000;
    const c1 = threadCpu(pid);
    await stopSipp(uas);
    const ok = Number(run.stats?.['SuccessfulCall(C)'] ?? 0);
    const m = await metrics();
    console.log(`[${flags.join(' ') || 'default'}] calls ${n} at ${rate}/s: ok ${ok} failed ${n - ok}, ${(ok / Math.max(0.001, elapsed - holdMs / 1000)).toFixed(0)} calls/s; node CPU µs/call main ${(((c1.main - c0.main) * 1000) / n).toFixed(0)} + other ${(((c1.others - c0.others) * 1000) / n).toFixed(0)}; calls_active ${m.calls_active}, heap used ${((m.nodejs_heap_size_used_bytes ?? 0) / 2 ** 20).toFixed(0)} MiB`);
    if (flags.includes('--trace-gc-nvp')) console.log(`per call: allocated ${(((gcStats.allocatedMiB - g0.allocatedMiB) * 1024) / n).toFixed(0)} KiB, promoted ${(((gcStats.promotedMiB - g0.promotedMiB) * 1024) / n).toFixed(1)} KiB, copied in young gen ${(((gcStats.copiedMiB - g0.copiedMiB) * 1024) / n).toFixed(1)} KiB`);
    if (flags.includes('--trace-gc')) console.log(`GC: ${gcStats.scavenges - g0.scavenges} scavenges ${(gcStats.scavengeMs - g0.scavengeMs).toFixed(0)} ms, ${gcStats.markCompacts - g0.markCompacts} mark-compacts ${(gcStats.markCompactMs - g0.markCompactMs).toFixed(0)} ms`);
    if (flags.includes('--trace-opt')) {
      const top = (m: Map<string, number>): string => [...m].sort((x, y) => y[1] - x[1]).slice(0, 12).map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(`JIT over the whole process life: ${[...jitStats.compiled.values()].reduce((a, v) => a + v, 0)} optimized compiles (${top(jitStats.compiled)}); deopts: ${top(jitStats.deopts)}`);
    }
    console.log(`busiest threads (ms): ${[...c1.byTid].map(([t, ms]): [string, number] => [t, ms - (c0.byTid.get(t) ?? 0)]).sort((x, y) => y[1] - x[1]).slice(0, 6).map(([t, ms]) => `${t} ${ms}`).join(', ')}`);
    console.log(`UDP receive-buffer drops (system-wide) during the run: ${udpRcvbufErrors() - drops0}`);
    sample('after calls');
    const live = (await (await fetch(`http://${NODE_IP}:8094/api/calls`)).json()) as { from: string; state: string; startedAt: number; answeredAt?: number }[];
    if (live.length > 0) console.log(`live calls after the run (first 5 of ${live.length}):`, JSON.stringify(live.slice(0, 5)));
    await snap('after');
    if (process.env.GC_SETTLE === '1') {
      await sleep(40_000);
      const m2 = await metrics();
      console.log(`40 s later: calls_active ${m2.calls_active}, rtp pairs ${m2.rtp_port_pairs_in_use}, heap used ${((m2.nodejs_heap_size_used_bytes ?? 0) / 2 ** 20).toFixed(0)} MiB`);
      sample('settled');
      await snap('settled');
    }
    console.log('dir', dir);
  } finally {
    await stopNode(node);
  }
}

const [mode, a, b, ...flags] = process.argv.slice(2);
if (mode === 'register') await registerMode(Number(a ?? 20000), Number(b ?? 100), flags);
else if (mode === 'calls') await callsMode(Number(a ?? 2000), Number(b ?? 200), flags);
else {
  console.error('usage: gc.ts register N WINDOW [node flags] | calls N RATE [node flags]');
  process.exitCode = 2;
}
