/**
 * RFC 3263 §4.3 failover and the 503 Retry-After blacklist, with an in-memory DNS.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SipResolver, type Target } from '../../../src/sip/resolver/resolver.ts';
import type { DnsLookup, SrvRecord } from '../../../src/sip/resolver/dns-client.ts';
import { DnsTimeoutError } from '../../../src/sip/resolver/errors.ts';
import { FakeClock } from '../../../src/sip/clock.ts';

class MemoryDns implements DnsLookup {
  srv = new Map<string, SrvRecord[]>();
  a = new Map<string, string[]>();
  failing = new Set<string>();
  async querySrv(name: string): Promise<SrvRecord[]> {
    if (this.failing.has(name)) throw new DnsTimeoutError(name, 'SRV');
    return this.srv.get(name) ?? [];
  }
  async queryA(name: string): Promise<string[]> {
    if (this.failing.has(name)) throw new DnsTimeoutError(name, 'A');
    return this.a.get(name) ?? [];
  }
  async queryAAAA(): Promise<string[]> {
    return [];
  }
}

function setup(): { dns: MemoryDns; clock: FakeClock; resolver: SipResolver } {
  const dns = new MemoryDns();
  dns.srv.set('_sip._udp.example.test', [
    { target: 'de.example.test', port: 5060, priority: 20, weight: 10 },
    { target: 'nl.example.test', port: 5060, priority: 10, weight: 20 },
  ]);
  dns.a.set('nl.example.test', ['127.0.0.11']);
  dns.a.set('de.example.test', ['127.0.0.12']);
  dns.a.set('plain.example.test', ['127.0.0.13']);
  const clock = new FakeClock();
  const resolver = new SipResolver({ dns, clock, transports: ['udp'], random: () => 0 });
  return { dns, clock, resolver };
}

const addr = (t: Target | undefined): string | undefined => t && `${t.address}:${t.port}`;

describe('RFC 3263 §4.3 failover', () => {
  it('MUST hand out the next target after a timeout or transport error, then run out', async () => {
    const { resolver } = setup();
    const it1 = await resolver.targets({ host: 'example.test' });
    const first = it1.next();
    assert.equal(addr(first), '127.0.0.11:5060');
    it1.markFailed(first!, 'timeout');
    const second = it1.next();
    assert.equal(addr(second), '127.0.0.12:5060');
    it1.markFailed(second!, 'transport');
    assert.equal(it1.next(), undefined);
    // Timeouts do not blacklist: a new request starts at the primary again.
    assert.equal(addr((await resolver.targets({ host: 'example.test' })).next()), '127.0.0.11:5060');
  });

  it('MUST keep a target that answered 503 with Retry-After out of later resolutions until the clock passes it', async () => {
    const { resolver, clock } = setup();
    const it1 = await resolver.targets({ host: 'example.test' });
    it1.markFailed(it1.next()!, '503', 120);
    assert.equal(addr(it1.next()), '127.0.0.12:5060');

    assert.deepEqual((await resolver.resolve({ host: 'example.test' })).map(addr), ['127.0.0.12:5060']);
    clock.advance(119_999);
    assert.equal(addr((await resolver.targets({ host: 'example.test' })).next()), '127.0.0.12:5060');
    clock.advance(1);
    assert.equal(addr((await resolver.targets({ host: 'example.test' })).next()), '127.0.0.11:5060');
  });

  it('MUST NOT blacklist on a 503 without Retry-After', async () => {
    const { resolver } = setup();
    const it1 = await resolver.targets({ host: 'example.test' });
    it1.markFailed(it1.next()!, '503');
    assert.equal(addr((await resolver.targets({ host: 'example.test' })).next()), '127.0.0.11:5060');
  });

  it('MUST skip a target blacklisted by another caller while iterating', async () => {
    const { resolver } = setup();
    const a = await resolver.targets({ host: 'example.test' });
    const b = await resolver.targets({ host: 'example.test' });
    const nl = a.next()!;
    a.markFailed(nl, '503', 30);
    assert.equal(addr(b.next()), '127.0.0.12:5060');
  });

  it('MUST fall back to A records when the SRV query fails', async () => {
    const { resolver, dns } = setup();
    dns.failing.add('_sip._udp.plain.example.test');
    assert.deepEqual((await resolver.resolve({ host: 'plain.example.test' })).map(addr), ['127.0.0.13:5060']);
  });

  it('MUST reject with the DNS error when DNS failed and no target was found', async () => {
    const { resolver, dns } = setup();
    dns.failing.add('_sip._udp.plain.example.test');
    dns.failing.add('plain.example.test');
    await assert.rejects(resolver.resolve({ host: 'plain.example.test' }), { code: 'DNS_TIMEOUT' });
    // One SRV target failing while another resolves still gives the working one.
    dns.failing.add('nl.example.test');
    assert.deepEqual((await resolver.resolve({ host: 'example.test' })).map(addr), ['127.0.0.12:5060']);
  });

  it('MUST refuse sips: over UDP with SIP_RESOLVE', async () => {
    const { resolver } = setup();
    await assert.rejects(resolver.resolve({ host: 'example.test', secure: true, transport: 'udp' }), { code: 'SIP_RESOLVE' });
    await assert.rejects(
      resolver.resolve({ scheme: 'sip', host: 'example.test', params: new Map([['transport', 'sctp']]), headers: new Map() }),
      { code: 'SIP_RESOLVE' },
    );
  });

  it('MUST send to maddr instead of the host when present', async () => {
    const { resolver } = setup();
    const targets = await resolver.resolve({ scheme: 'sip', host: 'example.test', params: new Map([['maddr', '127.0.0.77']]), headers: new Map() });
    assert.deepEqual(targets.map(addr), ['127.0.0.77:5060']);
  });
});
