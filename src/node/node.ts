/**
 * The composition root of one node (DESIGN.md §3): wires transport, transaction
 * layer, registrar, keep-alive, calls, media ports, stores and the admin API from
 * the config. Nothing below this file knows how the others are built.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { SystemClock, type Clock } from '../sip/clock.ts';
import { SipTransport } from '../sip/transport/index.ts';
import { TransactionLayer } from '../sip/transaction/layer.ts';
import type { ServerTransaction } from '../sip/transaction/types.ts';
import { isSynthetic } from '../sip/transaction/messages.ts';
import type { InboundRequest } from '../sip/transport/types.ts';
import { createResponse, createRequest, newCallId, newTag } from '../sip/message/build.ts';
import { parseUri } from '../sip/message/parser.ts';
import type { AuthValue, SipRequest, SipResponse, TransportName, Uri } from '../sip/message/types.ts';
import { DigestServer, type Ha1Lookup } from '../sip/auth/digest-server.ts';
import { checkRequest, type UasPolicy } from '../sip/ua/uas-checks.ts';
import { Registrar } from '../pbx/registrar/registrar.ts';
import { digestRegistrarAuth } from '../pbx/registrar/digest-auth.ts';
import { KeepAliveScheduler } from '../pbx/registrar/keepalive.ts';
import { CallManager } from '../pbx/calls/call-manager.ts';
import { PortPool } from '../media/port-pool.ts';
import { openSqliteStores, type SqliteStores } from '../store/stores.ts';
import type { Binding, FlowInfo } from '../store/location-store.ts';
import { createAdminServer, type AdminServer } from '../admin/http.ts';
import type { AdminSource, NodeStatus } from '../admin/types.ts';
import { createLogger, type Logger } from '../util/log.ts';
import { errorCode } from '../util/errors.ts';
import { extensionsOf, nodeConfig, type Config, type NodeConfig } from './config.ts';
import { LoopLagSampler, OverloadGuard, type LagSource } from './overload.ts';
import { LabelCounts } from './label-counts.ts';

export const VERSION = '0.1.0';

/** What this node implements (Allow), and the §8.2 checks applied to every request. */
const POLICY: UasPolicy = {
  allow: ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'UPDATE', 'INFO'],
  known: ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'UPDATE', 'INFO', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH'],
  supported: ['path', 'outbound', 'replaces', 'timer'],
  schemes: ['sip', 'sips', 'tel'],
  accept: ['application/sdp'],
  forwarded: ['INVITE'],
};

export interface NodeOptions {
  config: Config;
  nodeName: string;
  clock?: Clock;
  logger?: Logger;
  /** Overrides for tests: listen/admin ports (0 = ephemeral). */
  overrides?: Partial<Pick<NodeConfig, 'sip' | 'admin' | 'rtp' | 'database'>>;
  /** Tests: the event-loop lag the overload guard reads (default: a sampler on the clock). */
  lagSource?: LagSource;
  /** Tests: the clock the overload guard adjusts its reject share on (default: `clock`). */
  overloadClock?: Clock;
  /** Tests: the kernel receive-queue delay the overload guard reads (default: the transport's UDP probe). */
  queueDelay?: () => number | undefined;
}

export class PbxNode {
  readonly name: string;
  readonly config: Config;
  readonly node: NodeConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly transport: SipTransport;
  readonly layer: TransactionLayer;
  readonly stores: SqliteStores;
  readonly registrar: Registrar;
  readonly calls: CallManager;
  readonly ports: PortPool;
  readonly metrics = new Registry();
  private keepAlive: KeepAliveScheduler | undefined;
  private admin: AdminServer | undefined;
  private readonly startedAt: number;
  private closing: Promise<void> | undefined;
  private readonly requests = new LabelCounts<'method'>((method) => ({ method }));
  private readonly responses = new LabelCounts<'status'>((status) => ({ status }));
  /** Undefined when `overload.enabled` is false. */
  readonly overload: OverloadGuard | undefined;

  constructor(opts: NodeOptions) {
    this.config = opts.config;
    this.name = opts.nodeName;
    this.node = { ...nodeConfig(opts.config, opts.nodeName), ...opts.overrides };
    this.clock = opts.clock ?? new SystemClock();
    this.logger = opts.logger ?? createLogger({ node: this.name });
    this.startedAt = this.clock.now();

    mkdirSync(dirname(this.node.database), { recursive: true });
    // The node is the only writer of its database: binding reads come from memory.
    // Group commit once per event-loop turn (SqliteLocationStore.stage).
    this.stores = openSqliteStores(this.node.database, { cacheReads: true });

    const tls = this.node.tls ? { cert: readFileSync(this.node.tls.certFile), key: readFileSync(this.node.tls.keyFile) } : undefined;
    // The queue probe runs whenever configured, also with the protection off: the
    // delay gauge alone tells an operator how close the node is to collapse.
    this.transport = new SipTransport({ listen: this.node.sip, tls, clock: this.clock, udpQueueProbeMs: this.config.overload.queueProbeMs });
    this.layer = new TransactionLayer(this.transport, { clock: this.clock, timers: { T1: this.config.sip.t1, T2: this.config.sip.t2, T4: this.config.sip.t4 } });
    this.ports = new PortPool({ min: this.node.rtp.minPort, max: this.node.rtp.maxPort });

    const exts = new Map(extensionsOf(this.config, this.name).map((e) => [e.number, e]));
    const lookup: Ha1Lookup = (username, realm, algorithm) => {
      const e = exts.get(username);
      if (!e || realm !== this.config.realm) return undefined;
      const ha1 = algorithm === 'MD5' ? e.secret.ha1.md5 : algorithm === 'SHA-256' ? e.secret.ha1.sha256 : undefined;
      return ha1 ? { ha1 } : undefined;
    };
    // NOTE: the nonce secret is per process: after a restart, phones get one fresh
    // challenge (the old nonce no longer verifies), which they answer transparently.
    const digest = new DigestServer({ realm: this.config.realm, secret: randomBytes(32), clock: this.clock, algorithms: this.config.sip.digestAlgorithms });
    const regAuth = digestRegistrarAuth(digest, lookup);
    const domains = [...this.node.domains, ...(this.node.host ? [this.node.host] : []), ...new Set(this.node.sip.map((l) => l.address))];
    this.registrar = new Registrar({
      store: this.stores.location,
      auth: regAuth.auth,
      challenge: regAuth.challenge,
      clock: this.clock,
      domains,
      nodeName: this.name,
      minExpires: this.config.registrar.minExpires,
      maxExpires: this.config.registrar.maxExpires,
      defaultExpires: this.config.registrar.defaultExpires,
      extensions: (user) => exts.has(user),
      onError: (err) => this.logger.error({ err, code: errorCode(err) }, 'registrar failure'),
    });

    const callsTotal = new Counter({ name: 'calls_total', help: 'Calls ended, by CDR result (answered, no-answer, busy, rejected, cancelled, failed)', labelNames: ['result'], registers: [this.metrics] });
    const proxyChallenge = (stale: boolean): AuthValue[] => digest.challenge({ stale, proxy: true });
    this.calls = new CallManager({
      layer: this.layer,
      transport: this.transport,
      clock: this.clock,
      logger: this.logger,
      nodeName: this.name,
      store: this.stores.location,
      aorOf: (user) => this.registrar.aorOf(user),
      extension: (user) => {
        const e = exts.get(user);
        return e ? { number: e.number, displayName: e.name } : undefined;
      },
      authenticate: (req) => {
        const v = digest.verify(req, lookup, { proxy: true });
        if (v.result === 'ok') return { ok: true, user: v.username };
        if (v.result === 'bad-request') return { ok: false, response: 'bad-request' };
        return { ok: false, response: v.result === 'challenge' && v.stale ? 'stale' : 'challenge' };
      },
      challenge: proxyChallenge,
      ports: this.ports,
      mediaAddress: this.node.rtp.address,
      ringTimeoutSec: this.config.calls.ringTimeoutSec,
      maxForwards: this.config.calls.maxForwards,
      cdr: this.stores.cdr,
      localContact: (transport) => this.localUri(transport),
      onCallEnded: (_call, result) => callsTotal.inc({ result }),
    });

    const requests = this.requests;
    const responses = this.responses;
    new Counter({
      name: 'sip_requests_received_total',
      help: 'SIP requests received, by method',
      labelNames: ['method'],
      registers: [this.metrics],
      collect() {
        requests.collectInto(this);
      },
    });
    new Counter({
      name: 'sip_responses_sent_total',
      help: 'SIP responses put on the wire by this node (every layer; retransmissions included), by status',
      labelNames: ['status'],
      registers: [this.metrics],
      collect() {
        responses.collectInto(this);
      },
    });
    const stores = this.stores;
    const clock = this.clock;
    const calls = this.calls;
    new Gauge({ name: 'registrations', help: 'Unexpired bindings in the location store', registers: [this.metrics], collect() { this.set(stores.location.count(clock.now())); } });
    new Gauge({ name: 'calls_active', help: 'Calls in progress', registers: [this.metrics], collect() { this.set(calls.stats().active); } });
    const ports = this.ports;
    new Gauge({ name: 'rtp_port_pairs_in_use', help: 'RTP/RTCP port pairs allocated', registers: [this.metrics], collect() { this.set(ports.inUse); } });

    const ov = this.config.overload;
    const transport = this.transport;
    if (ov.queueProbeMs > 0) {
      new Gauge({
        name: 'sip_udp_queue_delay_seconds',
        help: 'How long datagrams wait in the kernel UDP receive queue: last probe delay, or the age of the oldest probe not back yet if larger',
        registers: [this.metrics],
        collect() {
          this.set((transport.udpQueueDelayMs() ?? 0) / 1000);
        },
      });
    }
    if (ov.enabled) {
      const rejected = new Counter({ name: 'sip_overload_rejected_total', help: 'New REGISTER/INVITE refused with 503 while overloaded', registers: [this.metrics] });
      const guard = new OverloadGuard({
        source: opts.lagSource ?? new LoopLagSampler(this.clock, ov.sampleMs),
        clock: opts.overloadClock ?? this.clock,
        adjustMs: ov.sampleMs,
        enterLagMs: ov.enterLagMs,
        exitLagMs: ov.exitLagMs,
        enterUtilization: ov.enterUtilization,
        exitUtilization: ov.exitUtilization,
        queueDelay: opts.queueDelay ?? (() => transport.udpQueueDelayMs()),
        enterQueueDelayMs: ov.enterQueueDelayMs,
        exitQueueDelayMs: ov.exitQueueDelayMs,
        dropQueueDelayMs: ov.dropQueueDelayMs === 0 ? undefined : ov.dropQueueDelayMs,
        onShedding: (shedding, sig) =>
          this.logger.warn(
            { shedding, queueDelayMs: Math.round(sig.queueDelayMs) },
            shedding ? 'overloaded: dropping new REGISTERs unread' : 'dropping over',
          ),
        retryAfterSec: ov.retryAfterSec,
        onChange: (overloaded, sig) =>
          this.logger.warn(
            { overloaded, lagMs: Math.round(sig.lagMs), utilization: Math.round(sig.utilization * 100) / 100, queueDelayMs: Math.round(sig.queueDelayMs) },
            overloaded ? 'overloaded: refusing new work with 503' : 'overload over',
          ),
      });
      new Gauge({ name: 'overloaded', help: '1 while a share of new work is refused (event-loop lag, utilization or UDP receive-queue delay above the overload thresholds)', registers: [this.metrics], collect() { this.set(guard.state() === 'overloaded' ? 1 : 0); } });
      this.overload = guard;
      this.overloadRejected = rejected;
      if (ov.dropQueueDelayMs !== 0) {
        const dropped = new Counter({ name: 'sip_overload_dropped_total', help: 'New REGISTERs dropped unread while the UDP receive queue was past overload.dropQueueDelayMs', registers: [this.metrics] });
        transport.setUdpShedding((data) => {
          if (!guard.dropDatagram(data)) return false;
          dropped.inc();
          return true;
        });
      }
    }

    this.wire();
  }

  private overloadRejected: Counter | undefined;

  /** Binds every listener, starts keep-alives and the admin API. */
  async start(): Promise<void> {
    await this.transport.start();
    this.keepAlive = new KeepAliveScheduler({
      store: this.stores.location,
      clock: this.clock,
      intervalSec: this.config.keepalive.intervalSec,
      maxFailures: this.config.keepalive.maxFailures,
      ping: (b) => this.ping(b),
      onReachability: (b, up) => this.logger.info({ aor: b.aor, contact: b.contact, reachable: up }, 'binding reachability changed'),
    });
    if (this.node.admin) {
      this.admin = await createAdminServer({ address: this.node.admin.address, port: this.node.admin.port, node: this.adminSource(), registry: this.metrics });
    }
    this.logger.info({ listeners: this.transport.listening(), admin: this.admin?.url }, 'node started');
  }

  get adminUrl(): string | undefined {
    return this.admin?.url;
  }

  /** Idempotent; cascades: calls → keep-alive → admin → transactions → transport → media → stores. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.calls.close().catch((err: unknown) => this.logger.error({ err }, 'closing calls'));
      this.keepAlive?.stop();
      await this.admin?.close();
      this.overload?.close();
      this.layer.close();
      await this.transport.close();
      this.stores.close();
    })();
    return this.closing;
  }

  private wire(): void {
    this.layer.onRequest = (tx, req) => this.onRequest(tx, req);
    this.layer.onAck = (req) => this.calls.onAck(req);
    this.layer.onCancel = (inviteTx, cancelTx, req) => this.calls.onCancel(inviteTx, cancelTx, req);
    this.layer.onStrayResponse = (res) => this.calls.onStrayResponse(res);
    this.layer.onError = (err) => this.logger.warn({ err, code: errorCode(err) }, 'transaction layer');
    // Counted on the wire so that every sender is included: our handler, the call
    // engine, the transaction layer's retransmissions, the transport's own 400s.
    this.transport.onResponseSent = (status) => this.responses.inc(status);
    // Only a trace-level logger needs every datagram as an event.
    if (this.logger.isLevelEnabled('trace')) {
      this.transport.on('trace', (ev) => {
        this.logger.trace({ dir: ev.direction, remote: ev.remote, local: ev.local, sip: ev.data.toString('utf8') }, 'sip');
      });
    }
    this.transport.on('fault', (err, info) => this.logger.debug({ code: err.code, msg: err.message, ...info }, 'transport fault'));
    this.transport.on('connectionClosed', (info) => this.onFlowClosed(info.connectionId));
  }

  /**
   * RFC 5626 §5.2: when a flow fails, the bindings registered over it can no longer
   * be reached (a NAT'd phone cannot be called back on a new connection). Mark them
   * unreachable at once instead of waiting for keep-alive failures; the phone's next
   * REGISTER (on a new flow) or a successful keep-alive makes them usable again.
   * NOTE: a scan of all bindings per closed connection; fine at PBX scale (the store
   * has no index by connection).
   */
  private onFlowClosed(connectionId: string): void {
    // Our own shutdown closes every connection: that says nothing about the phones.
    if (this.closing) return;
    try {
      const store = this.stores.location;
      for (const b of store.all(this.clock.now())) {
        if (b.flow.connectionId !== connectionId || !b.reachable) continue;
        // updatedAt stays: it records the last REGISTER (as in the keep-alive scheduler).
        store.save({ ...b, reachable: false, failures: Math.max(b.failures, this.config.keepalive.maxFailures) });
        this.logger.info({ aor: b.aor, contact: b.contact, connectionId, reachable: false }, 'flow closed: binding unreachable');
      }
    } catch (err) {
      // A store failure must not escape a transport event handler.
      this.logger.error({ err, code: errorCode(err), connectionId }, 'marking flow bindings unreachable failed');
    }
  }

  private onRequest(tx: ServerTransaction, inbound: InboundRequest): void {
    const req = inbound.msg;
    this.requests.inc(req.method);
    try {
      if (this.overload?.shouldReject(req)) {
        // RFC 3261 §21.5.4: 503 with Retry-After; never without it (docs/interop.md: linphone).
        this.overloadRejected?.inc();
        const res = createResponse(req, 503, 'Service Unavailable');
        res.headers.push({ name: 'Retry-After', value: String(this.overload.retryAfterSec) });
        return this.respond(tx, res);
      }
      const rejected = checkRequest(req, POLICY);
      if (rejected) return this.respond(tx, rejected);
      const inDialog = req.to.params.has('tag');
      if (inDialog) {
        if (this.calls.onInDialogRequest(tx, inbound)) return;
        return this.respond(tx, createResponse(req, 481, 'Call/Transaction Does Not Exist'));
      }
      switch (req.method) {
        case 'REGISTER':
          // The 200 leaves only once the binding is committed (group commit, see
          // SqliteLocationStore): answered registrations survive kill -9.
          return this.registrar.handleDurable(req, this.flowOf(inbound), (res) => {
            try {
              this.respond(tx, res);
            } catch (err) {
              // Possibly called from a commit callback: nothing may escape it.
              this.logger.error({ err, code: errorCode(err), method: req.method, callId: req.callId }, 'sending REGISTER response failed');
            }
          });
        case 'INVITE':
          return this.calls.onInvite(tx, inbound);
        case 'OPTIONS': {
          // §11.2: capabilities; also the keep-alive answer for peers pinging us.
          const res = createResponse(req, 200, 'OK');
          res.headers.push({ name: 'Allow', value: POLICY.allow.join(', ') }, { name: 'Accept', value: 'application/sdp' });
          res.supported.push(...POLICY.supported);
          return this.respond(tx, res);
        }
        case 'BYE':
        case 'UPDATE':
        case 'INFO':
          return this.respond(tx, createResponse(req, 481, 'Call/Transaction Does Not Exist'));
        default:
          return this.respond(tx, createResponse(req, 405, 'Method Not Allowed'));
      }
    } catch (err) {
      // Never let a request escape unanswered (STYLE.md §4): a bug becomes a 500.
      this.logger.error({ err, code: errorCode(err), method: req.method, callId: req.callId }, 'request handler failed');
      if (tx.state !== 'terminated' && (tx.lastResponse === undefined || tx.lastResponse.status < 200)) {
        this.respond(tx, createResponse(req, 500, 'Server Internal Error'));
      }
    }
  }

  /**
   * Sends a final or provisional response on the transaction, with a To tag on
   * anything above 100 (§8.2.6.2). A method, not a closure per request: under tsx
   * every named closure costs a __name() call when created.
   */
  private respond(tx: ServerTransaction, res: SipResponse): void {
    if (!res.to.params.has('tag') && res.status > 100) res.to.params.set('tag', newTag());
    // A REGISTER's challenge or overload refusal is answered statelessly (§8.2.7): a
    // retransmission gets a fresh 401/503, and half of all registration transactions
    // are not held for Timer J (32 s). Kamailio's registrar challenges the same way.
    if (tx.respondStateless && tx.request.method === 'REGISTER' && (res.status === 401 || res.status === 503)) tx.respondStateless(res);
    else tx.respond(res);
  }

  /** Where a request came from (RFC 5626 flow), for the registrar. */
  private flowOf(inbound: InboundRequest): FlowInfo {
    // One literal with every key (connectionId undefined on UDP): one object shape for all flows.
    return {
      transport: inbound.source.transport,
      address: inbound.source.address,
      port: inbound.source.port,
      localAddress: inbound.local.address,
      localPort: inbound.local.port,
      connectionId: inbound.connectionId,
    };
  }

  /** A URI that reaches this node over the given transport (Contact, Record-Route). */
  private localUri(transport: TransportName): Uri {
    const ep = this.transport.localEndpoint(transport) ?? this.transport.localEndpoint('udp');
    const host = ep ? (ep.address.includes(':') ? `[${ep.address}]` : ep.address) : '127.0.0.1';
    const uri = parseUri(`sip:${host}:${ep?.port ?? 5060}`);
    if (transport !== 'udp' && 'params' in uri) uri.params.set('transport', transport);
    return uri;
  }

  /** NAT keep-alive (RFC 3261 §11 OPTIONS; RFC 5626 uses CRLF on flows): any response means alive. */
  private ping(b: Binding): Promise<boolean> {
    return new Promise((resolve) => {
      try {
        const target = { transport: b.flow.transport, address: b.flow.address, port: b.flow.port };
        const uri = parseUri(b.contact);
        const from = { uri: this.localUri(b.flow.transport), params: new Map([['tag', newTag()]]) };
        const req: SipRequest = createRequest({ method: 'OPTIONS', uri, from, to: { uri, params: new Map() }, callId: newCallId(), cseq: 1 });
        req.maxForwards = 70;
        this.layer.request(req, target, {
          onResponse: (res) => {
            if (res.status < 200) return;
            // A synthesized 408 (Timer F) or 503 (transport error) means no answer;
            // any real response, even an error, proves the pinhole is open.
            resolve(!isSynthetic(res));
          },
        });
      } catch (err) {
        this.logger.debug({ err }, 'keep-alive ping failed');
        resolve(false);
      }
    });
  }

  private adminSource(): AdminSource {
    return {
      status: (): NodeStatus => ({
        name: this.name,
        role: this.node.role,
        version: VERSION,
        startedAt: this.startedAt,
        uptimeSec: Math.round((this.clock.now() - this.startedAt) / 1000),
        listeners: this.transport.listening(),
        counts: {
          registrations: this.stores.location.count(this.clock.now()),
          activeCalls: this.calls.stats().active,
          totalCalls: this.calls.stats().total,
        },
      }),
      registrations: () => this.stores.location.all(this.clock.now()),
      calls: () => this.calls.calls(),
    };
  }
}
