/**
 * One B2BUA call (RFC 3261 §12–§15): the caller's INVITE server transaction and
 * dialog (leg a), the parallel branches to the callee's contacts (leg b), and the
 * anchored media between them.
 *
 *                 INVITE (authenticated, target found)
 *                          |
 *                          V        1xx from a branch (relayed; 183+SDP = early media)
 *                     +---------+ -------------------------> +---------+
 *                     | trying  |                            | ringing |
 *                     +---------+                            +---------+
 *   all branches failed / |   | first 2xx                first 2xx |   | all failed /
 *   ring timeout / CANCEL |   +------------+     +-----------------+   | timeout / CANCEL
 *                         |                V     V                     |
 *                         |             +----------+                   |
 *                         |             | answered |  BYE either side, |
 *                         |             +----------+  no ACK (§13.3.1.4),
 *                         |                  |        probe: leg gone   |
 *                         V                  |                         V
 *                     +-----------------------------------------------------+
 *                     |                         ended                       |
 *                     +-----------------------------------------------------+
 *
 * On the first 2xx the other branches get CANCEL with
 * `Reason: SIP;cause=200;text="Call completed elsewhere"` (RFC 3326); a later 2xx
 * is ACKed and BYEd. Every way into `ended` releases the media ports.
 *
 * Every state is bounded, whatever the peers do or lose (a B2BUA holds ports for
 * both legs; it must never depend on a BYE arriving):
 *   trying/ringing  ring timer (ringTimeoutSec); each branch also ends by Timer B
 *                   or its CANCEL's 64*T1 (§9.1).
 *   answered        no ACK: the 2xx retransmitter gives up after 64*T1 (§13.3.1.4);
 *                   ACKed: leg-probe.ts sends an in-dialog OPTIONS to each leg every
 *                   probeIntervalMs (64*T1); 481/408 (or Timer F) ends the call.
 *   ended           forgotten at once; a late BYE gets 481 without new state, a late
 *                   2xx of a branch is ACKed and BYEd.
 */
import { randomHex } from '../../sip/message/random.ts';
import type { CallState } from '../../admin/types.ts';
import type { CdrResult, CdrStore } from '../../store/cdr-store.ts';
import type { Logger } from '../../util/log.ts';
import type { Clock, TimerHandle } from '../../sip/clock.ts';
import { Dialog } from '../../sip/dialog/dialog.ts';
import { Uas2xxRetransmitter } from '../../sip/dialog/uas-2xx-retransmit.ts';
import { createResponse, getHeader, setHeader } from '../../sip/message/build.ts';
import type { Endpoint, SipRequest, SipResponse, TransportName, Uri } from '../../sip/message/types.ts';
import { answerCancel, type TransactionLayer } from '../../sip/transaction/layer.ts';
import type { TimerBase } from '../../sip/transaction/timers.ts';
import type { ServerTransaction } from '../../sip/transaction/types.ts';
import type { InboundContext, InboundRequest } from '../../sip/transport/types.ts';
import type { LegName } from '../../media/relay.ts';
import { SdpError } from '../../media/sdp.ts';
import type { PortPool } from '../../media/port-pool.ts';
import { Branch } from './branch.ts';
import { CallError } from './errors.ts';
import { chooseFinal, type BranchFailure } from './final-response.ts';
import { LegProbe } from './leg-probe.ts';
import { CallMedia, otherLeg } from './media.ts';
import { relayNonInvite, relayOffer, type UpdateHost } from './session-update.ts';

export type CallPhase = 'trying' | 'ringing' | 'answered' | 'ended';

const EDGES: Record<CallPhase, readonly CallPhase[]> = {
  trying: ['ringing', 'answered', 'ended'],
  ringing: ['answered', 'ended'],
  answered: ['ended'],
  ended: [],
};

export const COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"';
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE';

/** What a call needs from the manager (a narrowed CallManagerDeps plus registration hooks). */
export interface CallEnv {
  layer: TransactionLayer;
  clock: Clock;
  logger: Logger;
  nodeName: string;
  ports: PortPool;
  mediaAddress: string;
  ringTimeoutSec: number;
  cdr?: CdrStore;
  timers?: Partial<TimerBase>;
  /** Interval of the liveness probe of an answered call's legs (ms). */
  probeIntervalMs: number;
  localContact(transport: TransportName): Uri;
  /** Dialog key → this call's leg, for in-dialog requests and ACKs. */
  bindDialog(key: string, call: Call, leg: LegName): void;
  /** B-side Call-ID → this call, for stray 2xx retransmissions. */
  bindCallId(callId: string, call: Call): void;
  ended(call: Call): void;
}

/** One contact to ring: the request to send and where to send it. */
export interface BranchPlan {
  invite: SipRequest;
  target: Endpoint;
}

function isSdp(msg: SipRequest | SipResponse): boolean {
  return msg.body.length > 0 && msg.contentType?.type === 'application/sdp';
}

function sdpOf(msg: SipRequest | SipResponse): string | undefined {
  return isSdp(msg) ? msg.body.toString('utf8') : undefined;
}

export class Call implements UpdateHost {
  readonly id = randomHex(4);
  readonly log: Logger;
  readonly startedAt: number;
  answeredAt: number | undefined;
  private current: CallPhase = 'trying';
  private readonly aTag: string;
  private readonly aTarget: Endpoint;
  private aDialog: Dialog | undefined;
  private uas2xx: Uas2xxRetransmitter | undefined;
  private readonly acks = new Map<string, Uas2xxRetransmitter>();
  private branches: Branch[] = [];
  private winner: Branch | undefined;
  private readonly failures: BranchFailure[] = [];
  private ringTimer: TimerHandle | undefined;
  private probe: LegProbe | undefined;
  media: CallMedia | undefined;
  updating = false;
  /** How the call ended (the CDR result), once it has. */
  outcome: CdrResult | undefined;

  constructor(
    private readonly env: CallEnv,
    private readonly aTx: ServerTransaction,
    private readonly aIn: InboundRequest,
    /** The caller's offer (late offer is refused before a Call exists). */
    private readonly aOffer: string,
    readonly from: string,
    readonly to: string,
  ) {
    this.log = env.logger.child({ call: this.id });
    this.startedAt = env.clock.now();
    this.aTag = randomHex(8);
    this.aTarget = { ...aIn.source };
  }

  get phase(): CallPhase {
    return this.current;
  }
  get summaryState(): CallState {
    return this.current === 'ended' ? 'ending' : this.current;
  }
  get inviteTxId(): string {
    return this.aTx.id;
  }
  get layer(): TransactionLayer {
    return this.env.layer;
  }

  /** The only place the phase changes. */
  private transition(to: CallPhase): void {
    if (to === this.current) return;
    if (!EDGES[this.current].includes(to)) throw new CallError('CALL_STATE', `call ${this.current} -> ${to}`);
    this.current = to;
    if (to === 'answered' || to === 'ended') this.stopRingTimer();
    if (to === 'answered') this.startProbe();
    if (to === 'ended') this.probe?.stop();
  }

  /** Allocates media and rings every branch; `plan` builds the INVITEs from our offer. */
  async start(plan: (offer: string) => BranchPlan[]): Promise<void> {
    let media: CallMedia;
    try {
      media = await CallMedia.create(this.env.ports, this.env.mediaAddress);
    } catch (err) {
      this.log.error({ err }, 'no media ports');
      this.failCaller(503, 'Service Unavailable', 'failed');
      return;
    }
    if (this.current === 'ended') {
      media.close(); // CANCELled or closed while the ports were being bound
      return;
    }
    this.media = media;
    let plans: BranchPlan[];
    try {
      plans = plan(media.offerTo('b', this.aOffer));
    } catch (err) {
      this.log.info({ err }, 'offer refused');
      const status = err instanceof SdpError && err.code === 'SDP_INVALID' ? 400 : 488;
      this.failCaller(status, status === 400 ? 'Bad Request' : 'Not Acceptable Here', 'failed');
      return;
    }
    if (plans.length === 0) {
      this.failCaller(480, 'Temporarily Unavailable', 'failed'); // no binding we could use
      return;
    }
    this.env.bindCallId(plans[0]?.invite.callId ?? '', this);
    this.branches = plans.map((p, i) => new Branch(`${this.id}.${i}`, this.env.layer, p.invite, p.target, this.branchEvents, this.log));
    this.ringTimer = this.env.clock.setTimer(this.env.ringTimeoutSec * 1000, () => this.guard(() => this.onRingTimeout()));
    for (const b of this.branches) {
      try {
        b.start();
      } catch (err) {
        this.log.warn({ err, branch: b.id }, 'branch not started');
        this.onBranchFailed(b, { status: 503, reason: 'Service Unavailable', synthetic: true });
      }
    }
    this.log.info({ from: this.from, to: this.to, branches: this.branches.length }, 'ringing callee');
  }

  private readonly branchEvents = {
    provisional: (b: Branch, res: SipResponse): void => this.guard(() => this.onProvisional(b, res)),
    answered: (b: Branch, res: SipResponse): void => this.guard(() => this.onAnswered(b, res)),
    failed: (b: Branch, f: BranchFailure): void => this.guard(() => this.onBranchFailed(b, f)),
  };

  /** Runs a handler; an exception ends the call instead of escaping into the network path. */
  guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'call handler failed');
      this.abort();
    }
  }

  private onProvisional(_b: Branch, res: SipResponse): void {
    if (this.current !== 'trying' && this.current !== 'ringing') return;
    this.transition('ringing');
    const out = this.responseToA(res.status === 183 ? 183 : 180, res.status === 183 ? 'Session Progress' : 'Ringing');
    const early = sdpOf(res);
    if (early && this.media) {
      try {
        // 183 with SDP: early media; answer the caller with our side of the relay.
        this.withSdp(out, this.media.answer('a', this.aOffer, early));
      } catch (err) {
        this.log.info({ err }, 'early media SDP unusable; relaying 180');
        out.status = 180;
        out.reason = 'Ringing';
      }
    }
    this.aTx.respond(out);
  }

  private onAnswered(b: Branch, res: SipResponse): void {
    if ((this.current !== 'trying' && this.current !== 'ringing') || !this.media) {
      b.bye(); // lost the race (§13.2.2.4 ACK sent by the branch); hang it up
      return;
    }
    const answer = sdpOf(res);
    let sdpA: string;
    try {
      if (!answer) throw new SdpError('SDP_INVALID', '2xx without SDP answer');
      sdpA = this.media.answer('a', this.aOffer, answer);
    } catch (err) {
      this.log.info({ err }, 'callee answer unusable');
      b.bye();
      this.failCaller(488, 'Not Acceptable Here', 'failed');
      return;
    }
    this.winner = b;
    for (const other of this.branches) if (other !== b) other.cancel(COMPLETED_ELSEWHERE);
    if (b.dialog) this.env.bindDialog(b.dialog.key, this, 'b');
    const ok = this.responseToA(200, 'OK');
    this.withSdp(ok, sdpA);
    this.aDialog = Dialog.asUas(this.aIn.msg, ok);
    this.env.bindDialog(this.aDialog.key, this, 'a');
    this.transition('answered');
    this.answeredAt = this.env.clock.now();
    this.aTx.respond(ok);
    this.uas2xx = this.retransmit(ok, () => {
      this.log.warn('no ACK from caller (§13.3.1.4): ending call');
      this.hangup();
    });
    this.log.info({ branch: b.id }, 'answered');
  }

  private onBranchFailed(b: Branch, f: BranchFailure): void {
    this.failures.push(f);
    this.log.debug({ branch: b.id, status: f.status }, 'branch failed');
    if (this.current !== 'trying' && this.current !== 'ringing') return;
    if (this.branches.some((x) => x.state === 'calling' || x.state === 'proceeding')) return;
    const final = chooseFinal(this.failures);
    this.failCaller(final.status, final.reason, final.status === 486 || final.status === 600 ? 'busy' : 'rejected');
  }

  private onRingTimeout(): void {
    this.ringTimer = undefined;
    if (this.current !== 'trying' && this.current !== 'ringing') return;
    this.log.info('ring timeout');
    this.failCaller(480, 'Temporarily Unavailable', 'no-answer');
  }

  /** CANCEL from the caller (§9.2): 200 + 487, CANCEL every branch. */
  onCancel(cancelTx: ServerTransaction, req: InboundRequest): void {
    answerCancel(this.aTx, cancelTx);
    if (this.current !== 'trying' && this.current !== 'ringing') return;
    const reason = getHeader(req.msg, 'Reason'); // RFC 3326 §2: may be copied onward
    for (const b of this.branches) b.cancel(reason);
    this.finish('cancelled', 487);
  }

  /** An ACK for a 2xx we sent on leg a (initial INVITE or re-INVITE). */
  onAck(leg: LegName, req: SipRequest): void {
    if (leg === 'a' && this.aDialog && req.cseq.seq === this.aIn.msg.cseq.seq) this.uas2xx?.ack();
    const key = `${leg}:${req.cseq.seq}`;
    const r = this.acks.get(key);
    if (r) {
      r.ack();
      this.acks.delete(key);
    }
  }

  /** A request inside one of our dialogs (§12.2.2). */
  onRequest(leg: LegName, tx: ServerTransaction, req: SipRequest): void {
    const dialog = this.dialog(leg);
    if (!dialog) {
      tx.respond(this.plain(req, 481));
      return;
    }
    const check = dialog.receiveRequest(req);
    if (!check.ok) {
      tx.respond(this.plain(req, check.status, check.reason));
      return;
    }
    switch (req.method) {
      case 'BYE':
        tx.respond(this.plain(req, 200));
        this.log.info({ leg }, 'BYE received');
        this.byeLeg(otherLeg(leg));
        this.finish('answered', 200);
        return;
      case 'INVITE':
      case 'UPDATE':
        relayOffer(this, leg, tx, req);
        return;
      case 'OPTIONS': {
        const ok = this.plain(req, 200);
        setHeader(ok, 'Allow', ALLOW);
        tx.respond(ok);
        return;
      }
      default:
        relayNonInvite(this, leg, tx, req);
    }
  }

  /** A 2xx retransmission no transaction matched (after Timer M): re-ACK it. */
  onStrayResponse(res: SipResponse): void {
    const branch = res.via[0]?.params.get('branch');
    const b = this.branches.find((x) => x.branchParam === branch);
    if (b && res.status >= 200 && res.status < 300) b.onResponse(res);
  }

  /** Ends the call from our side: BYE both legs when answered, else CANCEL + 480/503. */
  hangup(status = 480): void {
    if (this.current === 'ended') return;
    if (this.current === 'answered') {
      this.byeLeg('a');
      this.byeLeg('b');
      this.finish('answered', 200);
      return;
    }
    this.failCaller(status, status === 503 ? 'Service Unavailable' : 'Temporarily Unavailable', 'failed');
  }

  // ---- UpdateHost (session-update.ts) ----

  dialog(leg: LegName): Dialog | undefined {
    return leg === 'a' ? this.aDialog : this.winner?.dialog;
  }
  target(leg: LegName): Endpoint {
    return leg === 'a' ? this.aTarget : (this.winner?.target ?? this.aTarget);
  }
  contact(leg: LegName): Uri {
    return this.env.localContact(this.target(leg).transport);
  }
  /** Sends a 2xx to a re-INVITE on a leg and retransmits it until the ACK (§13.3.1.4). */
  answerInvite(leg: LegName, tx: ServerTransaction, ok: SipResponse): void {
    tx.respond(ok);
    this.acks.get(`${leg}:${ok.cseq.seq}`)?.stop();
    this.acks.set(`${leg}:${ok.cseq.seq}`, this.retransmit(ok, () => undefined, tx.context));
  }
  abort(): void {
    try {
      this.hangup(500);
    } catch (err) {
      this.log.error({ err }, 'hangup failed');
      this.finish('failed', 500);
    }
  }

  // ---- internals ----

  /** Liveness of both dialogs while answered (leg-probe.ts); a gone leg ends the call. */
  private startProbe(): void {
    this.probe = new LegProbe({
      clock: this.env.clock,
      layer: this.env.layer,
      intervalMs: this.env.probeIntervalMs,
      legs: () =>
        (['a', 'b'] as const).flatMap((leg) => {
          const dialog = this.dialog(leg);
          return dialog ? [{ leg, dialog, target: this.target(leg) }] : [];
        }),
      onGone: (leg, status) =>
        this.guard(() => {
          this.log.warn({ leg, status }, 'leg gone (in-dialog OPTIONS): ending call');
          this.hangup();
        }),
      onError: (err, leg) => this.log.warn({ err, leg }, 'probe not sent'),
    });
    this.probe.start();
  }

  private retransmit(ok: SipResponse, onTimeout: () => void, to: InboundContext = this.aIn): Uas2xxRetransmitter {
    const r = new Uas2xxRetransmitter({
      clock: this.env.clock,
      timers: this.env.timers,
      resend: () => this.env.layer.sendStateless(ok, to),
      onTimeout: () => this.guard(onTimeout),
    });
    r.start();
    return r;
  }

  private byeLeg(leg: LegName): void {
    if (leg === 'b') {
      this.winner?.bye();
      return;
    }
    const d = this.aDialog;
    if (!d || d.state === 'terminated') return;
    const bye = d.createRequest('BYE');
    d.terminate();
    try {
      this.env.layer.request(bye, this.aTarget, { onResponse: () => undefined });
    } catch (err) {
      this.log.warn({ err }, 'BYE to caller not sent');
    }
  }

  /** A final non-2xx to the caller, then end. */
  private failCaller(status: number, reason: string, result: CdrResult): void {
    if (this.current === 'ended') return;
    for (const b of this.branches) b.cancel();
    this.winner?.bye(); // answered on the B side but the caller could not be answered
    if (this.aTx.state === 'proceeding' || this.aTx.state === 'trying') this.aTx.respond(this.responseToA(status, reason));
    this.log.info({ status }, 'call failed');
    this.finish(result, status);
  }

  private finish(result: CdrResult, status: number): void {
    if (this.current === 'ended') return;
    const outcome: CdrResult = this.answeredAt !== undefined ? 'answered' : result;
    this.outcome = outcome;
    this.transition('ended');
    for (const b of this.branches) if (b !== this.winner) b.cancel();
    this.uas2xx?.stop();
    for (const r of this.acks.values()) r.stop();
    this.acks.clear();
    this.aDialog?.terminate();
    this.media?.close();
    const endedAt = this.env.clock.now();
    try {
      this.env.cdr?.insert({
        callId: this.aIn.msg.callId,
        from: this.from,
        to: this.to,
        startedAt: this.startedAt,
        answeredAt: this.answeredAt,
        endedAt,
        result: outcome,
        status: this.answeredAt !== undefined ? 200 : status,
        node: this.env.nodeName,
      });
    } catch (err) {
      this.log.error({ err }, 'CDR not written');
    }
    this.log.info({ result, status, durationMs: this.answeredAt !== undefined ? endedAt - this.answeredAt : 0 }, 'call ended');
    // The branches' transactions live on for up to 64*T1; they must not keep this call.
    for (const b of this.branches) b.detach();
    this.env.ended(this);
  }

  private stopRingTimer(): void {
    this.env.clock.clearTimer(this.ringTimer);
    this.ringTimer = undefined;
  }

  /** A response on leg a with our To tag and Contact. */
  private responseToA(status: number, reason: string): SipResponse {
    const res = createResponse(this.aIn.msg, status, reason);
    res.to.params.set('tag', this.aTag);
    if (status < 300) res.contact = [{ uri: this.env.localContact(this.aTarget.transport), params: new Map() }];
    return res;
  }

  plain(req: SipRequest, status: number, reason?: string): SipResponse {
    return createResponse(req, status, reason);
  }

  withSdp(res: SipResponse | SipRequest, sdp: string): void {
    res.contentType = { type: 'application/sdp', params: new Map() };
    res.body = Buffer.from(sdp, 'utf8');
  }
}

export { sdpOf };
