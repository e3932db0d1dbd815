/**
 * `npm start` as a newcomer meets it: the real lab (three node processes, the lab
 * DNS, the dashboard) on the contract addresses of DESIGN.md §6. Phones find NL
 * through the lab DNS SRV records, register with digest auth, call each other
 * through NL with media anchored; the dashboard lists the registrations; stopping
 * the lab leaves no process and no port behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLab, type LabHandle } from '../../src/lab/lab.ts';
import { SimPhone, type SimCall } from '../../src/lab/sim-phone/index.ts';
import { PortPool } from '../../src/media/port-pool.ts';
import { SystemClock } from '../../src/sip/clock.ts';
import { DnsClient } from '../../src/sip/resolver/dns-client.ts';
import { SipResolver } from '../../src/sip/resolver/resolver.ts';
import { once, waitFor } from '../pbx/calls/harness.ts';

const DOMAIN = 'lab.spacephone.test';
const FREQS = [500, 900, 1300];

describe('the lab (npm start) end to end', { timeout: 90_000 }, () => {
  let lab: LabHandle;
  let dir: string;
  const lines: string[] = [];
  const phones: SimPhone[] = [];
  const ports = new PortPool({ min: 30100, max: 30199 });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spacephone-lab-'));
    lab = await runLab({ dir, output: (l) => lines.push(l), startTimeoutMs: 40_000 });
  });
  after(async () => {
    for (const p of phones) await p.close();
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('MUST print "lab ready" once every part is up', () => {
    assert.equal(lines.filter((l) => l === 'lab ready').length, 1);
  });

  it('MUST let phones find NL by DNS SRV, register with digest, and call each other with media through the node', async () => {
    const clock = new SystemClock();
    const dns = new DnsClient({ server: { address: '127.0.0.10', port: 5353 }, clock });
    const resolver = new SipResolver({ dns, clock, transports: ['udp'] });
    const targets = await resolver.resolve({ host: DOMAIN });
    dns.close();
    assert.deepEqual(targets.slice(0, 2).map((t) => `${t.address}:${t.port}`), ['127.0.0.11:5060', '127.0.0.12:5060'], 'SRV order: NL (prio 10) then DE (prio 20)');
    const proxy = { transport: 'udp' as const, address: targets[0].address, port: targets[0].port };
    const a = new SimPhone({ address: '127.0.0.51', user: '2001', password: 'lab-2001', domain: DOMAIN, proxy, ports });
    const b = new SimPhone({ address: '127.0.0.52', user: '2002', password: 'lab-2002', domain: DOMAIN, proxy, ports, incoming: 'manual' });
    phones.push(a, b);
    await a.start();
    await b.start();
    assert.equal(await a.register(), 200);
    assert.equal(await b.register(), 200);

    const overview = (await (await fetch('http://127.0.0.11:8080/api/registrations')).json()) as Array<{ aor: string }>;
    assert.deepEqual(overview.map((r) => r.aor).sort(), [`2001@${DOMAIN}`, `2002@${DOMAIN}`]);
    const page = await (await fetch('http://127.0.0.1:8080/')).text();
    assert.match(page, /nl/);

    const incoming = once<[SimCall]>(b, 'incoming', 10_000);
    const call = await a.call(`sip:2002@${DOMAIN}`);
    const [bCall] = await incoming;
    const answered = once(call, 'answered', 10_000);
    bCall.answer();
    await answered;
    await Promise.all([call.sendTone(500, 400), bCall.sendTone(1300, 400)]);
    await waitFor(() => bCall.audio.packetsIn > 10 && call.audio.packetsIn > 10, 5000, 'media both ways');
    assert.equal(bCall.heardFrequency(FREQS), 500);
    assert.equal(call.heardFrequency(FREQS), 1300);
    const calls = (await (await fetch('http://127.0.0.11:8080/api/calls')).json()) as unknown[];
    assert.equal(calls.length, 1, 'NL shows the call');
    const ended = once(bCall, 'ended', 10_000);
    call.hangup();
    await ended;
  });

  it('MUST register an internal extension at SpaceNode', async () => {
    const proxy = { transport: 'udp' as const, address: '127.0.0.13', port: 5060 };
    const p = new SimPhone({ address: '127.0.0.53', user: '100', password: 'lab-100', domain: 'space.lab.spacephone.test', proxy, ports });
    phones.push(p);
    await p.start();
    assert.equal(await p.register(), 200);
  });

  it('MUST stop every node and free the contract ports', async () => {
    for (const p of phones.splice(0)) await p.close();
    await lab.stop();
    const pids = lab.nodes.map((n) => n.info().pid).filter((p): p is number => typeof p === 'number');
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'node process is gone');
    for (const address of ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.10']) {
      const port = address === '127.0.0.10' ? 5353 : 5060;
      await new Promise<void>((resolve, reject) => {
        const s = createSocket('udp4');
        s.once('error', reject);
        s.bind(port, address, () => s.close(() => resolve()));
      });
    }
    await waitFor(() => ports.inUse === 0, 2000, 'phone media released');
  });
});
