import { requireTool } from '../support/tools.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Answer, SrvAnswer } from 'dns-packet';
import { LabDnsServer } from '../../src/lab/dns-server.ts';
import { labZone, LAB_NODES, LAB_PROVIDERS } from '../../src/lab/topology.ts';
import { frame, queryPacket, rdata, tcpExchange, tcpQuery, udpExchange, udpQuery } from './dns-client.ts';

const ADDR = '127.0.0.1';

function srv(answers: Answer[] | undefined): Array<{ priority?: number; weight?: number; port: number; target: string }> {
  return (answers ?? []).filter((a): a is SrvAnswer => a.type === 'SRV').map((a) => a.data).sort((x, y) => (x.priority ?? 0) - (y.priority ?? 0));
}

describe('LabDnsServer (lab zone)', () => {
  const server = new LabDnsServer({ address: ADDR, port: 0, zone: labZone() });
  before(() => server.listen());
  after(() => server.close());

  for (const [service, port] of [['_sip._udp', 5060], ['_sip._tcp', 5060], ['_sips._tcp', 5061]] as const) {
    it(`MUST answer ${service} SRV with NL (10/20) then DE (20/10) on port ${port} over UDP`, async () => {
      const r = await udpQuery(ADDR, server.port, `${service}.lab.spacephone.test`, 'SRV');
      assert.equal(r.rcode, 'NOERROR');
      assert.equal(r.flag_aa, true);
      assert.deepEqual(srv(r.answers), [
        { priority: 10, weight: 20, port, target: 'nl.lab.spacephone.test' },
        { priority: 20, weight: 10, port, target: 'de.lab.spacephone.test' },
      ]);
      // RFC 2782: targets' addresses ride along in the additional section.
      const glue = (r.additionals ?? []).filter((a) => a.type === 'A').map((a) => [a.name, rdata(a)]);
      assert.deepEqual(glue.sort(), [['de.lab.spacephone.test', '127.0.0.12'], ['nl.lab.spacephone.test', '127.0.0.11']]);
    });
  }

  it('MUST answer the same SRV records over TCP with 2-byte length framing', async () => {
    const r = await tcpQuery(ADDR, server.port, '_sips._tcp.lab.spacephone.test', 'SRV');
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(srv(r.answers).map((s) => [s.target, s.port]), [['nl.lab.spacephone.test', 5061], ['de.lab.spacephone.test', 5061]]);
  });

  it('MUST answer the A record of every contract name (DESIGN.md §6)', async () => {
    const expected: Array<[string, string]> = [
      ...LAB_NODES.map((n): [string, string] => [n.host, n.address]),
      ...LAB_PROVIDERS.map((p): [string, string] => [p.host, p.address]),
      ['ns.lab.spacephone.test', '127.0.0.10'],
      ['lab.spacephone.test', '127.0.0.11'],
    ];
    assert.deepEqual(expected.slice(0, 8).map((e) => e[1]), ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.21', '127.0.0.22', '127.0.0.23', '127.0.0.24', '127.0.0.25']);
    for (const [name, address] of expected) {
      const r = await udpQuery(ADDR, server.port, name, 'A');
      assert.equal(r.rcode, 'NOERROR', name);
      assert.deepEqual(r.answers?.map(rdata), [address], name);
    }
  });

  it('MUST match names case-insensitively and echo the question name as asked', async () => {
    const r = await udpQuery(ADDR, server.port, 'NL.Lab.SpacePhone.TEST', 'A');
    assert.deepEqual(r.answers?.map((a) => [a.name, rdata(a)]), [['NL.Lab.SpacePhone.TEST', '127.0.0.11']]);
  });

  it('MUST answer NXDOMAIN with the SOA for an unknown name in the zone', async () => {
    const r = await udpQuery(ADDR, server.port, 'nosuch.lab.spacephone.test', 'A');
    assert.equal(r.rcode, 'NXDOMAIN');
    assert.equal(r.flag_aa, true);
    assert.equal(r.answers?.length, 0);
    assert.deepEqual(r.authorities?.map((a) => a.type), ['SOA']);
  });

  it('MUST answer NOERROR/NODATA for an existing name without the asked type and for empty non-terminals', async () => {
    for (const [name, type] of [['nl.lab.spacephone.test', 'AAAA'], ['_udp.lab.spacephone.test', 'SRV']]) {
      const r = await udpQuery(ADDR, server.port, name, type);
      assert.equal(r.rcode, 'NOERROR', name);
      assert.equal(r.answers?.length, 0, name);
      assert.deepEqual(r.authorities?.map((a) => a.type), ['SOA'], name);
    }
  });

  it('MUST answer SOA and NS at the apex', async () => {
    const soa = await udpQuery(ADDR, server.port, 'lab.spacephone.test', 'SOA');
    assert.deepEqual(soa.answers?.map((a) => a.type), ['SOA']);
    const ns = await udpQuery(ADDR, server.port, 'lab.spacephone.test', 'NS');
    assert.deepEqual(ns.answers?.map(rdata), ['ns.lab.spacephone.test']);
    assert.deepEqual(ns.additionals?.map(rdata), ['127.0.0.10']);
  });

  it('MUST refuse names outside its zone (it is not a resolver)', async () => {
    for (const name of ['example.com', 'spacephone.test', 'xlab.spacephone.test']) {
      const r = await udpQuery(ADDR, server.port, name, 'A');
      assert.equal(r.rcode, 'REFUSED', name);
      assert.equal(r.flag_aa, false, name);
      assert.equal(r.answers?.length, 0, name);
    }
  });

  it('MUST refuse zone transfers (AXFR) over TCP', async () => {
    const r = await tcpQuery(ADDR, server.port, 'lab.spacephone.test', 'AXFR');
    assert.equal(r.rcode, 'REFUSED');
    assert.equal(r.answers?.length ?? 0, 0);
  });

  it('MUST answer several pipelined queries on one TCP connection, even when split mid-frame', async () => {
    const all = Buffer.concat([frame(queryPacket('nl.lab.spacephone.test', 'A')), frame(queryPacket('de.lab.spacephone.test', 'A'))]);
    const parts = [all.subarray(0, 1), all.subarray(1, 20), all.subarray(20)];
    const replies = await tcpExchange(ADDR, server.port, parts, 2);
    assert.deepEqual(replies.map((b) => rdata(dnsPacket.decode(b).answers?.[0])), ['127.0.0.11', '127.0.0.12']);
  });

  it('MUST never answer a response message (no reflection loops)', async () => {
    const resp = dnsPacket.encode({ type: 'response', id: 7, questions: [{ name: 'nl.lab.spacephone.test', type: 'A' }] });
    assert.equal(await udpExchange(ADDR, server.port, resp, 300), undefined);
  });

  it('MUST answer FORMERR to an undecodable query that has a readable header', async () => {
    const bad = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]), Buffer.from([0x3f, 0x61])]);
    const r = await udpExchange(ADDR, server.port, bad);
    assert.ok(r);
    assert.equal(r.readUInt16BE(0), 0x1234);
    assert.equal(r.readUInt16BE(2) & 0x800f, 0x8001);
  });

  it('MUST survive random garbage on UDP and TCP and keep answering', async () => {
    const sock = dgram.createSocket('udp4');
    for (let i = 0; i < 500; i++) {
      const g = randomBytes(Math.floor(Math.random() * 600));
      if (i % 3 === 0 && g.length >= 3) g[2] &= 0x7f; // clear QR so some reach the decoder as "queries"
      sock.send(g, server.port, ADDR);
    }
    await new Promise<void>((r) => sock.close(() => r()));
    for (let i = 0; i < 20; i++) {
      const s = net.connect(server.port, ADDR);
      s.on('error', () => {});
      s.on('connect', () => { s.write(randomBytes(1 + Math.floor(Math.random() * 3000))); setTimeout(() => s.destroy(), 20); });
    }
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(rdata((await udpQuery(ADDR, server.port, 'nl.lab.spacephone.test', 'A')).answers?.[0]), '127.0.0.11');
    assert.equal(rdata((await tcpQuery(ADDR, server.port, 'de.lab.spacephone.test', 'A')).answers?.[0]), '127.0.0.12');
  });

  it('MUST never throw from respond() for random and mutated queries', () => {
    const seed = queryPacket('_sip._udp.lab.spacephone.test', 'SRV');
    for (let i = 0; i < 3000; i++) {
      const m = Buffer.from(seed);
      for (let k = 0; k < 1 + (i % 4); k++) m[Math.floor(Math.random() * m.length)] = Math.floor(Math.random() * 256);
      assert.doesNotThrow(() => server.respond(m, 'udp'));
      assert.doesNotThrow(() => server.respond(randomBytes(i % 100), 'tcp'));
    }
  });

  it('MUST be queryable by dig (an implementation we did not write)', async () => {
    requireTool('dig');
    const run = (args: string[]): Promise<string | undefined> => new Promise((resolve) => {
      execFile('dig', args, { timeout: 5000 }, (err, stdout) => resolve(err ? undefined : stdout));
    });
    const udp = await run([`@${ADDR}`, '-p', String(server.port), '+short', '_sip._udp.lab.spacephone.test', 'SRV']);
    assert.ok(udp !== undefined, 'dig answered');
    assert.deepEqual(udp.trim().split('\n').sort(), ['10 20 5060 nl.lab.spacephone.test.', '20 10 5060 de.lab.spacephone.test.']);
    const tcp = await run([`@${ADDR}`, '-p', String(server.port), '+tcp', '+short', 'space.lab.spacephone.test', 'A']);
    assert.equal(tcp?.trim(), '127.0.0.13');
  });
});

describe('LabDnsServer truncation', () => {
  // 60 A records: 60 * 16 bytes of RR alone exceed the 512-byte UDP limit.
  const many = Array.from({ length: 60 }, (_, i) => ({ name: 'big', type: 'A' as const, data: `127.0.3.${i + 1}` }));
  const server = new LabDnsServer({ address: ADDR, port: 0, zone: { origin: 'big.test', records: many } });
  before(() => server.listen());
  after(() => server.close());

  it('MUST set TC and stay within 512 bytes over UDP without EDNS (RFC 1035 §4.2.1)', async () => {
    const raw = await udpExchange(ADDR, server.port, queryPacket('big.big.test', 'A'));
    assert.ok(raw);
    assert.ok(raw.length <= 512, `got ${raw.length} bytes`);
    const r = dnsPacket.decode(raw);
    assert.equal(r.flag_tc, true);
    assert.equal(r.answers?.length, 0);
  });

  it('MUST give the full answer over TCP', async () => {
    const r = await tcpQuery(ADDR, server.port, 'big.big.test', 'A');
    assert.equal(r.flag_tc, false);
    assert.equal(r.answers?.length, 60);
  });

  it('MUST give the full answer over UDP when EDNS advertises a large enough buffer (RFC 6891)', async () => {
    const r = await udpQuery(ADDR, server.port, 'big.big.test', 'A', {
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    assert.equal(r.flag_tc, false);
    assert.equal(r.answers?.length, 60);
    assert.ok(r.additionals?.some((a) => a.type === 'OPT'));
  });
});

describe('LabDnsServer lifecycle', () => {
  it('MUST free its UDP and TCP port on close() and tolerate a second close()', async () => {
    const s = new LabDnsServer({ address: ADDR, port: 0, zone: labZone() });
    await s.listen();
    const port = s.port;
    const open = net.connect(port, ADDR);
    open.on('error', () => {});
    await new Promise((r) => open.on('connect', r));
    await s.close();
    await s.close();
    const u = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => { u.once('error', reject); u.bind(port, ADDR, () => resolve()); });
    await new Promise<void>((r) => u.close(() => r()));
    const t = net.createServer();
    await new Promise<void>((resolve, reject) => { t.once('error', reject); t.listen(port, ADDR, () => resolve()); });
    await new Promise<void>((r) => t.close(() => r()));
    open.destroy();
  });
});
