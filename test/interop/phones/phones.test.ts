/**
 * Proof with real phones (issue: real phones through a spacephone node): two
 * baresip 1.0.0 instances register with digest auth at an in-process node, call
 * each other, play tones of different frequencies, hold and resume, hang up.
 * What each phone decoded is recorded by baresip itself (sndfile) and checked by
 * Goertzel. Addresses 127.0.0.60–62, ports 16000–16339 (docs/interop.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PbxNode } from '../../../src/node/node.ts';
import { Baresip } from './baresip.ts';
import { DOMAIN, checkTone, relayPacketsIn, sleep, startNode, until, writeFederation, type FederationFiles } from './harness.ts';

const NODE_IP = '127.0.0.60';
const NODE_PORT = 16000;
const TONE_A = 700;
const TONE_B = 1100;

async function responsesSent(node: PbxNode, status: string): Promise<number> {
  const m = node.metrics.getSingleMetric('sip_responses_sent_total');
  if (!m) return 0;
  const v = await m.get();
  return v.values.filter((x) => String(x.labels.status) === status).reduce((s, x) => s + x.value, 0);
}

describe('baresip ↔ baresip through a spacephone node', { timeout: 120_000 }, () => {
  let files: FederationFiles;
  let node: PbxNode;
  let a: Baresip;
  let b: Baresip;

  before(async () => {
    files = writeFederation({ nodeAddress: NODE_IP, sipPort: NODE_PORT, adminPort: 16080, rtp: [16100, 16199], extensions: { '2001': 'pw-a-2001', '2002': 'pw-b-2002' }, t1: 100 });
    node = await startNode(files);
    const common = { domain: DOMAIN, outbound: `sip:${NODE_IP}:${NODE_PORT};transport=udp`, toneMs: 90_000 };
    a = await Baresip.start({ ...common, name: 'a', address: '127.0.0.61', sipPort: 16200, ctrlPort: 16210, rtpPorts: [16300, 16319], user: '2001', password: 'pw-a-2001', toneHz: TONE_A });
    b = await Baresip.start({ ...common, name: 'b', address: '127.0.0.62', sipPort: 16220, ctrlPort: 16230, rtpPorts: [16320, 16339], user: '2002', password: 'pw-b-2002', toneHz: TONE_B });
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await node?.close();
    files?.remove();
  });

  it('MUST register both phones with digest auth (401 challenge, then a binding)', async () => {
    await a.waitRegistered();
    await b.waitRegistered();
    const bindings = node.stores.location.all(Date.now());
    const hosts = bindings.map((x) => `${x.aor} ${x.contact}`).sort();
    assert.equal(bindings.length, 2, hosts.join('; '));
    assert.match(hosts[0], /^(sip:)?2001@phones\.spacephone\.test .*@127\.0\.0\.61:16200/);
    assert.match(hosts[1], /^(sip:)?2002@phones\.spacephone\.test .*@127\.0\.0\.62:16220/);
    assert.ok((await responsesSent(node, '401')) >= 2, 'each REGISTER was challenged first');
  });

  it('MUST ring B when A dials, connect when B answers, and carry each tone to the other side', async () => {
    const ea = a.events.length;
    const eb = b.events.length;
    await a.dial(`sip:2002@${DOMAIN}`);
    await b.waitEvent('CALL_INCOMING', 10_000, eb);
    await a.waitEvent('CALL_RINGING', 5000, ea);
    await b.accept();
    await a.waitEvent('CALL_ESTABLISHED', 5000, ea);
    await b.waitEvent('CALL_ESTABLISHED', 5000, eb);
    const calls = node.calls.calls();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].state, 'answered');
    assert.match(calls[0].from, /2001/);
    assert.match(calls[0].to, /2002/);
    await sleep(2500);
    const p = relayPacketsIn(node);
    // 20 ms packets: ~125 in 2.5 s from each phone.
    assert.ok(p.a > 80 && p.b > 80, `relay received RTP from both phones: ${JSON.stringify(p)}`);
  });

  it('MUST stop media while A holds the call and carry it again after A resumes', async () => {
    const ea = a.events.length;
    await a.hold();
    await sleep(1000); // re-INVITE round trip through the node
    const h0 = relayPacketsIn(node);
    await sleep(1500);
    const h1 = relayPacketsIn(node);
    // baresip stops sending on both sides while held (a=sendonly / a=recvonly).
    assert.ok(h1.a - h0.a < 10 && h1.b - h0.b < 10, `no media while held: ${JSON.stringify({ h0, h1 })}`);
    assert.equal(node.calls.calls().length, 1, 'hold keeps the call');

    await a.resume();
    await sleep(1000);
    const r0 = relayPacketsIn(node);
    await sleep(1500);
    const r1 = relayPacketsIn(node);
    assert.ok(r1.a - r0.a > 50 && r1.b - r0.b > 50, `media both ways after resume: ${JSON.stringify({ r0, r1 })}`);
    assert.equal(a.events.slice(ea).find((e) => e.type === 'CALL_CLOSED'), undefined, 'the call survived hold/resume');
  });

  it('MUST release everything on hangup: no call, no RTP ports, both phones closed', async () => {
    const eb = b.events.length;
    await a.hangup();
    await b.waitEvent('CALL_CLOSED', 5000, eb);
    await until(() => node.calls.calls().length === 0 && node.ports.inUse === 0, 5000, 'call and ports released');
    assert.equal(node.calls.stats().active, 0);
  });

  it('MUST have delivered A\'s tone to B and B\'s tone to A (recorded by the phones)', async () => {
    // sndfile closes the dumps at hangup; baresip stops writing them at hold,
    // so they hold the first ~3 s of the call (see docs/interop.md).
    const ra = a.recordings();
    const rb = b.recordings();
    assert.equal(ra.length, 1, ra.map((r) => r.file).join());
    assert.equal(rb.length, 1, rb.map((r) => r.file).join());
    const heardByA = checkTone(ra[0].audio, TONE_B, TONE_A);
    const heardByB = checkTone(rb[0].audio, TONE_A, TONE_B);
    assert.ok(heardByA.seconds > 1.5, `A recorded ${heardByA.seconds} s`);
    assert.ok(heardByB.seconds > 1.5, `B recorded ${heardByB.seconds} s`);
    assert.equal(heardByA.dominant, TONE_B, `A heard ${JSON.stringify(heardByA)}`);
    assert.equal(heardByB.dominant, TONE_A, `B heard ${JSON.stringify(heardByB)}`);
    assert.ok(heardByA.ratio > 100 && heardByB.ratio > 100, 'the other tone is far louder than any echo of the own tone');
  });

  it('MUST connect the reverse direction too: B calls A, A answers, tones and a DTMF digit cross, hangup by B', async () => {
    const ea = a.events.length;
    const eb = b.events.length;
    await b.dial(`sip:2001@${DOMAIN}`);
    await a.waitEvent('CALL_INCOMING', 10_000, ea);
    await a.accept();
    await b.waitEvent('CALL_ESTABLISHED', 5000, eb);
    await a.waitEvent('CALL_ESTABLISHED', 5000, ea);
    await sleep(1500);
    // RFC 4733 telephone-events relayed end to end.
    const ed = a.events.length;
    await b.command('sndcode', '5');
    const dtmf = await a.waitEvent('CALL_DTMF_START', 3000, ed);
    assert.equal(dtmf.param, '5');
    await sleep(1000);
    await b.hangup();
    await a.waitEvent('CALL_CLOSED', 5000, ea);
    await until(() => node.calls.calls().length === 0 && node.ports.inUse === 0, 5000, 'call and ports released');
    const ra = a.recordings();
    const rb = b.recordings();
    assert.equal(ra.length, 2);
    assert.equal(rb.length, 2);
    assert.equal(checkTone(ra[1].audio, TONE_B, TONE_A).dominant, TONE_B);
    assert.equal(checkTone(rb[1].audio, TONE_A, TONE_B).dominant, TONE_A);
  });

  it('MUST leave no transaction behind once the calls are over (64·T1 with T1 = 100 ms)', async () => {
    await until(() => node.layer.clientCount === 0 && node.layer.serverCount === 0, 10_000,
      `transactions to end (clients ${node.layer.clientCount}, servers ${node.layer.serverCount})`);
  });
});
