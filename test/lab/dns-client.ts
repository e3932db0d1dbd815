/** Test helpers: one DNS query over UDP or TCP (length-prefixed), with a timeout. */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';

export function queryPacket(name: string, type: string, extra: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'query', id: Math.floor(Math.random() * 65535), flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as 'A' }], ...extra,
  });
}

export function udpExchange(address: string, port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); resolve(undefined); }, timeoutMs);
    s.on('error', (e) => { clearTimeout(t); s.close(); reject(e); });
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(m); });
    s.send(msg, port, address);
  });
}

export async function udpQuery(address: string, port: number, name: string, type: string, extra: Partial<Packet> = {}): Promise<DecodedPacket & { rcode?: string }> {
  const r = await udpExchange(address, port, queryPacket(name, type, extra));
  if (!r) throw new Error('no UDP answer');
  return dnsPacket.decode(r);
}

/** Sends `chunks` as written (callers frame them) and collects `expect` framed answers. */
export function tcpExchange(address: string, port: number, chunks: Buffer[], expect: number, timeoutMs = 2000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, address);
    const out: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => { s.destroy(); resolve(out); }, timeoutMs);
    s.on('error', (e) => { clearTimeout(t); reject(e); });
    s.on('close', () => { clearTimeout(t); resolve(out); });
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length >= expect) { clearTimeout(t); s.destroy(); resolve(out); }
    });
    s.on('connect', () => { for (const c of chunks) s.write(c); });
  });
}

export function frame(msg: Buffer): Buffer {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(msg.length);
  return Buffer.concat([h, msg]);
}

export async function tcpQuery(address: string, port: number, name: string, type: string): Promise<DecodedPacket & { rcode?: string }> {
  const [r] = await tcpExchange(address, port, [frame(queryPacket(name, type))], 1);
  if (!r) throw new Error('no TCP answer');
  return dnsPacket.decode(r);
}

/** The data of a record of any type (OPT has none). */
export function rdata(a: Answer | undefined): unknown {
  return a && 'data' in a ? a.data : undefined;
}
