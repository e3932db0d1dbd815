/**
 * SIP core benchmark (issue: SIP protocol core): SIPp's built-in `uac` against a
 * UAS built from our layers, side by side with SIPp's own `uas` as the reference
 * on the same machine in the same run; and our UAC against SIPp's `uas`.
 */
import { SystemClock } from '../src/sip/clock.ts';
import { SipTransport } from '../src/sip/transport/index.ts';
import { TransactionLayer } from '../src/sip/transaction/layer.ts';
import { parseUri } from '../src/sip/message/parser.ts';
import { SimpleUas } from '../src/sip/ua/simple-uas.ts';
import { SimpleUac } from '../src/sip/ua/simple-uac.ts';
import { runSipp, startSipp, stopSipp } from '../test/support/tools.ts';

export interface CallRunFigures {
  name: string;
  calls: number;
  targetRate: number;
  succeeded: number;
  failed: number;
  /** Completed calls per second over the run. */
  callsPerSecond: number;
  elapsedSec: number;
  /** CPU seconds this Node process used during the run (user + system). */
  cpuSec?: number;
  /** New INVITEs the node refused with 503 (overload protection), where measured. */
  refused503?: number;
  /** Node runs: CPU of the node's main thread per completed call, µs. */
  mainCpuUs?: number;
  /** Node runs: overload protection entries and their signals (bench/pbx.ts overloadSummary). */
  overload?: string;
}

const SDP = (ip: string): string => `v=0\r\no=- 1 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio 16000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;

async function sippUac(name: string, target: string, calls: number, rate: number, port: number): Promise<CallRunFigures> {
  const stat = `/tmp/spacephone-bench-${process.pid}-${port}.csv`;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const run = await runSipp({
    args: ['-sn', 'uac', target, '-i', '127.0.0.42', '-p', String(port), '-m', String(calls), '-r', String(rate), '-l', String(rate * 2), '-d', '0', '-nostdin', '-buff_size', '4194304', '-timeout', '120s'],
    timeoutMs: 150_000,
    statFile: stat,
  });
  const elapsedSec = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const ok = Number(run.stats?.['SuccessfulCall(C)'] ?? 0);
  const failed = Number(run.stats?.['FailedCall(C)'] ?? calls - ok);
  return { name, calls, targetRate: rate, succeeded: ok, failed, callsPerSecond: ok / elapsedSec, elapsedSec, cpuSec: (cpu.user + cpu.system) / 1e6 };
}

export async function benchCore(calls = 5000, rate = 250): Promise<CallRunFigures[]> {
  const clock = new SystemClock();
  const out: CallRunFigures[] = [];

  // Reference: SIPp uas answering SIPp uac (C++ on both ends).
  const ref = startSipp(['-sn', 'uas', '-i', '127.0.0.41', '-p', '5060', '-buff_size', '4194304']);
  await new Promise((r) => setTimeout(r, 300));
  out.push(await sippUac('reference: SIPp uac → SIPp uas', '127.0.0.41:5060', calls, rate, 5070));
  await stopSipp(ref);

  // Ours: SIPp uac → SimpleUas (transport + transactions + dialogs).
  const transport = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.40', port: 5060 }], clock });
  await transport.start();
  const layer = new TransactionLayer(transport, { clock });
  const uas = new SimpleUas({ layer, clock, contact: parseUri('sip:uas@127.0.0.40:5060'), sdp: () => SDP('127.0.0.40') });
  out.push(await sippUac('spacephone UAS ← SIPp uac', '127.0.0.40:5060', calls, rate, 5072));
  for (const fast of [1000, 2000]) out.push(await sippUac(`spacephone UAS ← SIPp uac (probe ${fast}/s)`, '127.0.0.40:5060', calls, fast, 5074));
  uas.close();
  layer.close();
  await transport.close();

  // Ours as UAC: SimpleUac → SIPp uas.
  const sipp = startSipp(['-sn', 'uas', '-i', '127.0.0.41', '-p', '5062', '-buff_size', '4194304']);
  await new Promise((r) => setTimeout(r, 300));
  const t2 = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.43', port: 5060 }], clock });
  await t2.start();
  const l2 = new TransactionLayer(t2, { clock });
  const uac = new SimpleUac({ layer: l2, clock, target: { transport: 'udp', address: '127.0.0.41', port: 5062 }, uri: parseUri('sip:service@127.0.0.41:5062'), from: parseUri('sip:uac@127.0.0.43'), contact: parseUri('sip:uac@127.0.0.43:5060'), sdp: SDP('127.0.0.43'), holdMs: 0 });
  const cpu0 = process.cpuUsage();
  const r = await uac.run(calls, rate);
  const cpu = process.cpuUsage(cpu0);
  out.push({ name: 'spacephone UAC → SIPp uas', calls, targetRate: rate, succeeded: r.succeeded, failed: r.failed, callsPerSecond: r.succeeded / (r.elapsedMs / 1000), elapsedSec: r.elapsedMs / 1000, cpuSec: (cpu.user + cpu.system) / 1e6 });
  l2.close();
  await t2.close();
  await stopSipp(sipp);
  return out;
}
