/**
 * Mid-call requests relayed between the two legs of an answered call.
 *
 * Offer/answer (re-INVITE, UPDATE with SDP; RFC 3261 §14, RFC 3311, RFC 3264 §8):
 *
 *   leg X              B2BUA                       leg Y
 *     |--re-INVITE(o)-->|                            |
 *     |                 |--re-INVITE(rewriteOffer)-->|
 *     |                 |<-----------200(answer)-----|
 *     |                 |------------ACK------------>|
 *     |<--200(negotiateAnswer)                       |   relay reconfigured: hold
 *     |------ACK------->|                            |   (sendonly/inactive) stops
 *                                                        media in that direction
 * Glare (§14.1) is kept simple: while an exchange is in progress on the call,
 * a new offer from either side gets 491 Request Pending. A re-INVITE without SDP
 * (session refresh, or a late offer) is answered with the last SDP we sent on
 * that leg; an SDP in its ACK is ignored. NOTE: deviates from RFC 3264 §5 (we do
 * not pass the offer on to the other leg).
 *
 * Other requests (INFO ...) are sent on the other leg and their final status is
 * relayed back.
 */
import type { Logger } from '../../util/log.ts';
import type { Dialog } from '../../sip/dialog/dialog.ts';
import type { Endpoint, SipRequest, SipResponse, Uri } from '../../sip/message/types.ts';
import type { TransactionLayer } from '../../sip/transaction/layer.ts';
import type { ServerTransaction } from '../../sip/transaction/types.ts';
import type { LegName } from '../../media/relay.ts';
import { SdpError } from '../../media/sdp.ts';
import type { CallMedia } from './media.ts';
import { otherLeg } from './media.ts';

/** What the relaying needs from the call. */
export interface UpdateHost {
  readonly log: Logger;
  readonly layer: TransactionLayer;
  readonly media: CallMedia | undefined;
  updating: boolean;
  dialog(leg: LegName): Dialog | undefined;
  target(leg: LegName): Endpoint;
  contact(leg: LegName): Uri;
  answerInvite(leg: LegName, tx: ServerTransaction, ok: SipResponse): void;
  plain(req: SipRequest, status: number, reason?: string): SipResponse;
  withSdp(msg: SipResponse | SipRequest, sdp: string): void;
  guard(fn: () => void): void;
  /** The other side is gone (481/408 on an in-dialog request, §12.2.1.2). */
  hangup(): void;
}

function sdpBody(msg: SipRequest | SipResponse): string | undefined {
  return msg.body.length > 0 && msg.contentType?.type === 'application/sdp' ? msg.body.toString('utf8') : undefined;
}

function okWithContact(host: UpdateHost, leg: LegName, req: SipRequest, sdp: string): SipResponse {
  const ok = host.plain(req, 200);
  ok.contact = [{ uri: host.contact(leg), params: new Map() }];
  host.withSdp(ok, sdp);
  return ok;
}

function respondFinal(host: UpdateHost, leg: LegName, tx: ServerTransaction, req: SipRequest, ok: SipResponse): void {
  if (req.method === 'INVITE') host.answerInvite(leg, tx, ok);
  else tx.respond(ok);
}

/** re-INVITE / UPDATE from `from`: relay the offer to the other leg and its answer back. */
export function relayOffer(host: UpdateHost, from: LegName, tx: ServerTransaction, req: SipRequest): void {
  const media = host.media;
  const to = otherLeg(from);
  const otherDialog = host.dialog(to);
  if (!media || !otherDialog) {
    tx.respond(host.plain(req, 500, 'Server Internal Error'));
    return;
  }
  const offer = sdpBody(req);
  if (!offer) {
    if (req.body.length > 0) {
      tx.respond(host.plain(req, 415, 'Unsupported Media Type'));
      return;
    }
    const last = media.last(from);
    if (!last) {
      tx.respond(host.plain(req, 488, 'Not Acceptable Here'));
      return;
    }
    respondFinal(host, from, tx, req, req.method === 'INVITE' ? okWithContact(host, from, req, last) : host.plain(req, 200));
    return;
  }
  if (host.updating) {
    const pending = host.plain(req, 491, 'Request Pending'); // §14.1 glare
    tx.respond(pending);
    return;
  }
  let rewritten: string;
  try {
    rewritten = media.offerTo(to, offer);
  } catch (err) {
    const status = err instanceof SdpError && err.code === 'SDP_INVALID' ? 400 : 488;
    tx.respond(host.plain(req, status));
    return;
  }
  host.updating = true;
  const out = otherDialog.createRequest(req.method);
  host.withSdp(out, rewritten);
  let done = false;
  host.log.info({ from, method: req.method }, 'relaying offer');
  host.layer.request(out, host.target(to), {
    onResponse: (res) =>
      host.guard(() => {
        if (res.status < 200) return;
        if (res.status < 300 && req.method === 'INVITE') {
          // §13.2.2.4: we ACK the other leg's 2xx ourselves (each retransmission too).
          host.layer.sendAck(otherDialog.createAck(out.cseq.seq), host.target(to)).catch((err: unknown) => host.log.warn({ err }, 'ACK not sent'));
        }
        if (done) return;
        done = true;
        host.updating = false;
        otherDialog.receiveResponse(res);
        if (res.status >= 300) {
          tx.respond(host.plain(req, res.status, res.reason));
          if (res.status === 481 || res.status === 408) host.hangup();
          return;
        }
        const answer = sdpBody(res);
        let sdp: string;
        try {
          if (!answer) throw new SdpError('SDP_INVALID', 'no SDP answer');
          sdp = media.answer(from, offer, answer);
        } catch (err) {
          host.log.info({ err }, 'answer to relayed offer unusable');
          tx.respond(host.plain(req, 488, 'Not Acceptable Here'));
          return;
        }
        respondFinal(host, from, tx, req, okWithContact(host, from, req, sdp));
      }),
  });
}

/** INFO and other non-INVITE in-dialog requests: pass on, relay the final status. */
export function relayNonInvite(host: UpdateHost, from: LegName, tx: ServerTransaction, req: SipRequest): void {
  const to = otherLeg(from);
  const d = host.dialog(to);
  if (!d) {
    tx.respond(host.plain(req, 481));
    return;
  }
  const out = d.createRequest(req.method);
  out.body = Buffer.from(req.body);
  if (req.contentType) out.contentType = req.contentType;
  host.layer.request(out, host.target(to), {
    onResponse: (res) =>
      host.guard(() => {
        if (res.status < 200) return;
        d.receiveResponse(res);
        const back = host.plain(req, res.status, res.reason);
        back.body = Buffer.from(res.body);
        if (res.contentType) back.contentType = res.contentType;
        tx.respond(back);
      }),
  });
}
