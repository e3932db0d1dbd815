/**
 * A minimal answering UAS built from the stack's layers (transaction layer,
 * dialogs, the §13.3.1.4 2xx retransmitter): it answers every INVITE with 180
 * and 200 + an SDP answer, waits for the ACK and answers BYE with 200. It is the
 * interop proof against SIPp's built-in `uac` scenario and the benchmark target;
 * it is not a PBX.
 */
import type { Clock } from '../clock.ts';
import { createResponse, newTag } from '../message/build.ts';
import type { SipRequest, SipResponse, Uri } from '../message/types.ts';
import { Dialog, dialogKey, dialogIdOfRequest } from '../dialog/dialog.ts';
import { Uas2xxRetransmitter } from '../dialog/uas-2xx-retransmit.ts';
import type { TransactionLayer } from '../transaction/layer.ts';
import type { ServerTransaction } from '../transaction/types.ts';
import type { InboundRequest } from '../transport/types.ts';

export interface SimpleUasOptions {
  layer: TransactionLayer;
  clock: Clock;
  /** Our Contact URI. */
  contact: Uri;
  /** SDP answer body (a fixed answer is enough for signalling tests). */
  sdp: (offer: Buffer) => string;
}

export interface SimpleUasStats {
  invites: number;
  answered: number;
  acked: number;
  byes: number;
  active: number;
}

interface Session {
  dialog: Dialog;
  retransmitter: Uas2xxRetransmitter;
}

export class SimpleUas {
  readonly stats: SimpleUasStats = { invites: 0, answered: 0, acked: 0, byes: 0, active: 0 };
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly opts: SimpleUasOptions) {
    opts.layer.onRequest = (tx, req) => this.onRequest(tx, req);
    opts.layer.onAck = (req) => this.onAck(req.msg);
  }

  private onRequest(tx: ServerTransaction, inbound: InboundRequest): void {
    const req = inbound.msg;
    if (req.method === 'INVITE' && !req.to.params.has('tag')) return this.answer(tx, req);
    if (req.method === 'BYE') {
      const key = dialogKey(dialogIdOfRequest(req));
      const s = this.sessions.get(key);
      if (!s) return tx.respond(withTag(createResponse(req, 481), ''));
      s.retransmitter.stop();
      s.dialog.terminate();
      this.sessions.delete(key);
      this.stats.byes++;
      this.stats.active = this.sessions.size;
      return tx.respond(createResponse(req, 200));
    }
    if (req.method === 'OPTIONS') return tx.respond(withTag(createResponse(req, 200), newTag()));
    tx.respond(withTag(createResponse(req, 405), newTag()));
  }

  private answer(tx: ServerTransaction, req: SipRequest): void {
    this.stats.invites++;
    const tag = newTag();
    tx.respond(withTag(createResponse(req, 180), tag));
    const ok = withTag(createResponse(req, 200), tag);
    ok.contact = [{ uri: this.opts.contact, params: new Map() }];
    ok.body = Buffer.from(this.opts.sdp(req.body));
    ok.contentType = { type: 'application/sdp', params: new Map() };
    let dialog: Dialog;
    try {
      dialog = Dialog.asUas(req, ok);
    } catch {
      return tx.respond(withTag(createResponse(req, 400, 'Missing Contact'), tag));
    }
    const retransmitter = new Uas2xxRetransmitter({
      clock: this.opts.clock,
      resend: () => tx.respond(ok),
      onTimeout: () => {
        this.sessions.delete(dialog.key);
        this.stats.active = this.sessions.size;
      },
    });
    this.sessions.set(dialog.key, { dialog, retransmitter });
    tx.respond(ok);
    retransmitter.start();
    this.stats.answered++;
    this.stats.active = this.sessions.size;
  }

  private onAck(ack: SipRequest): void {
    const s = this.sessions.get(dialogKey(dialogIdOfRequest(ack)));
    if (s && s.retransmitter.state === 'waiting') {
      s.retransmitter.ack();
      this.stats.acked++;
    }
  }

  close(): void {
    for (const s of this.sessions.values()) s.retransmitter.stop();
    this.sessions.clear();
  }
}

function withTag(res: SipResponse, tag: string): SipResponse {
  if (tag && !res.to.params.has('tag')) res.to.params.set('tag', tag);
  return res;
}
