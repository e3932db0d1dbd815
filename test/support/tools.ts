/**
 * Drives SIPp (Debian `sip-tester`) from tests and benchmarks. SIPp is a real peer
 * we did not write: passing its scenarios proves interop, not self-consistency.
 * Exit codes (SIPp 3.6): 0 all calls succeeded, 1 some failed, 99 none processed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';

export function requireTool(bin: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || !path) {
    // Never skip silently: a missing tool is a failure (.ci/run installs it).
    throw new Error(`${bin} is not installed; run .ci/run or apt-get install the package that provides it`);
  }
  return path;
}

export interface SippRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Parsed final line of the -trace_stat CSV, when requested. */
  stats?: Record<string, string>;
}

export interface SippOptions {
  args: string[];
  /** Hard limit; SIPp gets SIGINT then SIGKILL. */
  timeoutMs: number;
  statFile?: string;
  cwd?: string;
}

/** Runs SIPp to completion in the foreground (-m must bound the call count). */
export function runSipp(opts: SippOptions): Promise<SippRun> {
  requireTool('sipp');
  const args = [...opts.args];
  if (opts.statFile) args.push('-trace_stat', '-stf', opts.statFile, '-fd', '1');
  return new Promise((resolve) => {
    const child = spawn('sipp', args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); if (stdout.length > 1e6) stdout = stdout.slice(-5e5); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const killer = setTimeout(() => {
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    }, opts.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(killer);
      const run: SippRun = { code, stdout, stderr };
      if (opts.statFile && existsSync(opts.statFile)) run.stats = lastStats(opts.statFile);
      resolve(run);
    });
  });
}

/** Starts a background SIPp (e.g. a UAS); stop it with stopSipp(). */
export function startSipp(args: string[]): ChildProcess {
  requireTool('sipp');
  return spawn('sipp', [...args, '-nostdin'], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function stopSipp(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('close', () => resolve());
    child.kill('SIGINT');
    setTimeout(() => child.kill('SIGKILL'), 2000).unref();
  });
}

function lastStats(file: string): Record<string, string> {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  const out: Record<string, string> = {};
  head.forEach((h, i) => { out[h] = last[i]; });
  return out;
}
