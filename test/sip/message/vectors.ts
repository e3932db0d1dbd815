/** Loads the torture-test vectors of shared/vectors (never edited; see its README). */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VECTORS_DIR } from '../../support/vectors.ts';

export { VECTORS_DIR };

/** RFC 4475 vector by name (CRLF, datagram bytes as archived). */
export function rfc4475(name: string): Buffer {
  return readFileSync(join(VECTORS_DIR, 'rfc4475', `${name}.dat`));
}

/** RFC 5118 vector by name, bare LF converted to CRLF as its README asks. */
export function rfc5118(name: string): Buffer {
  const raw = readFileSync(join(VECTORS_DIR, 'rfc5118', name));
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 10 && (i === 0 || raw[i - 1] !== 13)) out.push(13);
    out.push(raw[i]);
  }
  return Buffer.from(out);
}

export function listRfc4475(): string[] {
  return readdirSync(join(VECTORS_DIR, 'rfc4475')).filter((f) => f.endsWith('.dat')).map((f) => f.slice(0, -4)).sort();
}

export function listRfc5118(): string[] {
  return readdirSync(join(VECTORS_DIR, 'rfc5118')).filter((f) => !f.includes('.')).sort();
}

/** A typical INVITE with SDP, a REGISTER and a 200 OK, as real phones send them. */
export const TYPICAL: Buffer[] = [
  [
    'INVITE sip:2002@lab.spacephone.test SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.50:5062;branch=z9hG4bK776asdhds;rport',
    'Max-Forwards: 70',
    'To: <sip:2002@lab.spacephone.test>',
    'From: "Alice" <sip:2001@lab.spacephone.test>;tag=1928301774',
    'Call-ID: a84b4c76e66710@127.0.0.50',
    'CSeq: 314159 INVITE',
    'Contact: <sip:2001@127.0.0.50:5062;transport=udp>',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY',
    'Supported: replaces, timer, 100rel',
    'User-Agent: baresip v3.10.0 (x86_64/linux)',
    'Content-Type: application/sdp',
    'Content-Length: 118',
    '',
    'v=0\r\no=alice 2890844526 2890844526 IN IP4 127.0.0.50\r\ns=-\r\nc=IN IP4 127.0.0.50\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\n',
  ].join('\r\n'),
  [
    'REGISTER sip:lab.spacephone.test SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.50:5062;branch=z9hG4bKnashds7;rport',
    'Max-Forwards: 70',
    'To: <sip:2001@lab.spacephone.test>',
    'From: <sip:2001@lab.spacephone.test>;tag=456248',
    'Call-ID: 843817637684230@998sdasdh09',
    'CSeq: 1826 REGISTER',
    'Contact: <sip:2001@127.0.0.50:5062>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"',
    'Authorization: Digest username="2001", realm="lab.spacephone.test", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:lab.spacephone.test", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001',
    'Expires: 3600',
    'User-Agent: Fritz!Box',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
  [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 127.0.0.50:5062;branch=z9hG4bK776asdhds;rport=5062;received=127.0.0.50',
    'Record-Route: <sip:127.0.0.11;lr>',
    'To: <sip:2002@lab.spacephone.test>;tag=a6c85cf',
    'From: "Alice" <sip:2001@lab.spacephone.test>;tag=1928301774',
    'Call-ID: a84b4c76e66710@127.0.0.50',
    'CSeq: 314159 INVITE',
    'Contact: <sip:2002@127.0.0.51:5064>',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
].map((s) => Buffer.from(s, 'utf8'));
