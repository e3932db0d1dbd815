/**
 * RFC 3263 §4: locating SIP servers — which transport, address and port to send
 * a request to, as an ordered list of targets to try one after another.
 *
 * Decision (NAPTR only when `naptr: true`; otherwise §4.1 lets a client go straight to SRV):
 *   host is a numeric IP      → that IP; port as given or 5060 / 5061 (TLS)   §4.1, §4.2
 *   port given                → A/AAAA of the host at that port                 §4.2
 *   transport param given     → SRV for that transport only, else A/AAAA
 *   naptr enabled             → NAPTR with flag "s" and SIP+D2U / SIP+D2T / SIPS+D2T,
 *                               by order then preference, SRV of each replacement §4.1
 *   otherwise                 → SRV for each supported transport in preference
 *                               order (_sips._tcp only for sips:), RFC 2782
 *                               ordered, each target's A/AAAA; no SRV at all →
 *                               A/AAAA of the host on the default port          §4.1, §4.2
 *
 * Transport when not given: sips → TLS, sip → UDP (§4.1).
 *
 * Failover (§4.3): `targets()` hands out targets one at a time; a timeout,
 * transport error or 503 moves to the next. A 503 with Retry-After keeps the
 * target out of every later resolution until that time has passed (state kept
 * here, on the injected clock).
 */
import { isIP } from 'node:net';
import type { Clock } from '../clock.ts';
import type { SipUri, TransportName } from '../message/types.ts';
import type { DnsLookup, SrvRecord } from './dns-client.ts';
import { orderSrv, type RandomSource } from './srv-order.ts';
import { SipResolveError } from './errors.ts';

export interface Target {
  transport: TransportName;
  /** IP address, no brackets. */
  address: string;
  port: number;
  /** The host name the address was found for (the SRV target or the URI host). */
  host: string;
}

export interface ResolveRequest {
  host: string;
  port?: number;
  transport?: TransportName;
  /** sips: URI — only TLS targets (RFC 3261 §26.2.2). */
  secure?: boolean;
}

export type FailureReason = 'timeout' | 'transport' | '503';

export interface SipResolverOptions {
  dns: DnsLookup;
  clock: Clock;
  /** Uniform [0,1) source for RFC 2782 weighting (inject a seeded one in tests). */
  random?: RandomSource;
  /** Transports we can use, in order of preference (default udp, tcp, tls). */
  transports?: TransportName[];
  /** Address families to look up, in order (default ['A', 'AAAA']). */
  families?: Array<'A' | 'AAAA'>;
  /** Query NAPTR first (RFC 3263 §4.1); needs dns.queryNaptr. Default false. */
  naptr?: boolean;
}

export interface TargetIterator {
  /** Next target that is not blacklisted, or undefined when all were tried. */
  next(): Target | undefined;
  /** RFC 3263 §4.3: this target failed; a 503 with Retry-After blacklists it. */
  markFailed(target: Target, reason: FailureReason, retryAfterSec?: number): void;
}

const SRV_PREFIX: Record<TransportName, string> = { udp: '_sip._udp', tcp: '_sip._tcp', tls: '_sips._tcp' };
/** RFC 3263 §4.1 / RFC 3263 §9 NAPTR service fields. */
const NAPTR_SERVICE: Record<string, TransportName> = { 'sip+d2u': 'udp', 'sip+d2t': 'tcp', 'sips+d2t': 'tls' };
const MAX_BLACKLIST = 4096;

export function defaultPort(transport: TransportName): number {
  return transport === 'tls' ? 5061 : 5060;
}

export function targetKey(t: Pick<Target, 'transport' | 'address' | 'port'>): string {
  return `${t.transport}:${t.address}:${t.port}`;
}

export class SipResolver {
  private readonly random: RandomSource;
  private readonly transports: TransportName[];
  private readonly families: Array<'A' | 'AAAA'>;
  /** targetKey → blacklisted until (ms, clock time). */
  private readonly blacklist = new Map<string, number>();

  constructor(private readonly opts: SipResolverOptions) {
    this.random = opts.random ?? Math.random;
    this.transports = opts.transports ?? ['udp', 'tcp', 'tls'];
    this.families = opts.families ?? ['A', 'AAAA'];
  }

  /** Ordered targets for a URI (blacklisted ones left out). Rejects with SipResolveError for impossible requests. */
  async resolve(uri: SipUri | ResolveRequest): Promise<Target[]> {
    const all = await this.resolveAll(toRequest(uri));
    return all.filter((t) => !this.isBlacklisted(t));
  }

  /** Failover helper over resolve(); see TargetIterator. */
  async targets(uri: SipUri | ResolveRequest): Promise<TargetIterator> {
    const list = await this.resolve(uri);
    let i = 0;
    return {
      next: () => {
        while (i < list.length) {
          const t = list[i++];
          if (!this.isBlacklisted(t)) return t;
        }
        return undefined;
      },
      markFailed: (target, reason, retryAfterSec) => this.markFailed(target, reason, retryAfterSec),
    };
  }

  /** Records a failure; only a 503 with a positive Retry-After blacklists (RFC 3263 §4.3). */
  markFailed(target: Target, reason: FailureReason, retryAfterSec?: number): void {
    if (reason === '503' && retryAfterSec !== undefined && retryAfterSec > 0) {
      const until = this.opts.clock.now() + retryAfterSec * 1000;
      const key = targetKey(target);
      if (this.blacklist.size >= MAX_BLACKLIST) this.pruneBlacklist();
      this.blacklist.set(key, Math.max(until, this.blacklist.get(key) ?? 0));
    }
  }

  isBlacklisted(target: Target): boolean {
    const key = targetKey(target);
    const until = this.blacklist.get(key);
    if (until === undefined) return false;
    if (until > this.opts.clock.now()) return true;
    this.blacklist.delete(key);
    return false;
  }

  private pruneBlacklist(): void {
    const now = this.opts.clock.now();
    for (const [k, until] of this.blacklist) if (until <= now) this.blacklist.delete(k);
    if (this.blacklist.size >= MAX_BLACKLIST) {
      const oldest = this.blacklist.keys().next().value;
      if (oldest !== undefined) this.blacklist.delete(oldest);
    }
  }

  private async resolveAll(req: ResolveRequest): Promise<Target[]> {
    const errors: unknown[] = [];
    const out = await this.resolveSteps(req, errors);
    // Nothing found and DNS failed somewhere: report the failure rather than "no such host".
    if (out.length === 0 && errors.length > 0) throw errors[0];
    return out;
  }

  private async resolveSteps(req: ResolveRequest, errors: unknown[]): Promise<Target[]> {
    const host = stripBrackets(req.host);
    if (host === '') throw new SipResolveError('empty host');
    if (req.secure && req.transport && req.transport !== 'tls' && req.transport !== 'tcp') {
      throw new SipResolveError(`sips: cannot use transport ${req.transport} (RFC 3261 §26.2.2)`);
    }
    // sips with transport=tcp means TLS over TCP (RFC 3261 §26.2.2).
    const explicit: TransportName | undefined = req.secure ? (req.transport ? 'tls' : undefined) : req.transport;
    const fallbackTransport: TransportName = explicit ?? (req.secure ? 'tls' : 'udp');

    // §4.1/§4.2: numeric IP — no DNS at all.
    if (isIP(host) !== 0) {
      return [{ transport: fallbackTransport, address: host, port: req.port ?? defaultPort(fallbackTransport), host }];
    }
    // §4.2: explicit port — A/AAAA only.
    if (req.port !== undefined) {
      return this.addresses(host, fallbackTransport, req.port, errors);
    }
    // §4.1: SRV per candidate transport.
    const candidates: TransportName[] = explicit
      ? [explicit]
      : req.secure
        ? this.transports.filter((t) => t === 'tls')
        : this.transports;
    // §4.1: NAPTR (optional) names the SRV domains to query, per transport.
    let srvNames: Array<{ transport: TransportName; name: string }> | undefined;
    if (this.opts.naptr && !explicit) srvNames = await this.naptr(host, candidates, errors);
    srvNames ??= candidates.map((transport) => ({ transport, name: `${SRV_PREFIX[transport]}.${host}` }));
    const out: Target[] = [];
    let anySrv = false;
    for (const { transport, name } of srvNames) {
      const records = await this.srv(name, errors);
      if (records.length === 0) continue;
      anySrv = true;
      // RFC 2782: a single record with target "." means the service is not offered.
      for (const r of orderSrv(records.filter((x) => x.target !== '.'), this.random)) {
        out.push(...(await this.addresses(r.target, transport, r.port, errors)));
      }
    }
    if (anySrv) return out;
    // §4.2: no SRV records — A/AAAA of the host on the default port.
    return this.addresses(host, fallbackTransport, defaultPort(fallbackTransport), errors);
  }

  /** SRV names from usable NAPTR records, or undefined when there are none (then plain SRV, §4.1). */
  private async naptr(
    host: string,
    candidates: TransportName[],
    errors: unknown[],
  ): Promise<Array<{ transport: TransportName; name: string }> | undefined> {
    const query = this.opts.dns.queryNaptr;
    if (!query) return undefined;
    let records;
    try {
      records = await query.call(this.opts.dns, host);
    } catch (err) {
      errors.push(err);
      return undefined;
    }
    const usable = records
      .filter((r) => r.flags.toLowerCase() === 's' && r.replacement !== '' && r.replacement !== '.')
      .map((r) => ({ r, transport: NAPTR_SERVICE[r.services.toLowerCase()] }))
      .filter((x): x is { r: typeof x.r; transport: TransportName } => x.transport !== undefined && candidates.includes(x.transport))
      .sort((a, b) => a.r.order - b.r.order || a.r.preference - b.r.preference);
    if (usable.length === 0) return undefined;
    return usable.map(({ r, transport }) => ({ transport, name: r.replacement.replace(/\.$/, '') }));
  }

  private async srv(name: string, errors: unknown[]): Promise<SrvRecord[]> {
    try {
      return await this.opts.dns.querySrv(name);
    } catch (err) {
      // A failed SRV query is treated like "no SRV" so the A/AAAA fallback still runs.
      errors.push(err);
      return [];
    }
  }

  private async addresses(host: string, transport: TransportName, port: number, errors: unknown[]): Promise<Target[]> {
    const out: Target[] = [];
    for (const family of this.families) {
      let addrs: string[];
      try {
        addrs = family === 'A' ? await this.opts.dns.queryA(host) : await this.opts.dns.queryAAAA(host);
      } catch (err) {
        errors.push(err);
        continue;
      }
      for (const address of addrs) out.push({ transport, address, port, host });
    }
    return out;
  }
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function isSipUriInput(u: SipUri | ResolveRequest): u is SipUri {
  return 'scheme' in u && (u.scheme === 'sip' || u.scheme === 'sips');
}

const TRANSPORTS = new Set<string>(['udp', 'tcp', 'tls']);

function toRequest(u: SipUri | ResolveRequest): ResolveRequest {
  if (!isSipUriInput(u)) return u;
  const param = u.params.get('transport')?.toLowerCase();
  if (param !== undefined && !TRANSPORTS.has(param)) {
    throw new SipResolveError(`unsupported transport ${param}`);
  }
  // maddr overrides the host for sending (RFC 3261 §19.1.1, RFC 3263 §4).
  const maddr = u.params.get('maddr');
  return {
    host: maddr ?? u.host,
    port: u.port,
    transport: param as TransportName | undefined,
    secure: u.scheme === 'sips',
  };
}
