/**
 * Stream listeners and connections (RFC 3261 §18.3): TCP/TLS servers, outbound
 * connects with a timeout, and connection reuse keyed by remote
 * transport+address+port (§18.1.1, §18.2.2). Connections of both directions live
 * in one pool, so a request towards a peer that connected to us reuses its flow.
 */
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions } from 'node:tls';
import type { Clock } from '../clock.ts';
import type { Endpoint } from '../message/types.ts';
import { canonicalIp, endpointKey, family } from './address.ts';
import { TransportError } from './errors.ts';
import { StreamConnection, type ConnectionHandler } from './stream.ts';

export interface TlsConfig {
  cert: string | Buffer;
  key: string | Buffer;
  ca?: string | Buffer | Array<string | Buffer>;
  /** Verify the peer's certificate on outbound connections (default true, RFC 5922 §7.2). */
  rejectUnauthorized?: boolean;
}

export interface StreamListener {
  transport: 'tcp' | 'tls';
  server: Server;
  local: Endpoint;
  advertise?: string;
}

export interface StreamPoolOptions {
  clock: Clock;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  maxMessageSize: number;
  maxConnections: number;
  tls?: TlsConfig;
  /** Frames and closes of every connection; onClose runs after the pool forgot the connection. */
  handler: ConnectionHandler;
  onFault(err: TransportError): void;
}

export class StreamPool {
  readonly listeners: StreamListener[] = [];
  private readonly connections = new Map<string, StreamConnection>();
  /** The newest live connection per remote endpoint. */
  private readonly byRemote = new Map<string, StreamConnection>();
  private nextId = 1;
  private closed = false;
  private readonly handler: ConnectionHandler;

  constructor(private readonly opts: StreamPoolOptions) {
    this.handler = {
      onFrame: (conn, frame) => opts.handler.onFrame(conn, frame),
      onClose: (conn, err) => {
        this.connections.delete(conn.id);
        const key = endpointKey(conn.remote);
        if (this.byRemote.get(key) === conn) this.byRemote.delete(key);
        opts.handler.onClose(conn, err);
      },
    };
  }

  ids(): string[] {
    return [...this.connections.keys()];
  }

  get(id: string | undefined): StreamConnection | undefined {
    return id === undefined ? undefined : this.connections.get(id);
  }

  toRemote(remote: Endpoint): StreamConnection | undefined {
    return this.byRemote.get(endpointKey(remote));
  }

  listener(transport: 'tcp' | 'tls', fam: 4 | 6 | 0): StreamListener | undefined {
    return this.listeners.find((s) => s.transport === transport && family(s.local.address) === fam);
  }

  listen(transport: 'tcp' | 'tls', address: string, port: number, advertise?: string): Promise<StreamListener> {
    const fam = family(address);
    if (fam === 0) return Promise.reject(new TransportError('listen-failed', `not an IP address: ${address}`));
    let server: Server;
    if (transport === 'tls') {
      const tls = this.opts.tls;
      if (!tls) return Promise.reject(new TransportError('listen-failed', 'tls listener without tls cert/key'));
      const s = createTlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca }, (socket) => this.accept('tls', socket));
      s.on('tlsClientError', (err) => this.opts.onFault(new TransportError('bad-message', `tls handshake: ${err.message}`, { cause: err })));
      server = s;
    } else {
      server = createServer((socket) => this.accept('tcp', socket));
    }
    server.maxConnections = this.opts.maxConnections;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        server.close();
        reject(new TransportError('listen-failed', `${transport} listen ${address}:${port}: ${err.message}`, { cause: err }));
      };
      server.once('error', onError);
      server.listen({ host: address, port, ipv6Only: fam === 6, exclusive: true }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.opts.onFault(new TransportError('listen-failed', err.message, { cause: err })));
        const a = server.address();
        const listener: StreamListener = { transport, server, local: { transport, address, port: typeof a === 'object' && a ? a.port : port }, advertise };
        this.listeners.push(listener);
        resolve(listener);
      });
    });
  }

  /**
   * An open connection to `target`, reusing a live one. `servername` is the domain
   * a TLS peer's certificate must match (RFC 5922 §7.2); `localAddress` the address
   * to connect from, so the peer sees the address our Via names.
   */
  async connect(target: Endpoint, servername: string | undefined, localAddress: string | undefined): Promise<StreamConnection> {
    if (this.closed) throw new TransportError('closed', 'transport closed');
    const existing = this.toRemote(target);
    if (existing && existing.state !== 'closed') {
      await existing.ready();
      return existing;
    }
    const transport = target.transport as 'tcp' | 'tls';
    if (family(target.address) === 0) throw new TransportError('connect-failed', `not an IP address: ${target.address}`);
    let socket: Socket;
    try {
      if (transport === 'tls') {
        const tls = this.opts.tls;
        // localAddress is passed through to net.connect (missing from @types/node's ConnectionOptions).
        const options: ConnectionOptions & { localAddress?: string } = {
          host: target.address,
          port: target.port,
          localAddress,
          servername,
          ca: tls?.ca,
          cert: tls?.cert,
          key: tls?.key,
          rejectUnauthorized: tls?.rejectUnauthorized ?? true,
        };
        socket = tlsConnect(options);
      } else {
        socket = netConnect({ host: target.address, port: target.port, localAddress });
      }
    } catch (err) {
      throw new TransportError('connect-failed', `connect to ${target.address}:${target.port}: ${(err as Error).message}`, { cause: err });
    }
    const conn = this.adopt(transport, socket, { transport, address: canonicalIp(target.address), port: target.port }, true);
    try {
      await conn.ready();
    } catch (err) {
      const reason = err instanceof TransportError && err.reason === 'connect-timeout' ? 'connect-timeout' : 'connect-failed';
      throw new TransportError(reason, `connect to ${target.transport}:${target.address}:${target.port} failed`, { cause: err });
    }
    return conn;
  }

  /** Closes every connection and listener; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const conn of [...this.connections.values()]) conn.close();
    this.connections.clear();
    this.byRemote.clear();
    await Promise.all(this.listeners.splice(0).map((s) => new Promise<void>((resolve) => s.server.close(() => resolve()))));
  }

  private adopt(transport: 'tcp' | 'tls', socket: Socket, remote: Endpoint, connecting: boolean): StreamConnection {
    const conn = new StreamConnection({
      id: `${transport}-${this.nextId++}`,
      transport,
      socket,
      remote,
      connecting,
      clock: this.opts.clock,
      idleTimeoutMs: this.opts.idleTimeoutMs,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      maxMessageSize: this.opts.maxMessageSize,
      handler: this.handler,
    });
    if (conn.state !== 'closed') {
      this.connections.set(conn.id, conn);
      this.byRemote.set(endpointKey(remote), conn);
    }
    return conn;
  }

  private accept(transport: 'tcp' | 'tls', socket: Socket): void {
    try {
      if (this.closed || !socket.remoteAddress || socket.remotePort === undefined) {
        socket.destroy();
        return;
      }
      this.adopt(transport, socket, { transport, address: canonicalIp(socket.remoteAddress), port: socket.remotePort }, false);
    } catch (err) {
      socket.destroy();
      this.opts.onFault(new TransportError('connect-failed', `accept: ${(err as Error).message}`, { cause: err }));
    }
  }
}
