/**
 * The transaction layer (RFC 3261 §17) on top of a TransportLayer. It matches
 * inbound responses to client transactions (§17.1.3) and inbound requests to
 * server transactions (§17.2.3, RFC 2543 fallback), handles CANCEL matching
 * (§9.2), and hands everything that belongs to no transaction to the TU core:
 * new requests, ACKs for 2xx, stray responses (§17.2.3, §18.1.2, RFC 6026).
 *
 * Usage:
 *   const layer = new TransactionLayer(transport, { clock });
 *   layer.onRequest = (tx, req) => tx.respond(...);
 *   const tx = layer.request(invite, target, { onResponse(res, tx) { ... } });
 */
import type { Clock } from '../clock.ts';
import { newBranch, newTag } from '../message/build.ts';
import type { Endpoint, SipRequest, SipResponse } from '../message/types.ts';
import type { InboundRequest, InboundResponse, InboundContext, TransportLayer } from '../transport/types.ts';
import { CompletedTable, type CompletedClient, type CompletedServer } from './completed.ts';
import { TransactionUsageError } from './errors.ts';
import { InviteClientTransaction } from './invite-client.ts';
import { InviteServerTransaction } from './invite-server.ts';
import { clientKey, serverKey, tagOf } from './matching.ts';
import { isRfc3261Branch, responseTo, viaBranch } from './messages.ts';
import { NonInviteClientTransaction, type NonInviteClientOwner } from './non-invite-client.ts';
import { NonInviteServerTransaction, type NonInviteServerOwner } from './non-invite-server.ts';
import { resendCompleted, safeSend } from './timer-set.ts';
import { timerValues, type TimerBase } from './timers.ts';
import type {
  ClientTransaction,
  ClientTransactionUser,
  ServerTransaction,
  ServerTransactionUser,
  TransactionEnv,
  TransactionStateEvent,
} from './types.ts';

export interface TransactionLayerOptions {
  clock: Clock;
  /** T1/T2/T4 overrides (§17.1.1.1 allows smaller T1 on known-fast networks). */
  timers?: Partial<TimerBase>;
}

type ClientTx = InviteClientTransaction | NonInviteClientTransaction;
type ServerTx = InviteServerTransaction | NonInviteServerTransaction;

export class TransactionLayer {
  /** A new request (never ACK, never a matched retransmission). The TU answers with tx.respond(). */
  onRequest: ((tx: ServerTransaction, req: InboundRequest) => void) | undefined;
  /** An ACK no transaction absorbed: the ACK for a 2xx (§13.3.1.4, §17.2.3). */
  onAck: ((req: InboundRequest) => void) | undefined;
  /** A response no client transaction matched, e.g. a 2xx retransmission after Timer M (§17.1.1.2, RFC 6026). */
  onStrayResponse: ((res: InboundResponse) => void) | undefined;
  /**
   * A CANCEL matched a pending INVITE server transaction (§9.2). The TU answers the
   * CANCEL (200) and the INVITE (487); `answerCancel` does both. Unset: the layer
   * calls answerCancel itself. A CANCEL matching nothing gets 481 without asking.
   */
  onCancel: ((inviteTx: ServerTransaction, cancelTx: ServerTransaction, cancel: InboundRequest) => void) | undefined;
  /** Default for server transactions whose `user` is unset: Timer H and transport errors. */
  serverUser: ServerTransactionUser = {};
  /** Diagnostics: exceptions from TU callbacks and failures no one else hears of. */
  onError: ((err: unknown) => void) | undefined;
  /** Diagnostics: every transaction state change (logs, metrics, dashboard). */
  onStateChange: ((ev: TransactionStateEvent) => void) | undefined;

  /** Client transactions, except non-INVITE ones in Completed on UDP. */
  private readonly clients = new Map<string, ClientTx>();
  /** Non-INVITE client transactions in Completed on UDP: keys whose responses are absorbed until Timer K (§17.1.2.2). */
  private readonly completedClients: CompletedTable<CompletedClient>;
  /** Server transactions before Completed, and INVITE server transactions until Terminated. */
  private readonly servers = new Map<string, ServerTx>();
  /** Non-INVITE server transactions in Completed on UDP, reduced to their retransmission duty (§17.2.2). */
  private readonly completed: CompletedTable<CompletedServer>;
  private readonly clock: Clock;
  private readonly base: Partial<TimerBase>;
  private closed = false;
  private readonly requestListener = (req: InboundRequest): void => this.handleRequest(req);
  private readonly responseListener = (res: InboundResponse): void => this.handleResponse(res);
  /** Environments shared by every transaction (built once: no per-transaction timer table or closures). */
  private readonly unreliableEnv: TransactionEnv;
  private readonly reliableEnv: TransactionEnv;
  private readonly nonInviteServerOwner: NonInviteServerOwner = {
    terminated: (tx) => this.forgetNonInviteServer(tx),
    park: (tx, entry) => this.park(tx, entry),
  };
  private readonly nonInviteClientOwner: NonInviteClientOwner = {
    terminated: (tx) => this.forgetClient(tx.id, tx),
    park: (tx, entry) => {
      this.forgetClient(tx.id, tx);
      this.completedClients.add(entry);
    },
  };

  constructor(
    private readonly transport: TransportLayer,
    opts: TransactionLayerOptions,
  ) {
    this.clock = opts.clock;
    this.base = opts.timers ?? {};
    this.unreliableEnv = this.makeEnv(false);
    this.reliableEnv = this.makeEnv(true);
    this.completed = new CompletedTable<CompletedServer>(
      this.clock,
      (entry) => this.expireCompleted(entry),
      (entry) => entry.tx?.destroy(),
    );
    this.completedClients = new CompletedTable<CompletedClient>(this.clock, (entry) =>
      // Timer K fired (§17.1.2.2): Completed → Terminated.
      this.notifyState('non-invite-client', entry.id, entry.method, 'completed', 'terminated'),
    );
    transport.on('request', this.requestListener);
    transport.on('response', this.responseListener);
  }

  /** Live transactions (tests assert nothing leaks after Terminated). */
  get clientCount(): number {
    return this.clients.size + this.completedClients.size;
  }
  get serverCount(): number {
    return this.servers.size + this.completed.size;
  }
  /** The T1/T2/T4 overrides this layer runs with, for TU timers that must agree (§13.3.1.4 uses T1/T2). */
  get timerBase(): Partial<TimerBase> {
    return { ...this.base };
  }

  /**
   * Starts a client transaction for `req` (§17.1). Adds a Via if there is none and
   * an RFC 3261 branch if Via[0] has none. ACK is not a transaction: use sendAck().
   */
  request(req: SipRequest, target: Endpoint, user: ClientTransactionUser): ClientTransaction {
    if (this.closed) throw new TransactionUsageError('transaction layer is closed');
    if (req.method === 'ACK') throw new TransactionUsageError('ACK is not a transaction; use sendAck()');
    if (req.cseq.method !== req.method) throw new TransactionUsageError(`CSeq method ${req.cseq.method} differs from ${req.method}`);
    this.ensureVia(req, target);
    const branch = viaBranch(req.via[0]) ?? '';
    const key = clientKey(branch, req.cseq.method);
    if (this.clients.has(key) || this.completedClients.get(key)) throw new TransactionUsageError(`branch ${branch} already in use for ${req.method}`);
    const env = this.env(target.transport);
    // Inline arrows: under tsx (esbuild keepNames) a named one costs a __name() call each time.
    const tx: ClientTx =
      req.method === 'INVITE'
        ? new InviteClientTransaction(key, req, target, env, user, () => this.forgetClient(key, tx), (cancel, t, u) => {
            this.request(cancel, t, u);
          })
        : new NonInviteClientTransaction(key, req, target, env, user, this.nonInviteClientOwner);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /**
   * Sends the ACK for a 2xx outside any transaction: the UAC core owns it
   * (§13.2.2.4, §17.1.1.1). Adds Via/branch like request().
   */
  sendAck(ack: SipRequest, target: Endpoint): Promise<InboundContext> {
    if (ack.method !== 'ACK') return Promise.reject(new TransactionUsageError('sendAck() sends ACK only'));
    this.ensureVia(ack, target);
    return this.transport.sendRequest(ack, target);
  }

  /** Sends a response with no transaction (stateless, §8.2.6 / §16.7 style). Errors go to onError. */
  sendStateless(res: SipResponse, to: InboundContext): void {
    safeSend(
      () => this.transport.sendResponse(res, to),
      (err) => this.report(err),
    );
  }

  /** Stops listening and drops every transaction without telling TUs. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.off('request', this.requestListener);
    this.transport.off('response', this.responseListener);
    for (const tx of this.clients.values()) tx.destroy();
    for (const tx of this.servers.values()) tx.destroy();
    this.clients.clear();
    this.servers.clear();
    this.completed.clear();
    this.completedClients.clear();
  }

  private handleRequest(inbound: InboundRequest): void {
    try {
      const req = inbound.msg;
      if (req.via.length === 0) return; // nowhere to answer (§18.2.2): drop
      if (req.method === 'ACK') {
        this.handleAck(inbound);
        return;
      }
      if (req.cseq.method !== req.method) {
        // §8.1.1.5 / RFC 4475 §3.1.2.17: CSeq method must equal the request method.
        this.sendStateless(responseTo(req, 400, 'CSeq Method Mismatch'), inbound);
        return;
      }
      const key = serverKey(req, req.method);
      const existing = this.servers.get(key);
      if (existing) {
        existing.receiveRequest(req); // retransmission (§17.2.1, §17.2.2)
        return;
      }
      const done = this.completed.get(key);
      if (done) {
        this.resend(done); // retransmission in Completed (§17.2.2)
        return;
      }
      const tx = this.createServer(inbound, key);
      if (req.method === 'CANCEL') {
        this.handleCancel(tx, inbound);
        return;
      }
      if (!this.onRequest) {
        tx.respond(responseTo(req, 503, 'Service Unavailable'));
        return;
      }
      this.onRequest(tx, inbound);
    } catch (err) {
      this.report(err);
    }
  }

  /** §9.2: find the INVITE the CANCEL targets (same key, method INVITE). */
  private handleCancel(cancelTx: ServerTx, inbound: InboundRequest): void {
    const invite = this.servers.get(serverKey(inbound.msg, 'INVITE'));
    if (!invite || invite.kind !== 'invite-server' || invite.state === 'terminated') {
      cancelTx.respond(responseTo(inbound.msg, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    if (this.onCancel) this.onCancel(invite, cancelTx, inbound);
    else answerCancel(invite, cancelTx);
  }

  private handleAck(inbound: InboundRequest): void {
    const ack = inbound.msg;
    const tx = this.findInviteForAck(ack);
    if (tx && tx.receiveAck(ack)) return; // ACK for a non-2xx: absorbed (§17.2.1)
    this.onAck?.(inbound);
  }

  private findInviteForAck(ack: SipRequest): InviteServerTransaction | undefined {
    const ackTag = tagOf(ack.to.params);
    // RFC 3261 branch: the key ignores To. RFC 2543: the INVITE had our To tag (re-INVITE) or none.
    const candidates = [serverKey(ack, 'INVITE'), serverKey(ack, 'INVITE', '')];
    for (const k of candidates) {
      const tx = this.servers.get(k);
      if (!tx || tx.kind !== 'invite-server') continue;
      if (k.startsWith('s2543')) {
        // §17.2.3: the ACK's To tag must equal the To tag of the response we sent.
        const sent = tx.lastResponse ? tagOf(tx.lastResponse.to.params) : '';
        if (sent !== ackTag) continue;
      }
      return tx;
    }
    return undefined;
  }

  private handleResponse(inbound: InboundResponse): void {
    try {
      const res = inbound.msg;
      const branch = viaBranch(res.via[0]);
      const key = branch ? clientKey(branch, res.cseq.method) : undefined;
      const tx = key ? this.clients.get(key) : undefined;
      if (tx) tx.receiveResponse(res);
      else if (key && this.completedClients.get(key)) return; // Completed absorbs retransmissions (§17.1.2.2)
      else this.onStrayResponse?.(inbound);
    } catch (err) {
      this.report(err);
    }
  }

  private createServer(inbound: InboundRequest, key: string): ServerTx {
    const env = this.env(inbound.source.transport);
    let tx: ServerTx;
    if (inbound.msg.method === 'INVITE') {
      const invite: InviteServerTransaction = new InviteServerTransaction(key, inbound.msg, inbound, env, this.serverUser, () => this.forgetServer(key, invite));
      tx = invite;
    } else {
      tx = new NonInviteServerTransaction(key, inbound.msg, inbound, env, this.serverUser, this.nonInviteServerOwner);
    }
    this.servers.set(key, tx);
    tx.start();
    return tx;
  }

  /** A non-INVITE server transaction entered Completed on UDP: the layer takes over (§17.2.2). */
  private park(tx: NonInviteServerTransaction, entry: CompletedServer): void {
    if (this.servers.get(tx.id) === tx) this.servers.delete(tx.id);
    this.completed.add(entry);
  }

  private forgetNonInviteServer(tx: NonInviteServerTransaction): void {
    if (this.servers.get(tx.id) === tx) this.servers.delete(tx.id);
    // Terminated from Completed (a transport error): its entry goes too.
    if (tx.parked) this.completed.remove(tx.id, tx.parked);
  }

  /** Resends the final response of a Completed entry; a failure ends it (§17.2.4). */
  private resend(entry: CompletedServer): void {
    resendCompleted(this.transport, entry, (err) => {
      if (entry.tx) {
        entry.tx.transportFailed(err); // the TU wants to hear of it: the transaction tells it
        return;
      }
      if (this.completed.remove(entry.id, entry)) this.notifyState('non-invite-server', entry.id, entry.method, 'completed', 'terminated');
      this.report(err);
    });
  }

  /** Timer J fired (§17.2.2): Completed → Terminated. */
  private expireCompleted(entry: CompletedServer): void {
    try {
      if (entry.tx) entry.tx.expire();
      else this.notifyState('non-invite-server', entry.id, entry.method, 'completed', 'terminated');
    } catch (err) {
      this.report(err);
    }
  }

  private forgetClient(key: string, tx: ClientTx): void {
    if (this.clients.get(key) === tx) this.clients.delete(key);
  }

  private forgetServer(key: string, tx: ServerTx): void {
    if (this.servers.get(key) === tx) this.servers.delete(key);
  }

  private ensureVia(req: SipRequest, target: Endpoint): void {
    if (req.via.length === 0) {
      // The transport rewrites sent-by to the socket it uses (§18.1.1); this is a placeholder.
      const local = this.transport.localEndpoint(target.transport, target.address.includes(':') ? 6 : 4);
      const host = local ? (local.address.includes(':') ? `[${local.address}]` : local.address) : 'invalid.invalid';
      req.via.push({ protocol: 'SIP/2.0', transport: target.transport.toUpperCase(), host, port: local?.port, params: new Map() });
    }
    if (!isRfc3261Branch(viaBranch(req.via[0]))) req.via[0].params.set('branch', newBranch());
  }

  private env(transport: Endpoint['transport']): TransactionEnv {
    return this.transport.isReliable(transport) ? this.reliableEnv : this.unreliableEnv;
  }

  private makeEnv(reliable: boolean): TransactionEnv {
    return {
      transport: this.transport,
      clock: this.clock,
      timers: timerValues(this.base, reliable),
      reliable,
      reliableTimers: timerValues(this.base, true),
      report: (err) => this.report(err),
      observe: (kind, id, method, from, to) => this.notifyState(kind, id, method, from, to),
    };
  }

  private notifyState(kind: TransactionStateEvent['kind'], id: string, method: string, from: string, to: string): void {
    if (!this.onStateChange) return;
    try {
      this.onStateChange({ kind, id, method, from, to });
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.onError?.(err);
    } catch {
      // A throwing diagnostics hook must not break the network path.
    }
  }
}

/**
 * The usual UAS answer to a matched CANCEL (§9.2): 200 to the CANCEL and, if the
 * INVITE has no final response yet, 487 to the INVITE. Both carry the same To tag
 * (§9.2: SHOULD be the same): the one of our last provisional response, or a new one.
 */
export function answerCancel(inviteTx: ServerTransaction, cancelTx: ServerTransaction): void {
  const prior = inviteTx.lastResponse ? tagOf(inviteTx.lastResponse.to.params) : '';
  const tag = prior || tagOf(inviteTx.request.to.params) || newTag();
  const ok = responseTo(cancelTx.request, 200, 'OK');
  if (!ok.to.params.has('tag')) ok.to.params.set('tag', tag);
  cancelTx.respond(ok);
  if (inviteTx.state === 'proceeding') {
    const terminated = responseTo(inviteTx.request, 487, 'Request Terminated');
    if (!terminated.to.params.has('tag')) terminated.to.params.set('tag', tag);
    inviteTx.respond(terminated);
  }
}
