/**
 * One B leg of a call: a client INVITE transaction to one registered contact
 * (RFC 3261 §16.6 ideas: one branch per target, all in parallel) and, once it
 * answers, the UAC dialog with that phone (§12.1.2).
 *
 *               INVITE sent
 *                   |
 *                   V        1xx          +------------+
 *             +----------+ ------------> | proceeding |--+ 1xx
 *             | calling  |               +------------+<-+
 *             +----------+                 |        |
 *          2xx |    | 3xx-6xx         2xx  |        | 3xx-6xx (487 after CANCEL)
 *              |    +--------------+       |        |
 *              V                   V       V        V
 *        +----------+            +-----------------------+
 *        | answered |<-----------|        failed         |
 *        +----------+    (no)    +-----------------------+
 *
 * Every 2xx is ACKed here (§13.2.2.4), whoever wins the race; the call decides
 * whether the dialog is kept or gets a BYE. CANCEL is built here rather than by
 * the transaction so that it can carry an RFC 3326 Reason header; like the
 * transaction it waits for a provisional response (§9.1).
 */
import type { Logger } from '../../util/log.ts';
import { Dialog } from '../../sip/dialog/dialog.ts';
import { setHeader } from '../../sip/message/build.ts';
import type { Endpoint, SipRequest, SipResponse } from '../../sip/message/types.ts';
import type { TransactionLayer } from '../../sip/transaction/layer.ts';
import { isSynthetic } from '../../sip/transaction/messages.ts';
import type { ClientTransaction, ClientTransactionUser } from '../../sip/transaction/types.ts';
import { CallError } from './errors.ts';
import type { BranchFailure } from './final-response.ts';

export type BranchState = 'calling' | 'proceeding' | 'answered' | 'failed';

const EDGES: Record<BranchState, readonly BranchState[]> = {
  calling: ['proceeding', 'answered', 'failed'],
  proceeding: ['answered', 'failed'],
  answered: [],
  failed: [],
};

export interface BranchEvents {
  provisional(branch: Branch, res: SipResponse): void;
  /** The first 2xx of this branch (already ACKed). */
  answered(branch: Branch, res: SipResponse): void;
  failed(branch: Branch, failure: BranchFailure): void;
}

const IGNORE: ClientTransactionUser = { onResponse: () => undefined };

/**
 * The events of a branch whose call has ended (Branch.detach): a late 2xx is
 * still ACKed by on2xx and then BYEd (§13.2.2.4), everything else is dropped,
 * exactly as the ended call would do.
 */
const DETACHED: BranchEvents = {
  provisional: () => undefined,
  answered: (branch) => branch.bye(),
  failed: () => undefined,
};

export class Branch {
  private current: BranchState = 'calling';
  private tx: ClientTransaction | undefined;
  private cancelReason: string | undefined;
  private cancelWanted = false;
  private cancelSent = false;
  private ackFor = new Map<string, SipRequest>();
  /** The dialog of the first 2xx. */
  dialog: Dialog | undefined;
  private byeSent = false;

  constructor(
    readonly id: string,
    private readonly layer: TransactionLayer,
    readonly invite: SipRequest,
    /** Where the phone is reached: the registration's flow (NAT), not the Contact host. */
    readonly target: Endpoint,
    private events: BranchEvents,
    private readonly log: Logger,
  ) {}

  get state(): BranchState {
    return this.current;
  }
  get branchParam(): string {
    return this.invite.via[0]?.params.get('branch') ?? '';
  }

  private transition(to: BranchState): void {
    if (!EDGES[this.current].includes(to)) throw new CallError('CALL_STATE', `branch ${this.current} -> ${to}`);
    this.current = to;
    if (to === 'proceeding' && this.cancelWanted) this.sendCancel();
  }

  start(): void {
    this.tx = this.layer.request(this.invite, this.target, { onResponse: (res) => this.onResponse(res) });
  }

  /**
   * CANCEL this branch (§9.1) with an optional RFC 3326 Reason value. Sent now if a
   * provisional response arrived, else when one does; a no-op after a final response.
   */
  cancel(reason?: string): void {
    if (this.cancelWanted) return;
    this.cancelWanted = true;
    this.cancelReason = reason;
    if (this.current === 'proceeding') this.sendCancel();
  }

  /**
   * Cuts the link to the call once it has ended. The INVITE client transaction
   * outlives the call by up to 64*T1 (Timer M or D, RFC 6026 §8.4 / RFC 3261
   * §17.1.1.2) and holds this branch as its TU; without this it would keep the
   * whole call (dialogs, media relay, sockets) reachable for those 32 s, which
   * under load is most of the node's heap.
   */
  detach(): void {
    this.events = DETACHED;
  }

  get cancelled(): boolean {
    return this.cancelWanted;
  }

  /** BYE the dialog of an answer we do not want (a 2xx race) or that ends the call. */
  bye(reason?: string): void {
    const d = this.dialog;
    if (!d || this.byeSent || d.state === 'terminated') return;
    this.byeSent = true;
    const bye = d.createRequest('BYE');
    if (reason) setHeader(bye, 'Reason', reason);
    d.terminate();
    this.layer.request(bye, this.target, IGNORE);
  }

  /** A response for our INVITE: from the transaction, or a stray 2xx retransmission after Timer M. */
  onResponse(res: SipResponse): void {
    if (res.status < 200) {
      // Any provisional, 100 included, allows the CANCEL (§9.1).
      if (this.current === 'calling') this.transition('proceeding');
      if (res.status > 100 && this.current === 'proceeding') this.events.provisional(this, res);
      return;
    }
    if (res.status < 300) {
      this.on2xx(res);
      return;
    }
    if (this.current === 'calling' || this.current === 'proceeding') {
      this.transition('failed');
      this.events.failed(this, { status: res.status, reason: res.reason, synthetic: isSynthetic(res) });
    }
  }

  private on2xx(res: SipResponse): void {
    const toTag = res.to.params.get('tag') ?? '';
    const known = this.ackFor.get(toTag);
    if (known) {
      // A retransmitted 2xx: our ACK was lost (§13.2.2.4).
      this.sendAck(known);
      return;
    }
    let dialog: Dialog;
    try {
      dialog = Dialog.asUac(this.invite, res);
    } catch (err) {
      this.log.warn({ err, branch: this.id }, 'unusable 2xx from callee');
      return;
    }
    const ack = dialog.createAck(this.invite.cseq.seq);
    this.ackFor.set(toTag, ack);
    this.sendAck(ack);
    if (this.current === 'answered') {
      // Another 2xx with a new To tag: a fork further down. Keep one dialog only (§13.2.2.4).
      const bye = dialog.createRequest('BYE');
      this.layer.request(bye, this.target, IGNORE);
      return;
    }
    this.dialog = dialog;
    if (this.current === 'failed') {
      // 2xx after a final response cannot happen on one transaction; be safe: end it.
      this.bye();
      return;
    }
    this.transition('answered');
    this.events.answered(this, res);
  }

  private sendAck(ack: SipRequest): void {
    // §13.2.2.4: a fresh branch per ACK transmission is fine; reuse the same message.
    this.layer.sendAck(ack, this.target).catch((err: unknown) => this.log.warn({ err, branch: this.id }, 'ACK send failed'));
  }

  private sendCancel(): void {
    if (this.cancelSent || !this.tx) return;
    this.cancelSent = true;
    // The INVITE transaction sends the CANCEL (§9.1) and gives up on the branch
    // 64*T1 later if no final response comes (synthesized 408).
    this.tx.cancel(IGNORE, this.cancelReason ? [{ name: 'Reason', value: this.cancelReason }] : []);
  }
}
