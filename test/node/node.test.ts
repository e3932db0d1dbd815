import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import type { CallSummary, NodeStatus, RegistrationView } from '../../src/admin/types.ts';
import type { SimCall } from '../../src/lab/sim-phone/index.ts';
import { DOMAIN, headerValues, metricValue, once, rawRequest, RawUdpClient, startTestNode, waitFor, type NodeUnderTest } from './node-harness.ts';

describe('PbxNode: §8.2 request handling', () => {
  let t: NodeUnderTest;
  let client: RawUdpClient;
  before(async () => {
    t = await startTestNode();
    client = await RawUdpClient.open();
  });
  after(async () => {
    await client.close();
    await t.close();
  });

  it('MUST answer OPTIONS with 200 carrying Allow, Accept and Supported (§11.2)', async () => {
    const res = await client.request(t.udp, (l) => rawRequest('OPTIONS', `sip:${DOMAIN}`, l));
    assert.equal(res.status, 200);
    const allow = headerValues(res, 'Allow').join(',').split(',').map((s) => s.trim());
    for (const m of ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER']) assert.ok(allow.includes(m), `Allow lists ${m}`);
    assert.deepEqual(headerValues(res, 'Accept'), ['application/sdp']);
    assert.ok(res.supported.includes('outbound'), 'Supported lists outbound');
    assert.ok(res.to.params.get('tag'), 'final response carries a To tag (§8.2.6.2)');
  });

  it('MUST challenge REGISTER statelessly: a retransmission gets a fresh 401 with a new nonce, not a replay (§8.2.7)', async () => {
    let text = '';
    const build = (l: Parameters<typeof rawRequest>[2]): string => (text ||= rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`]));
    const first = await client.request(t.udp, build);
    const again = await client.request(t.udp, build); // the same datagram, byte for byte
    assert.deepEqual([first.status, again.status], [401, 401]);
    const nonce = (r: typeof first): string | undefined => r.wwwAuthenticate[0]?.params.get('nonce');
    assert.ok(nonce(first) && nonce(again));
    assert.notEqual(nonce(first), nonce(again), 'answered anew, not from a Completed transaction');
  });

  it('MUST answer an unknown method with 501 (§8.2.1)', async () => {
    const res = await client.request(t.udp, (l) => rawRequest('FROBNICATE', `sip:2001@${DOMAIN}`, l));
    assert.equal(res.status, 501);
  });

  it('MUST answer SUBSCRIBE (known, not implemented here) with 405 and an Allow header (§8.2.1)', async () => {
    const res = await client.request(t.udp, (l) => rawRequest('SUBSCRIBE', `sip:2001@${DOMAIN}`, l, ['Event: presence']));
    assert.equal(res.status, 405);
    assert.match(headerValues(res, 'Allow').join(','), /INVITE/);
  });

  it('MUST answer a BYE for an unknown dialog with 481 (§15.1.2)', async () => {
    const res = await client.request(t.udp, (l) => rawRequest('BYE', `sip:2001@${DOMAIN}`, l, [], { toTag: 'nosuchdialog' }));
    assert.equal(res.status, 481);
  });

  it('MUST answer an unknown Request-URI scheme with 416 (§8.2.2.1)', async () => {
    const res = await client.request(t.udp, (l) => rawRequest('OPTIONS', `im:2001@${DOMAIN}`, l));
    assert.equal(res.status, 416);
  });

  it('MUST answer Require: foo with 420 and Unsupported: foo (§8.2.2.3)', async () => {
    const res = await client.request(t.udp, (l) => rawRequest('OPTIONS', `sip:${DOMAIN}`, l, ['Require: foo']));
    assert.equal(res.status, 420);
    assert.deepEqual(headerValues(res, 'Unsupported'), ['foo']);
  });
});

describe('PbxNode: registrations, calls and the admin API', () => {
  let t: NodeUnderTest;
  before(async () => {
    t = await startTestNode();
  });
  after(() => t.close());

  it('MUST register a phone and show it in /api/registrations, /api/status and /metrics', async () => {
    const a = await t.phone('2001');
    assert.equal(await a.register(), 200);
    const regs = await t.get<RegistrationView[]>('/api/registrations');
    assert.equal(regs.status, 200);
    const mine = regs.body.find((b) => b.aor === `2001@${DOMAIN}`);
    assert.ok(mine, 'binding listed');
    assert.equal(mine.flow.address, a.endpoint.address);
    assert.equal(mine.flow.port, a.endpoint.port);
    assert.equal(mine.reachable, true);
    assert.ok(mine.expiresInSec > 3500 && mine.expiresInSec <= 3600, `expiresInSec ${mine.expiresInSec} (SimPhone asks 3600)`);
    const status = await t.get<NodeStatus>('/api/status');
    assert.equal(status.body.name, 'n1');
    assert.equal(status.body.counts.registrations, 1);
    assert.equal(status.body.counts.activeCalls, 0);
    const m = await t.metrics();
    assert.equal(metricValue(m, 'registrations'), 1);
    // The 401 round plus the authorised REGISTER.
    assert.ok((metricValue(m, 'sip_requests_received_total', 'method="REGISTER"') ?? 0) >= 2);
  });

  it('MUST connect a call between two phones through the node and list it in /api/calls with its id', async () => {
    const a = await t.phone('2003');
    const b = await t.phone('2002', { incoming: 'manual' });
    assert.equal(await a.register(), 200);
    assert.equal(await b.register(), 200);
    const incoming = once<[SimCall]>(b, 'incoming');
    const call = await a.call(`sip:2002@${DOMAIN}`);
    const [bCall] = await incoming;
    const ringing = await t.get<CallSummary[]>('/api/calls');
    assert.equal(ringing.body.length, 1);
    const id = ringing.body[0]?.id;
    assert.ok(id, 'call has an id');
    assert.equal(ringing.body[0]?.from, `2003@${DOMAIN}`);
    assert.equal(ringing.body[0]?.to, `2002@${DOMAIN}`);
    const answered = once(call, 'answered');
    bCall.answer();
    await answered;
    const up = await t.get<CallSummary[]>('/api/calls');
    assert.equal(up.body[0]?.id, id, 'same id across states');
    assert.equal(up.body[0]?.state, 'answered');
    assert.equal((await t.get<NodeStatus>('/api/status')).body.counts.activeCalls, 1);
    await Promise.all([call.sendTone(1000, 300), bCall.sendTone(440, 300)]);
    await waitFor(() => bCall.audio.packetsIn > 5 && call.audio.packetsIn > 5, 3000, 'media both ways');
    const ended = once(bCall, 'ended');
    call.hangup();
    await ended;
    await waitFor(async () => (await t.get<CallSummary[]>('/api/calls')).body.length === 0, 3000, 'call gone from /api/calls');
    const status = await t.get<NodeStatus>('/api/status');
    assert.equal(status.body.counts.totalCalls, 1);
    assert.equal(status.body.counts.activeCalls, 0);
  });
});

describe('PbxNode lifecycle', () => {
  it('MUST make close() idempotent and free its SIP and admin ports', async () => {
    const t = await startTestNode();
    const { udp, tcp } = t;
    const adminPort = Number(new URL(t.admin).port);
    await Promise.all([t.close(), t.node.close()]);
    await t.node.close();
    // Every port can be bound again.
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(udp.port, udp.address, () => resolve());
    });
    await new Promise<void>((resolve) => sock.close(() => resolve()));
    for (const port of [tcp.port, adminPort]) {
      const srv = net.createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host: tcp.address, port, exclusive: true }, () => resolve());
      });
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});
