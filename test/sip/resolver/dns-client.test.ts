/**
 * DnsClient against a scripted DNS server on loopback; timers on a FakeClock.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket } from 'dns-packet';
import { DnsClient } from '../../../src/sip/resolver/dns-client.ts';
import { DnsServerError, DnsTimeoutError } from '../../../src/sip/resolver/errors.ts';
import { FakeClock } from '../../../src/sip/clock.ts';

type Reply = (q: DecodedPacket, rinfo: RemoteInfo, socket: Socket) => void;

class ScriptedDns {
  socket = createSocket('udp4');
  queries: DecodedPacket[] = [];
  reply: Reply = () => {};
  private waiters: Array<() => void> = [];
  async start(): Promise<number> {
    this.socket.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      this.queries.push(q);
      this.reply(q, rinfo, this.socket);
      for (const w of this.waiters.splice(0)) w();
    });
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    return this.socket.address().port;
  }
  /** Resolves once `n` queries in total have arrived. */
  async received(n: number): Promise<void> {
    while (this.queries.length < n) await new Promise<void>((r) => this.waiters.push(r));
  }
}

function answer(q: DecodedPacket, answers: Answer[], extra: { id?: number; flags?: number; authorities?: Answer[] } = {}): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: extra.id ?? q.id,
    flags: extra.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: q.questions,
    answers,
    authorities: extra.authorities ?? [],
  });
}

const A = (name: string, ip: string, ttl = 30): Answer => ({ type: 'A', name, ttl, data: ip });

describe('DnsClient (RFC 1035, RFC 2308)', { timeout: 10_000 }, () => {
  const server = new ScriptedDns();
  let port = 0;
  let clock: FakeClock;
  let client: DnsClient;

  before(async () => {
    port = await server.start();
  });
  after(() => server.socket.close());
  beforeEach(() => {
    client?.close();
    server.queries = [];
    clock = new FakeClock();
    client = new DnsClient({ server: { address: '127.0.0.1', port }, clock, timeoutMs: 1000, attempts: 3 });
  });
  after(() => client?.close());

  it('MUST retransmit the query when no answer arrives within the timeout', async () => {
    server.reply = (q, r, s) => {
      if (server.queries.length >= 2) s.send(answer(q, [A('host.test', '127.0.0.5')]), r.port, r.address);
    };
    const p = client.queryA('host.test');
    await server.received(1);
    assert.equal(server.queries.length, 1);
    clock.advance(1000);
    assert.deepEqual(await p, ['127.0.0.5']);
    assert.equal(server.queries.length, 2);
  });

  it('MUST fail with DNS_TIMEOUT after the last attempt times out', async () => {
    server.reply = () => {};
    const p = client.queryA('silent.test');
    for (let i = 1; i <= 3; i++) {
      await server.received(i);
      clock.advance(1000);
    }
    await assert.rejects(p, (e: unknown) => e instanceof DnsTimeoutError && e.code === 'DNS_TIMEOUT');
    assert.equal(server.queries.length, 3);
  });

  it('MUST cache an answer for its TTL on the injected clock and query again after it', async () => {
    server.reply = (q, r, s) => s.send(answer(q, [A('cached.test', '127.0.0.6', 30)]), r.port, r.address);
    assert.deepEqual(await client.queryA('cached.test'), ['127.0.0.6']);
    clock.advance(29_000);
    assert.deepEqual(await client.queryA('CACHED.test.'), ['127.0.0.6']);
    assert.equal(server.queries.length, 1);
    clock.advance(1_000);
    assert.deepEqual(await client.queryA('cached.test'), ['127.0.0.6']);
    assert.equal(server.queries.length, 2);
  });

  it('MUST cache a negative answer for the SOA minimum (RFC 2308 §5)', async () => {
    const soa: Answer = { type: 'SOA', name: 'test', ttl: 600, data: { mname: 'ns.test', rname: 'h.test', minimum: 10 } };
    server.reply = (q, r, s) => s.send(answer(q, [], { flags: 3, authorities: [soa] }), r.port, r.address);
    assert.deepEqual(await client.querySrv('_sip._udp.none.test'), []);
    assert.deepEqual(await client.querySrv('_sip._udp.none.test'), []);
    assert.equal(server.queries.length, 1);
    clock.advance(10_000);
    await client.querySrv('_sip._udp.none.test');
    assert.equal(server.queries.length, 2);
  });

  it('MUST ignore an answer with the wrong ID (spoofing) and take the matching one', async () => {
    server.reply = (q, r, s) => {
      s.send(answer(q, [A('spoof.test', '127.0.0.66')], { id: (q.id! + 1) & 0xffff }), r.port, r.address);
      s.send(Buffer.from('garbage'), r.port, r.address);
      setTimeout(() => s.send(answer(q, [A('spoof.test', '127.0.0.7')]), r.port, r.address), 10);
    };
    assert.deepEqual(await client.queryA('spoof.test'), ['127.0.0.7']);
  });

  it('MUST reject with DNS_SERVER_FAILURE on SERVFAIL', async () => {
    server.reply = (q, r, s) => s.send(answer(q, [], { flags: 2 }), r.port, r.address);
    await assert.rejects(client.queryA('broken.test'), (e: unknown) => e instanceof DnsServerError && e.rcode === 2);
  });

  it('MUST parse SRV records and share one query between concurrent callers', async () => {
    server.reply = (q, r, s) =>
      s.send(
        answer(q, [{ type: 'SRV', name: '_sip._udp.x.test', ttl: 60, data: { priority: 10, weight: 20, port: 5060, target: 'NL.x.test' } }]),
        r.port,
        r.address,
      );
    const [a, b] = await Promise.all([client.querySrv('_sip._udp.x.test'), client.querySrv('_sip._udp.x.test')]);
    assert.deepEqual(a, [{ priority: 10, weight: 20, port: 5060, target: 'nl.x.test' }]);
    assert.deepEqual(b, a);
    assert.equal(server.queries.length, 1);
  });

  it('MUST reject in-flight queries on close()', async () => {
    server.reply = () => {};
    const p = client.queryA('slow.test');
    await server.received(1);
    client.close();
    await assert.rejects(p, { code: 'DNS_TRANSPORT' });
  });
});
