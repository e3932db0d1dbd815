/**
 * One bound UDP socket (RFC 3261 §18, unreliable transport). Responses to a request
 * leave from the socket the request arrived on, so NAT bindings hold (RFC 3581 §4).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { Clock } from '../clock.ts';
import type { Endpoint } from '../message/types.ts';
import { family } from './address.ts';
import { TransportError } from './errors.ts';
import { UdpQueueProbe } from './queue-probe.ts';

export type DatagramHandler = (data: Buffer, from: Endpoint, listener: UdpListener) => void;

/** Completion of a fire-and-forget send: `err` set on failure, always called asynchronously. */
export type SendCallback = (err: Error | null) => void;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * dgram resolves every destination through `lookup`, even an IP literal, and the
 * default dns.lookup answers literals on the next tick: one extra hop and closure
 * per datagram. We only ever send to IP literals (RFC 3263 resolution happens
 * above the transport), so answer them synchronously; names still go to dns.lookup.
 */
function literalLookup(host: string, opts: number | LookupOneOptions, cb: LookupCallback): void {
  const fam = isIP(host);
  if (fam !== 0) {
    cb(null, host, fam);
    return;
  }
  dnsLookup(host, typeof opts === 'number' ? { family: opts } : opts, cb);
}

const UDP_BUFFER_BYTES = 4 * 1024 * 1024;

export class UdpListener {
  private closed = false;
  /** Receive-queue delay probe (startQueueProbe); its datagrams are swallowed before parsing. */
  private probe: UdpQueueProbe | undefined;
  /** One completion callback for every fire-and-forget send: failures go to the socket's error path. */
  private readonly afterSend: SendCallback;

  private constructor(
    private readonly socket: Socket,
    readonly local: Readonly<Endpoint>,
    readonly family: 4 | 6,
    onError: (err: Error) => void,
  ) {
    // Shared by every InboundContext of this socket (no copy per datagram): frozen so
    // that no holder can move the socket's address under the others.
    Object.freeze(local);
    this.afterSend = (err) => {
      if (err) onError(err);
    };
  }

  /** Binds address:port (port 0 = ephemeral). IPv6 sockets are v6-only so v4 and v6 listeners never overlap. */
  static bind(address: string, port: number, onDatagram: DatagramHandler, onError: (err: Error) => void): Promise<UdpListener> {
    const fam = family(address);
    if (fam === 0) return Promise.reject(new TransportError('listen-failed', `not an IP address: ${address}`));
    const socket = createSocket({ type: fam === 6 ? 'udp6' : 'udp4', ipv6Only: fam === 6, reuseAddr: false, lookup: literalLookup });
    return new Promise((resolve, reject) => {
      const onBindError = (err: Error): void => {
        socket.close();
        reject(new TransportError('listen-failed', `udp bind ${address}:${port}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onBindError);
      socket.bind({ address, port, exclusive: true }, () => {
        socket.off('error', onBindError);
        const a = socket.address();
        // Bursts (a provider forking, a registration storm after an outage) overflow the
        // kernel's default ~200 KiB receive queue; every drop costs a T1 retransmission.
        // Ask for 4 MiB; the kernel caps it at net.core.rmem_max.
        try {
          socket.setRecvBufferSize(UDP_BUFFER_BYTES);
          socket.setSendBufferSize(UDP_BUFFER_BYTES);
        } catch {
          // Not fatal: the defaults still work, just with less headroom.
        }
        const listener = new UdpListener(socket, { transport: 'udp', address: a.address, port: a.port }, fam, onError);
        // Socket errors (e.g. ICMP-triggered ECONNREFUSED on some platforms) must never crash the process.
        socket.on('error', (err) => onError(err));
        socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
          // Our own queue probe? Port first (one integer compare per datagram), then address and token.
          const probe = listener.probe;
          if (probe !== undefined && rinfo.port === probe.port && probe.accept(msg, rinfo.address)) return;
          onDatagram(msg, { transport: 'udp', address: rinfo.address, port: rinfo.port }, listener);
        });
        resolve(listener);
      });
    });
  }

  /**
   * Starts measuring this socket's receive-queue delay (queue-probe.ts): a probe
   * every `intervalMs` from a private socket on the same address (loopback for a
   * wildcard bind). Stops with close().
   */
  async startQueueProbe(clock: Clock, intervalMs: number, token?: Buffer): Promise<void> {
    if (this.closed || this.probe) return;
    const address = this.local.address === '0.0.0.0' ? '127.0.0.1' : this.local.address === '::' ? '::1' : this.local.address;
    const probe = await UdpQueueProbe.start(address, this.family, this.local.port, clock, intervalMs, token);
    if (this.closed) {
      await probe.close();
      return;
    }
    this.probe = probe;
  }

  /** The running queue probe (diagnostics, tests). */
  get queueProbe(): UdpQueueProbe | undefined {
    return this.probe;
  }

  /** Receive-queue delay estimate in ms, undefined without a probe. */
  queueDelayMs(): number | undefined {
    return this.probe?.queueDelayMs();
  }

  /**
   * Hot-path send (responses, retransmissions): no Promise. A failure is reported to
   * `done` if given, else to the listener's error handler (the transport's 'fault'
   * channel), always asynchronously. Throws nothing.
   */
  sendNow(data: Buffer, address: string, port: number, done?: SendCallback): void {
    if (this.closed) {
      const err = new TransportError('closed', 'udp socket closed');
      process.nextTick(done ?? this.afterSend, err);
      return;
    }
    try {
      this.socket.send(data, port, address, done ?? this.afterSend);
    } catch (err) {
      const e = new TransportError('send-failed', `udp send to ${address}:${port}: ${(err as Error).message}`, { cause: err });
      process.nextTick(done ?? this.afterSend, e);
    }
  }

  send(data: Buffer, address: string, port: number): Promise<void> {
    if (this.closed) return Promise.reject(new TransportError('closed', 'udp socket closed'));
    return new Promise((resolve, reject) => {
      try {
        this.socket.send(data, port, address, (err) => {
          if (err) reject(new TransportError('send-failed', `udp send to ${address}:${port}: ${err.message}`, { cause: err }));
          else resolve();
        });
      } catch (err) {
        reject(new TransportError('send-failed', `udp send to ${address}:${port}: ${(err as Error).message}`, { cause: err }));
      }
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const probe = this.probe;
    this.probe = undefined;
    const own = new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
    return probe ? Promise.all([probe.close(), own]).then(() => undefined) : own;
  }
}
