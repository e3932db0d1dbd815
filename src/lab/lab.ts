/**
 * The lab runner (`spacephone lab`, DESIGN.md §6): prepares `.lab/` (TLS
 * certificate, logs), starts the lab DNS server, spawns the three nodes as
 * separate processes and waits until each answers its admin health check, then
 * serves the dashboard and control API and prints `lab ready` on one line.
 *
 * Every address is overridable so tests can run a lab beside a running one.
 * Shutdown (stop() or the abort signal) stops the nodes (SIGTERM, SIGKILL after
 * the grace period), then closes the dashboard and the DNS server; nothing is
 * left listening or running. Nodes also exit by themselves if the lab process
 * dies, through SPACEPHONE_EXIT_WITH_PARENT (see node-process.ts, parent-watch.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLabDashboard, type LabDashboard } from './dashboard.ts';
import { LabDnsServer } from './dns-server.ts';
import type { DnsZone } from './dns-zone.ts';
import { LabUnknownNodeError } from './errors.ts';
import { NodeProcess, type NodeCommand } from './node-process.ts';
import { ensureLabCert, type LabCert } from './tls.ts';
import { LAB_DASHBOARD, LAB_DNS, LAB_DOMAIN, LAB_NODES, labZone, type LabAddress, type LabNodeSpec } from './topology.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface NodeCommandContext {
  configPath: string;
  dir: string;
  cert?: LabCert;
}

/**
 * Another part of the lab that runs in the lab process (e.g. the simulated
 * providers of DESIGN.md §6). Started after DNS and before the nodes (nodes
 * register to providers on start), closed after the nodes.
 */
export interface LabService {
  name: string;
  start(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface RunLabOptions {
  /** State directory (TLS files, logs); default `.lab` relative to cwd. */
  dir?: string;
  /** Federation config the nodes run; default src/lab/lab.yaml. */
  configPath?: string;
  /** Aborting stops the lab (during start-up too). */
  signal?: AbortSignal;
  /** Nodes to run; default the contract nodes nl, de, space. */
  nodes?: readonly LabNodeSpec[];
  /** How to launch a node; default `node bin/spacephone.mjs start --config <configPath> --node <name>`. */
  nodeCommand?: (node: LabNodeSpec, ctx: NodeCommandContext) => NodeCommand;
  /** Lab DNS listen address; false runs no DNS server. Default 127.0.0.10:5353. */
  dns?: LabAddress | false;
  /** Zone the lab DNS serves; default labZone() (the contract addresses). */
  zone?: DnsZone;
  /** Dashboard and control API; default 127.0.0.1:8080. */
  dashboard?: LabAddress;
  /** In-process parts started before the nodes (simulated providers ...). */
  services?: readonly LabService[];
  /** Generate the self-signed TLS certificate if absent (default true). */
  tls?: boolean;
  startTimeoutMs?: number;
  killTimeoutMs?: number;
  /** Where the lab's own lines go (`lab ready`, node state changes); default console.log. */
  output?: (line: string) => void;
}

export interface LabHandle {
  readonly dir: string;
  /** Bound DNS address (port resolved when 0 was asked), if a DNS server runs. */
  readonly dns?: LabAddress;
  readonly dashboardUrl: string;
  readonly nodes: readonly NodeProcess[];
  node(name: string): NodeProcess;
  /** Idempotent; resolves when every node has exited and every listener is closed. */
  stop(): Promise<void>;
  /** Resolves after stop() completed (whoever triggered it). */
  readonly stopped: Promise<void>;
}

export function defaultNodeCommand(node: LabNodeSpec, ctx: NodeCommandContext): NodeCommand {
  return {
    command: process.execPath,
    args: [join(REPO_ROOT, 'bin', 'spacephone.mjs'), 'start', '--config', ctx.configPath, '--node', node.name],
    env: { SPACEPHONE_LAB_DIR: ctx.dir },
  };
}

export async function runLab(opts: RunLabOptions = {}): Promise<LabHandle> {
  const out = opts.output ?? ((line: string) => console.log(line));
  const dir = resolve(opts.dir ?? '.lab');
  const configPath = resolve(opts.configPath ?? join(REPO_ROOT, 'src', 'lab', 'lab.yaml'));
  const specs = opts.nodes ?? LAB_NODES;
  const nodeCommand = opts.nodeCommand ?? defaultNodeCommand;
  opts.signal?.throwIfAborted();

  let dns: LabDnsServer | undefined;
  let dashboard: LabDashboard | undefined;
  const nodes: NodeProcess[] = [];
  const started: LabService[] = [];
  let stopping: Promise<void> | undefined;
  let markStopped: () => void = () => {};
  const stopped = new Promise<void>((r) => { markStopped = r; });

  const stop = (): Promise<void> => (stopping ??= (async () => {
    await Promise.allSettled(nodes.map((n) => n.dispose()));
    await Promise.allSettled([dashboard?.close(), dns?.close(), ...started.map((x) => x.close())]);
    markStopped();
  })());
  let starting = true;
  // While starting, abort only cancels node start-ups; the start-up code notices
  // the abort at its next step and cleans up everything it created (stop()).
  const onAbort = (): void => {
    if (starting) for (const n of nodes) void n.dispose();
    else void stop();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    await mkdir(join(dir, 'logs'), { recursive: true });
    const cert = opts.tls === false ? undefined : await ensureLabCert(dir);
    opts.signal?.throwIfAborted();
    if (cert?.created) out(`lab: created self-signed TLS certificate ${cert.certFile}`);

    const dnsAddr = opts.dns === undefined ? LAB_DNS : opts.dns;
    if (dnsAddr) {
      dns = new LabDnsServer({ address: dnsAddr.address, port: dnsAddr.port, zone: opts.zone ?? labZone(dnsAddr) });
      await dns.listen();
      opts.signal?.throwIfAborted();
    }
    for (const service of opts.services ?? []) {
      started.push(service); // closed on failure too: start() may have opened sockets before failing
      await service.start();
      opts.signal?.throwIfAborted();
      out(`lab: ${service.name} up`);
    }
    const ctx: NodeCommandContext = { configPath, dir, cert };
    for (const spec of specs) {
      nodes.push(new NodeProcess({
        spec, command: nodeCommand(spec, ctx), logFile: join(dir, 'logs', `${spec.name}.log`),
        startTimeoutMs: opts.startTimeoutMs, killTimeoutMs: opts.killTimeoutMs,
        onStateChange: (n, _from, to) => {
          if (stopping) return;
          const detail = to === 'up' ? ` (pid ${n.pid})` : to === 'failed' && n.info().lastError ? `: ${n.info().lastError}` : '';
          out(`lab: node ${n.name} ${to}${detail}`);
        },
      }));
    }
    const dashAddr = opts.dashboard ?? LAB_DASHBOARD;
    dashboard = await createLabDashboard({ address: dashAddr.address, port: dashAddr.port, nodes, domain: LAB_DOMAIN, dns: dns ? { address: dns.address, port: dns.port } : undefined });
    opts.signal?.throwIfAborted();

    const results = await Promise.allSettled(nodes.map((n) => n.start()));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    opts.signal?.throwIfAborted();
    if (failure) throw failure.reason;
  } catch (err) {
    opts.signal?.removeEventListener('abort', onAbort);
    await stop();
    throw err;
  }
  starting = false;

  const handle: LabHandle = {
    dir,
    dns: dns ? { address: dns.address, port: dns.port } : undefined,
    dashboardUrl: dashboard.url,
    nodes,
    node(name: string): NodeProcess {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new LabUnknownNodeError(`no lab node ${name}`);
      return n;
    },
    stop: () => { opts.signal?.removeEventListener('abort', onAbort); return stop(); },
    stopped,
  };
  out('lab ready');
  return handle;
}
