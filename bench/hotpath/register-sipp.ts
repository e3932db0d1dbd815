/** Node CPU µs per registration under SIPp (node as its own process on 127.0.0.90, two SIPp clients). Usage: npx tsx bench/hotpath/register-sipp.ts RATE [profile]; the second run of each pair is all refreshes. */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, stopChild, registerRun } from '../pbx.ts';
import { pbxConfigYaml, users, writeFiles } from '../../test/interop/sipp/gen.ts';

const rate = Number(process.argv[2] ?? 2000);
const prof = process.argv[3] === 'profile';
const dir = mkdtempSync(join(tmpdir(), 'probe-'));
const config = join(dir, 'pbx.yaml');
writeFiles({ [config]: pbxConfigYaml({ nodeName: 'pbx', address: '127.0.0.90', port: 5060, rtp: { minPort: 30000, maxPort: 39999 }, database: join(dir, 'pbx.sqlite'), firstUser: 10000, userCount: 10000, admin: { address: '127.0.0.90', port: 8090 } }) });
const profDir = prof ? join(dir, 'prof') : undefined;
const node = await startNode(config, profDir, process.env.PROBE_TREE);
const times = (): [number, number] => { const f = readFileSync(`/proc/${node.pid}/stat`, 'utf8').split(') ')[1].split(' '); return [Number(f[11]) * 10, Number(f[12]) * 10]; };
const cpu = (): number => times()[0] + times()[1];
await new Promise((r) => setTimeout(r, 1000));
for (const [i, r] of [rate, rate].entries()) {
  const c0 = cpu();
  const s0 = times()[1];
  const run = await registerRun('probe', dir, '127.0.0.90:5060', users(10000, 10000), r, 5100 + 10 * i);
  const c1 = cpu();
  const sys = times()[1] - s0;
  console.log(`target ${r}: ok ${run.succeeded} failed ${run.failed} ${run.perSecond.toFixed(0)}/s  node cpu ${(c1 - c0)} ms = ${((c1 - c0) * 1000 / Math.max(1, run.succeeded)).toFixed(0)} µs/reg (kernel ${((sys * 1000) / Math.max(1, run.succeeded)).toFixed(0)})  retrans ${run.retransmissions}`);
}
await stopChild(node);
if (profDir) {
  const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'));
  console.log('profile', join(profDir, f!));
}
