/**
 * Node CPU µs per registration under SIPp (node as its own process on 127.0.0.90, two SIPp clients).
 * Usage: [PROBE_RUNS=2] [PROBE_ROUNDS=1] [PROBE_DUMP=1] npx tsx bench/hotpath/register-sipp.ts RATE [profile]; the runs after the first are all refreshes.
 * Per run also: the 503s of overload protection (sip_overload_rejected_total before/after) and how often the node
 * entered overload, with the UDP receive-queue delay at entry (from its log). PROBE_DUMP=1 prints the node's sip_*
 * metrics after each run (e.g. to see requests SIPp sends that a phone would not).
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, stopChild, registerRun, processCpuMs, watchOverload, overloadSummary } from '../pbx.ts';
import { pbxConfigYaml, users, writeFiles } from '../../test/interop/sipp/gen.ts';

const rate = Number(process.argv[2] ?? 2000);
const prof = process.argv[3] === 'profile';
const dir = mkdtempSync(join(tmpdir(), 'probe-'));
const config = join(dir, 'pbx.yaml');
writeFiles({ [config]: pbxConfigYaml({ nodeName: 'pbx', address: '127.0.0.90', port: 5060, rtp: { minPort: 30000, maxPort: 39999 }, database: join(dir, 'pbx.sqlite'), firstUser: 10000, userCount: 10000, admin: { address: '127.0.0.90', port: 8090 } }) + (process.env.PROBE_OVERLOAD ? `overload: ${process.env.PROBE_OVERLOAD}\n` : '') });
const profDir = prof ? join(dir, 'prof') : undefined;
const node = await startNode(config, profDir, process.env.PROBE_TREE);
/** System CPU ms of the whole process (the kernel share of its work). */
const sysMs = (): number => Number(readFileSync(`/proc/${node.pid}/stat`, 'utf8').split(') ')[1].split(' ')[12]) * 10;
const cpu = (): number => processCpuMs(node.pid!).totalMs;
/** CPU ms per thread name (main thread "node", V8 GC/compiler helpers "V8 DefaultWorke", libuv pool, ...). */
const threads = (): Map<string, number> => {
  const by = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${node.pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${node.pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      by.set(`${name}#${tid}`, (by.get(`${name}#${tid}`) ?? 0) + (Number(f[11]) + Number(f[12])) * 10);
    } catch { /* thread gone */ }
  }
  return by;
};
const overload = watchOverload(node);
/** One metric of the node (admin on 127.0.0.90:8090), undefined when absent (e.g. overload protection off). */
const metric = async (name: string): Promise<number | undefined> => {
  const text = await (await fetch('http://127.0.0.90:8090/metrics')).text();
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};
await new Promise((r) => setTimeout(r, 1000));
for (const [i, r] of Array.from({ length: Number(process.env.PROBE_RUNS ?? 2) }, () => rate).entries()) {
  const c0 = cpu();
  const s0 = sysMs();
  const t0 = threads();
  const refused0 = await metric('sip_overload_rejected_total');
  overload.take();
  const run = await registerRun('probe', dir, '127.0.0.90:5060', users(10000, 10000), r, 5100 + 10 * i, Number(process.env.PROBE_ROUNDS ?? 1));
  const refused1 = await metric('sip_overload_rejected_total');
  if (process.env.PROBE_DUMP) console.log((await (await fetch('http://127.0.0.90:8090/metrics')).text()).split('\n').filter((l) => /^(sip_|overloaded|process_cpu)/.test(l)).join('\n'));
  const c1 = cpu();
  const sys = sysMs() - s0;
  const per = [...threads()].map(([name, ms]) => `${name} ${(((ms - (t0.get(name) ?? 0)) * 1000) / Math.max(1, run.succeeded)).toFixed(0)}`).filter((x) => !x.endsWith(' 0'));
  console.log(`  µs/reg by thread: ${per.join(', ')}`);
  console.log(`target ${r}: ok ${run.succeeded} failed ${run.failed} ${run.perSecond.toFixed(0)}/s  node cpu ${(c1 - c0)} ms = ${((c1 - c0) * 1000 / Math.max(1, run.succeeded)).toFixed(0)} µs/reg (kernel ${((sys * 1000) / Math.max(1, run.succeeded)).toFixed(0)})  retrans ${run.retransmissions}`);
  const refused = refused0 !== undefined && refused1 !== undefined ? refused1 - refused0 : 'n/a';
  console.log(`  503 ${refused}  dropped unread ${(await metric('sip_overload_dropped_total')) ?? 0} (since start)  overload entered ${overloadSummary(overload.take())}`);
}
await stopChild(node);
if (profDir) {
  const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'));
  console.log('profile', join(profDir, f!));
}
