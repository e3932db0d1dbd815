import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequest } from '../../../src/sip/message/build.ts';
import { parseUri } from '../../../src/sip/message/parser.ts';
import type { SipRequest } from '../../../src/sip/message/types.ts';
import type { SimCall, SimPhone } from '../../../src/lab/sim-phone/index.ts';
import { DOMAIN, startNode, once, waitFor, type TestNode } from './harness.ts';

async function ended(call: SimCall): Promise<string> {
  if (call.endReason) return call.endReason;
  const [why] = await once<[string]>(call, 'ended');
  return why;
}

async function settled(node: TestNode): Promise<void> {
  await waitFor(() => node.calls.stats().active === 0 && node.ports.inUse === 0, 3000, 'call cleanup');
}

function rawInvite(from: SimPhone, to: string, sdp: string, maxForwards = 70): SipRequest {
  return createRequest({
    method: 'INVITE',
    uri: parseUri(to),
    from: { uri: parseUri(`sip:${from.opts.user}@${DOMAIN}`), params: new Map() },
    to: { uri: parseUri(to), params: new Map() },
    contact: [{ uri: parseUri(`sip:${from.opts.user}@${from.endpoint.address}:${from.endpoint.port}`), params: new Map() }],
    maxForwards,
    body: Buffer.from(sdp),
    contentType: 'application/sdp',
  });
}

const G729_ONLY = 'v=0\r\no=x 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n';
const PCMU = 'v=0\r\no=x 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';

describe('call failures', () => {
  it('MUST answer 486 when every contact of the callee is busy', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002', { incoming: { reject: 486 } });
      await a.register();
      await b.register();
      const call = await a.call('sip:2002@pbx.test');
      await ended(call);
      assert.equal(call.finalStatus, 486);
      await settled(node);
      assert.equal(node.cdrs[0]?.result, 'busy');
    } finally {
      await node.close();
    }
  });

  it('MUST answer 480 for an extension without registration and 404 for an unknown one', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      await a.register();
      const c1 = await a.call('sip:2003@pbx.test');
      await ended(c1);
      assert.equal(c1.finalStatus, 480);
      const c2 = await a.call('sip:2999@pbx.test');
      await ended(c2);
      assert.equal(c2.finalStatus, 404);
      await settled(node);
      assert.equal(node.calls.stats().total, 0, 'no call (and no media) was set up');
    } finally {
      await node.close();
    }
  });

  it('MUST answer 480 and release media when no binding of the callee is usable', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002');
      await a.register();
      await b.register();
      const [binding] = node.store.bindings('2002@pbx.test', Date.now());
      assert.ok(binding);
      node.store.remove(binding.aor, binding.contact);
      node.store.save({ ...binding, contact: 'not a uri' });
      const call = await a.call('sip:2002@pbx.test');
      await ended(call);
      assert.equal(call.finalStatus, 480);
      await settled(node);
    } finally {
      await node.close();
    }
  });

  it('MUST CANCEL the branches and answer 480 when nobody answers within ringTimeoutSec', async () => {
    const node = await startNode({ ringTimeoutSec: 0.3 });
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002', { incoming: 'manual' });
      await a.register();
      await b.register();
      const incoming = once<[SimCall]>(b, 'incoming');
      const call = await a.call('sip:2002@pbx.test');
      const [bCall] = await incoming;
      assert.equal(await ended(call), 'failed');
      assert.equal(call.finalStatus, 480);
      assert.equal(await ended(bCall), 'cancelled');
      await settled(node);
      assert.equal(node.cdrs[0]?.result, 'no-answer');
    } finally {
      await node.close();
    }
  });

  it('MUST keep challenging wrong credentials and never connect', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001', { password: 'wrong' });
      const b = await node.phone('2002');
      await b.register();
      let rang = false;
      b.on('incoming', () => (rang = true));
      const call = await a.call('sip:2002@pbx.test');
      await ended(call);
      assert.equal(call.finalStatus, 407);
      assert.equal(rang, false);
      await settled(node);
      assert.equal(node.calls.stats().total, 0);
    } finally {
      await node.close();
    }
  });

  it('MUST answer 483 to Max-Forwards 0 before any other work', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      const res = await a.send(rawInvite(a, 'sip:2002@pbx.test', PCMU, 0));
      assert.equal(res.status, 483);
      assert.equal(res.proxyAuthenticate.length, 0, 'not even challenged');
    } finally {
      await node.close();
    }
  });

  it('MUST answer 488 when the offer has no codec we can relay, 400 for garbage SDP', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002');
      await b.register();
      assert.equal((await a.send(rawInvite(a, 'sip:2002@pbx.test', G729_ONLY))).status, 488);
      assert.equal((await a.send(rawInvite(a, 'sip:2002@pbx.test', 'v=0\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n'))).status, 400);
      assert.equal(node.ports.inUse, 0);
    } finally {
      await node.close();
    }
  });

  it('MUST answer 482 to an INVITE that already went through this node (loop)', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002', { incoming: 'manual' });
      await a.register();
      await b.register();
      const incoming = once<[SimCall]>(b, 'incoming');
      const call = await a.call('sip:2002@pbx.test');
      const [bCall] = await incoming;
      // B behaves like a proxy sending the INVITE back to the node: our Via stays in the list.
      const ours = (bCall.inviteTx as { request: SipRequest }).request.via[0];
      assert.ok(ours);
      const looped = rawInvite(b, 'sip:2001@pbx.test', PCMU);
      looped.via = [{ protocol: 'SIP/2.0', transport: 'UDP', host: b.endpoint.address, port: b.endpoint.port, params: new Map([['branch', 'z9hG4bKloop1']]) }, ours];
      const res = await b.send(looped);
      assert.equal(res.status, 482);
      call.hangup();
      await ended(call);
      await settled(node);
    } finally {
      await node.close();
    }
  });

  it('MUST answer 487 to a CANCELled INVITE and CANCEL the callee', async () => {
    const node = await startNode();
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002', { incoming: 'manual' });
      await a.register();
      await b.register();
      const incoming = once<[SimCall]>(b, 'incoming');
      const call = await a.call('sip:2002@pbx.test');
      const [bCall] = await incoming;
      await waitFor(() => call.state === 'ringing', 2000, 'ringing');
      call.hangup();
      assert.equal(await ended(call), 'cancelled');
      assert.equal(call.finalStatus, 487);
      assert.equal(await ended(bCall), 'cancelled');
      await settled(node);
      assert.equal(node.cdrs[0]?.result, 'cancelled');
    } finally {
      await node.close();
    }
  });
});
