/** Shared fixtures for the registrar tests: REGISTER text → SipRequest, fake auth, registrar factory. */
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import type { AuthValue, SipRequest, SipResponse } from '../../../src/sip/message/types.ts';
import { isSipUri } from '../../../src/sip/message/types.ts';
import { FakeClock } from '../../../src/sip/clock.ts';
import { MemoryLocationStore } from '../../../src/pbx/location/memory-store.ts';
import { Registrar, type RegistrarOptions } from '../../../src/pbx/registrar/registrar.ts';
import type { RegistrarAuth, RegistrarAuthResult } from '../../../src/pbx/registrar/auth.ts';
import type { FlowInfo } from '../../../src/store/location-store.ts';

export const DOMAIN = 'pbx.test';

export function parseRequest(text: string): SipRequest {
  const r = parseMessage(Buffer.from(text, 'latin1'));
  if (!r.ok) assert.fail(`fixture does not parse: ${r.error.fault}`);
  assert.equal(r.msg.kind, 'request');
  return r.msg as SipRequest;
}

export interface RegisterSpec {
  ruri?: string;
  user?: string;
  /** To/From user; defaults to `user`. */
  aorUser?: string;
  domain?: string;
  contacts?: string[];
  expires?: number;
  callId?: string;
  cseq?: number;
  /** Credentials (fake scheme: username + password in `response`). */
  auth?: { user: string; password: string };
  extra?: string[];
}

export function register(spec: RegisterSpec = {}): SipRequest {
  const user = spec.user ?? '100';
  const aorUser = spec.aorUser ?? user;
  const domain = spec.domain ?? DOMAIN;
  const lines = [
    `REGISTER ${spec.ruri ?? `sip:${domain}`} SIP/2.0`,
    'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK' + Math.random().toString(36).slice(2) + ';rport',
    'Max-Forwards: 70',
    `From: <sip:${aorUser}@${domain}>;tag=f1`,
    `To: <sip:${aorUser}@${domain}>`,
    `Call-ID: ${spec.callId ?? 'call-1@127.0.0.1'}`,
    `CSeq: ${spec.cseq ?? 1} REGISTER`,
    'User-Agent: test-phone/1.0',
  ];
  for (const c of spec.contacts ?? [`<sip:${user}@127.0.0.1:5062>`]) lines.push(`Contact: ${c}`);
  if (spec.expires !== undefined) lines.push(`Expires: ${spec.expires}`);
  if (spec.auth) {
    lines.push(`Authorization: Digest username="${spec.auth.user}", realm="${DOMAIN}", nonce="n", uri="sip:${domain}", response="${spec.auth.password}"`);
  }
  lines.push(...(spec.extra ?? []));
  lines.push('Content-Length: 0', '', '');
  return parseRequest(lines.join('\r\n'));
}

export const PASSWORDS = new Map([
  ['100', 'secret100'],
  ['101', 'secret101'],
]);

/**
 * Fake authenticator with a password table. Like a real digest server it cannot
 * verify anything for a user it does not know, and says `challenge`.
 */
export class FakeAuth implements RegistrarAuth {
  staleUsers = new Set<string>();
  check(req: SipRequest): RegistrarAuthResult {
    const cred = req.authorization.find((a) => a.scheme.toLowerCase() === 'digest');
    if (!cred) return { ok: false, response: 'challenge' };
    const user = cred.params.get('username') ?? '';
    const pw = PASSWORDS.get(user);
    if (pw === undefined || cred.params.get('response') !== pw) return { ok: false, response: 'challenge' };
    if (this.staleUsers.has(user)) return { ok: false, response: 'stale' };
    return { ok: true, user };
  }
}

let nonceCounter = 0;
export function challenge(stale: boolean): AuthValue[] {
  const params = new Map([
    ['realm', DOMAIN],
    ['nonce', `nonce-${++nonceCounter}-${Math.random().toString(36).slice(2)}`],
    ['algorithm', 'MD5'],
    ['qop', 'auth'],
  ]);
  if (stale) params.set('stale', 'true');
  return [{ scheme: 'Digest', params }];
}

export const FLOW: FlowInfo = { transport: 'udp', address: '127.0.0.1', port: 40000, localAddress: '127.0.0.1', localPort: 5060 };

export function setup(over: Partial<RegistrarOptions> = {}) {
  const clock = new FakeClock(1_700_000_000_000);
  const store = new MemoryLocationStore();
  const auth = new FakeAuth();
  const registrar = new Registrar({
    store,
    auth,
    clock,
    domains: [DOMAIN, '127.0.0.1'],
    nodeName: 'nl',
    minExpires: 60,
    maxExpires: 7200,
    defaultExpires: 3600,
    extensions: (u) => ['100', '101', '102'].includes(u),
    challenge,
    ...over,
  });
  return { clock, store, auth, registrar, aor: `100@${DOMAIN}` };
}

export const AUTH100 = { user: '100', password: 'secret100' };

/** Contact values of a response as {uri, expires, q}. */
export function contactsOf(res: SipResponse): { uri: string; expires?: string; q?: string }[] {
  if (res.contact === '*') return [];
  return res.contact.map((c) => {
    assert.ok(isSipUri(c.uri));
    return {
      uri: `${c.uri.user}@${c.uri.host}${c.uri.port !== undefined ? ':' + c.uri.port : ''}`,
      expires: c.params.get('expires') ?? undefined,
      q: c.params.get('q') ?? undefined,
    };
  });
}
