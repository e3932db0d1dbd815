/**
 * Drives baresip 1.0.0 (Debian) as a real, headless phone: writes a config dir,
 * starts `baresip -4 -f DIR`, and speaks its ctrl_tcp protocol (netstring-framed
 * JSON: `LEN:{"command":"dial","params":"sip:…","token":"t1"},`).
 *
 * Audio: the phone plays a WAV tone (aufile) as its microphone and the sndfile
 * module records what each call decoded as `DIR/rec/dump-*-dec.wav`.
 * Facts this relies on are measured in /work/shared/INTEROP.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTone } from '../../../src/media/tone.ts';
import { readWav, writeWav, type WavAudio } from '../../../src/media/wav.ts';
import { SpacephoneError } from '../../../src/util/errors.ts';
import { requireTool } from '../../support/tools.ts';

export interface BaresipOptions {
  /** Label for diagnostics. */
  name: string;
  /** 127.0.0.X: SIP, RTP and ctrl_tcp bind here. */
  address: string;
  /** SIP port; baresip also binds TLS on port+1 (keep instances two apart). */
  sipPort: number;
  ctrlPort: number;
  rtpPorts: [number, number];
  user: string;
  password: string;
  domain: string;
  /** Outbound proxy, e.g. `sip:127.0.0.60:16000;transport=udp`; none: no registration, direct calls only. */
  outbound?: string;
  /** Tone played as the microphone (Hz); silence when undefined. */
  toneHz?: number;
  /** Length of the source WAV; baresip closes the call when it ends. Default 60 s. */
  toneMs?: number;
  /** Registration interval, s (default 600). */
  regint?: number;
  /** auto: answer incoming calls at once; manual: wait for `accept()`. */
  answerMode?: 'auto' | 'manual';
  /** Prefix argv, e.g. ['ip', 'netns', 'exec', 'ns'] to run in a namespace. */
  wrap?: string[];
}

/** A ctrl_tcp event, e.g. `{ type: 'CALL_ESTABLISHED', peeruri: 'sip:…', id: '…' }`. */
export interface BaresipEvent {
  type: string;
  class?: string;
  accountaor?: string;
  direction?: string;
  peeruri?: string;
  id?: string;
  param?: string;
  at: number;
}

export interface BaresipResponse {
  ok: boolean;
  data: string;
}

export class BaresipError extends SpacephoneError {
  readonly code = 'BARESIP';
}

/** Encodes one ctrl_tcp netstring. */
export function netstring(json: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(json), 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]);
}

/** Splits complete netstrings off `buf`; returns the payloads and the rest. */
export function parseNetstrings(buf: Buffer): { items: string[]; rest: Buffer } {
  const items: string[] = [];
  let off = 0;
  for (;;) {
    const colon = buf.indexOf(0x3a, off);
    if (colon < 0) break;
    const len = Number(buf.toString('ascii', off, colon));
    if (!Number.isInteger(len) || len < 0) throw new BaresipError(`bad netstring length at ${off}`);
    const end = colon + 1 + len;
    if (end + 1 > buf.length) break;
    items.push(buf.toString('utf8', colon + 1, end));
    off = end + 1; // trailing ','
  }
  return { items, rest: buf.subarray(off) };
}

export class Baresip {
  readonly dir: string;
  readonly events: BaresipEvent[] = [];
  readonly opts: BaresipOptions;
  private proc: ChildProcess | undefined;
  private sock: Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private token = 0;
  private readonly pending = new Map<string, (r: BaresipResponse) => void>();
  private waiters: Array<() => void> = [];
  private output = '';
  private closed = false;

  private constructor(opts: BaresipOptions) {
    this.opts = opts;
    this.dir = mkdtempSync(join(tmpdir(), `baresip-${opts.name}-`));
  }

  /** Writes the config, starts baresip and connects to ctrl_tcp. */
  static async start(opts: BaresipOptions): Promise<Baresip> {
    requireTool('baresip');
    const b = new Baresip(opts);
    try {
      b.writeConfig();
      await b.spawn();
      await b.connect();
      return b;
    } catch (err) {
      await b.close();
      throw err;
    }
  }

  /** Path of the recordings directory (sndfile `snd_path`). */
  get recordDir(): string {
    return join(this.dir, 'rec');
  }

  /** baresip's stdout+stderr so far (for failure messages). */
  get log(): string {
    return this.output;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private writeConfig(): void {
    const o = this.opts;
    mkdirSync(this.recordDir);
    const wav = join(this.dir, 'source.wav');
    const ms = o.toneMs ?? 60_000;
    const samples = o.toneHz === undefined ? new Int16Array((ms * 8000) / 1000) : generateTone(o.toneHz, ms, { amplitude: 8000 });
    writeFileSync(wav, writeWav(samples, 8000));
    const config = [
      'poll_method epoll',
      `sip_listen ${o.address}:${o.sipPort}`,
      `net_interface ${o.address}`,
      'sip_trans_bsize 128',
      `audio_source aufile,${wav}`,
      'audio_player aubridge,nil',
      'audio_alert aubridge,nil',
      'ausrc_srate 8000',
      'auplay_srate 8000',
      'ausrc_channels 1',
      'auplay_channels 1',
      `rtp_ports ${o.rtpPorts[0]}-${o.rtpPorts[1]}`,
      'rtcp_mux no',
      'jitter_buffer_delay 2-10',
      `module_path /usr/lib/baresip/modules`,
      'module g711.so',
      'module aufile.so',
      'module aubridge.so',
      'module sndfile.so',
      'module_tmp account.so',
      'module_app menu.so',
      'module_app ctrl_tcp.so',
      `ctrl_tcp_listen ${o.address}:${o.ctrlPort}`,
      `snd_path ${this.recordDir}`,
      'call_max_calls 4',
      '',
    ].join('\n');
    writeFileSync(join(this.dir, 'config'), config);
    const account = `<sip:${o.user}@${o.domain};transport=udp>;auth_user=${o.user};auth_pass=${o.password};` +
      `answermode=${o.answerMode ?? 'manual'};regint=${o.outbound ? (o.regint ?? 600) : 0};audio_codecs=PCMU,PCMA` +
      (o.outbound ? `;outbound="${o.outbound}"` : '') + '\n';
    writeFileSync(join(this.dir, 'accounts'), account);
    writeFileSync(join(this.dir, 'contacts'), '');
  }

  private spawn(): Promise<void> {
    const argv = [...(this.opts.wrap ?? []), 'baresip', '-4', '-f', this.dir];
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const keep = (d: Buffer): void => {
      this.output += d.toString('utf8');
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    return new Promise((resolve, reject) => {
      proc.once('error', reject);
      proc.once('spawn', () => resolve());
    });
  }

  /** ctrl_tcp binds a moment after start: retry for a few seconds. */
  private async connect(): Promise<void> {
    const deadline = Date.now() + 8000;
    for (;;) {
      if (this.proc?.exitCode !== null && this.proc?.exitCode !== undefined) {
        throw new BaresipError(`baresip ${this.opts.name} exited (${this.proc.exitCode}): ${this.output.slice(-1500)}`);
      }
      try {
        this.sock = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection({ host: this.opts.address, port: this.opts.ctrlPort });
          s.once('connect', () => { s.off('error', reject); resolve(s); });
          s.once('error', reject);
        });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new BaresipError(`ctrl_tcp of ${this.opts.name} unreachable: ${String(err)}; log: ${this.output.slice(-1500)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', () => { /* reported through pending commands timing out */ });
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    let parsed: { items: string[]; rest: Buffer };
    try {
      parsed = parseNetstrings(this.buf);
    } catch {
      this.buf = Buffer.alloc(0);
      return;
    }
    this.buf = parsed.rest;
    for (const item of parsed.items) {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(item) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (msg.response === true && typeof msg.token === 'string') {
        const done = this.pending.get(msg.token);
        this.pending.delete(msg.token);
        done?.({ ok: msg.ok === true, data: typeof msg.data === 'string' ? msg.data : '' });
      } else if (msg.event === true && typeof msg.type === 'string') {
        const str = (k: string): string | undefined => (typeof msg[k] === 'string' ? (msg[k] as string) : undefined);
        this.events.push({
          type: msg.type, class: str('class'), accountaor: str('accountaor'), direction: str('direction'),
          peeruri: str('peeruri'), id: str('id'), param: str('param'), at: Date.now(),
        });
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      }
    }
  }

  /** Sends one ctrl_tcp command and waits for its response. */
  command(command: string, params?: string, timeoutMs = 5000): Promise<BaresipResponse> {
    const sock = this.sock;
    if (!sock) return Promise.reject(new BaresipError('not connected'));
    const token = `t${++this.token}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new BaresipError(`${this.opts.name}: no response to ${command}`));
      }, timeoutMs);
      this.pending.set(token, (r) => { clearTimeout(timer); resolve(r); });
      sock.write(netstring(params === undefined ? { command, token } : { command, params, token }));
    });
  }

  /** Waits for an event of `type` (seen since index `since`, default: any so far). */
  async waitEvent(type: string, timeoutMs: number, since = 0): Promise<BaresipEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.slice(since).find((e) => e.type === type);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new BaresipError(`${this.opts.name}: no ${type} within ${timeoutMs} ms; events: ${this.events.map((e) => e.type).join(',')}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Polls `reginfo` until the account shows as registered (events before connect are lost). */
  async waitRegistered(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = stripAnsi((await this.command('reginfo')).data);
      if (/\bOK\b/.test(info) && !/\bERR\b/.test(info)) return;
      if (Date.now() > deadline) throw new BaresipError(`${this.opts.name} not registered: ${info}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  dial(uri: string): Promise<BaresipResponse> { return this.command('dial', uri); }
  accept(): Promise<BaresipResponse> { return this.command('accept'); }
  hangup(): Promise<BaresipResponse> { return this.command('hangup'); }
  hold(): Promise<BaresipResponse> { return this.command('hold'); }
  resume(): Promise<BaresipResponse> { return this.command('resume'); }

  /** Decoded audio of each call so far (sndfile `dump-*-dec.wav`). */
  recordings(): Array<{ file: string; audio: WavAudio }> {
    return readdirSync(this.recordDir)
      .filter((f) => f.endsWith('-dec.wav'))
      .sort()
      .map((f) => ({ file: f, audio: readWav(readFileSync(join(this.recordDir, f))) }));
  }

  /** SIGKILL: the phone vanishes without unregistering (its binding must expire). */
  kill9(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  /** `quit` (unregisters), then SIGKILL if still running; removes the temp dir. Idempotent. */
  async close(opts: { keepDir?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      try {
        this.sock?.write(netstring({ command: 'quit', token: 'quit' }));
      } catch { /* already gone */ }
      const t = setTimeout(() => proc.kill('SIGKILL'), 1500);
      await exited;
      clearTimeout(t);
    }
    this.sock?.destroy();
    for (const done of this.pending.values()) done({ ok: false, data: 'closed' });
    this.pending.clear();
    if (!opts.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** baresip colours its text output (reginfo): remove the escape sequences. */
export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}
