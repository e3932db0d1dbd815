/**
 * Parser throughput: the valid RFC 4475/5118 vectors plus a typical INVITE with
 * SDP, a REGISTER and a 200 OK, parsed round-robin for ~2 s on one core; then the
 * builders on the same hot path: createResponse and serializeMessage (µs per call).
 * Run: npx tsx bench/parser.ts [--baseline <other parser.ts>]
 * (the baseline's build.ts and serializer.ts are taken from the same directory).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseMessage } from '../src/sip/message/parser.ts';
import { createResponse } from '../src/sip/message/build.ts';
import { serializeMessage } from '../src/sip/message/serializer.ts';
import type { SipMessage, SipRequest, SipResponse } from '../src/sip/message/types.ts';
import { VECTORS_DIR as VECTORS } from '../test/support/vectors.ts';

const TYPICAL = [
  'INVITE sip:2002@lab.spacephone.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.50:5062;branch=z9hG4bK776asdhds;rport\r\nMax-Forwards: 70\r\nTo: <sip:2002@lab.spacephone.test>\r\nFrom: "Alice" <sip:2001@lab.spacephone.test>;tag=1928301774\r\nCall-ID: a84b4c76e66710@127.0.0.50\r\nCSeq: 314159 INVITE\r\nContact: <sip:2001@127.0.0.50:5062;transport=udp>\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY\r\nSupported: replaces, timer, 100rel\r\nUser-Agent: baresip v3.10.0\r\nContent-Type: application/sdp\r\nContent-Length: 118\r\n\r\nv=0\r\no=alice 2890844526 2890844526 IN IP4 127.0.0.50\r\ns=-\r\nc=IN IP4 127.0.0.50\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\n',
  'REGISTER sip:lab.spacephone.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.50:5062;branch=z9hG4bKnashds7;rport\r\nMax-Forwards: 70\r\nTo: <sip:2001@lab.spacephone.test>\r\nFrom: <sip:2001@lab.spacephone.test>;tag=456248\r\nCall-ID: 843817637684230@998sdasdh09\r\nCSeq: 1826 REGISTER\r\nContact: <sip:2001@127.0.0.50:5062>;expires=3600\r\nAuthorization: Digest username="2001", realm="lab.spacephone.test", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:lab.spacephone.test", response="6629fae49393a05397450978507c4ef1", algorithm=MD5\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n',
  'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.50:5062;branch=z9hG4bK776asdhds;rport=5062;received=127.0.0.50\r\nRecord-Route: <sip:127.0.0.11;lr>\r\nTo: <sip:2002@lab.spacephone.test>;tag=a6c85cf\r\nFrom: "Alice" <sip:2001@lab.spacephone.test>;tag=1928301774\r\nCall-ID: a84b4c76e66710@127.0.0.50\r\nCSeq: 314159 INVITE\r\nContact: <sip:2002@127.0.0.51:5064>\r\nContent-Length: 0\r\n\r\n',
].map((s) => Buffer.from(s));

function corpus(): Buffer[] {
  const out: Buffer[] = [...TYPICAL];
  const add = (buf: Buffer): void => {
    if (parseMessage(buf).ok) out.push(buf);
  };
  for (const f of readdirSync(join(VECTORS, 'rfc4475'))) if (f.endsWith('.dat')) add(readFileSync(join(VECTORS, 'rfc4475', f)));
  for (const f of readdirSync(join(VECTORS, 'rfc5118'))) {
    if (f.includes('.')) continue;
    add(Buffer.from(readFileSync(join(VECTORS, 'rfc5118', f), 'latin1').replace(/\r?\n/g, '\r\n'), 'latin1'));
  }
  return out;
}

type Parse = (data: Buffer) => unknown;

/** Parses round-robin for `ms`; reports wall and CPU seconds (CPU time is what a busy machine distorts less). */
function rate(parse: Parse, msgs: Buffer[], ms: number): { n: number; bytes: number; secs: number; cpuSecs: number } {
  let n = 0;
  let bytes = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    for (let k = 0; k < 1000; k++) {
      const m = msgs[n % msgs.length];
      parse(m);
      bytes += m.length;
      n++;
    }
  }
  const c = process.cpuUsage(c0);
  return { n, bytes, secs: (performance.now() - t0) / 1000, cpuSecs: (c.user + c.system) / 1e6 };
}

export async function benchParser(durationMs = 2000, parse: Parse = parseMessage): Promise<{ messagesPerSecond: number; bytesPerSecond: number }> {
  const msgs = corpus();
  // Warm up the JIT.
  for (let i = 0; i < 20000; i++) parse(msgs[i % msgs.length]);
  const r = rate(parse, msgs, durationMs);
  return { messagesPerSecond: Math.round(r.n / r.secs), bytesPerSecond: Math.round(r.bytes / r.secs) };
}

/** The builders measured next to the parser, from one tree. */
interface Builders {
  parse: Parse;
  createResponse: (req: SipRequest, status: number, reason?: string) => SipResponse;
  serializeMessage: (msg: SipMessage) => Buffer;
}

/** CPU µs per call of createResponse (to the typical INVITE) and serializeMessage (of the typical messages, round-robin). */
function builderCosts(b: Builders): { createResponse: number; serialize: number } {
  const msgs = TYPICAL.map((m) => {
    const r = b.parse(m) as { ok: boolean; msg: SipMessage };
    if (!r.ok) throw new Error('typical message does not parse');
    return r.msg;
  });
  const invite = msgs[0] as SipRequest;
  const cpu = (n: number, f: (i: number) => unknown): number => {
    for (let i = 0; i < 2000; i++) f(i);
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) f(i);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  return {
    createResponse: cpu(50000, () => b.createResponse(invite, 200, 'OK')),
    serialize: cpu(50000, (i) => b.serializeMessage(msgs[i % msgs.length])),
  };
}

const CURRENT: Builders = { parse: parseMessage, createResponse, serializeMessage };

/**
 * Before/after in one process: `--baseline <parser.ts>` (e.g. an older commit's
 * src/sip/message copied elsewhere) and this tree's parser run in alternating
 * rounds on the typical messages and on the whole corpus; best round of each,
 * in messages per second of CPU time.
 */
async function compare(baselinePath: string): Promise<void> {
  const base = ((await import(pathToFileURL(baselinePath).href)) as { parseMessage: Parse }).parseMessage;
  const sets: [string, Buffer[]][] = [
    ['typical', TYPICAL],
    ['corpus', corpus()],
  ];
  for (const [label, msgs] of sets) {
    const best = { baseline: 0, current: 0 };
    for (const p of [base, parseMessage]) for (let i = 0; i < 20000; i++) p(msgs[i % msgs.length]);
    for (let round = 0; round < 7; round++) {
      for (const [name, p] of [['baseline', base], ['current', parseMessage]] as const) {
        const r = rate(p, msgs, 300);
        best[name] = Math.max(best[name], r.n / r.cpuSecs);
      }
    }
    const f = (x: number): string => Math.round(x).toLocaleString('en');
    console.log(`${label}: baseline ${f(best.baseline)} /s, current ${f(best.current)} /s (x${(best.current / best.baseline).toFixed(2)})`);
  }
  const dir = pathToFileURL(baselinePath).href.replace(/[^/]*$/, '');
  const baseline: Builders = {
    parse: base,
    createResponse: ((await import(dir + 'build.ts')) as Pick<Builders, 'createResponse'>).createResponse,
    serializeMessage: ((await import(dir + 'serializer.ts')) as Pick<Builders, 'serializeMessage'>).serializeMessage,
  };
  const best = { baseline: { createResponse: Infinity, serialize: Infinity }, current: { createResponse: Infinity, serialize: Infinity } };
  for (let round = 0; round < 5; round++) {
    for (const [name, b] of [['baseline', baseline], ['current', CURRENT]] as const) {
      const r = builderCosts(b);
      best[name].createResponse = Math.min(best[name].createResponse, r.createResponse);
      best[name].serialize = Math.min(best[name].serialize, r.serialize);
    }
  }
  for (const k of ['createResponse', 'serialize'] as const) {
    console.log(`${k}: baseline ${best.baseline[k].toFixed(2)} µs, current ${best.current[k].toFixed(2)} µs (CPU per call)`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const b = process.argv.indexOf('--baseline');
  if (b > 0 && process.argv[b + 1]) {
    await compare(process.argv[b + 1]);
  } else {
    const r = await benchParser();
    console.log(`parser: ${r.messagesPerSecond.toLocaleString('en')} messages/s, ${(r.bytesPerSecond / 1e6).toFixed(1)} MB/s`);
    const b = builderCosts(CURRENT);
    console.log(`createResponse: ${b.createResponse.toFixed(2)} µs, serializeMessage: ${b.serialize.toFixed(2)} µs (CPU per call)`);
  }
  // Calibration: the same loop around JSON.parse of a ~370-byte document, to tell a
  // slow or busy machine from a slow parser.
  const doc = JSON.stringify({ a: 1, b: 'hello world', c: [1, 2, 3, 4, 5], d: { e: 'x'.repeat(100), f: true }, g: Array.from({ length: 10 }, (_, i) => ({ i, s: 'item' + i })) });
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 500) for (let k = 0; k < 100; k++, n++) JSON.parse(doc);
  console.log(`reference: JSON.parse ${doc.length} bytes: ${Math.round(n / ((performance.now() - t0) / 1000)).toLocaleString('en')} /s on this machine`);
}
