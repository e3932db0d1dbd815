/**
 * An authoritative zone held in memory and the lookup algorithm of an
 * authoritative-only server (RFC 1034 §4.3.2, simplified: no CNAME, no
 * delegation, no wildcards). Pure: no sockets, so it is tested without I/O.
 *
 *  - names outside the zone      → REFUSED (we are not a resolver)
 *  - name absent from the zone   → NXDOMAIN + SOA in authority (RFC 2308 §2.1)
 *  - name present, type absent   → NOERROR/NODATA + SOA in authority (RFC 2308 §2.2);
 *    an empty non-terminal such as `_udp.<origin>` is present (RFC 8020)
 *  - SRV/NS answers carry the targets' A/AAAA in the additional section
 *    (RFC 2782 "the additional data section")
 */
import type { Answer, Question, SoaData } from 'dns-packet';

export interface SrvRecordData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

interface BaseRecord {
  /** "@" for the origin, a name relative to the origin, or an absolute name ending in ".". */
  name: string;
  ttl?: number;
}

export type ZoneRecord =
  | (BaseRecord & { type: 'A' | 'AAAA' | 'NS' | 'TXT'; data: string })
  | (BaseRecord & { type: 'SRV'; data: SrvRecordData })
  | (BaseRecord & { type: 'SOA'; data: SoaData });

export interface DnsZone {
  /** The zone apex, e.g. "lab.spacephone.test". */
  origin: string;
  records: ZoneRecord[];
  /** Default TTL in seconds (60). */
  ttl?: number;
}

export type ZoneRcode = 'NOERROR' | 'NXDOMAIN' | 'REFUSED';

export interface ZoneAnswer {
  rcode: ZoneRcode;
  /** AA flag: set for every name inside the zone. */
  authoritative: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

/** Lower-case, no trailing dot: DNS names compare case-insensitively (RFC 4343). */
export function normalizeName(name: string): string {
  return name.replace(/\.+$/, '').toLowerCase();
}

function absolute(name: string, origin: string): string {
  if (name === '@' || name === '') return origin;
  if (name.endsWith('.')) return normalizeName(name);
  const n = normalizeName(name);
  return n === origin || n.endsWith(`.${origin}`) ? n : `${n}.${origin}`;
}

function isWithin(name: string, origin: string): boolean {
  return name === origin || name.endsWith(`.${origin}`);
}

export class ZoneIndex {
  readonly origin: string;
  private readonly byName = new Map<string, Answer[]>();
  private readonly soa: Answer;

  constructor(zone: DnsZone) {
    this.origin = normalizeName(zone.origin);
    const ttl = zone.ttl ?? 60;
    for (const r of zone.records) {
      const name = absolute(r.name, this.origin);
      if (!isWithin(name, this.origin)) continue; // out-of-zone data is never served
      this.add(toAnswer(r, name, r.ttl ?? ttl));
    }
    const apex = this.byName.get(this.origin) ?? [];
    let soa = apex.find((a) => a.type === 'SOA');
    if (!soa) {
      // A zone needs an SOA (RFC 1035 §5.2); synthesize a minimal one.
      soa = {
        type: 'SOA', name: this.origin, ttl, class: 'IN',
        data: { mname: `ns.${this.origin}`, rname: `hostmaster.${this.origin}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: ttl },
      };
      this.add(soa);
    }
    if (!apex.some((a) => a.type === 'NS')) {
      this.add({ type: 'NS', name: this.origin, ttl, class: 'IN', data: `ns.${this.origin}` });
    }
    this.soa = soa;
  }

  private add(a: Answer): void {
    const list = this.byName.get(a.name);
    if (list) list.push(a);
    else this.byName.set(a.name, [a]);
  }

  /** True if the name owns records or is an empty non-terminal above some (RFC 8020). */
  private exists(name: string): boolean {
    if (this.byName.has(name)) return true;
    for (const k of this.byName.keys()) if (k.endsWith(`.${name}`)) return true;
    return false;
  }

  lookup(q: Question): ZoneAnswer {
    const name = normalizeName(q.name);
    const qclass = q.class ?? 'IN';
    const out: ZoneAnswer = { rcode: 'NOERROR', authoritative: true, answers: [], authorities: [], additionals: [] };
    if (!isWithin(name, this.origin) || (qclass !== 'IN' && qclass !== 'ANY')) {
      return { ...out, rcode: 'REFUSED', authoritative: false };
    }
    if (!this.exists(name)) {
      return { ...out, rcode: 'NXDOMAIN', authorities: [this.soa] };
    }
    const all = this.byName.get(name) ?? [];
    // Answers keep the owner name as asked (0x20 case randomisation, RFC 4343 §4.1 spirit).
    out.answers = all.filter((a) => (q.type as string) === 'ANY' || a.type === q.type).map((a) => ({ ...a, name: q.name }));
    if (out.answers.length === 0) {
      out.authorities = [this.soa];
      return out;
    }
    const seen = new Set<string>();
    for (const a of out.answers) {
      const target = a.type === 'SRV' ? a.data.target : a.type === 'NS' ? a.data : undefined;
      if (target === undefined) continue;
      const t = normalizeName(target);
      if (seen.has(t)) continue;
      seen.add(t);
      for (const g of this.byName.get(t) ?? []) if (g.type === 'A' || g.type === 'AAAA') out.additionals.push(g);
    }
    return out;
  }
}

function toAnswer(r: ZoneRecord, name: string, ttl: number): Answer {
  switch (r.type) {
    case 'SRV':
      return { type: 'SRV', name, ttl, class: 'IN', data: { ...r.data, target: normalizeName(r.data.target) } };
    case 'SOA':
      return { type: 'SOA', name, ttl, class: 'IN', data: r.data };
    case 'TXT':
      return { type: 'TXT', name, ttl, class: 'IN', data: r.data };
    case 'NS':
      return { type: 'NS', name, ttl, class: 'IN', data: normalizeName(r.data) };
    case 'A':
    case 'AAAA':
      return { type: r.type, name, ttl, class: 'IN', data: r.data };
  }
}
