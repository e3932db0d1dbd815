/**
 * A minimal calling UAC built from the stack's layers: INVITE (with an SDP offer)
 * → 1xx/2xx → ACK (§13.2.2.4) → hold → BYE → 200. It places calls at a given rate
 * and counts outcomes; the interop proof against SIPp's built-in `uas` scenario
 * and a load generator for benchmarks.
 */
import type { Clock } from '../clock.ts';
import { createRequest } from '../message/build.ts';
import type { Endpoint, SipRequest, SipResponse, Uri } from '../message/types.ts';
import { Dialog, dialogKey, dialogIdOfResponse } from '../dialog/dialog.ts';
import type { TransactionLayer } from '../transaction/layer.ts';

export interface SimpleUacOptions {
  layer: TransactionLayer;
  clock: Clock;
  target: Endpoint;
  /** Request-URI of each INVITE. */
  uri: Uri;
  from: Uri;
  contact: Uri;
  sdp: string;
  /** How long each call stays up before BYE. */
  holdMs: number;
}

export interface UacRunResult {
  attempted: number;
  succeeded: number;
  failed: number;
  /** Failure statuses seen, e.g. { "408": 2 }. */
  failures: Record<string, number>;
  /** INVITE → 200 times, ms. */
  setupMs: number[];
  elapsedMs: number;
}

export class SimpleUac {
  private readonly confirmed = new Map<string, { dialog: Dialog; ack: SipRequest }>();

  constructor(private readonly opts: SimpleUacOptions) {
    // 2xx retransmissions (our ACK was lost) arrive as stray responses: re-ACK (§13.2.2.4).
    opts.layer.onStrayResponse = (inbound) => {
      const s = this.confirmed.get(dialogKey(dialogIdOfResponse(inbound.msg)));
      if (s && inbound.msg.cseq.method === 'INVITE' && inbound.msg.status < 300) void opts.layer.sendAck(s.ack, opts.target).catch(() => undefined);
    };
  }

  /** One complete call; resolves with the failure status, or 200 for success. */
  call(): Promise<{ status: number; setupMs: number }> {
    const { layer, clock } = this.opts;
    const started = clock.now();
    const invite = createRequest({
      method: 'INVITE',
      uri: this.opts.uri,
      from: { uri: this.opts.from, params: new Map() },
      to: { uri: this.opts.uri, params: new Map() },
      contact: [{ uri: this.opts.contact, params: new Map() }],
      body: Buffer.from(this.opts.sdp),
    });
    invite.contentType = { type: 'application/sdp', params: new Map() };
    return new Promise((resolve) => {
      let answered = false;
      layer.request(invite, this.opts.target, {
        onResponse: (res: SipResponse) => {
          if (res.status < 200 || answered) return;
          if (res.status >= 300) return resolve({ status: res.status, setupMs: clock.now() - started });
          answered = true;
          const setupMs = clock.now() - started;
          let dialog: Dialog;
          try {
            dialog = Dialog.asUac(invite, res);
          } catch {
            return resolve({ status: 502, setupMs });
          }
          const ack = dialog.createAck(invite.cseq.seq);
          this.confirmed.set(dialog.key, { dialog, ack });
          void layer.sendAck(ack, this.opts.target).catch(() => undefined);
          clock.setTimer(this.opts.holdMs, () => {
            const bye = dialog.createRequest('BYE');
            layer.request(bye, this.opts.target, {
              onResponse: (byeRes) => {
                if (byeRes.status < 200) return;
                // Keep the dialog a little for late 2xx retransmissions, then forget it.
                clock.setTimer(5000, () => this.confirmed.delete(dialog.key));
                dialog.terminate();
                resolve({ status: byeRes.status < 300 ? 200 : byeRes.status, setupMs });
              },
            });
          });
        },
      });
    });
  }

  /** Places `calls` calls at `rate` per second (at most `limit` at once). */
  async run(calls: number, rate: number, limit = 1000): Promise<UacRunResult> {
    const { clock } = this.opts;
    const result: UacRunResult = { attempted: 0, succeeded: 0, failed: 0, failures: {}, setupMs: [], elapsedMs: 0 };
    const t0 = clock.now();
    let active = 0;
    const pending: Promise<void>[] = [];
    while (result.attempted < calls) {
      const due = Math.min(calls, Math.floor(((clock.now() - t0) * rate) / 1000) + 1);
      while (result.attempted < due && active < limit) {
        result.attempted++;
        active++;
        pending.push(
          this.call().then(({ status, setupMs }) => {
            active--;
            if (status === 200) {
              result.succeeded++;
              result.setupMs.push(setupMs);
            } else {
              result.failed++;
              result.failures[status] = (result.failures[status] ?? 0) + 1;
            }
          }),
        );
      }
      await new Promise<void>((r) => clock.setTimer(5, r));
    }
    await Promise.all(pending);
    result.elapsedMs = clock.now() - t0;
    return result;
  }
}
