/** Shared helpers for transport tests: loopback only, ephemeral ports. */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { createRequest } from '../../../src/sip/message/build.ts';
import type { SipRequest, Uri } from '../../../src/sip/message/types.ts';
import { SipTransport, type SipTransportConfig } from '../../../src/sip/transport/transport.ts';
import type { InboundRequest, InboundResponse } from '../../../src/sip/transport/types.ts';

export async function started(config: SipTransportConfig): Promise<SipTransport> {
  const t = new SipTransport(config);
  await t.start();
  return t;
}

/** A transport whose UDP and TCP listeners share one port (needed for the MTU switch). Retries on clashes. */
export async function startedSamePort(address: string, extra: Partial<SipTransportConfig> = {}): Promise<SipTransport> {
  for (let i = 0; ; i++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const t = new SipTransport({ ...extra, listen: [{ transport: 'udp', address, port }, { transport: 'tcp', address, port }] });
    try {
      await t.start();
      return t;
    } catch (err) {
      if (i > 20) throw err;
    }
  }
}

export function sipUri(user: string, host: string, port?: number): Uri {
  return { scheme: 'sip', user, host, port, params: new Map(), headers: new Map() };
}

export function options(host: string, port: number, extra: Partial<{ body: Buffer; uriHost: string }> = {}): SipRequest {
  return createRequest({
    method: 'OPTIONS',
    uri: sipUri('bob', extra.uriHost ?? (host.includes(':') ? `[${host}]` : host), port),
    from: { uri: sipUri('alice', 'a.example'), params: new Map() },
    to: { uri: sipUri('bob', 'b.example'), params: new Map() },
    via: [{ protocol: 'SIP/2.0', transport: 'UDP', host: 'placeholder.invalid', params: new Map([['branch', 'z9hG4bK' + Math.random().toString(36).slice(2)]]) }],
    body: extra.body,
    contentType: extra.body ? 'text/plain' : undefined,
  });
}

/** Raw request bytes as a phone would send them. */
export function rawRequest(via: string, opts: { method?: string; body?: string; contentLength?: number | null; callId?: string } = {}): string {
  const method = opts.method ?? 'OPTIONS';
  const body = opts.body ?? '';
  const cl = opts.contentLength === undefined ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : opts.contentLength === null ? '' : `Content-Length: ${opts.contentLength}\r\n`;
  return (
    `${method} sip:bob@127.0.0.1 SIP/2.0\r\n` +
    `Via: ${via}\r\n` +
    'Max-Forwards: 70\r\n' +
    'From: <sip:alice@a.example>;tag=1928301774\r\n' +
    'To: <sip:bob@b.example>\r\n' +
    `Call-ID: ${opts.callId ?? 'a84b4c76e66710'}\r\n` +
    `CSeq: 1 ${method}\r\n` +
    cl +
    '\r\n' +
    body
  );
}

/** Resolves with the next value passed to the registered callback, or rejects after ms. */
export function next<T>(register: (cb: (v: T) => void) => void, ms = 3000, what = 'event'): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

export function nextRequest(t: SipTransport, ms?: number): Promise<InboundRequest> {
  return next<InboundRequest>((cb) => {
    const h = (r: InboundRequest): void => {
      t.off('request', h);
      cb(r);
    };
    t.on('request', h);
  }, ms, 'request');
}

export function nextResponse(t: SipTransport, ms?: number): Promise<InboundResponse> {
  return next<InboundResponse>((cb) => {
    const h = (r: InboundResponse): void => {
      t.off('response', h);
      cb(r);
    };
    t.on('response', h);
  }, ms, 'response');
}

export async function udpPeer(address = '127.0.0.1'): Promise<DgramSocket & { port: number }> {
  const s = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  return Object.assign(s, { port: s.address().port });
}

export function nextDatagram(s: DgramSocket, ms?: number): Promise<{ data: string; port: number; address: string }> {
  return next((cb) => s.once('message', (m: Buffer, r) => cb({ data: m.toString('latin1'), port: r.port, address: r.address })), ms, 'datagram');
}

export async function tcpPeer(port: number, host = '127.0.0.1'): Promise<Socket> {
  const s = connect({ host, port });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  return s;
}

/** Collects everything a raw socket receives; `until` waits for a predicate on the text so far. */
export function collect(s: Socket): { text: () => string; until: (pred: (t: string) => boolean, ms?: number) => Promise<string>; closed: Promise<void> } {
  let buf = '';
  const waiters: Array<() => void> = [];
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  return {
    text: () => buf,
    closed,
    until: (pred, ms = 3000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(buf)}`)), ms);
        const check = (): void => {
          if (pred(buf)) {
            clearTimeout(timer);
            resolve(buf);
          } else waiters.push(check);
        };
        check();
      }),
  };
}

export function viaOf(text: string): string {
  return /^Via: (.*)$/m.exec(text)?.[1] ?? '';
}
