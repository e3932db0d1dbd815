/**
 * The per-node admin HTTP API (DESIGN.md §3 admin/): read-only JSON views of the
 * node for operators and the lab dashboard, plus Prometheus metrics.
 *
 *   GET /api/health         {ok:true, node}
 *   GET /api/status         NodeStatus
 *   GET /api/registrations  RegistrationView[]
 *   GET /api/calls          CallSummary[]
 *   GET /metrics            Prometheus text format
 *   POST /api/trunks/:name/unregister|register   (AdminControl, else 501)
 *   POST /api/peers/:name/cut|restore            (AdminControl, else 501)
 *
 * It binds only to the configured address (the lab and production configs put it
 * on the node's own address; nothing listens on all interfaces by default).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { errorCode } from '../util/errors.ts';
import { AdminNoControlError, httpStatusOf } from './errors.ts';
import type { AdminControl, AdminSource, RegistrationView } from './types.ts';

export interface AdminServerOptions {
  address: string;
  /** 0 picks a free port (tests). */
  port: number;
  node: AdminSource;
  /** Failure-scenario controls (lab); the control routes answer 501 without them. */
  control?: AdminControl;
  /** prom-client registry holding the node's metrics; a fresh one if omitted. */
  registry?: Registry;
  /** Add prom-client's default process metrics to the registry (default true; skipped if already there). */
  defaultMetrics?: boolean;
  /** Wall clock in ms, for expiresInSec (default Date.now). */
  now?: () => number;
}

export interface AdminServer {
  readonly address: string;
  readonly port: number;
  /** Base URL, e.g. "http://127.0.0.11:8080". */
  readonly url: string;
  /** The registry served on /metrics, for the node to register its metrics in. */
  readonly registry: Registry;
  /** Idempotent. */
  close(): Promise<void>;
}

export async function createAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const registry = opts.registry ?? new Registry();
  if ((opts.defaultMetrics ?? true) && !registry.getSingleMetric('process_cpu_user_seconds_total')) {
    collectDefaultMetrics({ register: registry });
  }
  const now = opts.now ?? Date.now;
  const app = buildAdminApp(opts.node, registry, now, opts.control);
  await app.listen({ host: opts.address, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.address.includes(':') ? `[${opts.address}]` : opts.address;
  let closing: Promise<void> | undefined;
  return {
    address: opts.address,
    port,
    url: `http://${host}:${port}`,
    registry,
    close: () => (closing ??= app.close()),
  };
}

/** The fastify app without listening (for inject()-style use). */
export function buildAdminApp(node: AdminSource, registry: Registry, now: () => number = Date.now, control?: AdminControl): FastifyInstance {
  const app = Fastify({ logger: false });
  app.setErrorHandler((err: unknown, _req, reply) => {
    // A failing AdminSource must never take the node down: report and carry on.
    const status = httpStatusOf(err);
    const message = err instanceof Error ? err.message : String(err);
    void reply.code(status).send({ ok: false, error: { code: errorCode(err), message } });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ ok: false, error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } });
  });
  app.get('/api/health', async () => ({ ok: true, node: node.status().name }));
  app.get('/api/status', async () => node.status());
  app.get('/api/registrations', async (): Promise<RegistrationView[]> => {
    const t = now();
    return node.registrations().map((b) => ({ ...b, expiresInSec: Math.max(0, Math.round((b.expiresAt - t) / 1000)) }));
  });
  app.get('/api/calls', async () => node.calls());
  const needControl = (): AdminControl => {
    if (!control) throw new AdminNoControlError('this node offers no trunk/peer controls');
    return control;
  };
  app.post<{ Params: { name: string; action: string } }>('/api/trunks/:name/:action', async (req, reply) => {
    const { name, action } = req.params;
    if (action !== 'register' && action !== 'unregister') return reply.callNotFound();
    await needControl().setTrunkEnabled(name, action === 'register');
    return { ok: true, trunk: name, enabled: action === 'register' };
  });
  app.post<{ Params: { name: string; action: string } }>('/api/peers/:name/:action', async (req, reply) => {
    const { name, action } = req.params;
    if (action !== 'cut' && action !== 'restore') return reply.callNotFound();
    await needControl().setPeerLink(name, action === 'restore');
    return { ok: true, peer: name, up: action === 'restore' };
  });
  app.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return app;
}
