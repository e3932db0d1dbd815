/**
 * The lab contract (DESIGN.md §6): names and loopback addresses that the lab
 * serves. These values are documented for users and outside tools; change them
 * only together with DESIGN.md and docs.
 */
import type { DnsZone, ZoneRecord } from './dns-zone.ts';
import type { NodeRole } from '../admin/types.ts';

export const LAB_DOMAIN = 'lab.spacephone.test';

export interface LabAddress {
  address: string;
  port: number;
}

export const LAB_DNS: LabAddress = { address: '127.0.0.10', port: 5353 };
export const LAB_DASHBOARD: LabAddress = { address: '127.0.0.1', port: 8080 };

export interface LabNodeSpec {
  /** Node name as in the config and on the command line: nl, de, space. */
  name: string;
  role: NodeRole;
  /** Host name inside the lab zone. */
  host: string;
  /** SIP listen address: UDP/TCP on sipPort, TLS on tlsPort. */
  address: string;
  sipPort: number;
  tlsPort: number;
  /** Node admin HTTP API (src/admin/http.ts). */
  admin: LabAddress;
}

function node(name: string, role: NodeRole, address: string): LabNodeSpec {
  return { name, role, host: `${name}.${LAB_DOMAIN}`, address, sipPort: 5060, tlsPort: 5061, admin: { address, port: 8080 } };
}

export const LAB_NODES: readonly LabNodeSpec[] = [
  node('nl', 'primary', '127.0.0.11'),
  node('de', 'fallback', '127.0.0.12'),
  node('space', 'internal', '127.0.0.13'),
];

export interface LabProviderSpec {
  name: string;
  host: string;
  address: string;
  port: number;
}

function provider(name: string, address: string): LabProviderSpec {
  return { name, host: `${name}.${LAB_DOMAIN}`, address, port: 5060 };
}

export const LAB_PROVIDERS: readonly LabProviderSpec[] = [
  provider('budgetphone', '127.0.0.21'),
  provider('cheapconnect', '127.0.0.22'),
  provider('voipbuster', '127.0.0.23'),
  provider('speakup', '127.0.0.24'),
  provider('intervoip', '127.0.0.25'),
];

/**
 * The lab zone. SRV per DESIGN.md §6: NL priority 10 weight 20, DE priority 20
 * weight 10, for `_sip._udp`, `_sip._tcp` (port 5060) and `_sips._tcp` (5061).
 * The apex also has an A record pointing at NL, so a phone that does no SRV
 * lookup (RFC 3263 §4.2 A fallback) still reaches the primary on 5060.
 */
export function labZone(dns: LabAddress = LAB_DNS): DnsZone {
  const nl = LAB_NODES[0];
  const de = LAB_NODES[1];
  const records: ZoneRecord[] = [
    { name: '@', type: 'SOA', data: { mname: `ns.${LAB_DOMAIN}`, rname: `hostmaster.${LAB_DOMAIN}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 30 } },
    { name: '@', type: 'NS', data: `ns.${LAB_DOMAIN}` },
    { name: 'ns', type: 'A', data: dns.address },
    { name: '@', type: 'A', data: nl.address },
  ];
  for (const [service, port] of [['_sip._udp', 5060], ['_sip._tcp', 5060], ['_sips._tcp', 5061]] as const) {
    records.push({ name: service, type: 'SRV', data: { priority: 10, weight: 20, port, target: nl.host } });
    records.push({ name: service, type: 'SRV', data: { priority: 20, weight: 10, port, target: de.host } });
  }
  for (const n of LAB_NODES) records.push({ name: n.host + '.', type: 'A', data: n.address });
  for (const p of LAB_PROVIDERS) records.push({ name: p.host + '.', type: 'A', data: p.address });
  return { origin: LAB_DOMAIN, records, ttl: 30 };
}
