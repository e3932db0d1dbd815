/**
 * Allocation profile of the REGISTER path: runs register-inproc.ts under the V8
 * sampling heap profiler with collected objects included (total allocation by
 * function, not only what survives). The node start (YAML of 10,000 extensions) is
 * included: read past the yaml/ frames. Run: npx tsx bench/hotpath/alloc.ts [N]
 */
import { Session } from 'node:inspector/promises';

interface Node { callFrame: { functionName: string; url: string }; selfSize: number; children: Node[] }
const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
process.argv[2] ??= '20000';
process.argv[3] ??= '100';
await import('./register-inproc.ts');
const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: Node } };
const by = new Map<string, number>();
let total = 0;
const walk = (n: Node): void => {
  const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(src|node_modules|bench)\//, '$1/')}`;
  by.set(key, (by.get(key) ?? 0) + n.selfSize);
  total += n.selfSize;
  for (const c of n.children) walk(c);
};
walk(profile.head);
const n = Number(process.argv[2]);
console.log(`sampled allocation ${(total / n / 1024).toFixed(1)} KiB per registration (incl. client), top functions:`);
for (const [k, v] of [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${(v / n).toFixed(0).padStart(7)} B  ${k}`);
session.disconnect();
