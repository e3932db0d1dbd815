/**
 * A simulated SIP phone built from our own layers (SipTransport, TransactionLayer,
 * Dialog, DigestClient) and media (PortPool, G.711, tones). Used by the call
 * engine's end-to-end tests and by the lab (simulated PSTN phones).
 *
 *   const p = new SimPhone({ address: '127.0.0.2', user: '2001', password: 'x', domain, proxy, ports });
 *   await p.start(); await p.register();
 *   const call = p.call('sip:2002@domain'); call.once('answered', ...); await call.sendTone(440, 500);
 *
 * Every request goes to `proxy` (the node), the way a phone with an outbound proxy works.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../../sip/clock.ts';
import { SystemClock } from '../../sip/clock.ts';
import { DigestClient } from '../../sip/auth/digest-client.ts';
import { Dialog, dialogIdOfRequest, dialogKey } from '../../sip/dialog/dialog.ts';
import { Uas2xxRetransmitter } from '../../sip/dialog/uas-2xx-retransmit.ts';
import { createRequest, createResponse, getHeader, newTag } from '../../sip/message/build.ts';
import { parseUri } from '../../sip/message/parser.ts';
import type { Endpoint, NameAddr, SipRequest, SipResponse, Uri } from '../../sip/message/types.ts';
import { answerCancel, TransactionLayer } from '../../sip/transaction/layer.ts';
import type { TimerBase } from '../../sip/transaction/timers.ts';
import type { ServerTransaction } from '../../sip/transaction/types.ts';
import { SipTransport } from '../../sip/transport/transport.ts';
import type { InboundRequest } from '../../sip/transport/types.ts';
import type { PortPool } from '../../media/port-pool.ts';
import type { Direction, G711Codec } from '../../media/sdp.ts';
import { RtpAudio } from './rtp-audio.ts';
import { SimCall, type SimCallHost } from './sim-call.ts';
import { phoneSdp } from './sdp.ts';

export interface SimPhoneOptions {
  /** Loopback address to bind SIP and RTP on. */
  address: string;
  /** SIP port (default 0 = ephemeral). */
  port?: number;
  user: string;
  password: string;
  domain: string;
  displayName?: string;
  /** The node: registrar and outbound proxy. */
  proxy: Endpoint;
  ports: PortPool;
  /** Codecs offered/accepted, in preference (default PCMU, PCMA). */
  codecs?: G711Codec[];
  /** Incoming calls: answer automatically (default), wait for answer(), or reject with a status. */
  incoming?: 'auto' | 'manual' | { reject: number };
  answerDelayMs?: number;
  /** Ring with 183 Session Progress + SDP (early media) instead of 180. */
  earlyMedia?: boolean;
  clock?: Clock;
  timers?: Partial<TimerBase>;
}

export interface SimPhoneEvents {
  incoming: [call: SimCall];
}

function sipUri(user: string | undefined, host: string, port?: number): Uri {
  return { scheme: 'sip', user, host, port, params: new Map(), headers: new Map() };
}

function sdpOf(msg: SipRequest | SipResponse): string | undefined {
  return msg.body.length > 0 && msg.contentType?.type === 'application/sdp' ? msg.body.toString('utf8') : undefined;
}

export class SimPhone extends EventEmitter<SimPhoneEvents> implements SimCallHost {
  readonly transport: SipTransport;
  layer!: TransactionLayer;
  private readonly clock: Clock;
  private readonly digest: DigestClient;
  private readonly dialogs = new Map<string, SimCall>();
  private readonly byInviteTx = new Map<string, SimCall>();
  private readonly live = new Set<SimCall>();
  private regCallId = newTag() + '-reg';
  private regCseq = 1;
  private readonly codecs: G711Codec[];
  private local!: Endpoint;

  constructor(readonly opts: SimPhoneOptions) {
    super();
    this.clock = opts.clock ?? new SystemClock();
    this.transport = new SipTransport({ listen: [{ transport: 'udp', address: opts.address, port: opts.port ?? 0 }] });
    this.digest = new DigestClient({ username: opts.user, password: opts.password });
    this.codecs = opts.codecs ?? ['PCMU', 'PCMA'];
  }

  get endpoint(): Endpoint {
    return this.local;
  }

  async start(): Promise<void> {
    await this.transport.start();
    const ep = this.transport.localEndpoint('udp');
    if (!ep) throw new Error('sim phone has no UDP listener');
    this.local = ep;
    this.layer = new TransactionLayer(this.transport, { clock: this.clock, timers: this.opts.timers });
    this.layer.onRequest = (tx, req) => this.onRequest(tx, req);
    this.layer.onAck = (req) => this.dialogs.get(dialogKey(dialogIdOfRequest(req.msg)))?.retransmitter?.ack();
    this.layer.onCancel = (inviteTx, cancelTx, req) => {
      answerCancel(inviteTx, cancelTx);
      const call = this.byInviteTx.get(inviteTx.id);
      if (call && call.state !== 'answered') {
        call.cancelReason = getHeader(req.msg, 'Reason');
        call.end('cancelled');
      }
    };
  }

  private get aor(): NameAddr {
    const n: NameAddr = { uri: sipUri(this.opts.user, this.opts.domain), params: new Map() };
    if (this.opts.displayName) n.displayName = this.opts.displayName;
    return n;
  }

  private get contact(): NameAddr {
    return { uri: sipUri(this.opts.user, this.local.address, this.local.port), params: new Map() };
  }

  /** REGISTER (answering a 401 once). Resolves with the final status. */
  register(expires = 3600): Promise<number> {
    const req = createRequest({
      method: 'REGISTER',
      uri: sipUri(undefined, this.opts.domain),
      from: this.aor,
      to: { uri: sipUri(this.opts.user, this.opts.domain), params: new Map() },
      callId: this.regCallId,
      cseq: this.regCseq++,
      contact: [this.contact],
    });
    req.expires = expires;
    return this.send(req).then((r) => r.status);
  }

  unregister(): Promise<number> {
    return this.register(0);
  }

  /** Sends any request to the proxy; answers 401/407 once with digest credentials. Resolves with the final response. */
  send(req: SipRequest, onProvisional?: (res: SipResponse) => void): Promise<SipResponse> {
    return new Promise((resolve) => {
      const go = (r: SipRequest, retried: boolean): void => {
        this.layer.request(r, this.opts.proxy, {
          onResponse: (res) => {
            if (res.status < 200) {
              onProvisional?.(res);
              return;
            }
            if ((res.status === 401 || res.status === 407) && !retried) {
              const next = { ...r, via: [], cseq: { ...r.cseq, seq: r.cseq.seq + 1 }, proxyAuthorization: [...r.proxyAuthorization], authorization: [...r.authorization] };
              if (r.method === 'REGISTER') this.regCseq = next.cseq.seq + 1;
              if (this.digest.authorize(next, res)) {
                go(next, true);
                return;
              }
            }
            resolve(res);
          },
        });
      };
      go(req, false);
    });
  }

  /** Places a call through the proxy; resolves once the INVITE is sent. Listen on the call's events. */
  async call(target: string): Promise<SimCall> {
    const audio = await RtpAudio.open(this.opts.ports, this.opts.address);
    const call = new SimCall('out', newTag() + newTag(), audio, this, this.codecs);
    try {
      this.placeCall(call, target);
    } catch (err) {
      call.end('failed');
      throw err;
    }
    return call;
  }

  private placeCall(call: SimCall, target: string): void {
    const audio = call.audio;
    this.live.add(call);
    call.once('ended', () => {
      this.live.delete(call);
      // Forget the dialog too: a phone placing thousands of calls must not keep them all.
      if (call.dialog) this.dialogs.delete(call.dialog.key);
    });
    const invite = createRequest({
      method: 'INVITE',
      uri: parseUri(target),
      from: this.aor,
      to: { uri: parseUri(target), params: new Map() },
      callId: call.callId,
      contact: [this.contact],
      body: Buffer.from(phoneSdp(this.opts.address, audio.port, this.codecs), 'utf8'),
      contentType: 'application/sdp',
    });
    let sent = invite;
    const acked = new Set<string>();
    const go = (r: SipRequest, retried: boolean): void => {
      sent = r;
      call.inviteTx = this.layer.request(r, this.opts.proxy, {
        onResponse: (res) => {
          if (res.status < 200) {
            if (res.status > 100 && call.state === 'calling') {
              call.setState('ringing');
              const early = sdpOf(res);
              if (early) call.applyRemote(early);
              call.emit('ringing', res);
            }
            return;
          }
          if (res.status < 300) {
            const tag = res.to.params.get('tag') ?? '';
            const dialog = call.dialog ?? Dialog.asUac(sent, res);
            this.layer.sendAck(dialog.createAck(sent.cseq.seq), this.opts.proxy).catch(() => undefined);
            if (acked.has(tag)) return;
            acked.add(tag);
            if (call.dialog || call.state === 'ended') {
              // A late 2xx after we hung up / a second dialog: end it.
              const d = Dialog.asUac(sent, res);
              this.layer.request(d.createRequest('BYE'), this.opts.proxy, { onResponse: () => undefined });
              return;
            }
            call.dialog = dialog;
            this.dialogs.set(dialog.key, call);
            call.finalStatus = res.status;
            const answer = sdpOf(res);
            if (answer) call.applyRemote(answer);
            call.setState('answered');
            call.emit('answered');
            return;
          }
          if ((res.status === 407 || res.status === 401) && !retried) {
            const next: SipRequest = { ...r, via: [], cseq: { ...r.cseq, seq: r.cseq.seq + 1 }, proxyAuthorization: [...r.proxyAuthorization], authorization: [...r.authorization] };
            if (this.digest.authorize(next, res)) {
              go(next, true);
              return;
            }
          }
          call.finalStatus = res.status;
          call.end(res.status === 487 ? 'cancelled' : 'failed');
        },
      });
    };
    go(invite, false);
  }

  private onRequest(tx: ServerTransaction, inbound: InboundRequest): void {
    const req = inbound.msg;
    if (req.to.params.has('tag')) {
      const call = this.dialogs.get(dialogKey(dialogIdOfRequest(req)));
      if (!call || !call.dialog) {
        tx.respond(createResponse(req, 481));
        return;
      }
      call.dialog.receiveRequest(req);
      if (req.method === 'BYE') {
        tx.respond(createResponse(req, 200));
        call.end('bye');
      } else if (req.method === 'INVITE') {
        this.answerReinvite(call, tx, req);
      } else {
        tx.respond(createResponse(req, 200));
      }
      return;
    }
    if (req.method !== 'INVITE') {
      tx.respond(createResponse(req, req.method === 'OPTIONS' ? 200 : 405));
      return;
    }
    void this.incoming(tx, req).catch(() => tx.respond(createResponse(req, 500)));
  }

  private toTag = new Map<SimCall, string>();
  private serverTx = new Map<SimCall, { tx: ServerTransaction; req: SipRequest }>();

  private async incoming(tx: ServerTransaction, req: SipRequest): Promise<void> {
    const offer = sdpOf(req);
    if (!offer) {
      tx.respond(createResponse(req, 488));
      return;
    }
    const audio = await RtpAudio.open(this.opts.ports, this.opts.address);
    const call = new SimCall('in', req.callId, audio, this, this.codecs);
    call.offer = offer;
    call.inviteTx = tx;
    this.live.add(call);
    call.once('ended', () => {
      this.live.delete(call);
      this.byInviteTx.delete(tx.id);
      if (call.dialog) this.dialogs.delete(call.dialog.key);
    });
    this.byInviteTx.set(tx.id, call);
    this.toTag.set(call, newTag());
    this.serverTx.set(call, { tx, req });
    const policy = this.opts.incoming ?? 'auto';
    if (typeof policy === 'object') {
      this.reject(call, policy.reject);
      return;
    }
    const ringing = createResponse(req, this.opts.earlyMedia ? 183 : 180);
    ringing.to.params.set('tag', this.toTag.get(call) ?? '');
    ringing.contact = [this.contact];
    if (this.opts.earlyMedia) {
      const sdp = this.answerSdp(call);
      if (sdp === undefined) {
        this.reject(call, 488);
        return;
      }
      ringing.contentType = { type: 'application/sdp', params: new Map() };
      ringing.body = Buffer.from(sdp, 'utf8');
    }
    tx.respond(ringing);
    this.emit('incoming', call);
    if (policy === 'auto') setTimeout(() => this.answer(call), this.opts.answerDelayMs ?? 0);
  }

  answer(call: SimCall): void {
    const s = this.serverTx.get(call);
    if (!s || call.state !== 'calling' || !call.offer) return;
    const sdp = this.answerSdp(call);
    if (sdp === undefined) {
      this.reject(call, 488);
      return;
    }
    const ok = createResponse(s.req, 200);
    ok.to.params.set('tag', this.toTag.get(call) ?? '');
    ok.contact = [this.contact];
    ok.contentType = { type: 'application/sdp', params: new Map() };
    ok.body = Buffer.from(sdp, 'utf8');
    call.dialog = Dialog.asUas(s.req, ok);
    this.dialogs.set(call.dialog.key, call);
    s.tx.respond(ok);
    call.retransmitter = new Uas2xxRetransmitter({
      clock: this.clock,
      timers: this.opts.timers,
      resend: () => this.layer.sendStateless(ok, s.tx.context),
      onTimeout: () => undefined,
    });
    call.retransmitter.start();
    call.finalStatus = 200;
    call.setState('answered');
    call.emit('answered');
  }

  /** Our answer to the call's offer (RFC 3264 §6), or undefined when we share no codec. */
  private answerSdp(call: SimCall): string | undefined {
    if (!call.offer) return undefined;
    let offered: Direction;
    try {
      offered = call.applyRemote(call.offer);
    } catch {
      return undefined;
    }
    if (!call.codecs.includes(call.audio.codec)) return undefined;
    return phoneSdp(this.opts.address, call.audio.port, [call.audio.codec], SimCall.answerTo(offered));
  }

  reject(call: SimCall, status: number): void {
    const s = this.serverTx.get(call);
    if (!s || call.state !== 'calling') return;
    const res = createResponse(s.req, status);
    res.to.params.set('tag', this.toTag.get(call) ?? '');
    s.tx.respond(res);
    call.finalStatus = status;
    call.end('failed');
  }

  hangup(call: SimCall): void {
    if (call.state === 'ended') return;
    if (call.dialog && call.state === 'answered') {
      const bye = call.dialog.createRequest('BYE');
      this.layer.request(bye, this.opts.proxy, { onResponse: () => undefined });
      call.end('local');
      return;
    }
    if (call.direction === 'out' && call.inviteTx && 'cancel' in call.inviteTx) {
      call.inviteTx.cancel(); // the 487 ends the call
      return;
    }
    this.reject(call, 486);
  }

  reoffer(call: SimCall, direction: Direction): Promise<number> {
    const d = call.dialog;
    if (!d || call.state !== 'answered') return Promise.resolve(0);
    const req = d.createRequest('INVITE');
    req.contentType = { type: 'application/sdp', params: new Map() };
    req.body = Buffer.from(phoneSdp(this.opts.address, call.audio.port, this.codecs, direction), 'utf8');
    return new Promise((resolve) => {
      this.layer.request(req, this.opts.proxy, {
        onResponse: (res) => {
          if (res.status < 200) return;
          if (res.status < 300) {
            this.layer.sendAck(d.createAck(req.cseq.seq), this.opts.proxy).catch(() => undefined);
            d.receiveResponse(res);
            const answer = sdpOf(res);
            if (answer) call.applyRemote(answer);
          }
          resolve(res.status);
        },
      });
    });
  }

  private answerReinvite(call: SimCall, tx: ServerTransaction, req: SipRequest): void {
    const offer = sdpOf(req);
    const ok = createResponse(req, 200);
    ok.contact = [this.contact];
    let dir: Direction = 'sendrecv';
    if (offer) {
      try {
        dir = SimCall.answerTo(call.applyRemote(offer));
      } catch {
        tx.respond(createResponse(req, 488));
        return;
      }
    }
    ok.contentType = { type: 'application/sdp', params: new Map() };
    ok.body = Buffer.from(phoneSdp(this.opts.address, call.audio.port, [call.audio.codec], dir), 'utf8');
    tx.respond(ok);
    call.emit('reinvite', call.remoteDirection);
  }

  /** Calls in progress. */
  get calls(): SimCall[] {
    return [...this.live];
  }

  async close(): Promise<void> {
    for (const c of [...this.live]) c.end('local');
    this.layer?.close();
    await this.transport.close();
  }
}
