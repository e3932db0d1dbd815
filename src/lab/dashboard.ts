/**
 * The lab dashboard and control API (DESIGN.md §6), on http://127.0.0.1:8080 by
 * default:
 *
 *   GET  /                        HTML dashboard (polls /?partial=1 every 2 s)
 *   GET  /api/health              {ok:true, lab:true}
 *   GET  /api/overview            nodes + their status, registrations, calls (JSON)
 *   GET  /api/nodes               LabNodeInfo[]
 *   GET  /api/nodes/:name         LabNodeInfo
 *   POST /api/nodes/:name/stop    SIGTERM, SIGKILL after the grace period
 *   POST /api/nodes/:name/start   waits until healthy (500 + output tail on failure)
 *   POST /api/nodes/:name/restart
 *   POST /api/nodes/:name/trunks/:trunk/unregister|register   take a node off a provider / back
 *   POST /api/links/:a/:b/cut|restore                        cut / restore the peer link a<->b
 *
 * Trunk and link controls are forwarded to the nodes' admin APIs
 * (POST /api/trunks/..., /api/peers/..., see src/admin/http.ts); a node that is
 * not up answers 409 LAB_NODE_DOWN.
 * Node data is fetched from each node's admin API (src/admin/http.ts) with a
 * short timeout so a hung node cannot hang the dashboard.
 */
import Fastify from 'fastify';
import type { CallSummary, NodeStatus, RegistrationView } from '../admin/types.ts';
import { errorCode } from '../util/errors.ts';
import { LabNodeStartError, LabSetupError } from './errors.ts';
import type { NodeProcess } from './node-process.ts';
import { renderContent, renderPage, type LabNodeOverview, type LabOverview } from './dashboard-html.ts';
import type { LabAddress } from './topology.ts';

export interface LabDashboardOptions {
  address: string;
  port: number;
  nodes: readonly NodeProcess[];
  domain: string;
  dns?: LabAddress;
  /** Per-request timeout towards node admin APIs (default 1000 ms). */
  nodeFetchTimeoutMs?: number;
}

export interface LabDashboard {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const ACTIONS = ['stop', 'start', 'restart'] as const;
type Action = (typeof ACTIONS)[number];

async function getJson<T>(url: string, timeoutMs: number): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

export async function overview(opts: Pick<LabDashboardOptions, 'nodes' | 'domain' | 'dns' | 'nodeFetchTimeoutMs'>): Promise<LabOverview> {
  const timeout = opts.nodeFetchTimeoutMs ?? 1000;
  const nodes = await Promise.all(opts.nodes.map(async (n): Promise<LabNodeOverview> => {
    const base: LabNodeOverview = { ...n.info(), registrations: [], calls: [] };
    if (n.state !== 'up') return base;
    const [status, regs, calls] = await Promise.allSettled([
      getJson<NodeStatus>(`${n.adminUrl}/api/status`, timeout),
      getJson<RegistrationView[]>(`${n.adminUrl}/api/registrations`, timeout),
      getJson<CallSummary[]>(`${n.adminUrl}/api/calls`, timeout),
    ]);
    const failed = [status, regs, calls].find((r) => r.status === 'rejected');
    return {
      ...base,
      status: status.status === 'fulfilled' ? status.value : undefined,
      registrations: regs.status === 'fulfilled' && Array.isArray(regs.value) ? regs.value : [],
      calls: calls.status === 'fulfilled' && Array.isArray(calls.value) ? calls.value : [],
      fetchError: failed && failed.status === 'rejected' ? String((failed.reason as Error).message ?? failed.reason) : undefined,
    };
  }));
  return { domain: opts.domain, dns: opts.dns, nodes };
}

export async function createLabDashboard(opts: LabDashboardOptions): Promise<LabDashboard> {
  const app = Fastify({ logger: false });
  const byName = new Map(opts.nodes.map((n) => [n.name, n]));
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ ok: false, error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } });
  });
  app.setErrorHandler((err: unknown, _req, reply) => {
    const message = err instanceof Error ? err.message : String(err);
    void reply.code(500).send({ ok: false, error: { code: errorCode(err), message } });
  });

  app.get<{ Querystring: { partial?: string } }>('/', async (req, reply) => {
    const o = await overview(opts);
    void reply.type('text/html; charset=utf-8');
    return req.query.partial ? renderContent(o) : renderPage(o);
  });
  app.get('/api/health', async () => ({ ok: true, lab: true }));
  app.get('/api/overview', async () => overview(opts));
  app.get('/api/nodes', async () => opts.nodes.map((n) => n.info()));
  app.get<{ Params: { name: string } }>('/api/nodes/:name', async (req, reply) => {
    const n = byName.get(req.params.name);
    if (!n) return reply.code(404).send({ ok: false, error: { code: 'LAB_UNKNOWN_NODE', message: `no lab node ${req.params.name}` } });
    return n.info();
  });
  app.post<{ Params: { name: string; action: string } }>('/api/nodes/:name/:action', async (req, reply) => {
    const n = byName.get(req.params.name);
    if (!n) return reply.code(404).send({ ok: false, error: { code: 'LAB_UNKNOWN_NODE', message: `no lab node ${req.params.name}` } });
    const action = req.params.action as Action;
    if (!ACTIONS.includes(action)) return reply.code(404).send({ ok: false, error: { code: 'NOT_FOUND', message: `no action ${req.params.action}` } });
    try {
      await n[action]();
      return { ok: true, node: n.info() };
    } catch (err) {
      const tail = err instanceof LabNodeStartError ? err.outputTail : [];
      return reply.code(500).send({ ok: false, error: { code: errorCode(err), message: (err as Error).message, outputTail: tail }, node: n.info() });
    }
  });

  const timeout = opts.nodeFetchTimeoutMs ?? 1000;
  /** Forwards one control POST to a node's admin API; never throws. */
  const forward = async (n: NodeProcess, path: string): Promise<{ status: number; body: unknown }> => {
    if (n.state !== 'up') return { status: 409, body: { ok: false, error: { code: 'LAB_NODE_DOWN', message: `node ${n.name} is ${n.state}` } } };
    try {
      const r = await fetch(`${n.adminUrl}${path}`, { method: 'POST', signal: AbortSignal.timeout(Math.max(timeout, 5000)) });
      const text = await r.text();
      let body: unknown;
      try { body = JSON.parse(text); } catch { body = { ok: false, error: { code: 'LAB_BAD_NODE_ANSWER', message: text.slice(0, 200) } }; }
      return { status: r.status, body };
    } catch (err) {
      return { status: 502, body: { ok: false, error: { code: 'LAB_NODE_UNREACHABLE', message: `${n.adminUrl}${path}: ${(err as Error).message}` } } };
    }
  };
  const unknownNode = (name: string): { ok: false; error: { code: string; message: string } } => ({ ok: false, error: { code: 'LAB_UNKNOWN_NODE', message: `no lab node ${name}` } });

  app.post<{ Params: { name: string; trunk: string; action: string } }>('/api/nodes/:name/trunks/:trunk/:action', async (req, reply) => {
    const { name, trunk, action } = req.params;
    const n = byName.get(name);
    if (!n) return reply.code(404).send(unknownNode(name));
    if (action !== 'register' && action !== 'unregister') return reply.callNotFound();
    const r = await forward(n, `/api/trunks/${encodeURIComponent(trunk)}/${action}`);
    return reply.code(r.status).send(r.body);
  });
  app.post<{ Params: { a: string; b: string; action: string } }>('/api/links/:a/:b/:action', async (req, reply) => {
    const { a, b, action } = req.params;
    const na = byName.get(a);
    const nb = byName.get(b);
    if (!na || !nb || a === b) return reply.code(404).send(unknownNode(!na ? a : b));
    if (action !== 'cut' && action !== 'restore') return reply.callNotFound();
    // A link has two ends: each node stops (or resumes) talking to the other.
    const [ra, rb] = await Promise.all([forward(na, `/api/peers/${encodeURIComponent(b)}/${action}`), forward(nb, `/api/peers/${encodeURIComponent(a)}/${action}`)]);
    const ok = ra.status < 300 && rb.status < 300;
    return reply.code(ok ? 200 : Math.max(ra.status, rb.status)).send({ ok, link: [a, b], up: action === 'restore', results: { [a]: ra.body, [b]: rb.body } });
  });

  try {
    await app.listen({ host: opts.address, port: opts.port });
  } catch (err) {
    await app.close();
    throw new LabSetupError(`dashboard: cannot listen on ${opts.address}:${opts.port} (${(err as Error).message}); is another lab running?`, { cause: err });
  }
  const a = app.server.address();
  const port = typeof a === 'object' && a ? a.port : opts.port;
  const host = opts.address.includes(':') ? `[${opts.address}]` : opts.address;
  let closing: Promise<void> | undefined;
  return { url: `http://${host}:${port}`, port, close: () => (closing ??= app.close()) };
}
