/**
 * The anchored media of one call: a MediaRelay (leg a = caller, leg b = callee)
 * plus the o= state of the SDP we send on each leg (RFC 3264 §8: version bumps
 * only when our description changes). Offer/answer runs through rewriteOffer /
 * negotiateAnswer; the relay is reconfigured from every completed exchange, so a
 * hold (sendonly/inactive) stops forwarding in that direction and a PCMU-only leg
 * facing a PCMA-only leg is transcoded by the relay.
 */
import { MediaRelay, type LegName } from '../../media/relay.ts';
import type { PortPool } from '../../media/port-pool.ts';
import { negotiateAnswer, rewriteOffer, SdpOrigin, type SdpLeg } from '../../media/sdp.ts';

export function otherLeg(leg: LegName): LegName {
  return leg === 'a' ? 'b' : 'a';
}

export class CallMedia {
  private readonly origins: Record<LegName, SdpOrigin>;
  private readonly lastSent: Record<LegName, string | undefined> = { a: undefined, b: undefined };

  private constructor(
    readonly relay: MediaRelay,
    private readonly address: string,
  ) {
    this.origins = { a: new SdpOrigin(address), b: new SdpOrigin(address) };
  }

  /** Allocates both legs' RTP/RTCP sockets from the pool (released by close()). */
  static async create(ports: PortPool, address: string): Promise<CallMedia> {
    return new CallMedia(await MediaRelay.create(ports, { addressA: address }), address);
  }

  get closed(): boolean {
    return this.relay.closed;
  }

  sdpLeg(leg: LegName): SdpLeg {
    return { address: this.address, port: this.relay.local(leg).rtpPort, origin: this.origins[leg] };
  }

  /** The offer to send on `to`, made from the offer received on the other leg. Throws SdpError. */
  offerTo(to: LegName, offerSdp: string): string {
    const sdp = rewriteOffer(offerSdp, this.sdpLeg(to)).sdp;
    this.lastSent[to] = sdp;
    return sdp;
  }

  /**
   * Completes an exchange: `offerer` sent `offerSdp`, the other leg answered
   * `answerSdp` to our rewritten offer. Configures the relay for both legs and
   * returns the answer to send to the offerer. Throws SdpError.
   */
  answer(offerer: LegName, offerSdp: string, answerSdp: string): string {
    const n = negotiateAnswer(offerSdp, answerSdp, this.sdpLeg(offerer));
    this.relay.configure(offerer, n.offerer);
    this.relay.configure(otherLeg(offerer), n.answerer);
    this.lastSent[offerer] = n.sdp;
    return n.sdp;
  }

  /** The last SDP we sent on a leg (for a re-INVITE without offer, a session refresh). */
  last(leg: LegName): string | undefined {
    return this.lastSent[leg];
  }

  close(): void {
    this.relay.close();
  }
}
