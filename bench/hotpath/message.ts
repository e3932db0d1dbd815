/**
 * Micro-benchmark of the SIP message layer on the REGISTER hot path (µs per call,
 * in-process, no I/O): parse, build, serialize, identifiers, URIs.
 *
 * Run: npx tsx bench/hotpath/message.ts [--baseline <root>] [--rounds N]
 * `<root>` is a directory holding an older src/sip/message (and src/util/errors.ts),
 * e.g. made with `git archive <rev> src/sip/message src/util | tar -x -C /tmp/old`.
 * With a baseline, both trees run the same stages in alternating rounds and the
 * best round of each is printed side by side.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AuthValue, NameAddr, SipMessage, SipRequest, SipResponse, Uri } from '../../src/sip/message/types.ts';
import type { ParseResult } from '../../src/sip/message/errors.ts';
import type { RequestInit } from '../../src/sip/message/build.ts';

/** The message-layer functions a tree must export to be measured. */
interface Layer {
  parseMessage(data: Buffer): ParseResult;
  parseUri(s: string): Uri;
  serializeMessage(msg: SipMessage): Buffer;
  serializeUri(u: Uri): string;
  createResponse(req: SipRequest, status: number, reason?: string): SipResponse;
  createRequest(init: RequestInit): SipRequest;
  uriEquals(a: Uri, b: Uri): boolean;
  newTag(): string;
  newBranch(): string;
  newCallId(): string;
}

async function load(root: string): Promise<Layer> {
  const m = (p: string): string => pathToFileURL(resolve(root, 'src/sip/message', p)).href;
  const parser = (await import(m('parser.ts'))) as Pick<Layer, 'parseMessage' | 'parseUri'>;
  const serializer = (await import(m('serializer.ts'))) as Pick<Layer, 'serializeMessage' | 'serializeUri'>;
  const build = (await import(m('build.ts'))) as Pick<Layer, 'createResponse' | 'createRequest' | 'uriEquals' | 'newTag' | 'newBranch' | 'newCallId'>;
  return { ...parser, ...serializer, ...build };
}

/** The REGISTER SIPp's register-auth scenario sends (bench/hotpath/stages.ts uses the same bytes). */
const reg = (user: number, callId: string, cseq: number, auth?: string): string =>
  `REGISTER sip:127.0.0.90:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.93:5100;branch=z9hG4bK${callId}x${cseq};rport\r\nFrom: <sip:${user}@127.0.0.90>;tag=t${callId}\r\nTo: <sip:${user}@127.0.0.90>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\nContact: <sip:${user}@127.0.0.93:5100;transport=UDP>\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Expires: 3600\r\nMax-Forwards: 70\r\nUser-Agent: SIPp register-auth\r\nContent-Length: 0\r\n\r\n`;
const AUTH = 'Digest username="10001",realm="127.0.0.90",nonce="AAAAAGkT0x2C3pWZc1rKq2tLr8m1oU0F",uri="sip:127.0.0.90:5060",response="0a4f113b8f6a4f4e8d1b6c2f2d0f9e1c",algorithm=MD5';

type Stage = [name: string, run: (i: number) => unknown];

function stages(L: Layer): Stage[] {
  const noAuth = Buffer.from(reg(10001, 'abc', 1));
  const withAuth = Buffer.from(reg(10001, 'abc', 2, AUTH));
  const parsed = L.parseMessage(withAuth);
  if (!parsed.ok || parsed.msg.kind !== 'request') throw new Error('bench REGISTER does not parse');
  const req = parsed.msg;
  const challenge: AuthValue = {
    scheme: 'Digest',
    params: new Map([['realm', '127.0.0.90'], ['nonce', 'AAAAAGkT0x2C3pWZc1rKq2tLr8m1oU0F'], ['algorithm', 'MD5'], ['qop', 'auth']]),
  };
  // The 401 and 200 the registrar sends (registrar.ts respond/ok): To tag, challenge; Contact with expires/q, Date, Supported.
  const r401 = L.createResponse(req, 401, 'Unauthorized');
  r401.to.params.set('tag', 'a8f3c0d2e1b49f70');
  r401.wwwAuthenticate = [challenge];
  const r200 = L.createResponse(req, 200, 'OK');
  r200.to.params.set('tag', 'a8f3c0d2e1b49f70');
  const contact: NameAddr = { uri: L.parseUri('sip:10001@127.0.0.93:5100;transport=UDP'), params: new Map([['expires', '3600'], ['q', '1']]) };
  r200.contact = [contact];
  r200.supported = ['path', 'outbound', 'gruu'];
  r200.headers.push({ name: 'Date', value: 'Fri, 27 Nov 2026 07:15:00 GMT' });
  const init: RequestInit = {
    method: 'REGISTER',
    uri: L.parseUri('sip:127.0.0.90'),
    from: { uri: L.parseUri('sip:10001@127.0.0.90'), params: new Map() },
    to: { uri: L.parseUri('sip:10001@127.0.0.90'), params: new Map() },
    contact: [{ uri: L.parseUri('sip:10001@127.0.0.93:5100'), params: new Map() }],
  };
  const stored = 'sip:10001@127.0.0.93:5100;transport=UDP';
  const contactUri = req.contact === '*' ? contact.uri : req.contact[0].uri;
  return [
    ['parse REGISTER (no auth)', () => L.parseMessage(noAuth)],
    ['parse REGISTER (auth)', () => L.parseMessage(withAuth)],
    ['createResponse', () => L.createResponse(req, 200, 'OK')],
    ['createRequest', () => L.createRequest(init)],
    ['serialize 401 (WWW-Authenticate)', () => L.serializeMessage(r401)],
    ['serialize 200 (Contact, Date)', () => L.serializeMessage(r200)],
    ['newTag', () => L.newTag()],
    ['newBranch', () => L.newBranch()],
    ['newCallId', () => L.newCallId()],
    ['parseUri (stored contact)', () => L.parseUri(stored)],
    ['serializeUri', () => L.serializeUri(contactUri)],
    ['uriEquals', () => L.uriEquals(contactUri, contact.uri)],
  ];
}

/**
 * CPU µs per call of one round (`n` calls after the JIT has seen the stage). CPU
 * time of the process, GC helper threads included: what a registration costs, and
 * less distorted than wall time when other processes share the cores.
 */
function time(run: (i: number) => unknown, n: number): number {
  let sink: unknown;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) sink = run(i);
  const c = process.cpuUsage(c0);
  const us = (c.user + c.system) / n;
  if (sink === Symbol.for('never')) console.log(sink);
  return us;
}

const argv = process.argv.slice(2);
const baseIdx = argv.indexOf('--baseline');
const roundsIdx = argv.indexOf('--rounds');
const rounds = roundsIdx >= 0 ? Number(argv[roundsIdx + 1]) : 5;
const trees: [string, Stage[]][] = [['current', stages(await load(resolve(import.meta.dirname, '../..')))]];
if (baseIdx >= 0) trees.unshift(['baseline', stages(await load(argv[baseIdx + 1]))]);

const N = 20000;
const best = trees.map(([, s]) => s.map(() => Infinity));
for (const [, s] of trees) for (const [, run] of s) time(run, N); // warm up every stage before measuring any
for (let r = 0; r < rounds; r++) {
  for (let t = 0; t < trees.length; t++) {
    trees[t][1].forEach(([, run], k) => {
      best[t][k] = Math.min(best[t][k], time(run, N));
    });
  }
}
console.log('stage'.padEnd(36) + trees.map(([name]) => name.padStart(10)).join('') + '   (CPU µs per call, best of ' + rounds + ')');
trees[0][1].forEach(([name], k) => {
  console.log(name.padEnd(36) + best.map((b) => b[k].toFixed(2).padStart(10)).join(''));
});
