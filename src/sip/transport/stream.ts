/**
 * One TCP or TLS connection carrying SIP (RFC 3261 §18.3, RFC 5626 §4.4.1).
 *
 * RFC 3261 draws no diagram for connections; this is ours:
 *
 *              connect()                    accepted by a listener
 *                 |                                  |
 *                 v                                  |
 *           +------------+  connect timeout /        |
 *           | connecting |-----error------+          |
 *           +------------+                |          |
 *                 | connected             |          |
 *                 | (TLS: handshake done) |          |
 *                 v                       |          |
 *           +------------+ <--------------|----------+
 *           |    open    |  idle timeout / peer close / framing error / close()
 *           +------------+-------------+  |
 *                                      v  v
 *                                 +------------+
 *                                 |   closed   |
 *                                 +------------+
 *
 * Timers: the connect timer runs only in `connecting`, the idle timer only in
 * `open`; `transition()` is the only place they start and stop.
 */
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../clock.ts';
import type { Endpoint } from '../message/types.ts';
import { StreamFramer, type Frame } from './framer.ts';
import { TransportError } from './errors.ts';

export type ConnectionState = 'connecting' | 'open' | 'closed';

const EDGES: Record<ConnectionState, ConnectionState[]> = {
  connecting: ['open', 'closed'],
  open: ['closed'],
  closed: [],
};

const PING = Buffer.from('\r\n\r\n');
const PONG = Buffer.from('\r\n');
/** Bytes queued on a socket beyond which the peer is considered stuck. */
const MAX_PENDING_WRITE = 1024 * 1024;

export interface ConnectionHandler {
  /** A framed message, a pong, or a framing error (after which the connection closes itself). */
  onFrame(conn: StreamConnection, frame: Frame): void;
  onClose(conn: StreamConnection, err?: Error): void;
}

export interface StreamConnectionOptions {
  id: string;
  transport: 'tcp' | 'tls';
  socket: Socket;
  /** The remote endpoint as dialled (outbound) or as seen (inbound). */
  remote: Endpoint;
  /** True when the socket is still connecting (outbound). */
  connecting: boolean;
  clock: Clock;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  maxMessageSize: number;
  handler: ConnectionHandler;
}

export class StreamConnection {
  readonly id: string;
  readonly transport: 'tcp' | 'tls';
  readonly remote: Endpoint;
  local: Endpoint;
  state: ConnectionState;
  private readonly socket: Socket;
  private readonly framer: StreamFramer;
  private readonly opts: StreamConnectionOptions;
  private timer: TimerHandle | undefined;
  private lastActivity: number;
  private awaitingPong = false;
  private readonly waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(opts: StreamConnectionOptions) {
    this.opts = opts;
    this.id = opts.id;
    this.transport = opts.transport;
    this.remote = opts.remote;
    this.socket = opts.socket;
    this.framer = new StreamFramer(opts.maxMessageSize);
    this.lastActivity = opts.clock.now();
    this.local = this.readLocal();
    this.state = opts.connecting ? 'connecting' : 'open';
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.close(err));
    this.socket.on('close', () => this.close());
    this.socket.on('end', () => this.close());
    if (opts.connecting) {
      this.socket.once(opts.transport === 'tls' ? 'secureConnect' : 'connect', () => this.transition('open'));
    }
    this.enter(this.state);
  }

  /** Resolves once the connection is open; rejects if it closes first. */
  ready(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new TransportError('connection-closed', `connection ${this.id} closed`));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  write(data: Buffer): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new TransportError('connection-closed', `connection ${this.id} is ${this.state}`));
    // A peer that stops reading must not make us buffer without bound.
    if (this.socket.writableLength > MAX_PENDING_WRITE) {
      const err = new TransportError('send-failed', `connection ${this.id}: peer not reading (${this.socket.writableLength} bytes queued)`);
      this.close(err);
      return Promise.reject(err);
    }
    this.lastActivity = this.opts.clock.now();
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => {
        if (err) reject(new TransportError('send-failed', `write on ${this.id}: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  /**
   * Hot-path write (responses): no Promise. A failure reaches `onError`, always
   * asynchronously; without it, a socket error still closes the connection.
   */
  writeNow(data: Buffer, onError?: (err: TransportError) => void): void {
    if (this.state !== 'open') {
      if (onError) process.nextTick(onError, new TransportError('connection-closed', `connection ${this.id} is ${this.state}`));
      return;
    }
    if (this.socket.writableLength > MAX_PENDING_WRITE) {
      const err = new TransportError('send-failed', `connection ${this.id}: peer not reading (${this.socket.writableLength} bytes queued)`);
      this.close(err);
      if (onError) process.nextTick(onError, err);
      return;
    }
    this.lastActivity = this.opts.clock.now();
    if (!onError) {
      this.socket.write(data);
      return;
    }
    this.socket.write(data, (err) => {
      if (err) onError(new TransportError('send-failed', `write on ${this.id}: ${err.message}`, { cause: err }));
    });
  }

  /** Sends an RFC 5626 §4.4.1 double-CRLF ping; the peer's CRLF pong arrives as a 'pong' frame. */
  ping(): Promise<void> {
    const p = this.write(PING);
    this.awaitingPong = true;
    return p;
  }

  close(err?: Error): void {
    if (this.state === 'closed') return;
    this.transition('closed', err);
  }

  /** The only place state changes and timers start/stop. */
  private transition(to: ConnectionState, err?: Error): void {
    if (!EDGES[this.state].includes(to)) return;
    this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.state = to;
    this.enter(to, err);
  }

  private enter(state: ConnectionState, err?: Error): void {
    const { clock } = this.opts;
    if (state === 'connecting') {
      this.timer = clock.setTimer(this.opts.connectTimeoutMs, () => {
        this.timer = undefined;
        this.close(new TransportError('connect-timeout', `connect to ${this.remote.address}:${this.remote.port} timed out`));
      });
    } else if (state === 'open') {
      this.local = this.readLocal();
      this.lastActivity = clock.now();
      this.armIdle(this.opts.idleTimeoutMs);
      for (const w of this.waiters.splice(0)) w.resolve();
    } else {
      // After a framing error, let a queued 400 drain before the FIN (§18.3); otherwise drop at once.
      if (err instanceof TransportError && err.reason === 'bad-message') this.socket.end(() => this.socket.destroy());
      else this.socket.destroy();
      const failure =
        err instanceof TransportError
          ? err
          : new TransportError('connection-closed', `connection ${this.id} closed${err ? `: ${err.message}` : ''}`, { cause: err });
      for (const w of this.waiters.splice(0)) w.reject(failure);
      this.opts.handler.onClose(this, err);
    }
  }

  /** Idle timer: re-arms for the remaining time when traffic happened meanwhile. */
  private armIdle(ms: number): void {
    this.timer = this.opts.clock.setTimer(ms, () => {
      this.timer = undefined;
      if (this.state !== 'open') return;
      const idle = this.opts.clock.now() - this.lastActivity;
      if (idle >= this.opts.idleTimeoutMs) this.close(new TransportError('connection-closed', `connection ${this.id} idle`));
      else this.armIdle(this.opts.idleTimeoutMs - idle);
    });
  }

  private onData(chunk: Buffer): void {
    // A socket 'data' handler must never throw (hostile input); any bug closes just this connection.
    try {
      this.handleData(chunk);
    } catch (err) {
      this.close(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private handleData(chunk: Buffer): void {
    if (this.state !== 'open') return;
    this.lastActivity = this.opts.clock.now();
    const frames = this.framer.push(chunk, this.awaitingPong);
    for (const frame of frames) {
      if ((this.state as ConnectionState) === 'closed') return; // a handler may have closed us
      if (frame.kind === 'ping') {
        // RFC 5626 §4.4.1: answer a double-CRLF ping with a single CRLF pong.
        this.write(PONG).catch(() => undefined);
        continue;
      }
      if (frame.kind === 'pong') {
        if (!this.awaitingPong) continue; // stray CRLF between messages (§7.5): ignore
        this.awaitingPong = false;
      }
      this.opts.handler.onFrame(this, frame);
      if (frame.kind === 'error') this.close(new TransportError('bad-message', `framing error on ${this.id}: ${frame.fault}`));
    }
  }

  private readLocal(): Endpoint {
    return { transport: this.transport, address: this.socket.localAddress ?? '', port: this.socket.localPort ?? 0 };
  }
}
