/**
 * `npm run bench`: runs every benchmark and writes bench/reports/latest.md (and
 * .json). Each section compares against a reference measured on the same machine
 * in the same run. Benchmarks talk to loopback only.
 * Usage: npm run bench [-- core parser pbx]   (default: all)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { benchParser } from './parser.ts';
import { benchCore, type CallRunFigures } from './core.ts';
import { benchPbx, nodeFigures, pbxReport, type StressRun } from './pbx.ts';

const sections = process.argv.slice(2);
const want = (s: string): boolean => sections.length === 0 || sections.includes(s);
const report: string[] = [];
const json: Record<string, unknown> = {};

report.push(`# spacephone benchmark report`, '', `- date: ${new Date().toISOString()}`, `- machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`, '');

function callTable(rows: CallRunFigures[]): string[] {
  return [
    '| run | calls | target rate | succeeded | failed | calls/s achieved | elapsed s | our CPU s |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.calls} | ${r.targetRate} | ${r.succeeded} | ${r.failed} | ${r.callsPerSecond.toFixed(0)} | ${r.elapsedSec.toFixed(1)} | ${r.cpuSec?.toFixed(1) ?? '-'} |`),
  ];
}

if (want('parser')) {
  const p = await benchParser(3000);
  json.parser = p;
  report.push('## Parser', '', `- ${p.messagesPerSecond.toFixed(0)} messages/s, ${(p.bytesPerSecond / 2 ** 20).toFixed(1)} MiB/s (RFC 4475/5118 valid vectors + typical INVITE/REGISTER/200, one core)`, '');
  console.log(`parser: ${p.messagesPerSecond.toFixed(0)} msg/s`);
}
if (want('core')) {
  const rows = await benchCore(5000, 250);
  json.core = rows;
  report.push('## SIP core: INVITE–ACK–BYE calls, UDP', '', ...callTable(rows), '');
  for (const r of rows) console.log(`${r.name}: ${r.succeeded}/${r.calls} ok, ${r.callsPerSecond.toFixed(0)} calls/s`);
}

if (want('pbx')) {
  // PBX_BENCH_BASE=<checkout>: the same load against that tree's node first (before/after in one run).
  // PBX_BENCH_RATES / PBX_BENCH_CALL_RATES: comma-separated targets; PBX_BENCH_CALLS: calls per call run;
  // PBX_BENCH_OVERLOAD: the node's `overload:` config as YAML flow text (e.g. "{ enterQueueDelayMs: 400 }");
  // PBX_BENCH_STRESS: the runs after the sweep, e.g. "fresh:6000x1,main:8000x4" (block:rate x rounds; "" for none).
  const list = (v: string | undefined): number[] | undefined => (v ? v.split(',').map(Number) : undefined);
  const stressRuns = (v: string | undefined): StressRun[] | undefined =>
    v === undefined
      ? undefined
      : v.split(',').filter(Boolean).map((spec) => {
          const m = /^(main|fresh):(\d+)x(\d+)$/.exec(spec.trim());
          if (!m) throw new Error(`PBX_BENCH_STRESS: "${spec}" is not block:RATExROUNDS (block main or fresh)`);
          return { block: m[1] as StressRun['block'], rate: Number(m[2]), rounds: Number(m[3]) };
        });
  const common = { registerRates: list(process.env.PBX_BENCH_RATES), stress: stressRuns(process.env.PBX_BENCH_STRESS), callRates: list(process.env.PBX_BENCH_CALL_RATES), calls: process.env.PBX_BENCH_CALLS ? Number(process.env.PBX_BENCH_CALLS) : undefined };
  const runs = process.env.PBX_BENCH_BASE
    ? [await benchPbx({ ...common, tree: process.env.PBX_BENCH_BASE, kamailio: false }), await benchPbx({ ...common, kamailio: process.env.PBX_BENCH_KAMAILIO !== '0' })]
    : [await benchPbx({ ...common, kamailio: process.env.PBX_BENCH_KAMAILIO !== '0' })];
  json.pbx = runs.length === 1 ? runs[0] : runs;
  for (const p of runs) {
    report.push(...pbxReport(p), '');
    console.log(`node (${p.tree}): ready in ${(p.startupMs / 1000).toFixed(1)} s`);
    for (const r of [...p.register, ...p.kamailioRegister]) console.log(`${r.name}: ${r.succeeded}/${r.users * r.rounds} registered at target ${r.targetRate}/s: ${r.perSecond.toFixed(0)}/s, ${r.retransmissions} retransmissions, ${r.refused503 ?? '-'} refused with 503${nodeFigures(r)}`);
    for (const r of [...p.calls, ...p.kamailioCalls]) console.log(`${r.name}: ${r.succeeded}/${r.calls} ok, ${r.callsPerSecond.toFixed(0)} calls/s, ${r.refused503 ?? '-'} refused with 503${nodeFigures(r)}`);
  }
}

mkdirSync('bench/reports', { recursive: true });
writeFileSync('bench/reports/latest.md', report.join('\n'));
writeFileSync('bench/reports/latest.json', JSON.stringify(json, null, 2));
console.log('report: bench/reports/latest.md');
