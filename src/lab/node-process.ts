/**
 * Supervises one node as a separate OS process: spawn, wait until its admin
 * health endpoint answers as the right node, stop with SIGTERM then SIGKILL.
 *
 *              start()               health ok
 *   ┌──────┐ ─────────> ┌──────────┐ ─────────> ┌────┐
 *   │ down │            │ starting │            │ up │
 *   └──────┘ <──┐       └──────────┘            └────┘
 *      ^        │         │      │ exit/timeout   │  │ unexpected exit
 *      │        │  stop() │      v                │  v
 *      │        │         │   ┌────────┐  <───────┼──┘
 *      │        │         │   │ failed │ ─ start() ─> starting
 *      │        │         v   └────────┘          │
 *      │     exit     ┌──────────┐   stop()       │
 *      │        └──── │ stopping │ <──────────────┘
 *      │              └──────────┘
 *      └─ stop() on failed (no process left)
 *
 * The child gets a stdin pipe and SPACEPHONE_EXIT_WITH_PARENT=1: a node started
 * that way must exit when its stdin reaches EOF, which happens when the lab dies
 * however it dies (even SIGKILL), so no node outlives the lab.
 *
 * Operations are serialised per node (start/stop/restart never overlap).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { LabNodeStartError } from './errors.ts';
import type { LabNodeSpec } from './topology.ts';

export type NodeState = 'down' | 'starting' | 'up' | 'stopping' | 'failed';

const EDGES: Record<NodeState, readonly NodeState[]> = {
  down: ['starting'],
  starting: ['up', 'failed', 'stopping'],
  up: ['stopping', 'failed'],
  stopping: ['down'],
  failed: ['starting', 'down'],
};

export interface NodeCommand {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface NodeProcessOptions {
  spec: LabNodeSpec;
  command: NodeCommand;
  /** Time allowed from spawn to a healthy /api/health (default 20 s). */
  startTimeoutMs?: number;
  /** SIGTERM grace before SIGKILL (default 3 s). */
  killTimeoutMs?: number;
  /** Node stdout/stderr are appended here. */
  logFile?: string;
  onStateChange?: (node: NodeProcess, from: NodeState, to: NodeState) => void;
}

export interface LabNodeInfo {
  name: string;
  role: string;
  host: string;
  address: string;
  sipPort: number;
  tlsPort: number;
  adminUrl: string;
  state: NodeState;
  pid?: number;
  /** ms since epoch of the last successful start. */
  upSince?: number;
  lastExit?: { code: number | null; signal: string | null };
  lastError?: string;
  /** Last output lines, while failed. */
  outputTail?: string[];
}

const TAIL_LINES = 30;
const HEALTH_POLL_MS = 100;

export function adminUrl(spec: LabNodeSpec): string {
  const h = spec.admin.address.includes(':') ? `[${spec.admin.address}]` : spec.admin.address;
  return `http://${h}:${spec.admin.port}`;
}

export class NodeProcess {
  readonly spec: LabNodeSpec;
  private readonly opts: NodeProcessOptions;
  private _state: NodeState = 'down';
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private ops: Promise<unknown> = Promise.resolve();
  private readonly tail: string[] = [];
  private log: WriteStream | undefined;
  private upSince: number | undefined;
  private lastExit: { code: number | null; signal: string | null } | undefined;
  private lastError: string | undefined;
  private cancelled = false;

  constructor(opts: NodeProcessOptions) {
    this.opts = opts;
    this.spec = opts.spec;
  }

  get name(): string {
    return this.spec.name;
  }

  get state(): NodeState {
    return this._state;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get adminUrl(): string {
    return adminUrl(this.spec);
  }

  outputTail(): string[] {
    return [...this.tail];
  }

  info(): LabNodeInfo {
    const s = this.spec;
    return {
      name: s.name, role: s.role, host: s.host, address: s.address, sipPort: s.sipPort, tlsPort: s.tlsPort,
      adminUrl: this.adminUrl, state: this._state, pid: this.pid, upSince: this.upSince,
      lastExit: this.lastExit, lastError: this.lastError,
      outputTail: this._state === 'failed' ? this.outputTail() : undefined,
    };
  }

  /** Resolves once the node answers its health check; rejects with LabNodeStartError. No-op when up. */
  start(): Promise<void> {
    return this.serial(() => this.doStart());
  }

  /** SIGTERM, then SIGKILL after killTimeoutMs; resolves when the process is gone. No-op when down. */
  stop(): Promise<void> {
    return this.serial(() => this.doStop());
  }

  restart(): Promise<void> {
    return this.serial(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  /** Final stop: cancels a start in progress, stops, closes the log file. Idempotent. */
  async dispose(): Promise<void> {
    this.cancelled = true;
    await this.stop();
    const log = this.log;
    this.log = undefined;
    if (log) await new Promise<void>((r) => log.end(() => r()));
  }

  /** The only place the state changes; rejects illegal edges. */
  private transition(to: NodeState): void {
    const from = this._state;
    if (!EDGES[from].includes(to)) throw new Error(`lab node ${this.name}: illegal transition ${from} -> ${to}`);
    this._state = to;
    if (to === 'up') this.upSince = Date.now();
    if (to === 'starting') this.lastError = undefined;
    this.opts.onStateChange?.(this, from, to);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.ops.then(fn, fn);
    this.ops = next.catch(() => {});
    return next;
  }

  private record(line: string, stream: 'stdout' | 'stderr'): void {
    this.tail.push(stream === 'stderr' ? `stderr: ${line}` : line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.log?.write(`${new Date().toISOString()} ${stream} ${line}\n`);
  }

  private async doStart(): Promise<void> {
    if (this._state === 'up' || this._state === 'starting') return;
    if (await this.healthy(300)) {
      this.lastError = `${this.adminUrl} already answers as node ${this.name}: is another lab or node running?`;
      throw new LabNodeStartError(this.name, this.lastError, []);
    }
    this.cancelled = false;
    this.transition('starting');
    this.tail.length = 0;
    if (this.opts.logFile && !this.log) {
      const log = createWriteStream(this.opts.logFile, { flags: 'a' });
      // A log that cannot be written must not take the lab down: keep the tail only.
      log.on('error', () => { if (this.log === log) this.log = undefined; });
      this.log = log;
    }
    const { command, args, env, cwd } = this.opts.command;
    const child = spawn(command, args, {
      cwd, stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env, SPACEPHONE_EXIT_WITH_PARENT: '1' },
    });
    this.child = child;
    let spawnError: Error | undefined;
    let exitedNow = false;
    this.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => { spawnError = err; if (child.pid === undefined) { exitedNow = true; resolve(); } });
      child.once('exit', (code, signal) => {
        exitedNow = true;
        this.lastExit = { code, signal };
        if (this.child === child) this.child = undefined;
        // Exit while up: the node crashed or was killed from outside.
        if (this._state === 'up') {
          this.lastError = `exited unexpectedly (${signal ?? `code ${code}`})`;
          this.transition('failed');
        }
        resolve();
      });
    });
    child.stdin?.on('error', () => {}); // EPIPE when the child is gone
    for (const [stream, src] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
      let partial = '';
      src?.setEncoding('utf8');
      src?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) this.record(l.replace(/\r$/, ''), stream);
        if (partial.length > 4096) { this.record(partial, stream); partial = ''; }
      });
    }
    const timeoutMs = this.opts.startTimeoutMs ?? 20_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exitedNow || spawnError) {
        const why = spawnError ? `could not be spawned: ${spawnError.message}` : `exited during start (${this.lastExit?.signal ?? `code ${this.lastExit?.code}`})`;
        return this.failStart(`node ${this.name} ${why}`);
      }
      if (await this.healthy(1000)) break;
      if (this.cancelled) {
        await this.kill(child);
        return this.failStart(`node ${this.name}: start cancelled (lab stopping)`);
      }
      if (Date.now() >= deadline) {
        await this.kill(child);
        return this.failStart(`node ${this.name} did not answer ${this.adminUrl}/api/health within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
    }
    this.transition('up');
  }

  private async failStart(message: string): Promise<never> {
    await this.exited;
    this.lastError = message;
    this.transition('failed');
    throw new LabNodeStartError(this.name, message, this.outputTail());
  }

  private async doStop(): Promise<void> {
    if (this._state === 'down') return;
    if (this._state === 'failed') {
      if (this.child) await this.kill(this.child);
      this.transition('down');
      return;
    }
    this.transition('stopping');
    if (this.child) await this.kill(this.child);
    this.transition('down');
  }

  /** SIGTERM (and stdin EOF), then SIGKILL after the grace period; waits for exit. */
  private async kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) { await this.exited; return; }
    child.stdin?.end();
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), this.opts.killTimeoutMs ?? 3000); });
    const gone = await Promise.race([this.exited.then(() => true), grace]);
    clearTimeout(timer);
    if (!gone) {
      child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** True when the admin API answers {ok:true, node:<our name>}. */
  private async healthy(timeoutMs: number): Promise<boolean> {
    try {
      const r = await fetch(`${this.adminUrl}/api/health`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!r.ok) return false;
      const body = (await r.json()) as { ok?: unknown; node?: unknown };
      return body.ok === true && body.node === this.name;
    } catch {
      return false;
    }
  }
}
