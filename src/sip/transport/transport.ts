/**
 * SipTransport: the RFC 3261 §18 transport layer over UDP, TCP and TLS, with the
 * RFC 3581 symmetric-response rules and RFC 5626 §4.4.1 CRLF keep-alives.
 *
 * - Inbound: datagrams and framed stream messages are parsed; requests get
 *   `received`/`rport` stamped on Via[0] (§18.2.1, RFC 3581 §4) and are emitted with
 *   the context needed to answer them; unparseable requests are answered statelessly
 *   when the parser offers a response, otherwise dropped.
 * - Requests: Via[0] is rewritten to the socket actually used (§18.1.1); large UDP
 *   requests move to TCP; stream connections are reused per remote endpoint.
 * - Responses: over the request's connection, else to received/rport (§18.2.2).
 * Nothing thrown by a socket handler or a listener escapes: it becomes a 'fault'.
 */
import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import { SystemClock, type Clock } from '../clock.ts';
import { createResponse } from '../message/build.ts';
import { parseMessage } from '../message/parser.ts';
import { serializeRawResponse, type RawResponse } from '../message/raw-response.ts';
import { serializeMessage } from '../message/serializer.ts';
import { isSipUri, type Endpoint, type SipRequest, type SipResponse, type TransportName, type Via } from '../message/types.ts';
import {
  canonicalIp,
  defaultPort,
  family,
  hostForm,
  responseDestination,
  stampVia,
  transportFromVia,
  viaTransportToken,
} from './address.ts';
import { TransportError } from './errors.ts';
import type { Frame, FrameFault } from './framer.ts';
import type { StreamConnection } from './stream.ts';
import type { InboundContext, TransportEvents, TransportLayer } from './types.ts';
import { UdpListener } from './udp.ts';

export interface ListenConfig {
  transport: TransportName;
  /** IPv4 or IPv6 literal (no brackets); "0.0.0.0"/"::" listen on all addresses. */
  address: string;
  /** 0 = ephemeral; see listening() for the port actually bound. */
  port: number;
  /** Host to put in Via sent-by instead of the bound address (e.g. behind a static NAT). */
  advertise?: string;
}

import { StreamPool, type TlsConfig } from './pool.ts';

export type { TlsConfig };

export interface SipTransportConfig {
  listen: ListenConfig[];
  tls?: TlsConfig;
  /**
   * Close a stream connection after this long without traffic in either direction.
   * Default 10 min: well above the RFC 5626 §4.4.1 keep-alive interval (95–120 s
   * for TCP) and above the 300–600 s re-REGISTER period NAT'd phones commonly use,
   * so a phone's flow survives between refreshes while abandoned sockets go away.
   */
  idleTimeoutMs?: number;
  /** Default 10 s (a little above Timer E/A's first few retransmissions; §17.1.1.2 Timer B is 32 s). */
  connectTimeoutMs?: number;
  /** Largest message accepted (bytes); bigger stream messages close the connection. Default 65535. */
  maxMessageSize?: number;
  /** Path MTU for the §18.1.1 UDP→TCP rule (default 1300, the RFC's assumption). */
  mtu?: number;
  /** Inbound connections accepted per stream listener (default 1024). */
  maxConnections?: number;
  /**
   * Interval (ms) of the receive-queue delay probe on every UDP listener
   * (queue-probe.ts; read with udpQueueDelayMs()); 0 or absent = no probe.
   */
  udpQueueProbeMs?: number;
  clock?: Clock;
}

/** Extra detail carried with a 'fault'. */
export interface FaultInfo {
  remote?: Endpoint;
  local?: Endpoint;
  connectionId?: string;
}

export interface SipTransportEvents extends TransportEvents {
  /** A CRLF pong answered our ping (RFC 5626 §4.4.1). */
  pong(ctx: InboundContext): void;
  /** Something went wrong without breaking the transport (bad input, a listener threw, a socket error). */
  fault(err: TransportError, info: FaultInfo): void;
  /** A stream connection closed (RFC 5626 flow failure signal for the registrar). */
  connectionClosed(info: { connectionId: string; remote: Endpoint; local: Endpoint }): void;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);
const UNFRAMEABLE: Record<FrameFault, [number, string]> = {
  'missing-content-length': [400, 'Missing Content-Length'],
  'bad-content-length': [400, 'Bad Content-Length'],
  'too-large': [413, 'Request Entity Too Large'],
};
const CRLF = Buffer.from('\r\n');

export class SipTransport implements TransportLayer {
  private readonly emitter = new EventEmitter();
  /** Listener snapshots for emit(), dropped by on()/off() (see emit). */
  private readonly listenerCache = new Map<string, readonly unknown[]>();
  private readonly clock: Clock;
  private readonly maxMessageSize: number;
  private readonly mtu: number;
  private readonly udp: Array<{ listener: UdpListener; advertise?: string }> = [];
  private readonly pool: StreamPool;
  /** Every sent-by we inserted, for the §18.1.2 response check. */
  private readonly sentBys = new Set<string>();
  private started = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly config: SipTransportConfig) {
    this.clock = config.clock ?? new SystemClock();
    this.maxMessageSize = config.maxMessageSize ?? 65_535;
    this.mtu = config.mtu ?? 1300;
    this.emitter.setMaxListeners(0);
    this.pool = new StreamPool({
      clock: this.clock,
      idleTimeoutMs: config.idleTimeoutMs ?? 600_000,
      connectTimeoutMs: config.connectTimeoutMs ?? 10_000,
      maxMessageSize: this.maxMessageSize,
      maxConnections: config.maxConnections ?? 1024,
      tls: config.tls,
      handler: { onFrame: (conn, frame) => this.onFrame(conn, frame), onClose: (conn) => this.onConnectionClose(conn) },
      onFault: (err) => this.fault(err, {}),
    });
  }

  on<E extends keyof SipTransportEvents>(event: E, listener: SipTransportEvents[E]): this {
    this.emitter.on(event, listener);
    this.listenerCache.delete(event);
    return this;
  }

  off<E extends keyof SipTransportEvents>(event: E, listener: SipTransportEvents[E]): this {
    this.emitter.off(event, listener);
    this.listenerCache.delete(event);
    return this;
  }

  /** Binds every configured listener; on any failure everything bound so far is released. */
  async start(): Promise<void> {
    if (this.started) throw new TransportError('listen-failed', 'transport already started');
    this.started = true;
    try {
      for (const l of this.config.listen) {
        if (l.transport === 'udp') {
          const listener = await UdpListener.bind(
            l.address,
            l.port,
            (data, from, on) => this.onDatagram(data, from, on),
            (err) => this.fault(new TransportError('send-failed', `udp socket error: ${err.message}`, { cause: err }), {}),
          );
          this.udp.push({ listener, advertise: l.advertise });
          if (this.config.udpQueueProbeMs) await listener.startQueueProbe(this.clock, this.config.udpQueueProbeMs);
        } else {
          await this.pool.listen(l.transport, l.address, l.port, l.advertise);
        }
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Bound endpoints, with the actual ports (port 0 resolved). */
  listening(): Endpoint[] {
    return [...this.udp.map((u) => ({ ...u.listener.local })), ...this.pool.listeners.map((s) => ({ ...s.local }))];
  }

  /**
   * A listener's endpoint as others should address it (Contact, Record-Route): an
   * IP `advertise` or, for a wildcard bind, a local interface address, instead of
   * the bound address. listening() gives the raw bound endpoints.
   */
  localEndpoint(transport: TransportName, fam?: 4 | 6): Endpoint | undefined {
    const all = [...this.udp.map((u) => ({ local: u.listener.local, advertise: u.advertise })), ...this.pool.listeners];
    const hit = all.find((l) => l.local.transport === transport && (fam === undefined || family(l.local.address) === fam));
    if (!hit) return undefined;
    const host = this.viaHost(hit.advertise, hit.local);
    return { transport, address: family(host) ? host : hit.local.address, port: hit.local.port };
  }

  isReliable(transport: TransportName): boolean {
    return transport !== 'udp';
  }

  /**
   * How long datagrams currently wait in the kernel receive queue before this
   * process reads them (ms; the largest over the UDP listeners), measured by the
   * queue probe; undefined without `udpQueueProbeMs` or UDP listeners.
   */
  udpQueueDelayMs(): number | undefined {
    let max: number | undefined;
    for (const u of this.udp) {
      const d = u.listener.queueDelayMs();
      if (d !== undefined && (max === undefined || d > max)) max = d;
    }
    return max;
  }

  /** Live stream connection ids (for diagnostics and tests). */
  connectionIds(): string[] {
    return this.pool.ids();
  }

  // ---------------------------------------------------------------- sending

  async sendRequest(req: SipRequest, target: Endpoint): Promise<InboundContext> {
    this.assertOpen();
    const via = req.via[0];
    if (!via) throw new TransportError('send-failed', 'request has no Via');
    if (target.transport !== 'udp') return this.sendOnStream(req, via, target);

    const fam = family(target.address);
    const udp = this.pickUdp(fam);
    if (!udp) throw new TransportError('no-socket', `no UDP socket for IPv${fam || '?'} target ${target.address}`);
    this.rewriteVia(via, 'udp', this.viaHost(udp.advertise, udp.listener.local), udp.listener.local.port);
    // RFC 3581 §3: ask for the source port, so responses cross NAT.
    if (!via.params.has('rport')) via.params.set('rport', null);
    let data = serializeMessage(req);
    // §18.1.1: within 200 bytes of the path MTU → a congestion-controlled transport.
    if (data.length > this.mtu - 200 && this.pool.listener('tcp', fam)) {
      try {
        return await this.sendOnStream(req, via, { ...target, transport: 'tcp' });
      } catch (err) {
        // §18.1.1: if the TCP attempt is refused, the element SHOULD retry over UDP.
        if (!(err instanceof TransportError) || (err.reason !== 'connect-failed' && err.reason !== 'connect-timeout')) throw err;
        this.rewriteVia(via, 'udp', this.viaHost(udp.advertise, udp.listener.local), udp.listener.local.port);
        data = serializeMessage(req);
      }
    }
    await udp.listener.send(data, target.address, target.port);
    this.trace('out', target, udp.listener.local, data);
    return { source: { ...target }, local: { ...udp.listener.local } };
  }

  async sendResponse(res: SipResponse, to: InboundContext): Promise<void> {
    this.assertOpen();
    const via = res.via[0];
    if (!via) throw new TransportError('unroutable', 'response has no Via');
    await this.deliverResponse(serializeMessage(res), via, to);
  }

  async sendResponseBytes(data: Buffer, res: SipResponse, to: InboundContext): Promise<void> {
    this.assertOpen();
    const via = res.via[0];
    if (!via) throw new TransportError('unroutable', 'response has no Via');
    await this.deliverResponse(data, via, to);
  }

  /**
   * Hot-path form of sendResponseBytes (TransportLayer.sendResponseNow): no Promise
   * and, for UDP, no tick between the TU's respond() and the sendmsg call. Failures
   * reach `onError` if given, else the 'fault' channel; never thrown, never synchronous.
   */
  sendResponseNow(data: Buffer, via: Via, to: InboundContext, onError?: (err: unknown) => void): void {
    const report = onError ?? ((err: unknown): void => this.fault(asTransportError(err), faultInfo(to)));
    try {
      this.assertOpen();
      if (to.source.transport === 'udp') {
        const r = this.udpRoute(via, to);
        r.udp.listener.sendNow(data, r.address, r.port, onError ? (err) => err && onError(sendFailed(err, r.address, r.port)) : undefined);
        if (this.tracing()) this.trace('out', { transport: 'udp', address: r.address, port: r.port }, r.udp.listener.local, data);
    else this.countSent(data);
        return;
      }
      // §18.2.2: over the request's connection while it is open (no Promise) …
      const conn = this.pool.get(to.connectionId) ?? this.pool.toRemote(to.source);
      if (conn && conn.state === 'open') {
        conn.writeNow(data, report);
        this.trace('out', conn.remote, conn.local, data);
        return;
      }
      // … else the connect-and-write path of sendResponseBytes.
      this.deliverResponse(data, via, to).catch(report);
    } catch (err) {
      process.nextTick(report, err);
    }
  }

  /** Sends response octets per §18.2.2 / RFC 3581 §4, routed by `via` (the response's top Via). */
  private async deliverResponse(data: Buffer, via: Via, to: InboundContext): Promise<void> {
    const transport = to.source.transport;

    if (transport !== 'udp') {
      // §18.2.2: over the connection the request came in on, if it is still open …
      const conn = this.pool.get(to.connectionId) ?? this.pool.toRemote(to.source);
      if (conn && conn.state === 'open') {
        await conn.write(data);
        this.trace('out', conn.remote, conn.local, data);
        return;
      }
      // … else a new connection to received (or sent-by) and the sent-by port.
      const dest = responseDestination(via, transport);
      if (!dest.address) throw new TransportError('unroutable', `response Via host ${via.host} needs DNS (RFC 3263 §5)`);
      const c = await this.pool.connect({ transport, address: dest.address, port: dest.port }, undefined, this.sourceAddress(transport, family(dest.address) || 4));
      await c.write(data);
      this.trace('out', c.remote, c.local, data);
      return;
    }

    const r = this.udpRoute(via, to);
    await r.udp.listener.send(data, r.address, r.port);
    if (this.tracing()) this.trace('out', { transport: 'udp', address: r.address, port: r.port }, r.udp.listener.local, data);
    else this.countSent(data);
  }

  /** UDP (RFC 3581 §4): received + rport, from the socket the request arrived on. Throws when there is no socket. */
  private udpRoute(via: Via, to: InboundContext): { udp: { listener: UdpListener; advertise?: string }; address: string; port: number } {
    const dest = responseDestination(via, 'udp');
    // NOTE: a sent-by domain without `received` cannot happen for requests this
    // transport stamped; for anything else we answer the packet source rather than
    // resolve the name (RFC 3263 §5) here.
    const address = dest.address ?? to.source.address;
    const port = dest.address ? dest.port : to.source.port;
    const udp = this.udpFor(to.local, family(address));
    if (!udp) throw new TransportError('no-socket', `no UDP socket to answer ${address}`);
    return { udp, address, port };
  }

  /**
   * RFC 5626 §4.4.1 keep-alive towards where `ctx` came from: a double-CRLF ping on
   * its stream connection (the pong arrives as a 'pong' event), or a CRLF datagram.
   */
  async sendKeepAlive(ctx: InboundContext): Promise<void> {
    this.assertOpen();
    if (ctx.source.transport !== 'udp') {
      const conn = this.pool.get(ctx.connectionId) ?? this.pool.toRemote(ctx.source);
      if (!conn || conn.state === 'closed') throw new TransportError('connection-closed', 'no live connection for keep-alive');
      await conn.ready();
      await conn.ping();
      return;
    }
    const udp = this.udpFor(ctx.local, family(ctx.source.address));
    if (!udp) throw new TransportError('no-socket', `no UDP socket for ${ctx.source.address}`);
    await udp.listener.send(CRLF, ctx.source.address, ctx.source.port);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // ---------------------------------------------------------------- streams

  private async sendOnStream(req: SipRequest, via: Via, target: Endpoint): Promise<InboundContext> {
    const transport = target.transport as 'tcp' | 'tls';
    // RFC 5922 §7.2: a TLS peer is checked against the domain of the request target.
    const servername = isSipUri(req.uri) && family(req.uri.host) === 0 ? req.uri.host : undefined;
    const fam = family(target.address);
    const conn = await this.pool.connect(target, servername, fam ? this.sourceAddress(transport, fam) : undefined);
    const listener = this.pool.listener(transport, fam);
    // §18.1.1: sent-by names where responses go if this connection is gone: our listener.
    if (listener) this.rewriteVia(via, transport, this.viaHost(listener.advertise, listener.local), listener.local.port);
    else this.rewriteVia(via, transport, conn.local.address, conn.local.port);
    const data = serializeMessage(req);
    await conn.write(data);
    this.trace('out', conn.remote, conn.local, data);
    return { source: { ...conn.remote }, local: { ...conn.local }, connectionId: conn.id };
  }

  private onFrame(conn: StreamConnection, frame: Frame): void {
    const ctx: InboundContext = { source: { ...conn.remote }, local: { ...conn.local }, connectionId: conn.id };
    if (frame.kind === 'message') {
      this.receive(frame.data, ctx);
    } else if (frame.kind === 'pong') {
      this.emit('pong', ctx);
    } else if (frame.kind === 'error') {
      this.fault(new TransportError('bad-message', `stream framing: ${frame.fault}`), { remote: ctx.source, local: ctx.local, connectionId: conn.id });
      // §18.3: a stream message without a usable Content-Length gets a 400 (too large:
      // 413, §21.4.14) when its headers are readable; then the connection closes, as the
      // framer has lost sync.
      if (frame.head) this.answerUnframeable(conn, frame.head, frame.fault);
    }
  }

  private answerUnframeable(conn: StreamConnection, head: Buffer, fault: FrameFault): void {
    const [status, reason] = UNFRAMEABLE[fault];
    // The header block alone: with datagram semantics a missing Content-Length parses,
    // a too-large one yields the parser's own stateless response, which we re-status.
    const parsed = parseMessage(head);
    let res: SipResponse | undefined;
    if (parsed.ok) {
      if (parsed.msg.kind === 'request' && parsed.msg.method !== 'ACK') res = createResponse(parsed.msg, status, reason);
    } else if (parsed.isRequest && parsed.response) {
      res = parsed.response;
      res.status = status;
      res.reason = reason;
    }
    const raw = !parsed.ok && parsed.isRequest && !res ? parsed.rawResponse : undefined;
    if (!res && !raw) return;
    const data = res ? serializeMessage(res) : serializeRawResponse(raw as RawResponse, status, reason);
    conn.write(data).catch(() => undefined);
    this.trace('out', conn.remote, conn.local, data);
  }

  private onConnectionClose(conn: StreamConnection): void {
    this.emit('connectionClosed', { connectionId: conn.id, remote: { ...conn.remote }, local: { ...conn.local } });
  }

  // ---------------------------------------------------------------- inbound

  /**
   * Installs (or removes, with undefined) a filter run on every UDP datagram before
   * it is parsed: a datagram it returns true for is dropped unread (overload
   * shedding, where even a 503 costs more than the node has; RFC 6357 §4).
   */
  setUdpShedding(drop: ((data: Buffer) => boolean) | undefined): void {
    this.udpShed = drop;
  }

  /** The caller counts what it drops (the node: sip_overload_dropped_total). */
  private udpShed: ((data: Buffer) => boolean) | undefined;

  private onDatagram(data: Buffer, from: Endpoint, listener: UdpListener): void {
    try {
      if (this.udpShed !== undefined && this.udpShed(data)) return;
      // `from` is a fresh object per datagram. An IPv4 socket reports dotted-quad
      // sources, already canonical; IPv6 ones need canonicalIp.
      const source: Endpoint = listener.family === 4 ? from : { transport: 'udp', address: canonicalIp(from.address), port: from.port };
      // listener.local is frozen and shared by every context of the socket: no copy per datagram.
      this.receive(data, { source, local: listener.local });
    } catch (err) {
      this.fault(asTransportError(err), { remote: from, local: listener.local });
    }
  }

  /** Parses and dispatches one message. Never throws (hostile input, throwing listeners). */
  private receive(data: Buffer, ctx: InboundContext): void {
    try {
      this.trace('in', ctx.source, ctx.local, data);
      if (ctx.source.transport === 'udp' && isOnlyLineEnds(data)) return; // CRLF keep-alive datagram
      // The parser enforces maxMessageSize too (answering 413 where it can, §21.4.14).
      const parsed = parseMessage(data, { maxMessageSize: this.maxMessageSize });
      if (!parsed.ok) {
        this.fault(new TransportError('bad-message', `unparseable message: ${parsed.error.fault}`, { cause: parsed.error }), faultInfo(ctx));
        const res = parsed.isRequest ? parsed.response : undefined;
        const raw = parsed.isRequest ? parsed.rawResponse : undefined;
        const onErr = (err: unknown): void => this.fault(asTransportError(err), faultInfo(ctx));
        if (res && res.via[0]) {
          stampVia(res.via[0], ctx.source);
          this.sendResponse(res, ctx).catch(onErr);
        } else if (raw) {
          // Headers copied raw (RFC 4475 §3.1.2): routed by the leniently read top Via.
          // NOTE: received/rport go into the routing Via only, not into the copied octets.
          stampVia(raw.via, ctx.source);
          this.assertOpen();
          this.deliverResponse(serializeRawResponse(raw), raw.via, ctx).catch(onErr);
        }
        return;
      }
      const msg = parsed.msg;
      const via = msg.via[0];
      if (!via) return; // the parser requires Via; belt and braces
      if (msg.kind === 'request') {
        stampVia(via, ctx.source);
        this.emit('request', inbound(ctx, msg));
        return;
      }
      // §18.1.2: a response whose top Via is not one we inserted is discarded.
      if (!this.sentBys.has(sentByKey(via))) {
        this.fault(new TransportError('bad-message', `response for foreign sent-by ${via.host}:${via.port ?? ''}`), faultInfo(ctx));
        return;
      }
      this.emit('response', inbound(ctx, msg));
    } catch (err) {
      this.fault(asTransportError(err), faultInfo(ctx));
    }
  }

  // ---------------------------------------------------------------- helpers

  private rewriteVia(via: Via, transport: TransportName, host: string, port: number): void {
    via.transport = viaTransportToken(transport);
    via.host = hostForm(host);
    via.port = port;
    this.sentBys.add(sentByKey(via));
  }

  /** Via host for a listener: advertised name, else bound address, else a guess for wildcard binds. */
  private viaHost(advertise: string | undefined, local: Endpoint): string {
    if (advertise) return advertise;
    if (!WILDCARDS.has(local.address)) return local.address;
    const fam = family(local.address);
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) if (!a.internal && a.family === (fam === 6 ? 'IPv6' : 'IPv4')) return a.address;
    }
    return fam === 6 ? '::1' : '127.0.0.1';
  }

  /** Local address to connect from, so peers see the address our Via names. */
  private sourceAddress(transport: 'tcp' | 'tls', fam: 4 | 6): string | undefined {
    const candidates = [this.pool.listener(transport, fam)?.local, this.pickUdp(fam)?.listener.local];
    return candidates.find((e) => e && !WILDCARDS.has(e.address))?.address;
  }

  private pickUdp(fam: 4 | 6 | 0): { listener: UdpListener; advertise?: string } | undefined {
    return this.udp.find((u) => u.listener.family === fam);
  }

  /** The UDP socket a request arrived on (RFC 3581 §4 symmetric response), else one of the family. */
  private udpFor(local: Endpoint, fam: 4 | 6 | 0): { listener: UdpListener; advertise?: string } | undefined {
    const same = this.udp.find(
      (u) =>
        u.listener.local.port === local.port &&
        (u.listener.local.address === local.address || canonicalIp(u.listener.local.address) === canonicalIp(local.address)),
    );
    return same && same.listener.family === fam ? same : this.pickUdp(fam);
  }

  private assertOpen(): void {
    if (this.closing) throw new TransportError('closed', 'transport closed');
  }

  /**
   * Called with the status code ("200") of every response this transport puts on the
   * wire, whoever built it: the TU, a transaction's retransmission, the transport's
   * own 400s. A plain callback, so that counting needs no 'trace' event per datagram.
   */
  onResponseSent: ((status: string) => void) | undefined;

  /** Whether anyone listens to 'trace': hot paths skip building trace data otherwise. */
  private tracing(): boolean {
    return this.emitter.listenerCount('trace') > 0;
  }

  private trace(direction: 'in' | 'out', remote: Endpoint, local: Endpoint, data: Buffer): void {
    if (direction === 'out') this.countSent(data);
    if (this.tracing()) this.emit('trace', { direction, remote: { ...remote }, local: { ...local }, data });
  }

  /** Reports the status of every response put on the wire to `onResponseSent` (metrics). */
  private countSent(data: Buffer): void {
    if (this.onResponseSent === undefined) return;
    const status = responseStatus(data);
    if (status !== undefined) this.onResponseSent(status);
  }

  private fault(err: TransportError, info: FaultInfo): void {
    try {
      this.emitter.emit('fault', err, info);
    } catch {
      // A throwing fault listener has nowhere left to report to.
    }
  }

  /** Emits to listeners; a throwing listener becomes a 'fault', never a socket crash. */
  private emit<E extends keyof SipTransportEvents>(event: E, ...args: Parameters<SipTransportEvents[E]>): void {
    // Each listener runs on its own, so one that throws does not starve the others.
    // A snapshot per event, rebuilt only after on()/off(): emitter.listeners() copies
    // the array on every call, i.e. one allocation per datagram. Same semantics: a
    // listener added or removed while emitting takes effect from the next emit.
    let listeners = this.listenerCache.get(event);
    if (listeners === undefined) {
      listeners = this.emitter.listeners(event);
      this.listenerCache.set(event, listeners);
    }
    for (const listener of listeners) {
      try {
        (listener as (...a: Parameters<SipTransportEvents[E]>) => void)(...args);
      } catch (err) {
        this.fault(new TransportError('listener-threw', `'${event}' listener threw: ${(err as Error)?.message ?? String(err)}`, { cause: err }), {});
      }
    }
  }

  private async shutdown(): Promise<void> {
    await Promise.all([this.pool.close(), ...this.udp.splice(0).map((u) => u.listener.close())]);
  }
}

function sentByKey(via: Via): string {
  const t = transportFromVia(via.transport) ?? 'udp';
  return `${canonicalIp(via.host)}:${via.port ?? defaultPort(t)}`;
}

function isOnlyLineEnds(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] !== 0x0d && data[i] !== 0x0a) return false;
  return true;
}

/**
 * The inbound message with its context, written as one object literal: a spread
 * followed by a new key (`{ ...ctx, msg }`) costs about 1 µs per added key on
 * Node 20 and can leave a dictionary-mode object that slows every later access.
 * `connectionId` only when there is one, as before (UDP contexts have none).
 */
function inbound<M>(ctx: InboundContext, msg: M): InboundContext & { msg: M } {
  if (ctx.connectionId === undefined) return { source: ctx.source, local: ctx.local, msg };
  return { source: ctx.source, local: ctx.local, connectionId: ctx.connectionId, msg };
}

function sendFailed(err: Error, address: string, port: number): TransportError {
  return err instanceof TransportError ? err : new TransportError('send-failed', `udp send to ${address}:${port}: ${err.message}`, { cause: err });
}

function faultInfo(ctx: InboundContext): FaultInfo {
  return { remote: ctx.source, local: ctx.local, connectionId: ctx.connectionId };
}

function asTransportError(err: unknown): TransportError {
  if (err instanceof TransportError) return err;
  return new TransportError('bad-message', `unexpected: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

const STATUS_LINE_START = Buffer.from('SIP/2.0 ', 'latin1');
const DIGIT_0 = 0x30;
/** "100" … "699", indexed by the number (no per-response number-to-string). */
const STATUS_TEXT: string[] = Array.from({ length: 700 }, (_, i) => String(i));

/** The status code of a serialized response ("SIP/2.0 200 ..."), else undefined (a request). Runs per datagram sent: no string copies. */
function responseStatus(data: Buffer): string | undefined {
  if (data.length < 12 || data.compare(STATUS_LINE_START, 0, 8, 0, 8) !== 0) return undefined;
  const d1 = data[8] - DIGIT_0;
  const d2 = data[9] - DIGIT_0;
  const d3 = data[10] - DIGIT_0;
  if (!(d1 >= 1 && d1 <= 6 && d2 >= 0 && d2 <= 9 && d3 >= 0 && d3 <= 9)) return undefined;
  return STATUS_TEXT[d1 * 100 + d2 * 10 + d3];
}
