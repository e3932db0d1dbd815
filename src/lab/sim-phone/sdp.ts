/** The SDP a simulated phone sends: one audio stream, G.711 (+ telephone-event). */
import type { Direction, G711Codec } from '../../media/sdp.ts';

const PT: Record<G711Codec, number> = { PCMU: 0, PCMA: 8 };
let version = 1;

export function phoneSdp(address: string, port: number, codecs: readonly G711Codec[], direction: Direction = 'sendrecv'): string {
  const pts = codecs.map((c) => PT[c]);
  const lines = [
    'v=0',
    `o=sim 4242 ${version++} IN IP4 ${address}`,
    's=sim',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${port} RTP/AVP ${[...pts, 101].join(' ')}`,
    ...codecs.map((c) => `a=rtpmap:${PT[c]} ${c}/8000`),
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    `a=${direction}`,
  ];
  return lines.join('\r\n') + '\r\n';
}

export function ptOf(codec: G711Codec): number {
  return PT[codec];
}
