/**
 * A PbxNode started in-process for the node's end-to-end tests: config from YAML
 * (parseConfig), UDP + TCP listeners and the admin API on ephemeral ports of
 * 127.0.0.80, a temp SQLite file, RTP 31000–31099 (phones 31100–31199), T1 50 ms.
 * Phones (SimPhone) and raw clients use 127.0.0.81–84.
 */
export { waitFor, once } from '../support/wait.ts';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/node/config.ts';
import { PbxNode } from '../../src/node/node.ts';
import type { LagSource } from '../../src/node/overload.ts';
import type { Clock } from '../../src/sip/clock.ts';
import { parseMessage } from '../../src/sip/message/parser.ts';
import type { Endpoint, SipRequest, SipResponse } from '../../src/sip/message/types.ts';
import { PortPool } from '../../src/media/port-pool.ts';
import { SimPhone, type SimPhoneOptions } from '../../src/lab/sim-phone/index.ts';
import { silentLogger, type Logger } from '../../src/util/log.ts';

export const DOMAIN = 'node.test';
export const NODE_ADDRESS = '127.0.0.80';
export const PHONE_ADDRESSES = ['127.0.0.81', '127.0.0.82', '127.0.0.83', '127.0.0.84'];
export const TIMERS = { T1: 50, T2: 400, T4: 500 };
export const EXTENSIONS = ['2001', '2002', '2003', '2004'];

export interface NodeTestOptions {
  keepalive?: { intervalSec: number; maxFailures: number };
  ringTimeoutSec?: number;
  /** The node's logger (default: silent). */
  logger?: Logger;
  /** Event-loop lag the overload guard reads (default: the real sampler). */
  lagSource?: LagSource;
  /** Clock of the overload guard's adjustments (default: the node's). */
  overloadClock?: Clock;
  /** UDP receive-queue delay the overload guard reads (default: the transport's probe). */
  queueDelay?: () => number | undefined;
  /** An `overload:` line for the YAML (default: the built-in defaults). */
  overloadYaml?: string;
}

export function nodeYaml(o: NodeTestOptions = {}): string {
  const ka = o.keepalive ?? { intervalSec: 600, maxFailures: 3 };
  return [
    `domain: ${DOMAIN}`,
    'nodes:',
    '  n1:',
    '    role: public',
    '    sip:',
    `      - { transport: udp, address: ${NODE_ADDRESS}, port: 5060 }`,
    `      - { transport: tcp, address: ${NODE_ADDRESS}, port: 5060 }`,
    `    admin: { address: ${NODE_ADDRESS}, port: 8080 }`,
    `    rtp: { address: ${NODE_ADDRESS}, minPort: 31000, maxPort: 31099 }`,
    'extensions:',
    ...EXTENSIONS.map((n) => `  "${n}": { name: Phone ${n}, password: lab-${n}, nodes: [n1] }`),
    'registrar: { minExpires: 10, maxExpires: 3600, defaultExpires: 600 }',
    `keepalive: { intervalSec: ${ka.intervalSec}, maxFailures: ${ka.maxFailures} }`,
    `calls: { ringTimeoutSec: ${o.ringTimeoutSec ?? 10} }`,
    `sip: { t1: ${TIMERS.T1}, t2: ${TIMERS.T2}, t4: ${TIMERS.T4} }`,
    ...(o.overloadYaml ? [o.overloadYaml] : []),
    '',
  ].join('\n');
}

export interface NodeUnderTest {
  node: PbxNode;
  udp: Endpoint;
  tcp: Endpoint;
  admin: string;
  /** A started SimPhone for an extension; `over.proxy` may point at the TCP listener. */
  phone(user: string, over?: Partial<SimPhoneOptions>): Promise<SimPhone>;
  get<T = unknown>(path: string): Promise<{ status: number; body: T }>;
  metrics(): Promise<string>;
  close(): Promise<void>;
}

let nextPhone = 0;

export async function startTestNode(o: NodeTestOptions = {}): Promise<NodeUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'spacephone-node-'));
  const config = parseConfig(nodeYaml(o), join(dir, 'node.yaml'), { baseDir: dir });
  const node = new PbxNode({
    config,
    nodeName: 'n1',
    logger: o.logger ?? silentLogger(),
    ...(o.lagSource ? { lagSource: o.lagSource } : {}),
    ...(o.overloadClock ? { overloadClock: o.overloadClock } : {}),
    ...(o.queueDelay ? { queueDelay: o.queueDelay } : {}),
    overrides: {
      sip: [
        { transport: 'udp', address: NODE_ADDRESS, port: 0 },
        { transport: 'tcp', address: NODE_ADDRESS, port: 0 },
      ],
      admin: { address: NODE_ADDRESS, port: 0 },
      database: join(dir, 'n1.sqlite'),
    },
  });
  try {
    await node.start();
  } catch (err) {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const udp = node.transport.localEndpoint('udp');
  const tcp = node.transport.localEndpoint('tcp');
  const admin = node.adminUrl;
  if (!udp || !tcp || !admin) throw new Error('node did not bind its listeners');
  const phones: SimPhone[] = [];
  const phonePorts = new PortPool({ min: 31100, max: 31199 });
  return {
    node,
    udp,
    tcp,
    admin,
    async phone(user, over = {}) {
      const address = PHONE_ADDRESSES[nextPhone++ % PHONE_ADDRESSES.length] ?? '127.0.0.81';
      const p = new SimPhone({ address, user, password: `lab-${user}`, domain: DOMAIN, proxy: udp, ports: phonePorts, timers: TIMERS, ...over });
      await p.start();
      phones.push(p);
      return p;
    },
    async get<T>(path: string) {
      const r = await fetch(`${admin}${path}`);
      return { status: r.status, body: (await r.json()) as T };
    },
    async metrics() {
      return (await fetch(`${admin}/metrics`)).text();
    },
    async close() {
      for (const p of phones) await p.close();
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The value of one Prometheus sample line (`name{labels} value`), or undefined. */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  const wanted = labels === '' ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(wanted));
  return line === undefined ? undefined : Number(line.slice(wanted.length));
}

/** A raw request text with the usual mandatory headers (§8.1.1); `extra` lines are added as given. */
export function rawRequest(method: string, uri: string, from: Endpoint, extra: string[] = [], opts: { toTag?: string; cseqMethod?: string } = {}): string {
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
  return [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/${from.transport.toUpperCase()} ${from.address}:${from.port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@${DOMAIN}>;tag=${randomBytes(4).toString('hex')}`,
    `To: <sip:2001@${DOMAIN}>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    `Call-ID: ${randomBytes(8).toString('hex')}@probe`,
    `CSeq: 1 ${opts.cseqMethod ?? method}`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** A new out-of-dialog REGISTER without credentials, parsed as the node would receive it (guard unit tests). */
export function parsedRegister(): SipRequest {
  const r = parseMessage(Buffer.from(rawRequest('REGISTER', `sip:${DOMAIN}`, { transport: 'udp', address: '127.0.0.1', port: 5099 })));
  if (!r.ok || r.msg.kind !== 'request') throw new Error('fixture does not parse');
  return r.msg;
}

/** A UDP client on a phone address that sends raw requests and returns the first final response. */
export class RawUdpClient {
  private readonly socket = dgram.createSocket('udp4');
  private local!: Endpoint;

  static async open(address = PHONE_ADDRESSES[3] ?? '127.0.0.84'): Promise<RawUdpClient> {
    const c = new RawUdpClient();
    await new Promise<void>((resolve, reject) => {
      c.socket.once('error', reject);
      c.socket.bind(0, address, () => resolve());
    });
    const a = c.socket.address();
    c.local = { transport: 'udp', address: a.address, port: a.port };
    return c;
  }

  get endpoint(): Endpoint {
    return this.local;
  }

  /**
   * Sends `build(local)` to `to` and resolves with the first final response to it
   * (same Call-ID): retransmitted final responses to an earlier request — e.g. an
   * INVITE 503 this client never ACKed, repeated by Timer G — are not taken for it.
   */
  request(to: Endpoint, build: (local: Endpoint) => string, ms = 2000): Promise<SipResponse> {
    const text = build(this.local);
    const callId = /^Call-ID:[ \t]*(\S+)/im.exec(text)?.[1];
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.socket.off('message', onMessage);
        reject(new Error('no final response'));
      }, ms);
      const onMessage = (data: Buffer): void => {
        const r = parseMessage(data);
        if (!r.ok || r.msg.kind !== 'response' || r.msg.status < 200) return;
        if (callId !== undefined && r.msg.callId !== callId) return;
        clearTimeout(t);
        this.socket.off('message', onMessage);
        resolve(r.msg);
      };
      this.socket.on('message', onMessage);
      this.socket.send(text, to.port, to.address);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export function headerValues(res: SipResponse, name: string): string[] {
  return res.headers.filter((h) => h.name.toLowerCase() === name.toLowerCase()).map((h) => h.value);
}

