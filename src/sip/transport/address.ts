/**
 * Address helpers for Via handling (RFC 3261 §18.2.1, §18.2.2, RFC 3581).
 * Hosts in SIP messages bracket IPv6 references; socket APIs do not.
 */
import { isIP } from 'node:net';
import type { Endpoint, TransportName, Via } from '../message/types.ts';

/** Strips IPv6 brackets. */
export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Host form for a Via/URI: IPv6 in brackets (§25.1 IPv6reference). */
export function hostForm(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/**
 * Canonical text of an IP address, so "::1", "0:0:0:0:0:0:0:1" and "[::1]" compare
 * equal and IPv4-mapped IPv6 sources ("::ffff:127.0.0.1") compare equal to IPv4.
 * Non-IP input comes back lower-cased.
 */
export function canonicalIp(host: string): string {
  const a = unbracket(host).toLowerCase();
  const fam = isIP(a);
  if (fam === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    if (mapped) return mapped[1];
    // The WHATWG URL parser compresses IPv6 per RFC 5952; it refuses zone ids
    // ("fe80::1%eth0"), which are then kept as written.
    try {
      return new URL(`http://[${a}]/`).hostname.slice(1, -1);
    } catch {
      return a;
    }
  }
  return a;
}

export function family(address: string): 4 | 6 | 0 {
  const f = isIP(unbracket(address));
  return f === 4 || f === 6 ? f : 0;
}

/** Default port for a transport when a Via/URI omits it (§18.2.2, §19.1.2). */
export function defaultPort(transport: TransportName): number {
  return transport === 'tls' ? 5061 : 5060;
}

export function viaTransportToken(t: TransportName): string {
  return t.toUpperCase();
}

export function transportFromVia(token: string): TransportName | undefined {
  const t = token.toLowerCase();
  return t === 'udp' || t === 'tcp' || t === 'tls' ? t : undefined;
}

/**
 * Server-side Via stamping on a received request (§18.2.1, RFC 3581 §4): add
 * `received` when sent-by is not the source address (or always when rport was
 * requested), and fill an empty `rport` with the source port.
 */
export function stampVia(via: Via, source: Endpoint): void {
  const src = canonicalIp(source.address);
  const rportAsked = via.params.has('rport');
  if (rportAsked || canonicalIp(via.host) !== src) via.params.set('received', src);
  if (rportAsked && !via.params.get('rport')) via.params.set('rport', String(source.port));
}

/**
 * Where a response goes per §18.2.2 / RFC 3581 §4, from its top Via: `maddr` if
 * present, else `received` (or the sent-by host), and the `rport` port (unreliable
 * transports), else the sent-by port, else the transport default. Returns an
 * undefined address when the Via names a host that would need DNS.
 */
export function responseDestination(via: Via, transport: TransportName): { address?: string; port: number } {
  const maddr = via.params.get('maddr');
  const received = via.params.get('received');
  const rport = via.params.get('rport');
  const host = maddr ?? received ?? via.host;
  let port = via.port ?? defaultPort(transport);
  if (!maddr && transport === 'udp' && rport && /^\d{1,5}$/.test(rport) && Number(rport) > 0 && Number(rport) < 65536) port = Number(rport);
  const address = unbracket(host);
  return { address: family(address) ? canonicalIp(address) : undefined, port };
}

export function endpointKey(e: Endpoint): string {
  return `${e.transport}|${canonicalIp(e.address)}|${e.port}`;
}
