/**
 * RFC 3263 §4 resolution against a real DNS server (dnsmasq) on loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DnsClient } from '../../../src/sip/resolver/dns-client.ts';
import { SipResolver, type Target } from '../../../src/sip/resolver/resolver.ts';
import { SystemClock } from '../../../src/sip/clock.ts';
import type { SipUri } from '../../../src/sip/message/types.ts';
import { requireTool } from '../../support/tools.ts';
import { startDnsmasq, type Dnsmasq } from './dnsmasq.ts';

// dnsmasq-base is a test dependency (Debian package, installed by .ci/run): a missing
// dnsmasq fails the suite, it never skips it.

const RECORDS = [
  // DESIGN.md §1: NL primary (prio 10, weight 20), DE fallback (prio 20, weight 10).
  '--srv-host=_sip._udp.example.test,de.example.test,5070,20,10',
  '--srv-host=_sip._udp.example.test,nl.example.test,5060,10,20',
  '--srv-host=_sip._tcp.example.test,nl.example.test,5060,10,20',
  '--srv-host=_sip._tcp.example.test,de.example.test,5060,20,10',
  '--srv-host=_sips._tcp.example.test,nl.example.test,5061,10,20',
  '--srv-host=_sip._udp.dead.example.test,.',
  '--host-record=nl.example.test,127.0.0.11,::1',
  '--host-record=de.example.test,127.0.0.12',
  '--host-record=nosrv.example.test,127.0.0.13',
  '--host-record=dead.example.test,127.0.0.14',
  '--cname=alias.example.test,nl.example.test',
  // RFC 3263 §4.1 NAPTR: TCP preferred (order 10) over UDP (order 20); an unusable "a" flag record.
  '--naptr-record=naptr.example.test,20,10,s,SIP+D2U,,_sip._udp.nsrv.example.test',
  '--naptr-record=naptr.example.test,10,10,s,SIP+D2T,,_sip._tcp.nsrv.example.test',
  '--naptr-record=naptr.example.test,5,10,a,SIP+D2T,,de.example.test',
  '--srv-host=_sip._udp.nsrv.example.test,nl.example.test,5062,10,10',
  '--srv-host=_sip._tcp.nsrv.example.test,de.example.test,5063,10,10',
  ...Array.from({ length: 60 }, (_, i) => `--host-record=big.example.test,127.0.1.${i + 1}`),
];

function sipUri(host: string, extra: Partial<SipUri> = {}): SipUri {
  return { scheme: 'sip', host, params: new Map(), headers: new Map(), ...extra };
}

const brief = (ts: Target[]): string[] => ts.map((t) => `${t.transport} ${t.address}:${t.port} ${t.host}`);

describe('SipResolver against dnsmasq (RFC 3263 §4, RFC 2782)', { timeout: 20_000 }, () => {
  let dnsmasq: Dnsmasq;
  it('needs dnsmasq (Debian dnsmasq-base)', () => {
    requireTool('dnsmasq');
  });
  let dns: DnsClient;
  let resolver: SipResolver;
  const clock = new SystemClock();

  before(async () => {
    dnsmasq = await startDnsmasq(RECORDS);
    dns = new DnsClient({ server: { address: dnsmasq.address, port: dnsmasq.port }, clock, timeoutMs: 500 });
    resolver = new SipResolver({ dns, clock });
  });
  after(async () => {
    dns?.close();
    await dnsmasq?.stop();
  });

  it('MUST order SRV targets by priority (10 before 20) and prefer UDP, then TCP, then TLS', async () => {
    const targets = await resolver.resolve(sipUri('example.test'));
    assert.deepEqual(brief(targets), [
      'udp 127.0.0.11:5060 nl.example.test',
      'udp ::1:5060 nl.example.test',
      'udp 127.0.0.12:5070 de.example.test',
      'tcp 127.0.0.11:5060 nl.example.test',
      'tcp ::1:5060 nl.example.test',
      'tcp 127.0.0.12:5060 de.example.test',
      'tls 127.0.0.11:5061 nl.example.test',
      'tls ::1:5061 nl.example.test',
    ]);
  });

  it('MUST use only _sips._tcp for a sips: URI', async () => {
    const targets = await resolver.resolve(sipUri('example.test', { scheme: 'sips' }));
    assert.deepEqual(brief(targets), ['tls 127.0.0.11:5061 nl.example.test', 'tls ::1:5061 nl.example.test']);
  });

  it('MUST query only the SRV of the transport named in the transport parameter', async () => {
    const targets = await resolver.resolve(sipUri('example.test', { params: new Map([['transport', 'tcp']]) }));
    assert.deepEqual(brief(targets), [
      'tcp 127.0.0.11:5060 nl.example.test',
      'tcp ::1:5060 nl.example.test',
      'tcp 127.0.0.12:5060 de.example.test',
    ]);
  });

  it('MUST skip SRV and look up A/AAAA when the URI has an explicit port', async () => {
    const targets = await resolver.resolve(sipUri('nl.example.test', { port: 5080 }));
    assert.deepEqual(brief(targets), ['udp 127.0.0.11:5080 nl.example.test', 'udp ::1:5080 nl.example.test']);
    // example.test itself has no A record, only SRV: an explicit port must not use the SRV.
    assert.deepEqual(await resolver.resolve(sipUri('example.test', { port: 5060 })), []);
  });

  it('MUST fall back to A/AAAA on the default port when there are no SRV records', async () => {
    assert.deepEqual(brief(await resolver.resolve(sipUri('nosrv.example.test'))), ['udp 127.0.0.13:5060 nosrv.example.test']);
    assert.deepEqual(brief(await resolver.resolve({ host: 'nosrv.example.test', secure: true })), [
      'tls 127.0.0.13:5061 nosrv.example.test',
    ]);
  });

  it('MUST treat an SRV target of "." as service not offered (RFC 2782)', async () => {
    assert.deepEqual(await resolver.resolve(sipUri('dead.example.test')), []);
  });

  it('MUST follow a CNAME to the address records', async () => {
    assert.deepEqual(brief(await resolver.resolve(sipUri('alias.example.test', { port: 5060 }))), [
      'udp 127.0.0.11:5060 alias.example.test',
      'udp ::1:5060 alias.example.test',
    ]);
  });

  it('MUST use a numeric host directly without DNS, with the default port per transport', async () => {
    assert.deepEqual(brief(await resolver.resolve(sipUri('127.0.0.42'))), ['udp 127.0.0.42:5060 127.0.0.42']);
    assert.deepEqual(brief(await resolver.resolve(sipUri('[::1]', { scheme: 'sips' }))), ['tls ::1:5061 ::1']);
    assert.deepEqual(brief(await resolver.resolve(sipUri('127.0.0.42', { port: 5099, params: new Map([['transport', 'TCP']]) }))), [
      'tcp 127.0.0.42:5099 127.0.0.42',
    ]);
  });

  it('MUST retry over TCP when the UDP answer is truncated (TC bit)', async () => {
    const addrs = await dns.queryA('big.example.test');
    assert.equal(addrs.length, 60);
  });

  it('MUST follow NAPTR order to the SRV names it points at when NAPTR is enabled', async () => {
    const withNaptr = new SipResolver({ dns, clock, naptr: true, families: ['A'] });
    assert.deepEqual(brief(await withNaptr.resolve(sipUri('naptr.example.test'))), [
      'tcp 127.0.0.12:5063 de.example.test',
      'udp 127.0.0.11:5062 nl.example.test',
    ]);
    // No NAPTR records: plain SRV as before.
    assert.deepEqual(brief(await withNaptr.resolve(sipUri('example.test', { scheme: 'sips' }))), ['tls 127.0.0.11:5061 nl.example.test']);
    // Without the option NAPTR is not consulted.
    assert.deepEqual(brief(await resolver.resolve(sipUri('naptr.example.test'))), []);
  });

  it('MUST return nothing for a name that does not exist', async () => {
    assert.deepEqual(await resolver.resolve(sipUri('nothere.example.test')), []);
  });
});
