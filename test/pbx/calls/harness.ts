/**
 * In-process node for the call engine's end-to-end tests: SipTransport +
 * TransactionLayer + Registrar (digest) + CallManager on 127.0.0.1, and SimPhones
 * on other 127.0.0.x addresses. Small T1 so transaction timers run out quickly.
 */
export { waitFor, once } from '../../support/wait.ts';
export { dial, answeredCall } from '../../support/calls.ts';
import { randomInt } from 'node:crypto';
import { SystemClock, type Clock } from '../../../src/sip/clock.ts';
import { DigestServer } from '../../../src/sip/auth/digest-server.ts';
import { ha1 } from '../../../src/sip/auth/digest.ts';
import { createResponse } from '../../../src/sip/message/build.ts';
import type { Endpoint } from '../../../src/sip/message/types.ts';
import { TransactionLayer } from '../../../src/sip/transaction/layer.ts';
import { SipTransport } from '../../../src/sip/transport/transport.ts';
import { MemoryLocationStore } from '../../../src/pbx/location/memory-store.ts';
import { Registrar } from '../../../src/pbx/registrar/registrar.ts';
import { digestRegistrarAuth } from '../../../src/pbx/registrar/digest-auth.ts';
import { PortPool } from '../../../src/media/port-pool.ts';
import { silentLogger } from '../../../src/util/log.ts';
import { CallManager, type CallManagerDeps } from '../../../src/pbx/calls/call-manager.ts';
import { SimPhone, type SimPhoneOptions } from '../../../src/lab/sim-phone/index.ts';
import type { NewCdr } from '../../../src/store/cdr-store.ts';

export const DOMAIN = 'pbx.test';
export const TIMERS = { T1: 50, T2: 400, T4: 500 };
export const EXTENSIONS: Record<string, string> = { '2001': 'Alice', '2002': 'Bob', '2003': 'Carol', '2004': 'Dave', '2005': 'Eve' };

/** A random even RTP range of `size` ports (parallel test files must not clash). */
export function rtpRange(size = 400): { min: number; max: number } {
  const min = 20000 + 2 * randomInt(0, 18000);
  return { min, max: min + size - 1 };
}

export interface TestNode {
  transport: SipTransport;
  layer: TransactionLayer;
  calls: CallManager;
  ports: PortPool;
  store: MemoryLocationStore;
  endpoint: Endpoint;
  cdrs: NewCdr[];
  phone(user: string, over?: Partial<SimPhoneOptions>): Promise<SimPhone>;
  close(): Promise<void>;
}

let phoneAddr = 2;

/** `clock`: the node's clock (transactions, 2xx retransmission, ring timer); phones always run in real time. */
export async function startNode(over: Partial<CallManagerDeps> = {}, clock: Clock = new SystemClock()): Promise<TestNode> {
  const transport = new SipTransport({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
  await transport.start();
  const endpoint = transport.localEndpoint('udp');
  if (!endpoint) throw new Error('no endpoint');
  const layer = new TransactionLayer(transport, { clock, timers: TIMERS });
  const store = new MemoryLocationStore();
  const digest = new DigestServer({ realm: DOMAIN, secret: 'test-secret', clock });
  const lookup = (user: string, realm: string, alg: Parameters<typeof ha1>[3]): { ha1: string } | undefined =>
    EXTENSIONS[user] !== undefined ? { ha1: ha1(user, realm, `lab-${user}`, alg) } : undefined;
  const regAuth = digestRegistrarAuth(digest, lookup);
  const registrar = new Registrar({
    store,
    auth: regAuth.auth,
    clock,
    domains: [DOMAIN, '127.0.0.1'],
    nodeName: 'test',
    minExpires: 10,
    maxExpires: 7200,
    defaultExpires: 3600,
    extensions: (u) => EXTENSIONS[u] !== undefined,
    challenge: regAuth.challenge,
  });
  const ports = new PortPool(rtpRange());
  const cdrs: NewCdr[] = [];
  const calls = new CallManager({
    layer,
    transport,
    clock,
    logger: silentLogger(),
    nodeName: 'test',
    store,
    aorOf: (u) => registrar.aorOf(u),
    extension: (u) => (EXTENSIONS[u] !== undefined ? { number: u, displayName: EXTENSIONS[u] } : undefined),
    authenticate: (req) => {
      const v = digest.verify(req, lookup, { proxy: true });
      if (v.result === 'ok') return { ok: true, user: v.username };
      if (v.result === 'bad-request') return { ok: false, response: 'bad-request' };
      return { ok: false, response: v.result === 'challenge' && v.stale ? 'stale' : 'challenge' };
    },
    challenge: (stale) => digest.challenge({ stale, proxy: true }),
    ports,
    mediaAddress: '127.0.0.1',
    ringTimeoutSec: 10,
    maxForwards: 70,
    cdr: { insert: (c) => (cdrs.push(c), { ...c, id: cdrs.length, durationMs: 0 }), recent: () => [], close: () => undefined },
    localContact: (t) => ({ scheme: 'sip', host: endpoint.address, port: endpoint.port, params: new Map(t === 'udp' ? [] : [['transport', t]]), headers: new Map() }),
    timers: TIMERS,
    ...over,
  });
  layer.onRequest = (tx, inbound) => {
    const req = inbound.msg;
    if (req.method === 'REGISTER') {
      const s = inbound.source;
      tx.respond(registrar.handle(req, { transport: s.transport, address: s.address, port: s.port, localAddress: inbound.local.address, localPort: inbound.local.port, connectionId: inbound.connectionId }));
    } else if (req.to.params.has('tag')) {
      if (!calls.onInDialogRequest(tx, inbound)) tx.respond(createResponse(req, 481));
    } else if (req.method === 'INVITE') {
      calls.onInvite(tx, inbound);
    } else {
      tx.respond(createResponse(req, req.method === 'OPTIONS' ? 200 : 405));
    }
  };
  layer.onAck = (req) => calls.onAck(req);
  layer.onCancel = (i, c, req) => calls.onCancel(i, c, req);
  layer.onStrayResponse = (res) => calls.onStrayResponse(res);
  const phones: SimPhone[] = [];
  const phonePorts = new PortPool(rtpRange(200));
  return {
    transport,
    layer,
    calls,
    ports,
    store,
    endpoint,
    cdrs,
    async phone(user, o = {}) {
      const address = `127.0.0.${(phoneAddr++ % 200) + 2}`;
      const p = new SimPhone({ address, user, password: `lab-${user}`, domain: DOMAIN, proxy: endpoint, ports: phonePorts, timers: TIMERS, ...o });
      await p.start();
      phones.push(p);
      return p;
    },
    async close() {
      await calls.close();
      for (const p of phones) await p.close();
      layer.close();
      await transport.close();
    },
  };
}



/** Starts and registers one phone per extension (with optional phone options). */
export async function registered(node: TestNode, ...specs: Array<[string, Partial<SimPhoneOptions>?]>): Promise<SimPhone[]> {
  const phones: SimPhone[] = [];
  for (const [user, over] of specs) phones.push(await node.phone(user, over));
  for (const p of phones) await p.register();
  return phones;
}
