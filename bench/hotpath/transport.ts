/**
 * Transport + transaction layer hot path (REGISTER-shaped traffic), three probes:
 *
 *   npx tsx bench/hotpath/transport.ts udp [N]      real SipTransport on 127.0.0.180 (UDP, ephemeral
 *                                                  port) + TransactionLayer + a stub TU answering 401 /
 *                                                  200 at once; the client runs in a child process, so
 *                                                  the printed CPU is this process only (incl. GC threads)
 *   npx tsx bench/hotpath/transport.ts layer [N]    TransactionLayer over a no-I/O transport: µs per
 *                                                  inject → TU → respond → sendResponseBytes, split by stage
 *   npx tsx bench/hotpath/transport.ts stages [N]   real SipTransport + TransactionLayer, µs CPU per message for
 *                                                  (a) datagram → parse → Via stamp → 'request' event,
 *                                                  (b) 'request' → transaction match/create → TU callback,
 *                                                  (c) tx.respond(res) → serialize → UDP send (incl. deferred work)
 *   node --expose-gc --import tsx bench/hotpath/transport.ts mem [N]
 *                                                  heap / RSS held by N completed non-INVITE server
 *                                                  transactions (the Timer J window, §17.2.2)
 */
import { spawn } from 'node:child_process';
import { SystemClock } from '../../src/sip/clock.ts';
import { createResponse } from '../../src/sip/message/build.ts';
import { parseMessage } from '../../src/sip/message/parser.ts';
import { serializeMessage } from '../../src/sip/message/serializer.ts';
import type { Endpoint, SipRequest, SipResponse, Via } from '../../src/sip/message/types.ts';
import { TransactionLayer } from '../../src/sip/transaction/layer.ts';
import { buildCancel } from '../../src/sip/transaction/messages.ts';
import type { ServerTransaction } from '../../src/sip/transaction/types.ts';
import { SipTransport } from '../../src/sip/transport/transport.ts';
import type { InboundContext, InboundRequest, TransportEvents, TransportLayer } from '../../src/sip/transport/types.ts';

const mode = process.argv[2] ?? 'udp';
const N = Number(process.argv[3] ?? (mode === 'mem' ? 10_000 : 100_000));

const register = (i: number, port: number, auth: boolean): string =>
  `REGISTER sip:127.0.0.180:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.181:${port};branch=z9hG4bK-${i}-${auth ? 2 : 1};rport\r\n` +
  `From: <sip:${10000 + (i % 10000)}@127.0.0.180>;tag=t${i}\r\nTo: <sip:${10000 + (i % 10000)}@127.0.0.180>\r\nCall-ID: c${i}@bench\r\n` +
  `CSeq: ${auth ? 2 : 1} REGISTER\r\nContact: <sip:${10000 + (i % 10000)}@127.0.0.181:${port};transport=UDP>\r\n` +
  (auth ? `Authorization: Digest username="${10000 + (i % 10000)}",realm="127.0.0.180",nonce="abcdef0123456789",uri="sip:127.0.0.180:5060",response="0123456789abcdef0123456789abcdef",algorithm=MD5\r\n` : '') +
  `Expires: 3600\r\nMax-Forwards: 70\r\nUser-Agent: SIPp register-auth\r\nContent-Length: 0\r\n\r\n`;

/** The stub TU: 401 with a challenge to a REGISTER without credentials, else 200 with the Contact. */
function answer(tx: ServerTransaction): void {
  const req = tx.request;
  if (req.authorization.length === 0) {
    const res = createResponse(req, 401, 'Unauthorized');
    res.to.params.set('tag', 'bench');
    res.wwwAuthenticate.push({ scheme: 'Digest', params: new Map([['realm', '127.0.0.180'], ['nonce', 'abcdef0123456789'], ['algorithm', 'MD5'], ['qop', 'auth']]) });
    tx.respond(res);
  } else {
    const res = createResponse(req, 200, 'OK');
    res.to.params.set('tag', 'bench');
    res.contact = req.contact === '*' ? [] : req.contact;
    res.expires = 3600;
    tx.respond(res);
  }
}

function cpuMs(c: NodeJS.CpuUsage): number {
  return (c.user + c.system) / 1000;
}

/** A TransportLayer without I/O: sends resolve at once, inbound requests are injected. */
class NullTransport implements TransportLayer {
  sent = 0;
  private listener: TransportEvents['request'] | undefined;
  sendRequest(_req: SipRequest, target: Endpoint): Promise<InboundContext> {
    return Promise.resolve({ source: target, local: LOCAL });
  }
  sendResponse(res: SipResponse, to: InboundContext): Promise<void> {
    return this.sendResponseBytes(serializeMessage(res), res, to);
  }
  sendResponseBytes(_data: Buffer, _res: SipResponse, _to: InboundContext): Promise<void> {
    this.sent++;
    return Promise.resolve();
  }
  sendResponseNow(_data: Buffer, _via: Via, _to: InboundContext): void {
    this.sent++;
  }
  isReliable(t: Endpoint['transport']): boolean {
    return t !== 'udp';
  }
  localEndpoint(): Endpoint {
    return LOCAL;
  }
  on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    if (event === 'request') this.listener = listener as TransportEvents['request'];
    return this;
  }
  off(): this {
    return this;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  inject(req: InboundRequest): void {
    this.listener?.(req);
  }
}
const LOCAL: Endpoint = { transport: 'udp', address: '127.0.0.180', port: 5060 };
const PEER: Endpoint = { transport: 'udp', address: '127.0.0.181', port: 5100 };

function parsed(i: number, auth: boolean): SipRequest {
  const p = parseMessage(Buffer.from(register(i, 5100, auth)));
  if (!p.ok || p.msg.kind !== 'request') throw new Error('bench REGISTER does not parse');
  return p.msg;
}

/** CPU µs per call (process CPU, so GC helper threads count; wall time lies on a shared machine). */
function time(name: string, n: number, f: (i: number) => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) f(i);
  const us = (cpuMs(process.cpuUsage(c0)) * 1000) / n;
  console.log(name.padEnd(48), us.toFixed(2), 'µs CPU');
  return us;
}

async function layerProbe(): Promise<void> {
  const transport = new NullTransport();
  const layer = new TransactionLayer(transport, { clock: new SystemClock() });
  layer.onRequest = (tx) => answer(tx);
  const reqs: SipRequest[] = [];
  for (let i = 0; i < N; i++) reqs.push(parsed(i, i % 2 === 1));
  const warm: SipRequest[] = [];
  for (let i = 0; i < 5000; i++) warm.push(parsed(N + i, i % 2 === 1));
  for (const r of warm) transport.inject({ msg: r, source: PEER, local: LOCAL });
  time('layer: inject → TU → respond → send (per msg)', N, (i) => transport.inject({ msg: reqs[i], source: PEER, local: LOCAL }));
  console.log(`  live server tx ${layer.serverCount}`);
  const again = reqs.slice(0, 20000);
  time('layer: retransmission absorbed in Completed', again.length, (i) => transport.inject({ msg: again[i], source: PEER, local: LOCAL }));
  time('buildCancel (transaction/messages.ts makeRequest)', 50000, (i) => buildCancel(reqs[i % reqs.length]));
  time('stub TU alone: createResponse 401/200', 50000, (i) => {
    const r = reqs[i % reqs.length];
    createResponse(r, r.authorization.length ? 200 : 401, 'x');
  });
  layer.close();
}

async function memProbe(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc --import tsx');
  const transport = new NullTransport();
  const layer = new TransactionLayer(transport, { clock: new SystemClock() });
  layer.onRequest = (tx) => answer(tx);
  // Parse the requests first so their own size is not counted: the layer holds them or not.
  const bufs: Buffer[] = [];
  for (let i = 0; i < N; i++) bufs.push(Buffer.from(register(i, 5100, i % 2 === 1)));
  gc();
  gc();
  const h0 = process.memoryUsage();
  for (const b of bufs) {
    const p = parseMessage(b);
    if (p.ok && p.msg.kind === 'request') transport.inject({ msg: p.msg, source: { ...PEER }, local: { ...LOCAL } });
  }
  await new Promise((r) => setImmediate(r));
  gc();
  gc();
  const h1 = process.memoryUsage();
  console.log(`${N} completed non-INVITE server transactions (live ${layer.serverCount}): heapUsed +${((h1.heapUsed - h0.heapUsed) / 1048576).toFixed(2)} MiB (${((h1.heapUsed - h0.heapUsed) / N).toFixed(0)} B/tx), external+arrayBuffers +${((h1.external - h0.external + h1.arrayBuffers - h0.arrayBuffers) / 1048576).toFixed(2)} MiB, RSS +${((h1.rss - h0.rss) / 1048576).toFixed(1)} MiB`);
  layer.close();
}

const CLIENT = `
const dgram = require('node:dgram');
const [port, n, window] = process.argv.slice(1).map(Number);
const s = dgram.createSocket('udp4');
s.bind(0, '127.0.0.181', () => {
  s.setRecvBufferSize(4 << 20);
  const me = s.address().port;
  const mk = ${register.toString()};
  let sent = 0, got = 0;
  const next = () => { if (sent < n) { const i = sent++; s.send(mk(i >> 1, me, (i & 1) === 1), port, '127.0.0.180'); } };
  s.on('message', () => { if (++got === n) { process.send ? 0 : 0; console.log('done'); s.close(); } else next(); });
  for (let i = 0; i < window; i++) next();
});`;

async function udpProbe(): Promise<void> {
  const transport = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.180', port: 0 }] });
  await transport.start();
  const layer = new TransactionLayer(transport, { clock: new SystemClock() });
  let faults = 0;
  transport.on('fault', () => faults++);
  layer.onRequest = (tx) => answer(tx);
  const port = transport.listening()[0].port;
  const run = async (n: number): Promise<{ cpu: number; wall: number }> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const child = spawn(process.execPath, ['-e', CLIENT, String(port), String(n), '100'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.on('exit', () => resolve()));
    return { cpu: cpuMs(process.cpuUsage(c0)), wall: performance.now() - t0 };
  };
  await run(20000); // warm-up (JIT)
  const { cpu, wall } = await run(N);
  console.log(`udp: ${N} REGISTER→response in ${wall.toFixed(0)} ms (${((N / wall) * 1000).toFixed(0)}/s); server CPU ${((cpu * 1000) / N).toFixed(1)} µs/msg (receive → parse → tx → TU → serialize → send, incl. GC threads); faults ${faults}; live server tx ${layer.serverCount}`);
  layer.close();
  await transport.close();
}

/** Per-stage CPU on the real transport; the response goes to a socket that never reads (the kernel drops it). */
async function stagesProbe(): Promise<void> {
  const transport = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.180', port: 0 }] });
  await transport.start();
  const sink = await import('node:dgram').then((d) => d.createSocket('udp4'));
  await new Promise<void>((r) => sink.bind(0, '127.0.0.181', () => r()));
  const sinkPort = sink.address().port;
  const layer = new TransactionLayer(transport, { clock: new SystemClock() });
  const local = transport.listening()[0];
  const from: Endpoint = { transport: 'udp', address: '127.0.0.181', port: sinkPort };
  const udp = transport['udp'][0].listener;
  const bufs = Array.from({ length: N }, (_, i) => Buffer.from(register(i, sinkPort, i % 2 === 1)));
  const drain = (): Promise<void> => new Promise((r) => setImmediate(r));
  const stage = async (name: string, n: number, f: (i: number) => void): Promise<void> => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      f(i);
      if (i % 1000 === 999) await drain(); // let deferred sends and callbacks run, counted too
    }
    await drain();
    console.log(name.padEnd(58), ((cpuMs(process.cpuUsage(c0)) * 1000) / n).toFixed(2), 'µs CPU');
  };
  // (a) transport only: the layer is not listening yet, a no-op listener takes the request.
  layer.close();
  const got: InboundRequest[] = [];
  const keep = (r: InboundRequest): void => void got.push(r);
  transport.on('request', keep);
  await stage('(a) datagram → parse → stamp Via → request event', N, (i) => transport['onDatagram'](bufs[i], from, udp));
  transport.off('request', keep);
  // (b) the transaction layer on the inbound requests of (a); the TU only keeps the transaction.
  const layer2 = new TransactionLayer(transport, { clock: new SystemClock() });
  const txs: ServerTransaction[] = [];
  layer2.onRequest = (tx) => void txs.push(tx);
  const listeners = transport['emitter'].listeners('request') as ((r: InboundRequest) => void)[];
  await stage('(b) request event → match/create server tx → TU', got.length, (i) => listeners[0](got[i]));
  // (c) responses made beforehand, so only respond → serialize → send is counted.
  const responses = txs.map((tx) => createResponse(tx.request, tx.request.authorization.length ? 200 : 401, 'x'));
  await stage('(c) tx.respond(final) → serialize → UDP send', txs.length, (i) => txs[i].respond(responses[i]));
  void local;
  layer2.close();
  sink.close();
  await transport.close();
}

if (mode === 'layer') await layerProbe();
else if (mode === 'stages') await stagesProbe();
else if (mode === 'mem') await memProbe();
else await udpProbe();
