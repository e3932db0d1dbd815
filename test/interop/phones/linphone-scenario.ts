/**
 * linphone ↔ baresip through a spacephone node. NOT run directly: linphone.test.ts
 * runs this file with `node --test` inside a network namespace it creates (only
 * `lo`, default route from 127.0.0.70; see docs/interop.md), so the node,
 * baresip and linphone share that namespace's loopback.
 * Node 127.0.0.70:17200, baresip 127.0.0.71:17400, linphone *:17000.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PbxNode } from '../../../src/node/node.ts';
import { Baresip } from './baresip.ts';
import { Linphone } from './linphone.ts';
import { DOMAIN, checkTone, relayPacketsIn, sleep, startNode, until, writeFederation, type FederationFiles } from './harness.ts';

const NODE_IP = '127.0.0.70';
const NODE_PORT = 17200;
const TONE_BARESIP = 700;
const TONE_LINPHONE = 1100;

if (!process.env.SPACEPHONE_NETNS) {
  throw new Error('linphone-scenario.ts runs inside the namespace created by linphone.test.ts');
}

describe('baresip ↔ linphone through a spacephone node', { timeout: 150_000 }, () => {
  let files: FederationFiles;
  let node: PbxNode;
  let bare: Baresip;
  let lin: Linphone;

  before(async () => {
    files = writeFederation({ nodeAddress: NODE_IP, sipPort: NODE_PORT, adminPort: 17280, rtp: [17300, 17399], extensions: { '2001': 'pw-l-2001', '2003': 'pw-l-2003' }, t1: 100 });
    node = await startNode(files);
    bare = await Baresip.start({
      name: 'bare', address: '127.0.0.71', sipPort: 17400, ctrlPort: 17410, rtpPorts: [17420, 17439],
      user: '2001', password: 'pw-l-2001', domain: DOMAIN, outbound: `sip:${NODE_IP}:${NODE_PORT};transport=udp`, toneHz: TONE_BARESIP, toneMs: 90_000,
    });
    lin = await Linphone.start({
      name: 'lin', sipPort: 17000, rtpPorts: [17100, 17119], user: '2003', password: 'pw-l-2003', domain: DOMAIN,
      proxy: `sip:${NODE_IP}:${NODE_PORT}`, toneHz: TONE_LINPHONE, toneMs: 90_000,
    });
  });

  after(async () => {
    await lin?.close();
    await bare?.close();
    await node?.close();
    files?.remove();
  });

  it('MUST register linphone and baresip with digest auth', async () => {
    await bare.waitRegistered();
    await lin.waitRegistered();
    const bindings = node.stores.location.all(Date.now());
    const linB = bindings.find((b) => b.aor.startsWith('2003@'));
    assert.ok(linB, 'linphone bound');
    assert.match(linB.userAgent ?? '', /Linphone/i);
    assert.ok(bindings.find((b) => b.aor.startsWith('2001@')), 'baresip bound');
  });

  it('MUST connect baresip → linphone when linphone answers', async () => {
    const eb = bare.events.length;
    const mark = lin.mark;
    await bare.dial(`sip:2003@${DOMAIN}`);
    await lin.waitOutput(/Receiving new incoming call/, 10_000, mark);
    lin.answer();
    await bare.waitEvent('CALL_ESTABLISHED', 5000, eb);
    await lin.waitOutput(/Media streams established/, 5000, mark);
    const calls = node.calls.calls();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].state, 'answered');
    await sleep(2500);
    const p = relayPacketsIn(node);
    assert.ok(p.a > 80 && p.b > 80, `relay received RTP from both phones: ${JSON.stringify(p)}`);
  });

  it('MUST stop the held side\'s media while linphone pauses, and carry media both ways after it resumes', async () => {
    const mark = lin.mark;
    lin.pause();
    await lin.waitOutput(/is now paused/, 5000, mark);
    await sleep(1000);
    const h0 = relayPacketsIn(node);
    await sleep(1500);
    const h1 = relayPacketsIn(node);
    // baresip answers the sendonly offer with recvonly and stops sending (leg a = caller).
    assert.ok(h1.a - h0.a < 10, `held baresip sends nothing: ${JSON.stringify({ h0, h1 })}`);
    assert.equal(node.calls.calls().length, 1, 'pause keeps the call');
    const mark2 = lin.mark;
    lin.resume();
    await lin.waitOutput(/Media streams established/, 5000, mark2);
    await sleep(1000);
    const r0 = relayPacketsIn(node);
    await sleep(1500);
    const r1 = relayPacketsIn(node);
    assert.ok(r1.a - r0.a > 50 && r1.b - r0.b > 50, `media both ways after resume: ${JSON.stringify({ r0, r1 })}`);
  });

  it('MUST release everything when baresip hangs up, and each phone MUST have heard the other\'s tone', async () => {
    const mark = lin.mark;
    await bare.hangup();
    await lin.waitOutput(/ended/, 5000, mark);
    await until(() => node.calls.calls().length === 0 && node.ports.inUse === 0, 5000, 'call and ports released');
    await sleep(300); // linphone finalises the recording
    const heardByBare = checkTone(bare.recordings()[0].audio, TONE_LINPHONE, TONE_BARESIP);
    const linAudio = lin.recording();
    const heardByLin = checkTone(linAudio, TONE_BARESIP, TONE_LINPHONE);
    assert.equal(heardByBare.dominant, TONE_LINPHONE, `baresip heard ${JSON.stringify(heardByBare)}`);
    assert.equal(heardByLin.dominant, TONE_BARESIP, `linphone heard ${JSON.stringify(heardByLin)}`);
    assert.ok(heardByBare.seconds > 1.5 && heardByLin.seconds > 3, `recorded ${heardByBare.seconds} s / ${heardByLin.seconds} s`);
    // linphone records only while media flows: its last second is after the resume.
    const tail = { sampleRate: linAudio.sampleRate, samples: linAudio.samples.subarray(linAudio.samples.length - linAudio.sampleRate) };
    assert.equal(checkTone(tail, TONE_BARESIP, TONE_LINPHONE).dominant, TONE_BARESIP, 'tone reached linphone after the resume');
  });

  it('MUST connect linphone → baresip when baresip answers, tones crossing, and release on linphone\'s hangup', async () => {
    const eb = bare.events.length;
    lin.newRecording();
    const mark = lin.mark;
    lin.call(`sip:2001@${DOMAIN}`);
    await bare.waitEvent('CALL_INCOMING', 10_000, eb);
    await bare.accept();
    await bare.waitEvent('CALL_ESTABLISHED', 5000, eb);
    await lin.waitOutput(/Media streams established/, 5000, mark);
    await sleep(2500);
    lin.terminate();
    await bare.waitEvent('CALL_CLOSED', 5000, eb);
    await until(() => node.calls.calls().length === 0 && node.ports.inUse === 0, 5000, 'call and ports released');
    await sleep(300);
    const recs = bare.recordings();
    assert.equal(recs.length, 2);
    assert.equal(checkTone(recs[1].audio, TONE_LINPHONE, TONE_BARESIP).dominant, TONE_LINPHONE);
    assert.equal(checkTone(lin.recording(), TONE_BARESIP, TONE_LINPHONE).dominant, TONE_BARESIP);
  });

  it('MUST leave no transaction behind once the calls are over (64·T1 with T1 = 100 ms)', async () => {
    await until(() => node.layer.clientCount === 0 && node.layer.serverCount === 0, 10_000,
      `transactions to end (clients ${node.layer.clientCount}, servers ${node.layer.serverCount})`);
  });
});
