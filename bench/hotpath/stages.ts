/** Micro-benchmark of the REGISTER hot path, stage by stage (µs per call, in-process). Run: npx tsx bench/hotpath/stages.ts */
import { createHash, randomBytes } from 'node:crypto';
import { parseMessage } from '../../src/sip/message/parser.ts';
import { serializeMessage } from '../../src/sip/message/serializer.ts';
import { createResponse } from '../../src/sip/message/build.ts';
import { DigestServer } from '../../src/sip/auth/digest-server.ts';
import { SystemClock } from '../../src/sip/clock.ts';
import { Registrar } from '../../src/pbx/registrar/registrar.ts';
import { digestRegistrarAuth } from '../../src/pbx/registrar/digest-auth.ts';
import { SqliteLocationStore } from '../../src/store/sqlite-location-store.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SipRequest } from '../../src/sip/message/types.ts';

function bench(name: string, n: number, f: (i: number) => void, warm = 2000): void {
  for (let i = 0; i < Math.min(n, warm); i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  console.log(name.padEnd(40), (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(2), 'µs');
}
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const reg = (user: number, callId: string, cseq: number, auth?: string): string => `REGISTER sip:127.0.0.90:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.93:5100;branch=z9hG4bK${callId}x${cseq};rport\r\nFrom: <sip:${user}@127.0.0.90>;tag=t${callId}\r\nTo: <sip:${user}@127.0.0.90>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\nContact: <sip:${user}@127.0.0.93:5100;transport=UDP>\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Expires: 3600\r\nMax-Forwards: 70\r\nUser-Agent: SIPp register-auth\r\nContent-Length: 0\r\n\r\n`;
const clock = new SystemClock();
const digest = new DigestServer({ realm: '127.0.0.90', secret: randomBytes(32), clock, algorithms: ['MD5'] });
const ha1 = new Map<string, string>();
for (let u = 10000; u < 20000; u++) ha1.set(String(u), md5(`${u}:127.0.0.90:pw-${u}`));
const lookup = (user: string): { ha1: string } | undefined => { const h = ha1.get(user); return h ? { ha1: h } : undefined; };
const ra = digestRegistrarAuth(digest, lookup);
const dir = mkdtempSync(join(tmpdir(), 'micro-'));
const store = SqliteLocationStore.open(join(dir, 'x.sqlite'), { cacheReads: true });
const registrar = new Registrar({ store, auth: ra.auth, challenge: ra.challenge, clock, domains: ['127.0.0.90'], nodeName: 'pbx', minExpires: 60, maxExpires: 3600, defaultExpires: 3600, extensions: (u) => ha1.has(u), onError: (e) => { console.log('ERR', e); process.exit(1); } });
const flow = { transport: 'udp' as const, address: '127.0.0.93', port: 5100, localAddress: '127.0.0.90', localPort: 5060 };

const r1 = Buffer.from(reg(10001, 'abc', 1));
const parsed1 = parseMessage(r1);
if (!parsed1.ok) throw new Error('x');
const req1 = parsed1.msg as SipRequest;
bench('parse REGISTER (no auth)', 50000, () => parseMessage(r1));
bench('registrar.handle (→401)', 50000, () => registrar.handle(req1, flow));
const res401 = registrar.handle(req1, flow);
bench('serialize 401', 50000, () => serializeMessage(res401));
bench('createResponse', 50000, () => createResponse(req1, 200, 'OK'));
bench('digest challenge', 50000, () => digest.challenge({}));
// authenticated
const mkAuth = (u: number, n: string): string => { const uri = 'sip:127.0.0.90:5060'; return `Digest username="${u}",realm="127.0.0.90",nonce="${n}",uri="${uri}",response="${md5(`${md5(`${u}:127.0.0.90:pw-${u}`)}:${n}:${md5(`REGISTER:${uri}`)}`)}",algorithm=MD5`; };
const authed: Buffer[] = [];
for (let i = 0; i < 30000; i++) { const u = 10000 + (i % 10000); const n = /nonce="([^"]+)"/.exec(serializeMessage(registrar.handle(req1, flow)).toString())![1]; authed.push(Buffer.from(reg(u, `c${i}`, 2, mkAuth(u, n)))); }
bench('parse REGISTER (auth)', 30000, (i) => parseMessage(authed[i]));
const reqs = authed.map((b) => (parseMessage(b) as { msg: SipRequest }).msg);
const reqs2 = authed.map((b) => (parseMessage(b) as { msg: SipRequest }).msg);
bench('digest verify', 30000, (i) => digest.verify(reqs[i], lookup));
let last: ReturnType<typeof registrar.handle> | undefined;
for (let i = 0; i < 2000; i++) registrar.handle(reqs2[i], flow);
bench('registrar.handle (→200, sqlite)', 28000, (i) => { last = registrar.handle(reqs2[i + 2000], flow); if (last.status !== 200) throw new Error(String(last.status) + last.reason); }, 0);
bench('serialize 200', 50000, () => serializeMessage(last!));
bench('store.transaction(save)', 20000, (i) => store.transaction(() => store.save({ aor: `x${i}`, contact: 'sip:a@b', q: 1, expiresAt: Date.now() + 1e6, callId: 'c', cseq: 1, path: [], flow, updatedAt: 1, failures: 0, reachable: true, node: 'pbx' })));
