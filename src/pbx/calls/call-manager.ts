/**
 * The B2BUA call engine entry point. The node's composition root dispatches
 * INVITEs, in-dialog requests, 2xx ACKs, CANCELs and stray responses here.
 *
 * Initial INVITE processing, in order (nothing is allocated before step 6):
 *   1 Max-Forwards 0                             → 483 (§16.3 step 3 idea)
 *   2 a Via with our own branch prefix (loop)    → 482 (§16.3 step 4 idea);
 *     no From tag or no Contact                  → 400;
 *     Call-ID, From tag and CSeq of a live call  → 482 (§8.2.2.2 merged request; also
 *     a retransmission outliving Timer L: it must not start a second call)
 *   3 Proxy-Authorization for an extension       → 407 / 400 (§22.3)
 *   4 SDP offer present and usable               → 488 / 400 (late offer unsupported)
 *   5 Request-URI user is our extension          → 404; no reachable binding → 480
 *   6 Call: media relay, one branch per binding (sent to the flow, Route from Path)
 */
import { randomHex } from '../../sip/message/random.ts';
import type { CallSummary } from '../../admin/types.ts';
import type { CdrResult, CdrStore } from '../../store/cdr-store.ts';
import type { Binding, LocationStore } from '../../store/location-store.ts';
import type { Logger } from '../../util/log.ts';
import type { Clock } from '../../sip/clock.ts';
import { dialogIdOfRequest, dialogKey } from '../../sip/dialog/dialog.ts';
import { createRequest, createResponse } from '../../sip/message/build.ts';
import { parseNameAddr, parseUri } from '../../sip/message/parser.ts';
import { isSipUri, type AuthValue, type NameAddr, type SipRequest, type SipResponse, type TransportName, type Uri } from '../../sip/message/types.ts';
import type { TransactionLayer } from '../../sip/transaction/layer.ts';
import { timerValues, type TimerBase } from '../../sip/transaction/timers.ts';
import type { ServerTransaction } from '../../sip/transaction/types.ts';
import type { InboundRequest, InboundResponse, TransportLayer } from '../../sip/transport/types.ts';
import type { LegName } from '../../media/relay.ts';
import { checkOffer, SdpError } from '../../media/sdp.ts';
import type { PortPool } from '../../media/port-pool.ts';
import { ALLOW, Call, sdpOf, type BranchPlan, type CallEnv } from './call.ts';

export interface CallManagerDeps {
  layer: TransactionLayer;
  transport: TransportLayer;
  clock: Clock;
  logger: Logger;
  nodeName: string;
  /** Callee bindings (flow = where to reach the phone, Path). */
  store: LocationStore;
  /** Canonical AOR for a local extension number. */
  aorOf(user: string): string;
  extension(user: string): { number: string; displayName?: string } | undefined;
  /** Digest with proxy=true (Proxy-Authorization). */
  authenticate(req: SipRequest): { ok: true; user: string } | { ok: false; response: 'challenge' | 'stale' | 'bad-request' };
  /** Proxy-Authenticate values for the 407. */
  challenge(stale: boolean): AuthValue[];
  ports: PortPool;
  mediaAddress: string;
  ringTimeoutSec: number;
  maxForwards: number;
  cdr?: CdrStore;
  /** Our Contact/Record-Route host:port per transport, e.g. from transport.localEndpoint(). */
  localContact(transport: TransportName): Uri;
  /** Optional: T1/T2 for our 2xx retransmissions (default: the transaction layer's). */
  timers?: Partial<TimerBase>;
  /**
   * Optional: how often (ms) an answered call checks that both legs are still there
   * with an in-dialog OPTIONS (default 64*T1). See Call: "Every state is bounded".
   */
  probeIntervalMs?: number;
  /** Optional: told once per call when it ends, with its CDR result (metrics). */
  onCallEnded?(call: CallSummary, result: CdrResult): void;
}

interface LegRef {
  call: Call;
  leg: LegName;
}

/** The admin view of a call; media counters from the relay (received per leg). */
function summaryOf(c: Call): CallSummary {
  const s: CallSummary = { id: c.id, direction: 'internal', state: c.summaryState, from: c.from, to: c.to, startedAt: c.startedAt };
  if (c.answeredAt !== undefined) s.answeredAt = c.answeredAt;
  if (c.media) {
    const a = c.media.relay.counters('a');
    const b = c.media.relay.counters('b');
    s.media = { aToB: { packets: a.packetsIn, bytes: a.bytesIn }, bToA: { packets: b.packetsIn, bytes: b.bytesIn } };
  }
  return s;
}

/** Our branch prefix: RFC 3261 cookie + "sp" + a per-manager token, for loop detection. */
function branchPrefix(token: string): string {
  return `z9hG4bKsp${token}.`;
}

export class CallManager {
  private readonly live = new Set<Call>();
  private readonly byInviteTx = new Map<string, Call>();
  private readonly byDialog = new Map<string, LegRef>();
  private readonly byCallId = new Map<string, Call>();
  /** Caller's Call-ID + From tag + CSeq of each live call's INVITE (§8.2.2.2). */
  private readonly byCallerInvite = new Map<string, Call>();
  private readonly dialogsOf = new Map<Call, string[]>();
  private total = 0;
  private closed = false;
  private readonly prefix: string;
  private readonly env: CallEnv;

  constructor(private readonly deps: CallManagerDeps) {
    this.prefix = branchPrefix(randomHex(3));
    // The node's T1 (config sip.t1) also drives our 2xx retransmission and its 64*T1 give-up.
    const timers = deps.timers ?? deps.layer.timerBase;
    this.env = {
      layer: deps.layer,
      clock: deps.clock,
      logger: deps.logger,
      nodeName: deps.nodeName,
      ports: deps.ports,
      mediaAddress: deps.mediaAddress,
      ringTimeoutSec: deps.ringTimeoutSec,
      cdr: deps.cdr,
      timers,
      probeIntervalMs: deps.probeIntervalMs ?? timerValues(timers, false).H,
      localContact: (t) => deps.localContact(t),
      bindDialog: (key, call, leg) => {
        this.byDialog.set(key, { call, leg });
        this.dialogsOf.get(call)?.push(key);
      },
      bindCallId: (callId, call) => {
        this.byCallId.set(callId, call);
        this.dialogsOf.get(call)?.push(`cid:${callId}`);
      },
      ended: (call) => this.forget(call),
    };
  }

  /** Initial INVITE (no To tag). Never throws. */
  onInvite(tx: ServerTransaction, req: InboundRequest): void {
    try {
      this.invite(tx, req);
    } catch (err) {
      // Logged on the call's logger (its id) when the failure came after the call existed.
      this.logFor(tx.id).error({ err, callId: req.msg.callId }, 'INVITE handling failed');
      this.respond(tx, req.msg, 500);
    }
  }

  /** BYE/re-INVITE/UPDATE/INFO/OPTIONS with a To tag: true if it matched a call leg. */
  onInDialogRequest(tx: ServerTransaction, req: InboundRequest): boolean {
    const ref = this.byDialog.get(dialogKey(dialogIdOfRequest(req.msg)));
    if (!ref) return false;
    ref.call.guard(() => ref.call.onRequest(ref.leg, tx, req.msg));
    return true;
  }

  /** ACK for a 2xx (layer.onAck). */
  onAck(req: InboundRequest): void {
    const ref = this.byDialog.get(dialogKey(dialogIdOfRequest(req.msg)));
    if (ref) ref.call.guard(() => ref.call.onAck(ref.leg, req.msg));
  }

  onCancel(inviteTx: ServerTransaction, cancelTx: ServerTransaction, req: InboundRequest): void {
    const call = this.byInviteTx.get(inviteTx.id);
    try {
      if (call) call.onCancel(cancelTx, req);
      else {
        // Not ours (e.g. rejected already): the usual answer (§9.2).
        cancelTx.respond(createResponse(req.msg, 200));
      }
    } catch (err) {
      this.logFor(inviteTx.id).error({ err, callId: req.msg.callId }, 'CANCEL handling failed');
    }
  }

  /** 2xx retransmissions of answered branches after Timer M → re-ACK. */
  onStrayResponse(res: InboundResponse): void {
    const call = this.byCallId.get(res.msg.callId);
    if (call) call.guard(() => call.onStrayResponse(res.msg));
  }

  calls(): CallSummary[] {
    return [...this.live].map((c) => summaryOf(c));
  }

  stats(): { active: number; total: number } {
    return { active: this.live.size, total: this.total };
  }

  /** Ends every call (BYE or CANCEL + 503) and releases media. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.live]) c.guard(() => c.hangup(503));
    // One turn of the event loop so the BYE/CANCEL/503 datagrams leave before the caller closes the transport.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private invite(tx: ServerTransaction, inbound: InboundRequest): void {
    const req = inbound.msg;
    if (this.closed) {
      this.respond(tx, req, 503);
      return;
    }
    // 1. Max-Forwards (§8.2 / §16.3 step 3 idea).
    const mf = req.maxForwards ?? 70;
    if (mf <= 0) {
      this.respond(tx, req, 483, 'Too Many Hops');
      return;
    }
    // 2. Loop: our own branch already in the Via list means the request came back to us.
    if (req.via.some((v) => (v.params.get('branch') ?? '').startsWith(this.prefix))) {
      this.respond(tx, req, 482, 'Loop Detected');
      return;
    }
    // A dialog cannot be built without the caller's From tag and Contact (§8.1.1.3, §8.1.1.8, §12.1.1).
    if (!req.from.params.get('tag') || req.contact === '*' || req.contact.length === 0) {
      this.respond(tx, req, 400, 'Missing From Tag or Contact');
      return;
    }
    const callerKey = `${req.callId}\u0000${req.from.params.get('tag') ?? ''}\u0000${req.cseq.seq}`;
    if (this.byCallerInvite.has(callerKey)) {
      this.respond(tx, req, 482, 'Loop Detected');
      return;
    }
    // 3. Authentication (§22.3: proxy-style 407).
    const auth = this.deps.authenticate(req);
    if (!auth.ok) {
      if (auth.response === 'bad-request') {
        this.respond(tx, req, 400, 'Bad Request');
        return;
      }
      const res = this.withTag(createResponse(req, 407, 'Proxy Authentication Required'));
      res.proxyAuthenticate = this.deps.challenge(auth.response === 'stale');
      tx.respond(res);
      return;
    }
    const caller = this.deps.extension(auth.user);
    if (!caller) {
      this.respond(tx, req, 403, 'Forbidden');
      return;
    }
    // 4. Offer. NOTE: late offer (INVITE without SDP) is refused with 488; we do not offer to the callee.
    const offer = sdpOf(req);
    if (!offer) {
      this.respond(tx, req, 488, 'Not Acceptable Here');
      return;
    }
    try {
      checkOffer(offer); // the offer Call.start will rewrite; no SDP is built yet
    } catch (err) {
      const invalid = err instanceof SdpError && err.code === 'SDP_INVALID';
      this.respond(tx, req, invalid ? 400 : 488, invalid ? 'Bad Request' : 'Not Acceptable Here');
      return;
    }
    // 5. Target.
    const user = isSipUri(req.uri) ? req.uri.user : undefined;
    const callee = user !== undefined ? this.deps.extension(user) : undefined;
    if (!callee || user === undefined) {
      this.respond(tx, req, 404, 'Not Found');
      return;
    }
    const bindings = this.deps.store.bindings(this.deps.aorOf(callee.number), this.deps.clock.now()).filter((b) => b.reachable);
    if (bindings.length === 0) {
      this.respond(tx, req, 480, 'Temporarily Unavailable');
      return;
    }
    // 6. The call.
    const callerAor = this.deps.aorOf(caller.number);
    const domain = callerAor.slice(callerAor.indexOf('@') + 1);
    const fromUri: Uri = { scheme: 'sip', user: caller.number, host: domain, params: new Map(), headers: new Map() };
    const call = new Call(this.env, tx, inbound, offer, `${caller.number}@${domain}`, `${callee.number}@${domain}`);
    this.total++;
    this.live.add(call);
    this.dialogsOf.set(call, []);
    this.byInviteTx.set(tx.id, call);
    this.byCallerInvite.set(callerKey, call);
    this.dialogsOf.get(call)?.push(`inv:${callerKey}`);
    call.log.info({ caller: caller.number, callee: callee.number, contacts: bindings.length }, 'new call');
    const from: NameAddr = { uri: fromUri, params: new Map() };
    if (caller.displayName !== undefined) from.displayName = caller.displayName;
    const toUri: Uri = { scheme: 'sip', user: callee.number, host: domain, params: new Map(), headers: new Map() };
    const plan = (sdp: string): BranchPlan[] => {
      const callId = randomHex(12);
      const fromTag = randomHex(8);
      const out: BranchPlan[] = [];
      for (const b of bindings) {
        const p = this.branchPlan(b, { from, fromTag, to: { uri: toUri, params: new Map() }, callId, mf: Math.min(mf - 1, this.deps.maxForwards), sdp });
        if (p) out.push(p);
        else call.log.warn({ contact: b.contact }, 'unusable binding skipped');
      }
      return out;
    };
    call.start(plan).catch((err: unknown) => {
      call.log.error({ err }, 'call start failed');
      call.abort();
    });
  }

  private branchPlan(
    b: Binding,
    p: { from: NameAddr; fromTag: string; to: NameAddr; callId: string; mf: number; sdp: string },
  ): BranchPlan | undefined {
    let uri: Uri;
    let route: NameAddr[];
    try {
      uri = parseUri(b.contact);
      route = b.path.map((x) => parseNameAddr(x));
    } catch {
      return undefined;
    }
    const target = { transport: b.flow.transport, address: b.flow.address, port: b.flow.port };
    const local = this.deps.transport.localEndpoint(target.transport, target.address.includes(':') ? 6 : 4);
    const from: NameAddr = { ...p.from, params: new Map([['tag', p.fromTag]]) };
    const invite = createRequest({
      method: 'INVITE',
      uri,
      from,
      to: p.to,
      callId: p.callId,
      cseq: 1,
      maxForwards: p.mf,
      route,
      contact: [{ uri: this.deps.localContact(target.transport), params: new Map() }],
      headers: [{ name: 'Allow', value: ALLOW }],
      body: Buffer.from(p.sdp, 'utf8'),
      contentType: 'application/sdp',
    });
    const host = local ? (local.address.includes(':') ? `[${local.address}]` : local.address) : 'invalid.invalid';
    invite.via = [
      {
        protocol: 'SIP/2.0',
        transport: target.transport.toUpperCase(),
        host,
        port: local?.port,
        params: new Map<string, string | null>([
          ['branch', this.prefix + randomHex(8)],
          ['rport', null],
        ]),
      },
    ];
    return { invite, target };
  }

  private forget(call: Call): void {
    if (this.live.has(call) && this.deps.onCallEnded) {
      try {
        this.deps.onCallEnded(summaryOf(call), call.outcome ?? 'failed');
      } catch (err) {
        call.log.error({ err }, 'onCallEnded hook failed');
      }
    }
    this.live.delete(call);
    this.byInviteTx.delete(call.inviteTxId);
    for (const k of this.dialogsOf.get(call) ?? []) {
      if (k.startsWith('cid:')) {
        if (this.byCallId.get(k.slice(4)) === call) this.byCallId.delete(k.slice(4));
      } else if (k.startsWith('inv:')) {
        if (this.byCallerInvite.get(k.slice(4)) === call) this.byCallerInvite.delete(k.slice(4));
      } else if (this.byDialog.get(k)?.call === call) this.byDialog.delete(k);
    }
    this.dialogsOf.delete(call);
  }

  /** The call's logger (child with its id) for an INVITE transaction, else the manager's. */
  private logFor(inviteTxId: string): Logger {
    return this.byInviteTx.get(inviteTxId)?.log ?? this.deps.logger;
  }

  private withTag(res: SipResponse): SipResponse {
    if (!res.to.params.has('tag')) res.to.params.set('tag', randomHex(6));
    return res;
  }

  private respond(tx: ServerTransaction, req: SipRequest, status: number, reason?: string): void {
    tx.respond(this.withTag(createResponse(req, status, reason)));
  }
}
