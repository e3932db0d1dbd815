/**
 * A SIP dialog (RFC 3261 §12): the peer-to-peer state between two UAs, identified
 * by Call-ID, local tag and remote tag, holding the route set, remote target and
 * the local/remote CSeq numbers. Transport-free: it builds requests and checks
 * inbound ones; the transaction layer sends them (it adds Via and branch).
 *
 *        1xx with To tag                 2xx
 *   ----------------------> +-------+ ----------> +-----------+
 *                           | Early |              | Confirmed |
 *   ------------------------+-------+------+      +-----------+
 *        2xx (no early dialog)  |          |            |
 *   ----------------------------|----------|----------->|
 *                               | 3xx-6xx  |            | BYE, 481/408 to an
 *                               | to the   |            | in-dialog request
 *                               | INVITE   |            | (§12.2.1.2, §15)
 *                               V          |            V
 *                           +--------------+--------------+
 *                           |         Terminated          |
 *                           +-----------------------------+
 *
 * (RFC 3261 has no dialog figure; this follows §12.1, §12.3 and RFC 4235 §3.7.1.)
 */
import { randomInt } from 'node:crypto';
import { isSipUri, type NameAddr, type SipRequest, type SipResponse, type Uri } from '../message/types.ts';
import { cloneNameAddr, cloneUri } from '../message/build.ts';
import { makeRequest } from '../transaction/messages.ts';
import { DialogError } from './errors.ts';

export type DialogState = 'early' | 'confirmed' | 'terminated';
export type DialogRole = 'uac' | 'uas';

export interface DialogId {
  callId: string;
  localTag: string;
  remoteTag: string;
}

const EDGES: Record<DialogState, readonly DialogState[]> = {
  early: ['confirmed', 'terminated'],
  confirmed: ['terminated'],
  terminated: [],
};

/** Methods whose Contact replaces the remote target (§12.2; RFC 3311, RFC 6665, RFC 3515). */
export const TARGET_REFRESH_METHODS: ReadonlySet<string> = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

/** One string for a dialog id, for maps. */
export function dialogKey(id: DialogId): string {
  return `${id.callId}\u0000${id.localTag}\u0000${id.remoteTag}`;
}

/** The dialog id an inbound request belongs to, seen from us as UAS of it (§12.2.2). */
export function dialogIdOfRequest(req: SipRequest): DialogId {
  return { callId: req.callId, localTag: tag(req.to) ?? '', remoteTag: tag(req.from) ?? '' };
}

/** The dialog id a response to our request belongs to (§12.1.2). */
export function dialogIdOfResponse(res: SipResponse): DialogId {
  return { callId: res.callId, localTag: tag(res.from) ?? '', remoteTag: tag(res.to) ?? '' };
}

function tag(n: NameAddr): string | undefined {
  return n.params.get('tag') ?? undefined;
}

function withTag(n: NameAddr, t: string): NameAddr {
  const c = cloneNameAddr(n);
  c.params.set('tag', t);
  return c;
}

function withoutTag(n: NameAddr): NameAddr {
  const c = cloneNameAddr(n);
  c.params.delete('tag');
  return c;
}

function firstContact(msg: SipRequest | SipResponse): Uri | undefined {
  return msg.contact === '*' || msg.contact.length === 0 ? undefined : cloneUri(msg.contact[0].uri);
}

function hasLr(n: NameAddr): boolean {
  return isSipUri(n.uri) && n.uri.params.has('lr');
}

/** Outcome of checking an inbound in-dialog request (§12.2.2). */
export type DialogCheck = { ok: true } | { ok: false; status: 500; reason: string };

export class Dialog {
  private current: DialogState;
  /** Remote target: where in-dialog requests go (Contact of the peer). */
  private target: Uri;
  private routes: NameAddr[];
  private localCseq: number | undefined;
  private remoteCseq: number | undefined;
  /** CSeq of the INVITE that created the dialog (its 2xx confirms; its non-2xx ends an early dialog). */
  private readonly initialCseq: number | undefined;

  private constructor(
    readonly role: DialogRole,
    readonly callId: string,
    readonly localTag: string,
    private remoteTagValue: string,
    /** Our URI (From of our requests), without tag. */
    readonly localUri: NameAddr,
    /** The peer's URI (To of our requests), without tag. */
    readonly remoteUri: NameAddr,
    /** Our Contact, sent in target refresh requests. */
    public localTarget: Uri | undefined,
    target: Uri,
    routes: NameAddr[],
    localCseq: number | undefined,
    remoteCseq: number | undefined,
    initialCseq: number | undefined,
    /** §12.1.1: the Request-URI was sips. NOTE: the transport (TLS) is not checked here. */
    readonly secure: boolean,
    state: DialogState,
  ) {
    this.target = target;
    this.routes = routes;
    this.localCseq = localCseq;
    this.remoteCseq = remoteCseq;
    this.initialCseq = initialCseq;
    this.current = state;
  }

  /**
   * UAC side (§12.1.2): from our request and a 2xx or a 101-199 carrying a To tag.
   * Route set = Record-Route of the response, reversed; remote target = its Contact.
   */
  static asUac(req: SipRequest, res: SipResponse): Dialog {
    const remoteTag = tag(res.to);
    const localTag = tag(req.from);
    if (!remoteTag) throw new DialogError('response has no To tag: no dialog (§12.1.2)');
    if (!localTag) throw new DialogError('request has no From tag');
    if (res.status <= 100 || res.status >= 300) throw new DialogError(`status ${res.status} does not create a dialog`);
    // NOTE: a 2xx without Contact violates §12.1.2; fall back to the Request-URI rather than fail.
    const target = firstContact(res) ?? cloneUri(req.uri);
    return new Dialog(
      'uac',
      req.callId,
      localTag,
      remoteTag,
      withoutTag(req.from),
      withoutTag(req.to),
      firstContact(req),
      target,
      [...res.recordRoute].reverse().map(cloneNameAddr),
      req.cseq.seq,
      undefined,
      req.method === 'INVITE' ? req.cseq.seq : undefined,
      req.uri.scheme === 'sips',
      res.status < 200 ? 'early' : 'confirmed',
    );
  }

  /**
   * UAS side (§12.1.1): from the request and our response to it, which carries our
   * To tag (and our Contact). Route set = Record-Route of the request, in order.
   */
  static asUas(req: SipRequest, res: SipResponse): Dialog {
    const localTag = tag(res.to);
    const remoteTag = tag(req.from);
    if (!localTag) throw new DialogError('our response has no To tag (§12.1.1)');
    if (!remoteTag) throw new DialogError('request has no From tag');
    if (res.status <= 100 || res.status >= 300) throw new DialogError(`status ${res.status} does not create a dialog`);
    const target = firstContact(req);
    if (!target) throw new DialogError('request has no Contact: no remote target (§12.1.1)');
    return new Dialog(
      'uas',
      req.callId,
      localTag,
      remoteTag,
      withoutTag(req.to),
      withoutTag(req.from),
      firstContact(res),
      target,
      req.recordRoute.map(cloneNameAddr),
      undefined,
      req.cseq.seq,
      req.method === 'INVITE' ? req.cseq.seq : undefined,
      req.uri.scheme === 'sips',
      res.status < 200 ? 'early' : 'confirmed',
    );
  }

  get state(): DialogState {
    return this.current;
  }
  get remoteTag(): string {
    return this.remoteTagValue;
  }
  get id(): DialogId {
    return { callId: this.callId, localTag: this.localTag, remoteTag: this.remoteTagValue };
  }
  get key(): string {
    return dialogKey(this.id);
  }
  get remoteTarget(): Uri {
    return this.target;
  }
  get routeSet(): readonly NameAddr[] {
    return this.routes;
  }
  get localSeq(): number | undefined {
    return this.localCseq;
  }
  get remoteSeq(): number | undefined {
    return this.remoteCseq;
  }

  /** The only place the dialog state changes. */
  private transition(to: DialogState): void {
    if (to === this.current) return;
    if (!EDGES[this.current].includes(to)) throw new DialogError(`illegal dialog transition ${this.current} -> ${to}`);
    this.current = to;
  }

  terminate(): void {
    if (this.current !== 'terminated') this.transition('terminated');
  }

  /**
   * A request within this dialog (§12.2.1.1): To/From with tags, Call-ID, next local
   * CSeq, Request-URI and Route from the remote target and route set (loose routing
   * when the first route has `lr`, strict routing otherwise). No Via: the
   * transaction layer adds it. Contact is set for target refresh methods.
   */
  createRequest(method: string): SipRequest {
    if (this.current === 'terminated') throw new DialogError('dialog is terminated');
    if (method === 'ACK' || method === 'CANCEL') throw new DialogError(`${method} is not built with createRequest (§13.2.2.4, §9.1)`);
    // §12.2.1.1: an empty local sequence number gets a fresh start value (§8.1.1.5: < 2^31).
    this.localCseq = this.localCseq === undefined ? randomInt(1, 2 ** 16) : this.localCseq + 1;
    return this.build(method, this.localCseq);
  }

  /**
   * ACK for a 2xx to the INVITE with CSeq `inviteCseq` (§13.2.2.4): built like an
   * in-dialog request with the INVITE's CSeq number and method ACK; the layer gives
   * it a new branch (sendAck).
   */
  createAck(inviteCseq: number): SipRequest {
    if (this.current === 'terminated') throw new DialogError('dialog is terminated');
    return this.build('ACK', inviteCseq);
  }

  private build(method: string, seq: number): SipRequest {
    let uri: Uri;
    let route: NameAddr[];
    const first = this.routes[0];
    if (!first || hasLr(first)) {
      uri = cloneUri(this.target);
      route = this.routes.map(cloneNameAddr);
    } else {
      // §12.2.1.1 strict routing: first route becomes the Request-URI (minus parameters a
      // Request-URI may not carry, §19.1.1), the remote target goes last in Route.
      uri = cloneUri(first.uri);
      if (isSipUri(uri)) {
        uri.params.delete('method');
        uri.headers.clear();
      }
      route = [...this.routes.slice(1).map(cloneNameAddr), { uri: cloneUri(this.target), params: new Map() }];
    }
    const req = makeRequest({
      method,
      uri,
      from: withTag(this.localUri, this.localTag),
      to: withTag(this.remoteUri, this.remoteTagValue),
      callId: this.callId,
      cseq: { seq, method },
      route,
    });
    if (this.localTarget && TARGET_REFRESH_METHODS.has(method)) {
      req.contact = [{ uri: cloneUri(this.localTarget), params: new Map() }];
    }
    return req;
  }

  /**
   * Checks an inbound request of this dialog and applies it (§12.2.2): a CSeq lower
   * than the remote sequence number is out of order → 500; a target refresh
   * request's Contact replaces the remote target. ACK and CANCEL carry the CSeq
   * of the request they refer to and are not checked.
   * NOTE: RFC 6141 §3.4 later moved the target update to the 2xx; we follow RFC 3261.
   */
  receiveRequest(req: SipRequest): DialogCheck {
    if (req.method === 'ACK' || req.method === 'CANCEL') return { ok: true };
    if (this.remoteCseq !== undefined && req.cseq.seq < this.remoteCseq) {
      return { ok: false, status: 500, reason: 'CSeq Out of Order' };
    }
    this.remoteCseq = req.cseq.seq;
    if (TARGET_REFRESH_METHODS.has(req.method)) {
      const c = firstContact(req);
      if (c) this.target = c;
    }
    if (req.method === 'BYE') this.transition('terminated');
    return { ok: true };
  }

  /**
   * UAC: a response to a request we sent in this dialog, or to the INVITE that
   * created it. 2xx to the initial INVITE confirms an early dialog and recomputes
   * the route set (§13.2.2.4); 3xx-6xx to it ends an early dialog (§12.3); 2xx to a
   * target refresh updates the remote target (§12.2.1.2); 481/408 to an in-dialog
   * request ends the dialog (§12.2.1.2).
   */
  receiveResponse(res: SipResponse): void {
    if (this.current === 'terminated' || res.status < 101) return;
    const initial = res.cseq.method === 'INVITE' && res.cseq.seq === this.initialCseq;
    if (initial && this.current === 'early') {
      if (res.status < 200) {
        const c = firstContact(res);
        if (c) this.target = c;
        return;
      }
      if (res.status < 300) {
        this.routes = [...res.recordRoute].reverse().map(cloneNameAddr);
        const c = firstContact(res);
        if (c) this.target = c;
        this.transition('confirmed');
      } else {
        this.transition('terminated');
      }
      return;
    }
    if (res.status >= 200 && res.status < 300 && TARGET_REFRESH_METHODS.has(res.cseq.method)) {
      const c = firstContact(res);
      if (c) this.target = c;
    } else if ((res.status === 481 || res.status === 408) && !initial) {
      this.transition('terminated');
    }
  }

  /**
   * UAS: the response we send to the request that created the dialog. 2xx confirms
   * an early dialog; 3xx-6xx ends it (§12.3, §13.3.1).
   */
  responded(res: SipResponse): void {
    if (res.cseq.method !== 'INVITE' || res.cseq.seq !== this.initialCseq || this.current !== 'early') return;
    if (res.status >= 200 && res.status < 300) this.transition('confirmed');
    else if (res.status >= 300) this.transition('terminated');
  }
}
