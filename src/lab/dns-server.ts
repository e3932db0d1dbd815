/**
 * A small authoritative DNS server for the lab zone, on UDP and TCP
 * (RFC 1035 §4.2; TCP messages carry a 2-byte length prefix, RFC 1035 §4.2.2,
 * RFC 7766). It exists so that phones and the RFC 3263 resolver can find the
 * nodes through real SRV lookups on loopback.
 *
 * UDP answers are limited to 512 bytes, or to the EDNS payload size the client
 * advertises (RFC 6891 §6.2.3). When the answer does not fit, the additional
 * section is dropped first (no TC needed, RFC 2181 §9); if it still does not fit
 * the answer is sent empty with TC set so the client retries over TCP.
 *
 * Hostile input never throws out of a handler: undecodable queries get FORMERR
 * when a header can be read, and are dropped otherwise; responses are never
 * answered (no reflection loops).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet } from 'dns-packet';
import { ZoneIndex, type DnsZone } from './dns-zone.ts';
import { LabSetupError } from './errors.ts';

export interface LabDnsServerOptions {
  address: string;
  /** 0 picks a free port; UDP and TCP then share it. */
  port: number;
  zone: DnsZone;
  /** Idle TCP connections are closed after this (RFC 7766 §6.2.3), default 10 s. */
  tcpIdleMs?: number;
  /** Socket errors after listen() (never thrown). */
  onError?: (err: Error) => void;
}

const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODE;

/** Classic DNS over UDP limit without EDNS (RFC 1035 §2.3.4). */
const UDP_LIMIT = 512;
/** EDNS payload size we advertise (DNS flag day 2020 recommendation). */
const EDNS_SIZE = 1232;
const MAX_TCP_BUFFER = 2 + 65535;

export class LabDnsServer {
  readonly address: string;
  private readonly requestedPort: number;
  private readonly zone: ZoneIndex;
  private readonly tcpIdleMs: number;
  private readonly onError: (err: Error) => void;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();
  private boundPort = 0;
  private closed = false;

  constructor(opts: LabDnsServerOptions) {
    this.address = opts.address;
    this.requestedPort = opts.port;
    this.zone = new ZoneIndex(opts.zone);
    this.tcpIdleMs = opts.tcpIdleMs ?? 10_000;
    this.onError = opts.onError ?? (() => {});
  }

  /** The bound port (valid after listen()). */
  get port(): number {
    return this.boundPort;
  }

  async listen(): Promise<void> {
    if (this.udp) return;
    const family = net.isIPv6(this.address) ? 'udp6' : 'udp4';
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket({ type: family });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(this.requestedPort, this.address, () => { udp.off('error', reject); resolve(); });
        });
      } catch (err) {
        udp.close();
        throw new LabSetupError(`DNS: cannot bind UDP ${this.address}:${this.requestedPort} (${(err as Error).message}); is another lab running?`, { cause: err });
      }
      const port = udp.address().port;
      const tcp = net.createServer((s) => this.onConnection(s));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(port, this.address, () => { tcp.off('error', reject); resolve(); });
        });
      } catch (err) {
        udp.close();
        // With port 0 the UDP port may be taken on TCP: pick another one.
        if (this.requestedPort === 0 && attempt < 10) continue;
        throw new LabSetupError(`DNS: cannot listen on TCP ${this.address}:${port}: ${(err as Error).message}`, { cause: err });
      }
      udp.on('error', (e) => this.onError(e));
      udp.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
      tcp.on('error', (e) => this.onError(e));
      this.udp = udp;
      this.tcp = tcp;
      this.boundPort = port;
      return;
    }
  }

  /** Idempotent; closes both listeners and every open TCP connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.conns) s.destroy();
    this.conns.clear();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    await Promise.all([
      udp ? new Promise<void>((r) => udp.close(() => r())) : undefined,
      tcp ? new Promise<void>((r) => tcp.close(() => r())) : undefined,
    ]);
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const reply = this.respond(msg, 'udp');
    if (reply && this.udp) this.udp.send(reply, rinfo.port, rinfo.address, (err) => { if (err) this.onError(err); });
  }

  private onConnection(s: net.Socket): void {
    if (this.closed) { s.destroy(); return; }
    this.conns.add(s);
    s.setTimeout(this.tcpIdleMs, () => s.destroy());
    s.on('error', () => s.destroy());
    s.on('close', () => this.conns.delete(s));
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length > MAX_TCP_BUFFER) { s.destroy(); return; }
      // RFC 1035 §4.2.2: each message is preceded by its 2-byte length.
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const reply = this.respond(msg, 'tcp');
        if (!reply) { s.destroy(); return; }
        const head = Buffer.alloc(2);
        head.writeUInt16BE(reply.length);
        s.write(Buffer.concat([head, reply]));
      }
    });
  }

  /**
   * The answer to one query message, or undefined when it must be dropped.
   * Public for tests and for in-process use; never throws.
   */
  respond(query: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    let q: DecodedPacket & { opcode?: string };
    try {
      q = dnsPacket.decode(query);
    } catch {
      return headerOnly(query, 'FORMERR');
    }
    try {
      if (q.flag_qr) return undefined;
      if (q.opcode !== 'QUERY') return headerOnly(query, 'NOTIMP');
      const questions = q.questions ?? [];
      const question = questions[0];
      if (questions.length !== 1 || !question) return headerOnly(query, 'FORMERR');
      // Zone transfers are not offered (RFC 5936 §4.2: refusing is allowed).
      if (question.type === 'AXFR' || question.type === 'IXFR') return headerOnly(query, 'REFUSED');
      const opt = (q.additionals ?? []).find((a): a is OptAnswer => a.type === 'OPT');
      const limit = transport === 'tcp' ? 65535 : opt ? Math.max(UDP_LIMIT, Math.min(opt.udpPayloadSize, 65535)) : UDP_LIMIT;
      const result = this.zone.lookup(question);
      const ednsOut: Answer[] = opt ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [];
      const flags = (result.authoritative ? FLAG_AA : 0) | (q.flags ?? 0) & FLAG_RD | RCODE[result.rcode];
      const packet: Packet = {
        type: 'response', id: q.id ?? 0, flags, questions: [question],
        answers: result.answers, authorities: result.authorities, additionals: [...result.additionals, ...ednsOut],
      };
      let out = dnsPacket.encode(packet);
      if (out.length <= limit) return out;
      // RFC 2181 §9: dropping additional data needs no TC bit.
      out = dnsPacket.encode({ ...packet, additionals: ednsOut });
      if (out.length <= limit) return out;
      return dnsPacket.encode({ ...packet, flags: flags | FLAG_TC, answers: [], authorities: [], additionals: ednsOut });
    } catch {
      return headerOnly(query, 'SERVFAIL');
    }
  }
}

/** A bare response header echoing id/opcode/RD, for queries we cannot or will not process. */
function headerOnly(query: Buffer, rcode: Rcode): Buffer | undefined {
  if (query.length < 12) return undefined;
  const inFlags = query.readUInt16BE(2);
  if (inFlags & FLAG_QR) return undefined;
  const out = Buffer.alloc(12);
  out.writeUInt16BE(query.readUInt16BE(0), 0);
  out.writeUInt16BE(FLAG_QR | (inFlags & 0x7800) | (inFlags & FLAG_RD) | RCODE[rcode], 2);
  return out;
}
