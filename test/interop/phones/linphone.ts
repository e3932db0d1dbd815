/**
 * Drives linphonec 5.1.65 (Debian linphone-cli) as a real, headless phone over
 * its stdin command line: `soundcard use files`, `play FILE.wav` (what it sends),
 * `record FILE.wav` (what it received), `register`, `call`, `answer`, `pause`,
 * `resume`, `terminate`. State is read back from its console output.
 *
 * linphone must run in a network namespace with only `lo` and a default route
 * from a 127.0.0.x source (/work/shared/INTEROP.md, docs/interop.md): the caller
 * wraps the command with `ip netns exec NS` or runs the whole test inside one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTone } from '../../../src/media/tone.ts';
import { readWav, writeWav, type WavAudio } from '../../../src/media/wav.ts';
import { SpacephoneError } from '../../../src/util/errors.ts';
import { requireTool } from '../../support/tools.ts';

export interface LinphoneOptions {
  name: string;
  /** SIP port (UDP; linphone binds the wildcard address of its namespace). */
  sipPort: number;
  rtpPorts: [number, number];
  user: string;
  password: string;
  domain: string;
  /** Proxy/registrar (also the outbound route), e.g. `sip:127.0.0.70:17200`. */
  proxy: string;
  /** Tone it plays into calls (Hz). */
  toneHz: number;
  toneMs?: number;
  wrap?: string[];
}

export class LinphoneError extends SpacephoneError {
  readonly code = 'LINPHONE';
}

export class Linphone {
  readonly dir: string;
  readonly opts: LinphoneOptions;
  private proc: ChildProcess | undefined;
  private out = '';
  private waiters: Array<() => void> = [];
  private recordings = 0;
  private closed = false;

  private constructor(opts: LinphoneOptions) {
    this.opts = opts;
    this.dir = mkdtempSync(join(tmpdir(), `linphone-${opts.name}-`));
  }

  static async start(opts: LinphoneOptions): Promise<Linphone> {
    requireTool('linphonec');
    const l = new Linphone(opts);
    try {
      l.writeConfig();
      l.spawn();
      await l.waitOutput(/linphonec> /, 10_000);
      l.command('soundcard use files');
      await l.waitOutput(/Using wav files instead of soundcard/, 5000);
      l.command(`play ${join(l.dir, 'source.wav')}`);
      l.newRecording();
      return l;
    } catch (err) {
      await l.close();
      throw err;
    }
  }

  /** Everything linphonec printed so far. */
  get log(): string {
    return this.out;
  }

  /** Offset into `log`, to wait only for output that comes after it. */
  get mark(): number {
    return this.out.length;
  }

  private writeConfig(): void {
    const o = this.opts;
    // linphone keeps state (call logs, friends db) under $HOME/.local/share/linphone.
    mkdirSync(join(this.dir, 'home', '.local', 'share', 'linphone'), { recursive: true });
    writeFileSync(join(this.dir, 'source.wav'), writeWav(generateTone(o.toneHz, o.toneMs ?? 60_000, { amplitude: 8000 }), 8000));
    writeFileSync(join(this.dir, 'linphonerc'), [
      '[sip]',
      `sip_port=${o.sipPort}`,
      'sip_tcp_port=0',
      'sip_tls_port=0',
      'ipv6=0',
      'default_proxy=0',
      // The proxy config carries a route: without it linphone resolves the
      // Request-URI's domain by DNS for every call, instead of using the proxy.
      '[proxy_0]',
      `reg_proxy=<${o.proxy}>`,
      `reg_route=<${o.proxy};lr>`,
      `reg_identity=<sip:${o.user}@${o.domain}>`,
      'reg_expires=600',
      'reg_sendregister=1',
      'publish=0',
      '[auth_info_0]',
      `username=${o.user}`,
      `passwd=${o.password}`,
      `realm=${o.domain}`,
      `domain=${o.domain}`,
      '[rtp]',
      `audio_rtp_port=${o.rtpPorts[0]}-${o.rtpPorts[1]}`,
      '[sound]',
      'echocancellation=0',
      '[video]',
      'capture=0',
      'display=0',
      'automatically_initiate=0',
      'automatically_accept=0',
      '',
    ].join('\n'));
  }

  private spawn(): void {
    const argv = [...(this.opts.wrap ?? []), 'linphonec', '-c', join(this.dir, 'linphonerc'), '-d', '0'];
    const proc = spawn(argv[0], argv.slice(1), { env: { ...process.env, HOME: join(this.dir, 'home') }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    const keep = (d: Buffer): void => {
      this.out += d.toString('utf8');
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.stdin?.on('error', () => { /* linphonec gone: reported by waitOutput */ });
  }

  /** Types one command line. */
  command(line: string): void {
    this.proc?.stdin?.write(`${line}\n`);
  }

  /** Waits until output after `since` matches `re`; returns the match. */
  async waitOutput(re: RegExp, timeoutMs: number, since = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.out.slice(since).match(re);
      if (m) return m;
      const left = deadline - Date.now();
      if (left <= 0 || this.proc?.exitCode !== null) {
        throw new LinphoneError(`${this.opts.name}: no ${re} within ${timeoutMs} ms; output: ${this.out.slice(since).slice(-1500)}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Polls `status register` until linphonec reports the rc's proxy config registered. */
  async waitRegistered(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mark = this.mark;
      this.command('status register');
      await new Promise((r) => setTimeout(r, 300));
      if (/registered, identity=/.test(this.out.slice(mark))) return;
      if (Date.now() > deadline) throw new LinphoneError(`${this.opts.name} not registered: ${this.out.slice(-800)}`);
    }
  }

  /** Sets a fresh file for what the next call receives. */
  newRecording(): string {
    const file = join(this.dir, `rec-${++this.recordings}.wav`);
    this.command(`record ${file}`);
    return file;
  }

  /** What the current/last call received (linphone writes the WAV header at the end). */
  recording(): WavAudio {
    return readWav(readFileSync(join(this.dir, `rec-${this.recordings}.wav`)));
  }

  call(uri: string): void { this.command(`call ${uri}`); }
  answer(): void { this.command('answer'); }
  pause(): void { this.command('pause'); }
  resume(): void { this.command('resume'); }
  terminate(): void { this.command('terminate'); }

  /** `quit` (unregisters), SIGKILL after 3 s; removes the temp dir. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      this.command('quit');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
