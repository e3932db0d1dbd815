/**
 * A small stub DNS client for RFC 3263 lookups (SRV, A, AAAA, NAPTR) against one
 * configured server. It never uses the system resolver, so tests and the lab can
 * point it at their own DNS on loopback.
 *
 * - UDP first, retried on timeout (RFC 1035 §4.2.1); TCP when the answer has the
 *   TC bit set (RFC 1035 §4.2.2, RFC 7766 §5).
 * - Answers are cached per RRset for the smallest TTL of its records, on the
 *   injected Clock; NXDOMAIN/NODATA are cached for the SOA minimum (RFC 2308 §5).
 * - Every query uses a fresh socket (random source port) and a random ID; answers
 *   from another address, with another ID or another question are ignored.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, NaptrData } from 'dns-packet';
import type { Clock, TimerHandle } from '../clock.ts';
import { DnsServerError, DnsTimeoutError, DnsTransportError } from './errors.ts';

export interface DnsServer {
  address: string;
  port: number;
}

export interface DnsClientOptions {
  server: DnsServer;
  clock: Clock;
  /** Per-attempt UDP timeout (default 1000 ms). */
  timeoutMs?: number;
  /** UDP attempts in total (default 3). */
  attempts?: number;
  /** Timeout for the whole TCP exchange (default 3000 ms). */
  tcpTimeoutMs?: number;
  /** Upper bound on any cached TTL (default 3600 s). */
  maxTtlSec?: number;
  /** Negative-cache TTL cap (default 60 s); 0 disables negative caching. */
  maxNegativeTtlSec?: number;
  /** Cache entries kept at most (default 1000; oldest dropped first). */
  maxEntries?: number;
}

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  /** Target host name, without trailing dot; "." means "service not offered" (RFC 2782). */
  target: string;
}

export type NaptrRecord = NaptrData;

export type DnsQueryType = 'A' | 'AAAA' | 'SRV' | 'NAPTR';

interface RecordByType {
  A: string;
  AAAA: string;
  SRV: SrvRecord;
  NAPTR: NaptrRecord;
}

/** What the resolver needs from DNS; tests may supply a fake. */
export interface DnsLookup {
  querySrv(name: string): Promise<SrvRecord[]>;
  queryA(name: string): Promise<string[]>;
  queryAAAA(name: string): Promise<string[]>;
  /** Needed only when the resolver is told to use NAPTR (RFC 3263 §4.1). */
  queryNaptr?(name: string): Promise<NaptrRecord[]>;
}

interface CacheEntry {
  expiresAt: number;
  records: unknown[];
}

const RCODE_NXDOMAIN = 3;

export class DnsClient implements DnsLookup {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<unknown[]>>();
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly tcpTimeoutMs: number;
  private readonly maxTtlSec: number;
  private readonly maxNegativeTtlSec: number;
  private readonly maxEntries: number;
  private readonly open = new Set<{ close(): void }>();
  private closed = false;

  constructor(private readonly opts: DnsClientOptions) {
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.attempts = Math.max(1, opts.attempts ?? 3);
    this.tcpTimeoutMs = opts.tcpTimeoutMs ?? 3000;
    this.maxTtlSec = opts.maxTtlSec ?? 3600;
    this.maxNegativeTtlSec = opts.maxNegativeTtlSec ?? 60;
    this.maxEntries = opts.maxEntries ?? 1000;
  }

  querySrv(name: string): Promise<SrvRecord[]> {
    return this.query(name, 'SRV');
  }
  queryA(name: string): Promise<string[]> {
    return this.query(name, 'A');
  }
  queryAAAA(name: string): Promise<string[]> {
    return this.query(name, 'AAAA');
  }
  queryNaptr(name: string): Promise<NaptrRecord[]> {
    return this.query(name, 'NAPTR');
  }

  /** Records of `type` for `name`; [] for NXDOMAIN or no data. Rejects with DnsTimeoutError / DnsServerError / DnsTransportError. */
  async query<T extends DnsQueryType>(name: string, type: T): Promise<RecordByType[T][]> {
    const qname = normalizeName(name);
    const key = `${type} ${qname}`;
    const hit = this.cache.get(key);
    if (hit) {
      if (hit.expiresAt > this.opts.clock.now()) return hit.records.slice() as RecordByType[T][];
      this.cache.delete(key);
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.lookup(qname, type).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return (await pending).slice() as RecordByType[T][];
  }

  /** Number of live cache entries (for tests and metrics). */
  get cacheSize(): number {
    return this.cache.size;
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** Aborts in-flight queries (they reject) and closes their sockets. Idempotent. */
  close(): void {
    this.closed = true;
    for (const s of [...this.open]) s.close();
    this.open.clear();
  }

  private async lookup(qname: string, type: DnsQueryType): Promise<unknown[]> {
    if (this.closed) throw new DnsTransportError('DNS client closed');
    let answer = await this.exchangeUdp(qname, type);
    // RFC 1035 §4.2.2 / RFC 7766 §5: a truncated UDP answer is retried over TCP.
    if (answer.flag_tc) answer = await this.exchangeTcp(qname, type);
    const rcode = (answer.flags ?? 0) & 0xf;
    if (rcode !== 0 && rcode !== RCODE_NXDOMAIN) throw new DnsServerError(qname, type, rcode);
    const { records, ttl } = extract(answer, qname, type);
    let ttlSec: number;
    if (records.length > 0) ttlSec = Math.min(ttl, this.maxTtlSec);
    else ttlSec = Math.min(negativeTtl(answer), this.maxNegativeTtlSec);
    this.store(`${type} ${qname}`, records, ttlSec);
    return records;
  }

  private store(key: string, records: unknown[], ttlSec: number): void {
    if (ttlSec <= 0 || this.maxEntries <= 0) return;
    if (this.cache.size >= this.maxEntries) {
      const now = this.opts.clock.now();
      for (const [k, e] of this.cache) if (e.expiresAt <= now) this.cache.delete(k);
      while (this.cache.size >= this.maxEntries) {
        const oldest = this.cache.keys().next().value;
        if (oldest === undefined) break;
        this.cache.delete(oldest);
      }
    }
    this.cache.set(key, { expiresAt: this.opts.clock.now() + ttlSec * 1000, records });
  }

  private exchangeUdp(qname: string, type: DnsQueryType): Promise<DecodedPacket> {
    const { server, clock } = this.opts;
    return new Promise<DecodedPacket>((resolve, reject) => {
      const id = randomInt(0, 0x10000);
      const query = dnsPacket.encode({
        type: 'query',
        id,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type, name: qname, class: 'IN' }],
      });
      let socket: Socket;
      try {
        socket = createSocket(isIPv6(server.address) ? 'udp6' : 'udp4');
      } catch (err) {
        reject(new DnsTransportError('cannot create UDP socket', { cause: err }));
        return;
      }
      let timer: TimerHandle | undefined;
      let sent = 0;
      let done = false;
      const handle = {
        close: (): void => finish(new DnsTransportError('DNS client closed')),
      };
      const finish = (result: DecodedPacket | Error): void => {
        if (done) return;
        done = true;
        clock.clearTimer(timer);
        this.open.delete(handle);
        socket.close();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      this.open.add(handle);
      const send = (): void => {
        if (sent >= this.attempts) {
          finish(new DnsTimeoutError(qname, type));
          return;
        }
        sent++;
        socket.send(query, server.port, server.address, (err) => {
          if (err) finish(new DnsTransportError(`cannot send DNS query: ${err.message}`, { cause: err }));
        });
        timer = clock.setTimer(this.timeoutMs, send);
      };
      socket.on('error', (err) => finish(new DnsTransportError(`DNS socket error: ${err.message}`, { cause: err })));
      socket.on('message', (msg, rinfo) => {
        if (rinfo.address !== server.address || rinfo.port !== server.port) return;
        const decoded = safeDecode(msg);
        if (!decoded || decoded.id !== id || !decoded.flag_qr || !sameQuestion(decoded, qname, type)) return;
        finish(decoded);
      });
      send();
    });
  }

  private exchangeTcp(qname: string, type: DnsQueryType): Promise<DecodedPacket> {
    const { server, clock } = this.opts;
    return new Promise<DecodedPacket>((resolve, reject) => {
      const id = randomInt(0, 0x10000);
      const query = dnsPacket.streamEncode({
        type: 'query',
        id,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type, name: qname, class: 'IN' }],
      });
      const sock = connect({ host: server.address, port: server.port });
      let buf = Buffer.alloc(0);
      let done = false;
      const handle = { close: (): void => finish(new DnsTransportError('DNS client closed')) };
      const finish = (result: DecodedPacket | Error): void => {
        if (done) return;
        done = true;
        clock.clearTimer(timer);
        this.open.delete(handle);
        sock.destroy();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      this.open.add(handle);
      const timer = clock.setTimer(this.tcpTimeoutMs, () => finish(new DnsTimeoutError(qname, type)));
      sock.on('connect', () => sock.write(query));
      sock.on('error', (err) => finish(new DnsTransportError(`DNS TCP error: ${err.message}`, { cause: err })));
      sock.on('close', () => finish(new DnsTransportError('DNS TCP connection closed before the answer')));
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 2) return;
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) return;
        const decoded = safeDecode(buf.subarray(2, 2 + len));
        if (!decoded || decoded.id !== id || !sameQuestion(decoded, qname, type)) {
          finish(new DnsTransportError('bad DNS answer over TCP'));
          return;
        }
        finish(decoded);
      });
    });
  }
}

function normalizeName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

function safeDecode(buf: Buffer): DecodedPacket | undefined {
  try {
    return dnsPacket.decode(buf);
  } catch {
    return undefined;
  }
}

function sameQuestion(p: DecodedPacket, qname: string, type: DnsQueryType): boolean {
  const q = p.questions?.[0];
  return q !== undefined && q.type === type && normalizeName(q.name) === qname;
}

/** Records of `type` owned by qname or by a name it is a CNAME for (chain inside the answer). */
function extract(p: DecodedPacket, qname: string, type: DnsQueryType): { records: unknown[]; ttl: number } {
  const answers: Answer[] = p.answers ?? [];
  const owners = new Set([qname]);
  for (let i = 0; i < 8; i++) {
    let grew = false;
    for (const a of answers) {
      if (a.type === 'CNAME' && owners.has(normalizeName(a.name)) && !owners.has(normalizeName(a.data))) {
        owners.add(normalizeName(a.data));
        grew = true;
      }
    }
    if (!grew) break;
  }
  const records: unknown[] = [];
  let ttl = Number.POSITIVE_INFINITY;
  for (const a of answers) {
    if (!owners.has(normalizeName(a.name))) continue;
    if (a.type === 'CNAME') ttl = Math.min(ttl, a.ttl ?? 0);
    if (a.type !== type) continue;
    ttl = Math.min(ttl, a.ttl ?? 0);
    if (a.type === 'A' || a.type === 'AAAA') records.push(a.data);
    else if (a.type === 'SRV') {
      records.push({
        priority: a.data.priority ?? 0,
        weight: a.data.weight ?? 0,
        port: a.data.port,
        target: a.data.target === '' || a.data.target === '.' ? '.' : normalizeName(a.data.target),
      } satisfies SrvRecord);
    } else if (a.type === 'NAPTR') records.push(a.data);
  }
  return { records, ttl: Number.isFinite(ttl) ? ttl : 0 };
}

/** RFC 2308 §5: negative answers live for min(SOA TTL, SOA MINIMUM). */
function negativeTtl(p: DecodedPacket): number {
  for (const a of p.authorities ?? []) {
    if (a.type === 'SOA') return Math.min(a.ttl ?? 0, a.data.minimum ?? 0);
  }
  return 0;
}
