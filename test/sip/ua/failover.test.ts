/**
 * RFC 3263 §4.3 failover through a real DNS server (dnsmasq): a target that times
 * out and a target that answers 503 + Retry-After are passed over; the 503 target
 * stays out for the Retry-After period on later requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SystemClock } from '../../../src/sip/clock.ts';
import { SipTransport } from '../../../src/sip/transport/index.ts';
import { TransactionLayer } from '../../../src/sip/transaction/layer.ts';
import { createRequest, createResponse, newTag } from '../../../src/sip/message/build.ts';
import { parseUri } from '../../../src/sip/message/parser.ts';
import type { SipUri } from '../../../src/sip/message/types.ts';
import { DnsClient } from '../../../src/sip/resolver/dns-client.ts';
import { SipResolver } from '../../../src/sip/resolver/resolver.ts';
import { requestWithFailover } from '../../../src/sip/ua/failover.ts';
import { startDnsmasq, type Dnsmasq } from '../resolver/dnsmasq.ts';
import { requireTool } from '../../support/tools.ts';

const clock = new SystemClock();
const T1 = 40; // Timer F = 64*T1 = 2.56 s for the silent target

async function server(address: string, port: number, status: number, extra?: { name: string; value: string }): Promise<{ close(): Promise<void>; hits: number }> {
  const transport = new SipTransport({ listen: [{ transport: 'udp', address, port }], clock });
  await transport.start();
  const layer = new TransactionLayer(transport, { clock, timers: { T1 } });
  const state = {
    hits: 0,
    close: async () => {
      layer.close();
      await transport.close();
    },
  };
  layer.onRequest = (tx, req) => {
    state.hits++;
    const res = createResponse(req.msg, status);
    res.to.params.set('tag', newTag());
    if (extra) res.headers.push(extra);
    tx.respond(res);
  };
  return state;
}

describe('requestWithFailover (RFC 3263 §4.3) against dnsmasq', { timeout: 30_000 }, () => {
  let dns: Dnsmasq;
  let busy: Awaited<ReturnType<typeof server>>;
  let good: Awaited<ReturnType<typeof server>>;
  let transport: SipTransport;
  let layer: TransactionLayer;
  let resolver: SipResolver;
  let dnsClient: DnsClient;

  before(async () => {
    requireTool('dnsmasq');
    dns = await startDnsmasq([
      // prio 10: nothing listens (timeout); prio 20: 503 + Retry-After; prio 30: answers.
      '--srv-host=_sip._udp.fo.example.test,silent.example.test,15190,10,10',
      '--srv-host=_sip._udp.fo.example.test,busy.example.test,15192,20,10',
      '--srv-host=_sip._udp.fo.example.test,good.example.test,15194,30,10',
      '--host-record=silent.example.test,127.0.0.34',
      '--host-record=busy.example.test,127.0.0.35',
      '--host-record=good.example.test,127.0.0.36',
    ]);
    busy = await server('127.0.0.35', 15192, 503, { name: 'Retry-After', value: '60' });
    good = await server('127.0.0.36', 15194, 200);
    transport = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.37', port: 0 }], clock });
    await transport.start();
    layer = new TransactionLayer(transport, { clock, timers: { T1 } });
    dnsClient = new DnsClient({ server: { address: dns.address, port: dns.port }, clock });
    resolver = new SipResolver({ dns: dnsClient, clock, transports: ['udp'] });
  });
  after(async () => {
    layer?.close();
    await transport?.close();
    dnsClient?.close();
    await busy?.close();
    await good?.close();
    await dns?.stop();
  });

  const options = (): ReturnType<typeof createRequest> =>
    createRequest({ method: 'OPTIONS', uri: parseUri('sip:fo.example.test'), from: { uri: parseUri('sip:probe@127.0.0.37'), params: new Map() }, to: { uri: parseUri('sip:fo.example.test'), params: new Map() } });

  it('MUST try the next SRV target after a timeout and after a 503, and stop at the first answer', async () => {
    const r = await requestWithFailover(layer, resolver, options(), parseUri('sip:fo.example.test') as SipUri);
    assert.equal(r.response.status, 200);
    assert.deepEqual(r.tried.map((t) => `${t.target.address}:${t.outcome}`), ['127.0.0.34:timeout', '127.0.0.35:503', '127.0.0.36:answered']);
    assert.equal(busy.hits, 1);
  });

  it('MUST keep a target that sent 503 with Retry-After out of later requests', async () => {
    const r = await requestWithFailover(layer, resolver, options(), parseUri('sip:fo.example.test') as SipUri);
    assert.equal(r.response.status, 200);
    assert.deepEqual(r.tried.map((t) => t.target.address), ['127.0.0.34', '127.0.0.36']);
    assert.equal(busy.hits, 1, 'the blacklisted target was not asked again');
  });
});
