/**
 * Regression: B2BUA calls leaked under overload (bench/pbx.ts). The sequence seen on
 * the wire (tshark on the node's address, 500 calls/s):
 *
 *   caller                         node (lagging ~2 s)              callee
 *     |---- INVITE (CSeq 2) -------->|---------- INVITE ------------->|
 *     |<--- 200 (To tag t) ----------|<--------- 200 -----------------|
 *     |---- ACK --------------------> (queued, not read yet)          |
 *     |<--- 200 retransmission ------| (T1 fired before the ACK was read)
 *     |---- ACK (again) ------------>                                 |
 *     |---- BYE --------------------X dropped: UDP receive queue full |
 *     |---- BYE (retransmission) ---X dropped                         |
 *     |<--- 200 retransmission ------| SIPp takes it for the 200 to its
 *     |                              | BYE and forgets the call
 *   The node reads both ACKs (no "no ACK" timeout) and never hears a BYE: the
 *   call stayed 'answered' with two RTP port pairs for ever.
 *
 * Fix: an answered call probes both legs with an in-dialog OPTIONS every 64*T1; a
 * 481 or 408 (Timer F) ends it. The node runs on a fake clock; phones in real time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { FakeClock } from '../../../src/sip/clock.ts';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/sip/message/types.ts';
import type { Endpoint } from '../../../src/sip/message/types.ts';
import type { SimCall } from '../../../src/lab/sim-phone/index.ts';
import { DOMAIN, TIMERS, once, startNode, waitFor } from './harness.ts';

const T64 = 64 * TIMERS.T1;
const tick = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A caller made of raw datagrams, so that the test decides what is "lost". */
class RawUa {
  readonly got: SipMessage[] = [];
  private readonly socket: Socket = createSocket('udp4');
  port = 0;
  constructor(readonly address: string) {}

  async start(): Promise<void> {
    await new Promise<void>((r) => this.socket.bind(0, this.address, () => r()));
    this.port = this.socket.address().port;
    this.socket.on('message', (b) => {
      const p = parseMessage(b);
      if (p.ok) this.got.push(p.msg);
    });
  }
  send(text: string, to: Endpoint): void {
    this.socket.send(Buffer.from(text.replace(/\n/g, '\r\n')), to.port, to.address);
  }
  async next<T extends SipMessage>(pred: (m: SipMessage) => m is T, what: string, from = 0): Promise<T> {
    let found: T | undefined;
    await waitFor(() => (found = this.got.slice(from).find(pred)) !== undefined, 3000, what);
    return found as T;
  }
  close(): void {
    this.socket.close();
  }
}

/** Request head lines of the raw caller 2001 → 2002 (real bytes, LF here, CRLF on the wire). */
function rawHead(raw: RawUa, callId: string, method: string, cseq: number, branch: string, toTag = ''): string {
  return [
    `${method} sip:2002@${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${raw.port};branch=${branch};rport`,
    `From: <sip:2001@${DOMAIN}>;tag=caller1`,
    `To: <sip:2002@${DOMAIN}>${toTag ? `;tag=${toTag}` : ''}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:2001@127.0.0.1:${raw.port}>`,
    'Max-Forwards: 70',
  ].join('\n');
}

const SDP = 'v=0\no=raw 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n';
const withSdp = (head: string): string => `${head}\nContent-Type: application/sdp\nContent-Length: ${SDP.replace(/\n/g, '\r\n').length}\n\n${SDP}`;

const isResponse = (status: number, method: string) => (m: SipMessage): m is SipResponse => m.kind === 'response' && m.status === status && m.cseq.method === method;
const isRequest = (method: string) => (m: SipMessage): m is SipRequest => m.kind === 'request' && m.method === method;

describe('lost BYE: every answered call has a bounded life', () => {
  it('MUST end an answered, ACKed call whose caller lost its BYE and answers the in-dialog probe with 481: BYE only the callee, free the ports, 481 a late BYE', async () => {
    const clock = new FakeClock(Date.now());
    // The raw caller carries no credentials: authentication is not what is tested here.
    const node = await startNode({ authenticate: () => ({ ok: true, user: '2001' }) }, clock);
    const raw = new RawUa('127.0.0.1');
    await raw.start();
    try {
      const b = await node.phone('2002');
      assert.equal(await b.register(), 200);
      const incoming = once<[SimCall]>(b, 'incoming', 3000);
      const n = node.endpoint;
      const head = (method: string, cseq: number, branch: string, toTag = ''): string => rawHead(raw, 'lost-bye-1@127.0.0.1', method, cseq, branch, toTag);
      raw.send(withSdp(head('INVITE', 2, 'z9hG4bKraw-inv')), n);
      const [bCall] = await incoming;
      const ok = await raw.next(isResponse(200, 'INVITE'), '200 to the INVITE');
      const toTag = ok.to.params.get('tag') ?? '';
      // The node retransmits its 2xx before it reads our ACK (§13.3.1.4).
      const seen = raw.got.length;
      clock.advance(TIMERS.T1);
      await raw.next(isResponse(200, 'INVITE'), '2xx retransmission', seen);
      raw.send(`${head('ACK', 2, 'z9hG4bKraw-ack', toTag)}\nContent-Length: 0\n\n`, n);
      await tick(100); // the ACK is read: the no-ACK timer is stopped
      assert.equal(node.calls.stats().active, 1);
      // The caller's BYE is lost; the caller thinks the call is over.
      const beforeProbe = raw.got.length;
      clock.advance(T64 - TIMERS.T1);
      const probe = await raw.next(isRequest('OPTIONS'), 'in-dialog OPTIONS probe', beforeProbe);
      assert.equal(probe.to.params.get('tag'), 'caller1', 'probe sent inside the caller dialog');
      assert.equal(probe.from.params.get('tag'), toTag);
      assert.equal(node.calls.stats().active, 1, 'the call is still up until the caller answers the probe');
      const via = probe.via.map((v) => `Via: SIP/2.0/UDP ${v.host}:${v.port ?? 5060};branch=${v.params.get('branch') ?? ''}`).join('\n');
      raw.send(`SIP/2.0 481 Call/Transaction Does Not Exist\n${via}\nFrom: <sip:2002@${DOMAIN}>;tag=${toTag}\nTo: <sip:2001@${DOMAIN}>;tag=caller1\nCall-ID: lost-bye-1@127.0.0.1\nCSeq: ${probe.cseq.seq} OPTIONS\nContent-Length: 0\n\n`, n);
      await once(bCall, 'ended', 3000);
      assert.equal(bCall.endReason, 'bye', 'the callee got a BYE');
      await waitFor(() => node.calls.stats().active === 0, 3000, 'call ended');
      assert.equal(node.ports.inUse, 0, 'RTP ports released');
      assert.equal(node.cdrs.at(-1)?.result, 'answered');
      await tick(100);
      assert.equal(raw.got.filter(isRequest('BYE')).length, 0, 'no BYE to a caller whose dialog is gone');
      // The lost BYE's retransmission finally arrives: 481, no new call state.
      raw.send(`${head('BYE', 3, 'z9hG4bKraw-bye', toTag)}\nContent-Length: 0\n\n`, n);
      await raw.next(isResponse(481, 'BYE'), '481 to the late BYE');
      assert.equal(node.calls.stats().active, 0);
      assert.equal(node.ports.inUse, 0);
    } finally {
      raw.close();
      await node.close();
    }
  });

  it('MUST keep a call whose legs answer the probe, and end it 64*T1 after the caller falls silent (Timer F), with a BYE to the callee', async () => {
    const clock = new FakeClock(Date.now());
    const node = await startNode({}, clock);
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002');
      assert.equal(await a.register(), 200);
      assert.equal(await b.register(), 200);
      const incoming = once<[SimCall]>(b, 'incoming', 3000);
      const call = await a.call(`sip:2002@${DOMAIN}`);
      await once(call, 'answered', 3000);
      const [bCall] = await incoming;
      await tick(100); // the ACK reaches the node
      const probes: string[] = [];
      node.layer.onStateChange = (ev) => {
        if (ev.kind === 'non-invite-client' && ev.method === 'OPTIONS' && ev.to === 'completed') probes.push(ev.id);
      };
      // Two probe rounds answered by both phones: the call stays up (and the ACK was matched,
      // else the 2xx retransmitter would have ended it after 64*T1).
      for (let round = 1; round <= 2; round++) {
        clock.advance(T64);
        await waitFor(() => probes.length === 2 * round, 3000, `probe round ${round} answered`);
        clock.advance(TIMERS.T4); // Timer K of the probes
        assert.equal(node.calls.stats().active, 1, `call up after round ${round}`);
        assert.equal(bCall.state, 'answered');
      }
      // The caller vanishes without a BYE (its BYE lost, then the phone gone).
      await a.close();
      clock.advance(T64); // next probe
      await tick(50);
      clock.advance(T64); // Timer F of the caller's probe → 408
      await once(bCall, 'ended', 3000);
      assert.equal(bCall.endReason, 'bye');
      assert.equal(node.calls.stats().active, 0);
      assert.equal(node.ports.inUse, 0, 'RTP ports released');
    } finally {
      await node.close();
    }
  });

  it('MUST answer 482 to a copy of a live call\'s INVITE (same Call-ID, From tag, CSeq; another branch) and not start a second call (§8.2.2.2)', async () => {
    const node = await startNode({ authenticate: () => ({ ok: true, user: '2001' }) });
    const raw = new RawUa('127.0.0.1');
    await raw.start();
    try {
      const b = await node.phone('2002');
      assert.equal(await b.register(), 200);
      const callId = 'merged-1@127.0.0.1';
      raw.send(withSdp(rawHead(raw, callId, 'INVITE', 2, 'z9hG4bKraw-first')), node.endpoint);
      const ok = await raw.next(isResponse(200, 'INVITE'), '200 to the INVITE');
      raw.send(`${rawHead(raw, callId, 'ACK', 2, 'z9hG4bKraw-ack', ok.to.params.get('tag') ?? '')}\nContent-Length: 0\n\n`, node.endpoint);
      // The same INVITE again on another branch: a merged request, or a retransmission
      // that outlived the server transaction's Timer L.
      raw.send(withSdp(rawHead(raw, callId, 'INVITE', 2, 'z9hG4bKraw-second')), node.endpoint);
      const merged = await raw.next((m): m is SipResponse => m.kind === 'response' && m.status >= 300 && m.via[0]?.params.get('branch') === 'z9hG4bKraw-second', 'final answer to the copy');
      assert.equal(merged.status, 482);
      assert.deepEqual(node.calls.stats(), { active: 1, total: 1 }, 'one call only');
      assert.equal(b.calls.length, 1, 'the callee rang once');
    } finally {
      raw.close();
      await node.close();
    }
  });
});
