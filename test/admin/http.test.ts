import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Counter, Registry } from 'prom-client';
import { createAdminServer, type AdminServer } from '../../src/admin/http.ts';
import type { AdminControl, AdminSource, CallSummary, NodeStatus } from '../../src/admin/types.ts';
import { AdminNotFoundError } from '../../src/admin/errors.ts';
import type { Binding } from '../../src/store/location-store.ts';
import { SpacephoneError } from '../../src/util/errors.ts';

const NOW = 1_800_000_000_000;

const status: NodeStatus = {
  name: 'nl', role: 'primary', version: '0.1.0', startedAt: NOW - 90_000, uptimeSec: 90,
  listeners: [{ transport: 'udp', address: '127.0.0.11', port: 5060 }, { transport: 'tls', address: '127.0.0.11', port: 5061 }],
  counts: { registrations: 1, activeCalls: 1, totalCalls: 4 },
  peers: [{ name: 'de', up: true }],
  trunks: [{ name: 'budgetphone', registered: false }],
};

const binding: Binding = {
  aor: '2001@lab.spacephone.test', contact: '<sip:2001@127.0.0.50:5062>', q: 1, expiresAt: NOW + 42_400,
  callId: 'c1', cseq: 3, path: [], updatedAt: NOW - 1000, failures: 0, reachable: true, node: 'nl',
  flow: { transport: 'udp', address: '127.0.0.50', port: 5062, localAddress: '127.0.0.11', localPort: 5060 },
};

const call: CallSummary = { id: 'k1', direction: 'inbound', state: 'ringing', from: '+31612345678', to: '2001', via: 'budgetphone', startedAt: NOW - 5000 };

class BrokenSource extends SpacephoneError {
  readonly code = 'TEST_BROKEN';
}

function fakeSource(over: Partial<AdminSource> = {}): AdminSource {
  return { status: () => status, registrations: () => [binding], calls: () => [call], ...over };
}

async function getJson(url: string): Promise<{ status: number; body: unknown; type: string | null }> {
  const r = await fetch(url);
  return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
}

describe('admin HTTP API', () => {
  const registry = new Registry();
  const calls = new Counter({ name: 'spacephone_calls_total', help: 'calls', registers: [registry] });
  let srv: AdminServer;
  before(async () => {
    srv = await createAdminServer({ address: '127.0.0.1', port: 0, node: fakeSource(), registry, now: () => NOW });
  });
  after(() => srv.close());

  it('MUST answer GET /api/health with {ok:true, node}', async () => {
    const r = await getJson(`${srv.url}/api/health`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { ok: true, node: 'nl' });
  });

  it('MUST serve the node status as JSON on GET /api/status', async () => {
    const r = await getJson(`${srv.url}/api/status`);
    assert.equal(r.status, 200);
    assert.match(r.type ?? '', /application\/json/);
    assert.deepEqual(r.body, status);
  });

  it('MUST list registrations with the seconds left until expiry', async () => {
    const r = await getJson(`${srv.url}/api/registrations`);
    assert.deepEqual(r.body, [{ ...binding, expiresInSec: 42 }]);
  });

  it('MUST list calls on GET /api/calls', async () => {
    assert.deepEqual((await getJson(`${srv.url}/api/calls`)).body, [call]);
  });

  it('MUST expose default and node-registered metrics in Prometheus format on /metrics', async () => {
    calls.inc(3);
    const r = await fetch(`${srv.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await r.text();
    assert.match(text, /^spacephone_calls_total 3$/m);
    assert.match(text, /^process_cpu_user_seconds_total /m);
  });

  it('MUST answer unknown routes with a JSON 404', async () => {
    const r = await getJson(`${srv.url}/api/nope`);
    assert.equal(r.status, 404);
    assert.deepEqual((r.body as { ok: boolean }).ok, false);
  });

  it('MUST bind only to the configured address', async () => {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(srv.port, '127.0.0.2');
      s.on('connect', () => { s.destroy(); resolve(false); });
      s.on('error', () => resolve(true));
    });
    assert.equal(refused, true);
  });
});

describe('admin HTTP API robustness and lifecycle', () => {
  it('MUST turn a failing AdminSource into a JSON 500 with the error code and keep serving', async () => {
    let fail = true;
    const srv = await createAdminServer({
      address: '127.0.0.1', port: 0, defaultMetrics: false,
      node: fakeSource({ calls: () => { if (fail) throw new BrokenSource('store gone'); return []; } }),
    });
    try {
      const r = await getJson(`${srv.url}/api/calls`);
      assert.equal(r.status, 500);
      assert.deepEqual(r.body, { ok: false, error: { code: 'TEST_BROKEN', message: 'store gone' } });
      fail = false;
      assert.deepEqual((await getJson(`${srv.url}/api/calls`)).body, []);
      assert.equal((await getJson(`${srv.url}/api/health`)).status, 200);
    } finally {
      await srv.close();
    }
  });

  it('MUST free its port on close(), tolerate a second close(), and accept a reused registry', async () => {
    const registry = new Registry();
    const a = await createAdminServer({ address: '127.0.0.1', port: 0, node: fakeSource(), registry });
    const port = a.port;
    await a.close();
    await a.close();
    // Same registry again (node restart in-process): default metrics must not be registered twice.
    const b = await createAdminServer({ address: '127.0.0.1', port, node: fakeSource(), registry });
    assert.equal(b.port, port);
    assert.equal((await getJson(`${b.url}/api/health`)).status, 200);
    await b.close();
  });
});

describe('admin control routes (lab failure scenarios)', () => {
  async function post(url: string): Promise<{ status: number; body: unknown }> {
    const r = await fetch(url, { method: 'POST' });
    return { status: r.status, body: await r.json() };
  }

  it('MUST pass trunk unregister/register and peer cut/restore to the AdminControl', async () => {
    const log: string[] = [];
    const control: AdminControl = {
      setTrunkEnabled: async (t, on) => {
        if (t !== 'budgetphone') throw new AdminNotFoundError(`no trunk ${t}`);
        log.push(`trunk ${t} ${on}`);
      },
      setPeerLink: (p, up) => { log.push(`peer ${p} ${up}`); },
    };
    const srv = await createAdminServer({ address: '127.0.0.1', port: 0, node: fakeSource(), control, defaultMetrics: false });
    try {
      assert.deepEqual(await post(`${srv.url}/api/trunks/budgetphone/unregister`), { status: 200, body: { ok: true, trunk: 'budgetphone', enabled: false } });
      assert.deepEqual(await post(`${srv.url}/api/trunks/budgetphone/register`), { status: 200, body: { ok: true, trunk: 'budgetphone', enabled: true } });
      assert.deepEqual(await post(`${srv.url}/api/peers/de/cut`), { status: 200, body: { ok: true, peer: 'de', up: false } });
      assert.deepEqual(await post(`${srv.url}/api/peers/de/restore`), { status: 200, body: { ok: true, peer: 'de', up: true } });
      assert.deepEqual(log, ['trunk budgetphone false', 'trunk budgetphone true', 'peer de false', 'peer de true']);
      const unknown = await post(`${srv.url}/api/trunks/nosuch/unregister`);
      assert.equal(unknown.status, 404);
      assert.equal((unknown.body as { error: { code: string } }).error.code, 'ADMIN_NOT_FOUND');
      assert.equal((await post(`${srv.url}/api/peers/de/explode`)).status, 404);
      assert.equal(log.length, 4, 'rejected requests reach no control');
    } finally {
      await srv.close();
    }
  });

  it('MUST answer 501 on control routes when the node offers no AdminControl', async () => {
    const srv = await createAdminServer({ address: '127.0.0.1', port: 0, node: fakeSource(), defaultMetrics: false });
    try {
      const r = await post(`${srv.url}/api/peers/de/cut`);
      assert.equal(r.status, 501);
      assert.equal((r.body as { error: { code: string } }).error.code, 'ADMIN_NO_CONTROL');
    } finally {
      await srv.close();
    }
  });
});

describe('admin HTTP API: per-call media counters', () => {
  it('MUST carry a call\'s media counters (aToB, bToA) unchanged in GET /api/calls', async () => {
    const withMedia: CallSummary = { ...call, state: 'answered', answeredAt: NOW - 1000, media: { aToB: { packets: 50, bytes: 8600 }, bToA: { packets: 49, bytes: 8428 } } };
    const srv = await createAdminServer({ address: '127.0.0.1', port: 0, node: fakeSource({ calls: () => [withMedia, call] }), defaultMetrics: false });
    try {
      const body = (await getJson(`${srv.url}/api/calls`)).body as CallSummary[];
      assert.deepEqual(body[0]?.media, withMedia.media);
      assert.equal(body[1]?.media, undefined, 'a call without media ports has no counters');
    } finally {
      await srv.close();
    }
  });
});
