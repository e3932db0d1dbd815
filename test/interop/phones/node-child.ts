/**
 * A spacephone node as a child process (`node bin/spacephone.mjs start`), for
 * tests that must `kill -9` it. The child exits by itself if the test process
 * dies (SPACEPHONE_EXIT_WITH_PARENT=1 + stdin pipe, src/lab/parent-watch.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/spacephone.mjs', import.meta.url));

export class NodeChild {
  private out = '';

  private constructor(readonly proc: ChildProcess, readonly name: string) {
    const keep = (d: Buffer): void => {
      this.out += d.toString('utf8');
      if (this.out.length > 200_000) this.out = this.out.slice(-100_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  }

  /** Starts the node and resolves once it printed `node NAME ready`. */
  static async start(configPath: string, name: string, timeoutMs = 20_000): Promise<NodeChild> {
    const proc = spawn(process.execPath, [BIN, 'start', '--config', configPath, '--node', name], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, SPACEPHONE_EXIT_WITH_PARENT: '1', SPACEPHONE_LOG_LEVEL: process.env.SPACEPHONE_LOG_LEVEL ?? 'warn' },
    });
    const child = new NodeChild(proc, name);
    try {
      await child.waitFor(`node ${name} ready`, timeoutMs);
    } catch (err) {
      await child.kill9();
      throw err;
    }
    return child;
  }

  get log(): string {
    return this.out;
  }

  private waitFor(text: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.out.includes(text)) done(undefined);
      };
      const onExit = (code: number | null, signal: string | null): void => done(new Error(`node exited (${code ?? signal}) before "${text}": ${this.out.slice(-2000)}`));
      const timer = setTimeout(() => done(new Error(`no "${text}" within ${timeoutMs} ms: ${this.out.slice(-2000)}`)), timeoutMs);
      const done = (err: Error | undefined): void => {
        clearTimeout(timer);
        this.proc.stdout?.off('data', check);
        this.proc.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      this.proc.stdout?.on('data', check);
      this.proc.once('exit', onExit);
      check();
    });
  }

  /** SIGKILL: no shutdown code runs (a crash). Resolves with the signal seen. */
  kill9(): Promise<string | null> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.signalCode);
    return new Promise((resolve) => {
      p.once('exit', (_code, signal) => resolve(signal));
      p.kill('SIGKILL');
    });
  }
}
