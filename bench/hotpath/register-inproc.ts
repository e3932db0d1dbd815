/** In-process probe: PbxNode + a minimal UDP REGISTER client; CPU per registration. */
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/node/config.ts';
import { PbxNode } from '../../src/node/node.ts';
import { silentLogger } from '../../src/util/log.ts';
import { pbxConfigYaml } from '../../test/interop/sipp/gen.ts';

const N = Number(process.argv[2] ?? 20000);
const WINDOW = Number(process.argv[3] ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'probe-'));
const yaml = pbxConfigYaml({ nodeName: 'pbx', address: '127.0.0.90', port: 5060, rtp: { minPort: 30000, maxPort: 39999 }, database: join(dir, 'pbx.sqlite'), firstUser: 10000, userCount: 10000 });
const config = parseConfig(yaml, join(dir, 'pbx.yaml'), { baseDir: dir });
const node = new PbxNode({ config, nodeName: 'pbx', logger: silentLogger() });
await node.start();
const sock = dgram.createSocket('udp4');
await new Promise<void>((r) => sock.bind(0, '127.0.0.93', () => r()));
sock.setRecvBufferSize(4 << 20);
const port = sock.address().port;
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
let started = 0, done = 0, seq = 0;
let finish: () => void;
const finished = new Promise<void>((r) => { finish = r; });
function reg(user: number, callId: string, cseq: number, auth?: string): void {
  const msg = `REGISTER sip:127.0.0.90:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.93:${port};branch=z9hG4bK${seq++}x;rport\r\nFrom: <sip:${user}@127.0.0.90>;tag=t${callId}\r\nTo: <sip:${user}@127.0.0.90>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\nContact: <sip:${user}@127.0.0.93:${port}>\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Expires: 3600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
  sock.send(msg, 5060, '127.0.0.90');
}
function next(): void {
  if (started >= N) return;
  const i = started++;
  reg(10000 + (i % 10000), `c${i}`, 1);
}
sock.on('message', (m) => {
  const s = m.toString('latin1');
  const status = s.slice(8, 11);
  const callId = /\r\nCall-ID: (\S+)/i.exec(s)![1];
  const user = Number(/\r\nTo: <sip:(\d+)@/i.exec(s)![1]);
  if (status === '401') {
    const nonce = /nonce="([^"]+)"/.exec(s)![1];
    const realm = /realm="([^"]+)"/.exec(s)![1];
    const uri = 'sip:127.0.0.90:5060';
    const resp = md5(`${md5(`${user}:${realm}:pw-${user}`)}:${nonce}:${md5(`REGISTER:${uri}`)}`);
    reg(user, callId, 2, `Digest username="${user}",realm="${realm}",nonce="${nonce}",uri="${uri}",response="${resp}",algorithm=MD5`);
  } else if (status === '200') {
    if (++done === N) finish(); else next();
  } else if (status !== '100') { console.log('unexpected', s.slice(0, 60)); }
});
const c0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < WINDOW; i++) next();
await finished;
const c = process.cpuUsage(c0); const wall = performance.now() - t0;
console.log(`${N} registrations in ${wall.toFixed(0)} ms = ${(N / wall * 1000).toFixed(0)}/s; process CPU ${((c.user + c.system) / N).toFixed(0)} µs/reg (user ${(c.user / N).toFixed(0)}, sys ${(c.system / N).toFixed(0)}), incl. client`);
sock.close();
await node.close();
