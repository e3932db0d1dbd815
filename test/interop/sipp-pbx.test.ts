/**
 * Proof with a real peer (issue: "the same with SIPp"): SIPp registers many users
 * with digest auth at the PBX node, a wrong password gets no binding, and SIPp
 * endpoints call each other through the node's B2BUA with anchored media.
 *
 * Addresses (127.0.0.94–97 are this file's): node 127.0.0.94:5060 UDP, RTP
 * 31000–31999; SIPp registrar client 127.0.0.95; callee UAS 127.0.0.96:5060 (it
 * first registers from that very socket, because the node sends INVITEs to the
 * flow a REGISTER came from); caller UAC 127.0.0.97.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/node/config.ts';
import { PbxNode } from '../../src/node/node.ts';
import { silentLogger } from '../../src/util/log.ts';
import { runSipp, startSipp, stopSipp, requireTool } from '../support/tools.ts';
import { authUri, pbxConfigYaml, registerCsv, scenario, uacCsv, users } from './sipp/gen.ts';

const NODE_IP = '127.0.0.94';
const NODE = `${NODE_IP}:5060`;
const REG_IP = '127.0.0.95';
const UAS_IP = '127.0.0.96';
const UAC_IP = '127.0.0.97';
const RTP = { minPort: 31000, maxPort: 31999 };
const FIRST = 10000;
const REGISTERED = 200; // 10000..10199 register in the first test
const WRONG = users(FIRST + REGISTERED, 5); // 10200..10204: wrong password
const CALLEE = FIRST + REGISTERED + 5; // 10205: the SIPp UAS
const CALLS = 20;

/** Every SIP message of a -trace_msg file, as text (SIPp separates them with dashed lines). */
function traced(file: string): string[] {
  return readFileSync(file, 'utf8').split(/^-{20,}.*$/m).map((s) => s.trim()).filter((s) => s.length > 0);
}

function firstLine(msg: string): string {
  const lines = msg.split('\n');
  return (lines.find((l) => /^(SIP\/2\.0 \d{3}|[A-Z]+ \S+ SIP\/2\.0)/.test(l.trim())) ?? '').trim();
}

describe('PBX node against SIPp (sip-tester): REGISTER with digest, calls through the B2BUA', { timeout: 90_000 }, () => {
  let dir: string;
  let node: PbxNode;

  before(async () => {
    requireTool('sipp');
    dir = mkdtempSync(join(tmpdir(), 'spacephone-sipp-pbx-'));
    const yaml = pbxConfigYaml({ nodeName: 'pbx', address: NODE_IP, port: 5060, rtp: RTP, database: join(dir, 'pbx.sqlite'), firstUser: FIRST, userCount: REGISTERED + 6 });
    const config = parseConfig(yaml, 'sipp-pbx.yaml', { baseDir: dir });
    node = new PbxNode({ config, nodeName: 'pbx', logger: silentLogger() });
    await node.start();
  });

  after(async () => {
    await node?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const bindingsOf = (user: number): number => node.stores.location.bindings(`${user}@${NODE_IP}`, Date.now()).length;

  it(`MUST register ${REGISTERED} users that answer a 401 digest challenge, one binding each`, async () => {
    const csv = join(dir, 'register.csv');
    writeFileSync(csv, registerCsv(users(FIRST, REGISTERED), `${REG_IP}:5070`));
    const run = await runSipp({
      args: [NODE, '-sf', scenario('register-auth'), '-inf', csv, '-i', REG_IP, '-p', '5070', '-m', String(REGISTERED), '-r', '200', '-l', '200', '-nostdin', '-timeout', '30s', '-timeout_error'],
      timeoutMs: 40_000,
      statFile: join(dir, 'register-stat.csv'),
    });
    assert.equal(run.code, 0, `sipp exit ${run.code}: ${run.stderr.slice(-500)}`);
    assert.equal(Number(run.stats?.['SuccessfulCall(C)']), REGISTERED);
    assert.equal(node.stores.location.all(Date.now()).length, REGISTERED);
    for (const u of [FIRST, FIRST + 99, FIRST + REGISTERED - 1]) assert.equal(bindingsOf(u), 1, `binding of ${u}`);
  });

  it('MUST NOT register a user whose digest response was computed with a wrong password', async () => {
    const csv = join(dir, 'wrong.csv');
    writeFileSync(csv, registerCsv(WRONG, `${REG_IP}:5072`, () => 'not-the-password'));
    const msgs = join(dir, 'wrong-msgs.log');
    const run = await runSipp({
      args: [NODE, '-sf', scenario('register-auth'), '-inf', csv, '-i', REG_IP, '-p', '5072', '-m', String(WRONG.length), '-r', '50', '-nostdin', '-timeout', '20s', '-timeout_error', '-trace_msg', '-message_file', msgs],
      timeoutMs: 30_000,
      statFile: join(dir, 'wrong-stat.csv'),
    });
    assert.equal(run.code, 1, 'SIPp reports the registrations as failed');
    assert.equal(Number(run.stats?.['SuccessfulCall(C)']), 0);
    assert.equal(Number(run.stats?.['FailedCall(C)']), WRONG.length);
    // The answer to the second (credentialed) REGISTER is a fresh challenge or 403, never 200.
    const answers = traced(msgs).map(firstLine).filter((l) => l.startsWith('SIP/2.0'));
    assert.ok(answers.every((l) => !l.startsWith('SIP/2.0 200')), answers.join('\n'));
    for (const u of WRONG) assert.equal(bindingsOf(u), 0, `no binding for ${u}`);
  });

  it(`MUST complete ${CALLS} authenticated calls from a SIPp UAC to a registered SIPp UAS with media anchored at the node, then release every RTP port`, async () => {
    // The callee registers from the UAS's own socket (the node sends INVITEs to that flow).
    const regCsv = join(dir, 'callee.csv');
    writeFileSync(regCsv, registerCsv([CALLEE], `${UAS_IP}:5060`));
    const reg = await runSipp({ args: [NODE, '-sf', scenario('register-auth'), '-inf', regCsv, '-i', UAS_IP, '-p', '5060', '-m', '1', '-nostdin', '-timeout', '10s', '-timeout_error'], timeoutMs: 15_000 });
    assert.equal(reg.code, 0, `callee registration: sipp exit ${reg.code}`);
    assert.equal(bindingsOf(CALLEE), 1);

    const uasMsgs = join(dir, 'uas-msgs.log');
    const uas = startSipp(['-sf', scenario('uas'), '-i', UAS_IP, '-p', '5060', '-mp', '32000', '-trace_msg', '-message_file', uasMsgs]);
    try {
      await new Promise((r) => setTimeout(r, 300)); // let SIPp bind
      const uacCsvFile = join(dir, 'uac.csv');
      writeFileSync(uacCsvFile, uacCsv(users(FIRST, CALLS), CALLEE));
      const uacMsgs = join(dir, 'uac-msgs.log');
      const run = await runSipp({
        args: [NODE, '-sf', scenario('uac-auth'), '-inf', uacCsvFile, '-auth_uri', authUri(CALLEE, NODE), '-i', UAC_IP, '-p', '5074', '-mp', '33000', '-m', String(CALLS), '-r', '20', '-l', String(CALLS), '-d', '100', '-nostdin', '-timeout', '30s', '-timeout_error', '-trace_msg', '-message_file', uacMsgs],
        timeoutMs: 40_000,
        statFile: join(dir, 'uac-stat.csv'),
      });
      assert.equal(run.code, 0, `sipp exit ${run.code}: ${run.stderr.slice(-500)}`);
      assert.equal(Number(run.stats?.['SuccessfulCall(C)']), CALLS);

      // Media anchored: each side saw the node's RTP address and a port of its range, never the other SIPp.
      const mediaOf = (msg: string): { ip: string; port: number } | undefined => {
        const c = /^c=IN IP4 (\S+)/m.exec(msg);
        const m = /^m=audio (\d+) /m.exec(msg);
        return c && m ? { ip: c[1], port: Number(m[1]) } : undefined;
      };
      const invites = traced(uasMsgs).filter((m) => firstLine(m).startsWith('INVITE '));
      assert.equal(invites.length, CALLS, 'the UAS got one INVITE per call');
      const answers = traced(uacMsgs).filter((m) => firstLine(m).startsWith('SIP/2.0 200') && /CSeq:\s*2 INVITE/i.test(m));
      assert.equal(answers.length, CALLS, 'the UAC got one 200 per call');
      for (const msg of [...invites, ...answers]) {
        const media = mediaOf(msg);
        assert.ok(media, `SDP with c= and m=audio:\n${msg}`);
        assert.equal(media.ip, NODE_IP);
        assert.ok(media.port >= RTP.minPort && media.port <= RTP.maxPort, `port ${media.port} in the node's RTP range`);
      }
      // The B2BUA gives the callee leg its own Call-ID.
      const callerIds = new Set(traced(uacMsgs).map((m) => /^Call-ID:\s*(\S+)/im.exec(m)?.[1]));
      assert.ok(invites.every((m) => !callerIds.has(/^Call-ID:\s*(\S+)/im.exec(m)?.[1])), 'callee legs have new Call-IDs');
    } finally {
      await stopSipp(uas);
    }
    // Both legs are gone and every RTP/RTCP port pair is back in the pool.
    const deadline = Date.now() + 5000;
    while ((node.calls.stats().active > 0 || node.ports.inUse > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(node.calls.stats().active, 0, 'no call left');
    assert.equal(node.ports.inUse, 0, 'all RTP ports released');
    assert.equal(node.calls.stats().total, CALLS);
  });
});
