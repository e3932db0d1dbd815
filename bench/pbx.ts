/**
 * PBX benchmark (issue: "Speed ... SIPp against one node"): the node runs as its
 * own process (`spacephone start`), SIPp drives it with the scenarios of
 * test/interop/sipp/, and Kamailio (bench/kamailio/kamailio.cfg) gets the same
 * load in the same run as the reference.
 *   (a) REGISTER with MD5 digest for 10,000 users at several target rates; RSS
 *       of the node before/after the first 10,000 bindings (made at the first,
 *       lowest rate, so that retransmission storms do not inflate it). Then, on
 *       the warm node: 10,000 more users' new bindings at a high rate, sustained
 *       runs (every user registers `rounds` times, 40,000 registrations) at and
 *       above capacity, where overload protection must shed instead of collapse.
 *   (b) INVITE…BYE calls between registered SIPp endpoints (UAC → node → UAS),
 *       media anchored at the node (checked in every INVITE the UAS received).
 *   (c) Kamailio as registrar (auth + htable + usrloc in memory) and as a
 *       stateful proxy (no media) under the same SIPp runs.
 * Addresses: node 127.0.0.90, Kamailio 127.0.0.91, SIPp UAS 127.0.0.92, SIPp
 * clients 127.0.0.93. PBX_BENCH_PROFILE=1 runs the node with --cpu-prof and adds
 * its top self-time frames to the report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSipp, startSipp, stopSipp, requireTool, type SippRun } from '../test/support/tools.ts';
import { authUri, pbxConfigYaml, registerCsv, scenario, uacCsv, users, writeFiles, writeKamailioDb } from '../test/interop/sipp/gen.ts';
import type { CallRunFigures } from './core.ts';

const NODE_IP = '127.0.0.90';
const KAM_IP = '127.0.0.91';
const UAS_IP = '127.0.0.92';
const CLIENT_IP = '127.0.0.93';
const FIRST = 10000;
const USERS = 10_000;
/** A second block of users, registered only once the node is warm: new bindings at a high rate. */
const FRESH_FIRST = FIRST + USERS;
const CALLEE = FIRST + USERS - 1;
const RTP = { minPort: 30000, maxPort: 39999 };
/** Contact port of the bindings of the SIPp register clients (one per client), whatever port the run sends from. */
const CONTACT_PORT = 5090;
/** One SIPp process saturates near 12,000 REGISTER messages/s (INTEROP.md); each registration is two. */
const SIPP_PROCESSES = 2;

export interface RegisterRunFigures {
  name: string;
  users: number;
  /** Registrations per user in the run (SIPp wraps around its injection file). */
  rounds: number;
  targetRate: number;
  succeeded: number;
  failed: number;
  /** Successful registrations (REGISTER→401→REGISTER→200) per second, wall clock of the SIPp runs. */
  perSecond: number;
  elapsedSec: number;
  retransmissions: number;
  /** New REGISTERs the node refused with 503 + Retry-After (overload protection; SIPp counts them as failed and does not retry). */
  refused503?: number;
  /** Node runs: CPU of its main thread (the event loop) per registration, µs: tells the machine's fast and slow phases apart. */
  mainCpuUs?: number;
  /** Node runs: how often overload protection engaged, and its signals then (from the node's log). */
  overload?: string;
  /** Node runs: new REGISTERs dropped unread (overload.dropQueueDelayMs; SIPp retransmits them). */
  dropped?: number;
}

export interface PbxBenchFigures {
  register: RegisterRunFigures[];
  /**
   * Node RSS (MiB): after start; right after the first 10,000 registrations; again
   * 35 s later, once their server transactions left Timer J (64·T1, RFC 3261
   * §17.2.2) and could be collected; after all runs.
   */
  rss: { startMiB: number; after10kMiB: number; settledMiB: number; endMiB: number; bindings: number; endBindings: number; settledHeapMiB: number; endHeapMiB: number };
  /** Wall time from spawning the node (20,000 extensions in its config) to "ready". */
  startupMs: number;
  /** Which tree ran the node ("this tree" or the path given as opts.tree). */
  tree: string;
  calls: CallRunFigures[];
  /** INVITEs the callee UAS received in a traced 200-call run whose SDP c= was the node's RTP address; calls and ports left SETTLE_MS after all runs. */
  media: { invites: number; anchored: number; portPairsInUseAfter: number; callsActiveAfter: number };
  kamailioRegister: RegisterRunFigures[];
  kamailioCalls: CallRunFigures[];
  profile?: string[];
  notes: string[];
}

/**
 * How long after the last run leftover calls count as leaked. Not 64*T1: under
 * overload the kernel drops datagrams, and a caller's lost BYE goes unnoticed
 * (SIPp takes a retransmitted INVITE 2xx as the BYE's 200), so such a call ends
 * only through the leg probe: an in-dialog OPTIONS after probeIntervalMs (64*T1)
 * that times out after Timer F (64*T1) more; 32 + 32 s at T1 = 500 ms, plus margin.
 */
const SETTLE_MS = 80_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** V8 heap in use (prom-client's default nodejs_heap_size_used_bytes): what RSS holds beyond it is free heap V8 keeps, code, buffers. */
const heapMiB = (m: Record<string, number>): number => (m.nodejs_heap_size_used_bytes ?? NaN) / 2 ** 20;

async function metrics(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${NODE_IP}:8090/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+) ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** CPU ms of a process from /proc: its main thread (the event loop) and all its threads together. */
export function processCpuMs(pid: number): { mainMs: number; totalMs: number } {
  const ms = (stat: string): number => {
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, USER_HZ = 100
  };
  return { mainMs: ms(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')), totalMs: ms(readFileSync(`/proc/${pid}/stat`, 'utf8')) };
}

/** An overload state change as the node logs it (level warn). */
export interface OverloadChange { overloaded: boolean; queueDelayMs?: number; lagMs?: number; utilization?: number }

/**
 * Collects the node's overload state changes from its log, so that watching
 * costs the node nothing (a /metrics scrape counts every binding). `take()`
 * returns those since the last take.
 */
export function watchOverload(child: ChildProcess): { take(): OverloadChange[] } {
  let changes: OverloadChange[] = [];
  let tail = '';
  child.stdout?.on('data', (d: Buffer) => {
    const lines = (tail + d.toString()).split('\n');
    tail = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.includes('"overloaded"')) continue;
      try {
        changes.push(JSON.parse(line) as OverloadChange);
      } catch { /* not a JSON log line */ }
    }
  });
  return { take: () => { const out = changes; changes = []; return out; } };
}

/** "2× (queue delay up to 612 ms, lag up to 30 ms)", or "0×". */
export function overloadSummary(changes: OverloadChange[]): string {
  const entered = changes.filter((c) => c.overloaded);
  if (entered.length === 0) return '0×';
  const max = (f: (c: OverloadChange) => number | undefined): number => Math.max(...entered.map((c) => f(c) ?? 0));
  return `${entered.length}× (queue delay up to ${max((c) => c.queueDelayMs)} ms, lag up to ${max((c) => c.lagMs)} ms)`;
}

/** Starts `spacephone start` (of the tree at `cwd`) and resolves once it printed `node <name> ready`. */
export function startNode(config: string, profileDir?: string, cwd?: string, startup?: { ms: number }): Promise<ChildProcess> {
  const args = [...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), 'bin/spacephone.mjs', 'start', '--config', config, '--node', 'pbx'];
  const t0 = Date.now();
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPACEPHONE_LOG_LEVEL: 'warn' } });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`node not ready: ${out.slice(-500)}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('node pbx ready')) {
        if (startup) startup.ms = Date.now() - t0;
        clearTimeout(timer);
        resolve(child);
      }
      if (out.length > 1e5) out = out.slice(-5e4);
    });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`node exited ${code}: ${out.slice(-500)}`)); });
  });
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

const stat = (run: SippRun, key: string): number => Number(run.stats?.[key] ?? 0);

/**
 * REGISTER with digest for `list`, split over SIPP_PROCESSES SIPp clients at `rate` in total;
 * `rounds` > 1 registers every user that many times (SIPp wraps around its injection file).
 */
export async function registerRun(name: string, dir: string, target: string, list: number[], rate: number, portBase: number, rounds = 1): Promise<RegisterRunFigures> {
  const per = Math.ceil(list.length / SIPP_PROCESSES);
  const t0 = Date.now();
  const runs = await Promise.all(
    Array.from({ length: SIPP_PROCESSES }, (_, i) => {
      const part = list.slice(i * per, (i + 1) * per);
      const csv = join(dir, `reg-${portBase + i}.csv`);
      // The Contact stays the same from run to run (only SIPp's own port changes): a later
      // run refreshes each user's binding, as a phone does, instead of adding one more.
      writeFiles({ [csv]: registerCsv(part, `${CLIENT_IP}:${CONTACT_PORT + i}`) });
      const r = Math.ceil(rate / SIPP_PROCESSES);
      return runSipp({
        args: [target, '-sf', scenario('register-auth'), '-inf', csv, '-i', CLIENT_IP, '-p', String(portBase + i), '-m', String(part.length * rounds), '-r', String(r), '-rp', '1000', '-l', String(Math.max(1000, r)), '-buff_size', '4194304', '-nostdin', '-timeout', '120s'],
        timeoutMs: 150_000,
        statFile: join(dir, `reg-${portBase + i}-stat.csv`),
      });
    }),
  );
  const elapsedSec = (Date.now() - t0) / 1000;
  const succeeded = runs.reduce((s, r) => s + stat(r, 'SuccessfulCall(C)'), 0);
  const failed = list.length * rounds - succeeded;
  return { name, users: list.length, rounds, targetRate: rate, succeeded, failed, perSecond: succeeded / elapsedSec, elapsedSec, retransmissions: runs.reduce((s, r) => s + stat(r, 'Retransmissions(C)'), 0) };
}

/** Per-run figures only the node has: 503 count (sip_overload_rejected_total), main-thread CPU, overload entries. */
interface NodeWatch { pid: number; overload: { take(): OverloadChange[] } }

/** A node run with the node's 503 count (absent on nodes without overload protection), main-thread CPU per success and overload entries. */
async function withRefused<T extends { refused503?: number; mainCpuUs?: number; overload?: string; succeeded?: number; dropped?: number }>(node: NodeWatch, run: () => Promise<T>): Promise<T> {
  const m0 = await metrics();
  const before = m0.sip_overload_rejected_total;
  node.overload.take();
  const cpu0 = processCpuMs(node.pid).mainMs;
  const r = await run();
  const cpu1 = processCpuMs(node.pid).mainMs;
  const m1 = await metrics();
  const after = m1.sip_overload_rejected_total;
  if (before !== undefined && after !== undefined) r.refused503 = after - before;
  r.dropped = (m1.sip_overload_dropped_total ?? 0) - (m0.sip_overload_dropped_total ?? 0);
  if (r.succeeded) r.mainCpuUs = ((cpu1 - cpu0) * 1000) / r.succeeded;
  r.overload = overloadSummary(node.overload.take());
  return r;
}

/** Registers the callee from the UAS's own socket (the node sends INVITEs to that flow), then starts the UAS. */
async function startCalleeUas(dir: string, target: string, messageFile?: string): Promise<ChildProcess> {
  const csv = join(dir, `callee-${target}.csv`);
  writeFiles({ [csv]: registerCsv([CALLEE], `${UAS_IP}:5060`) });
  const reg = await runSipp({ args: [target, '-sf', scenario('register-auth'), '-inf', csv, '-i', UAS_IP, '-p', '5060', '-m', '1', '-nostdin', '-timeout', '10s'], timeoutMs: 15_000 });
  if (reg.code !== 0) throw new Error(`callee registration at ${target} failed: sipp exit ${reg.code}`);
  const uas = startSipp(['-sf', scenario('uas'), '-i', UAS_IP, '-p', '5060', '-mp', '26000', '-buff_size', '4194304', ...(messageFile ? ['-trace_msg', '-message_file', messageFile] : [])]);
  await sleep(300);
  return uas;
}

async function callRun(name: string, dir: string, target: string, calls: number, rate: number, holdMs: number, port: number): Promise<CallRunFigures> {
  const csv = join(dir, `uac-${port}.csv`);
  writeFiles({ [csv]: uacCsv(users(FIRST, calls), CALLEE) });
  const t0 = Date.now();
  const run = await runSipp({
    args: [target, '-sf', scenario('uac-auth'), '-inf', csv, '-auth_uri', authUri(CALLEE, target), '-i', CLIENT_IP, '-p', String(port), '-mp', '28000', '-m', String(calls), '-r', String(rate), '-l', String(rate * 4), '-d', String(holdMs), '-buff_size', '4194304', '-nostdin', '-timeout', '180s'],
    timeoutMs: 200_000,
    statFile: join(dir, `uac-${port}-stat.csv`),
  });
  const elapsedSec = (Date.now() - t0) / 1000;
  const ok = stat(run, 'SuccessfulCall(C)');
  // Setup rate: the run minus the final call's hold time.
  return { name, calls, targetRate: rate, succeeded: ok, failed: calls - ok, callsPerSecond: ok / Math.max(0.001, elapsedSec - holdMs / 1000), elapsedSec };
}

function topFrames(profileDir: string, n = 15): string[] {
  interface ProfNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return ['(no profile written)'];
  const prof = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as { nodes: ProfNode[] };
  const total = prof.nodes.reduce((s, x) => s + (x.hitCount ?? 0), 0);
  const by = new Map<string, number>();
  for (const x of prof.nodes) {
    const url = x.callFrame.url.replace(/^file:\/\/.*?\/(src|node_modules)\//, '$1/');
    const key = `${x.callFrame.functionName || '(anonymous)'} ${url}:${x.callFrame.lineNumber + 1}`;
    by.set(key, (by.get(key) ?? 0) + (x.hitCount ?? 0));
  }
  return [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1)}% ${k}`);
}

/** A REGISTER run after the refresh sweep: `block` of users, `rounds` registrations each. */
export interface StressRun {
  block: 'main' | 'fresh';
  rate: number;
  rounds: number;
}

export interface PbxBenchOptions {
  registerRates?: number[];
  /** Runs after the sweep (default: new bindings at 6,000/s; 6,000, 8,000 and 10,000/s sustained). */
  stress?: StressRun[];
  calls?: number;
  callRates?: number[];
  holdMs?: number;
  /** Another checkout to run the node from (e.g. a worktree of the base commit); default this tree. */
  tree?: string;
  /** Measure Kamailio too (default true). */
  kamailio?: boolean;
}

export async function benchPbx(opts: PbxBenchOptions = {}): Promise<PbxBenchFigures> {
  requireTool('sipp');
  const registerRates = opts.registerRates ?? [500, 1000, 2500, 5000, 6000];
  const stress = opts.stress ?? [
    { block: 'fresh', rate: 6000, rounds: 1 },
    { block: 'main', rate: 6000, rounds: 4 },
    { block: 'main', rate: 8000, rounds: 4 },
    { block: 'main', rate: 10000, rounds: 4 },
  ];
  const blockOf = (r: StressRun): number[] => (r.block === 'fresh' ? fresh : all);
  const stressName = (who: string, r: StressRun): string => (r.block === 'fresh' ? `${who}, new bindings (warm)` : `${who}, sustained`);
  const calls = opts.calls ?? 5000;
  const callRates = opts.callRates ?? [300, 500];
  const holdMs = opts.holdMs ?? 1000;
  const dir = mkdtempSync(join(tmpdir(), 'spacephone-bench-pbx-'));
  const profileDir = process.env.PBX_BENCH_PROFILE === '1' ? join(dir, 'prof') : undefined;
  const all = users(FIRST, USERS);
  const fresh = users(FRESH_FIRST, USERS);
  const notes: string[] = [];
  const config = join(dir, 'pbx.yaml');
  writeFiles({ [config]: pbxConfigYaml({ nodeName: 'pbx', address: NODE_IP, port: 5060, rtp: RTP, database: join(dir, 'pbx.sqlite'), firstUser: FIRST, userCount: 2 * USERS, admin: { address: NODE_IP, port: 8090 } }) + (process.env.PBX_BENCH_OVERLOAD ? `overload: ${process.env.PBX_BENCH_OVERLOAD}\n` : '') });

  const startup = { ms: 0 };
  const out: PbxBenchFigures = { register: [], rss: { startMiB: 0, after10kMiB: 0, settledMiB: 0, endMiB: 0, bindings: 0, endBindings: 0, settledHeapMiB: NaN, endHeapMiB: NaN }, startupMs: 0, tree: opts.tree ?? 'this tree', calls: [], media: { invites: 0, anchored: 0, portPairsInUseAfter: -1, callsActiveAfter: -1 }, kamailioRegister: [], kamailioCalls: [], notes };
  const node = await startNode(config, profileDir, opts.tree, startup);
  out.startupMs = startup.ms;
  const watch: NodeWatch = { pid: node.pid ?? 0, overload: watchOverload(node) };
  try {
    await sleep(1000);
    out.rss.startMiB = rssMiB(node.pid);
    // First 10,000 bindings at the lowest rate (the RSS figure), then the calls on a
    // node not yet overloaded, then the REGISTER rate sweep (which overloads it).
    const regName = (i: number): string => `spacephone node, ${i === 0 ? 'new bindings' : 'refresh'}`;
    out.register.push(await withRefused(watch, () => registerRun(regName(0), dir, `${NODE_IP}:5060`, all, registerRates[0] ?? 500, 5100)));
    out.rss.after10kMiB = rssMiB(node.pid);
    out.rss.bindings = (await metrics()).registrations ?? 0;
    await sleep(35_000);
    out.rss.settledMiB = rssMiB(node.pid);
    out.rss.settledHeapMiB = heapMiB(await metrics());
    const uas = await startCalleeUas(dir, `${NODE_IP}:5060`);
    try {
      for (const [i, rate] of callRates.entries()) out.calls.push(await withRefused(watch, () => callRun(`spacephone B2BUA (media anchored), ${holdMs} ms hold`, dir, `${NODE_IP}:5060`, calls, rate, holdMs, 5200 + 2 * i)));
    } finally {
      await stopSipp(uas);
    }
    // Anchoring is checked on a separate, traced run: -trace_msg slows the UAS
    // enough (a write per message) to halve the timed call rate.
    const uasMsgs = join(dir, 'uas-node.log');
    const traced = await startCalleeUas(dir, `${NODE_IP}:5060`, uasMsgs);
    try {
      await callRun('anchoring check', dir, `${NODE_IP}:5060`, 200, 50, 100, 5210);
    } finally {
      await stopSipp(traced);
    }
    const invites = readFileSync(uasMsgs, 'utf8').split(/^-{20,}.*$/m).filter((m) => /^INVITE /m.test(m));
    out.media.invites = invites.length;
    out.media.anchored = invites.filter((m) => new RegExp(`^c=IN IP4 ${NODE_IP.replace(/\./g, '\\.')}\\s*$`, 'm').test(m)).length;
    for (const [i, rate] of registerRates.entries()) {
      if (i === 0) continue;
      out.register.push(await withRefused(watch, () => registerRun(regName(i), dir, `${NODE_IP}:5060`, all, rate, 5100 + 10 * i)));
      await sleep(1000);
    }
    for (const [i, r] of stress.entries()) {
      out.register.push(await withRefused(watch, () => registerRun(stressName('spacephone node', r), dir, `${NODE_IP}:5060`, blockOf(r), r.rate, 5150 + 10 * i, r.rounds)));
      // Let the retransmission tail of an overloaded run end before the next one starts.
      await sleep(r.rate > 6000 ? 5000 : 1000);
    }
    // Past every bound of a call (call.ts "Every state is bounded"): whatever is still up has leaked.
    await sleep(SETTLE_MS);
    const m = await metrics();
    out.media.portPairsInUseAfter = m.rtp_port_pairs_in_use ?? -1;
    out.media.callsActiveAfter = m.calls_active ?? -1;
    out.rss.endMiB = rssMiB(node.pid);
    out.rss.endHeapMiB = heapMiB(m);
    out.rss.endBindings = m.registrations ?? 0;
  } finally {
    await stopChild(node);
  }
  if (profileDir) {
    out.profile = topFrames(profileDir);
    // Kept for a closer look (the run's directory is removed below).
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      const kept = join(tmpdir(), 'spacephone-bench-node.cpuprofile');
      copyFileSync(join(profileDir, file), kept);
      notes.push(`node CPU profile: ${kept}`);
    }
  }

  // (c) Kamailio under the same SIPp runs.
  try {
    if (opts.kamailio === false) throw new Error('skipped (kamailio: false)');
    requireTool('kamailio');
    const db = join(dir, 'kamdb');
    writeKamailioDb(db, [...all, ...fresh]);
    const kam = spawn('kamailio', ['-DD', '-E', '-f', 'bench/kamailio/kamailio.cfg', '-l', `udp:${KAM_IP}:5060`, '-A', `DBURL="text://${db}"`, '-m', '256', '-M', '16'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let kerr = '';
    kam.stderr?.on('data', (d: Buffer) => { kerr = (kerr + d.toString()).slice(-2000); });
    try {
      await sleep(1500);
      if (kam.exitCode !== null) throw new Error(`kamailio exited: ${kerr}`);
      for (const [i, rate] of registerRates.entries()) {
        out.kamailioRegister.push(await registerRun(`Kamailio 5.6 (-m 256 -M 16), ${i === 0 ? 'new bindings' : 'refresh'}`, dir, `${KAM_IP}:5060`, all, rate, 5300 + 10 * i));
        await sleep(1000);
      }
      for (const [i, r] of stress.entries()) {
        out.kamailioRegister.push(await registerRun(stressName('Kamailio 5.6 (-m 256 -M 16)', r), dir, `${KAM_IP}:5060`, blockOf(r), r.rate, 5350 + 10 * i, r.rounds));
        await sleep(r.rate > 6000 ? 5000 : 1000);
      }
      const uas = await startCalleeUas(dir, `${KAM_IP}:5060`);
      try {
        for (const [i, rate] of callRates.entries()) out.kamailioCalls.push(await callRun(`Kamailio stateful proxy (no media), ${holdMs} ms hold`, dir, `${KAM_IP}:5060`, calls, rate, holdMs, 5400 + 2 * i));
      } finally {
        await stopSipp(uas);
      }
    } finally {
      await stopChild(kam, 'SIGTERM');
    }
  } catch (err) {
    notes.push(`Kamailio reference not measured: ${(err as Error).message}`);
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}

/** ", main thread 181 µs per success, overload entered 0×" for node runs, "" for Kamailio's. */
export function nodeFigures(r: { mainCpuUs?: number; overload?: string; dropped?: number }): string {
  return r.mainCpuUs === undefined ? '' : `, main thread ${r.mainCpuUs.toFixed(0)} µs per success, overload entered ${r.overload ?? '-'}, ${r.dropped ?? 0} dropped unread`;
}

/** Markdown section for bench/reports/latest.md. */
export function pbxReport(p: PbxBenchFigures): string[] {
  const reg = (rows: RegisterRunFigures[]): string[] => rows.map((r) => `| ${r.name} | ${r.users} | ${r.users * r.rounds} | ${r.targetRate} | ${r.succeeded} | ${r.failed} | ${r.perSecond.toFixed(0)} | ${r.elapsedSec.toFixed(1)} | ${r.retransmissions} | ${r.refused503 ?? '-'} | ${r.dropped ?? '-'} | ${r.mainCpuUs?.toFixed(0) ?? '-'} | ${r.overload ?? '-'} |`);
  const call = (rows: CallRunFigures[]): string[] => rows.map((r) => `| ${r.name} | ${r.calls} | ${r.targetRate} | ${r.succeeded} | ${r.failed} | ${r.callsPerSecond.toFixed(0)} | ${r.elapsedSec.toFixed(1)} | ${r.refused503 ?? '-'} | ${r.mainCpuUs?.toFixed(0) ?? '-'} | ${r.overload ?? '-'} |`);
  const lines = [
    `## PBX node (${p.tree}) against SIPp (REGISTER with digest, B2BUA calls)${p.kamailioRegister.length > 0 ? ' vs Kamailio' : ''}`,
    '',
    `Node as its own process (log level warn), ${SIPP_PROCESSES} SIPp clients in parallel; targets: ≥ 5,000 registrations/s and ≥ 300 calls/s with 0 failures. Start to "ready" with ${2 * USERS} extensions: ${(p.startupMs / 1000).toFixed(1)} s.`,
    '',
    '| run | users | registrations | target/s | succeeded | failed | registrations/s | elapsed s | SIPp retransmissions | of the failed: 503 (overload) | dropped unread (overload) | node main thread µs/registration | overload entered |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...reg(p.register),
    ...reg(p.kamailioRegister),
    '',
    `- node RSS: ${p.rss.startMiB.toFixed(1)} MiB at start, ${p.rss.after10kMiB.toFixed(1)} MiB with ${p.rss.bindings} bindings right after the run (+${(p.rss.after10kMiB - p.rss.startMiB).toFixed(1)} MiB), ${p.rss.settledMiB.toFixed(1)} MiB 35 s later once the transactions expired (+${(p.rss.settledMiB - p.rss.startMiB).toFixed(1)} MiB per 10,000 registrations; V8 heap in use ${p.rss.settledHeapMiB.toFixed(1)} MiB), ${p.rss.endMiB.toFixed(1)} MiB at the end with ${p.rss.endBindings} bindings, after every run and ${SETTLE_MS / 1000} s idle (V8 heap in use ${p.rss.endHeapMiB.toFixed(1)} MiB)`,
    '',
    '| run | calls | target/s | succeeded | failed | calls/s (setup) | elapsed s | of the failed: 503 (overload) | node main thread µs/call | overload entered |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...call(p.calls),
    ...call(p.kamailioCalls),
    '',
    `- media anchored: ${p.media.anchored} of ${p.media.invites} INVITEs at the callee (traced 200-call run) carried c=IN IP4 ${NODE_IP}; ${SETTLE_MS / 1000} s after the runs: ${p.media.callsActiveAfter} calls active, ${p.media.portPairsInUseAfter} RTP port pairs in use`,
    ...p.notes.map((n) => `- ${n}`),
  ];
  if (p.profile) lines.push('', 'Node CPU profile, top self time:', '', ...p.profile.map((f) => `    ${f}`));
  return lines;
}
