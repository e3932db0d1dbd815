import { parseMessage } from '../../../src/sip/message/parser.ts';
import { serializeMessage } from '../../../src/sip/message/serializer.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/sip/message/types.ts';

export function register(opts: { user?: string; callId?: string; cseq?: number; method?: string; uri?: string } = {}): SipRequest {
  const user = opts.user ?? 'alice';
  const method = opts.method ?? 'REGISTER';
  const uri = opts.uri ?? 'sip:example.test';
  const bytes = Buffer.from(
    [
      `${method} ${uri} SIP/2.0`,
      'Via: SIP/2.0/UDP 127.0.0.21:5060;branch=z9hG4bK776asdhds;rport',
      'Max-Forwards: 70',
      `From: <sip:${user}@example.test>;tag=1928301774`,
      `To: <sip:${user}@example.test>`,
      `Call-ID: ${opts.callId ?? 'a84b4c76e66710@127.0.0.21'}`,
      `CSeq: ${opts.cseq ?? 1} ${method}`,
      `Contact: <sip:${user}@127.0.0.21:5060>`,
      'Expires: 3600',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
  const r = parseMessage(bytes);
  if (!r.ok || r.msg.kind !== 'request') throw new Error('fixture did not parse');
  return r.msg;
}

/** Serializes and re-parses: proves a message survives the wire. */
export function wire<T extends SipMessage>(msg: T): T {
  const r = parseMessage(serializeMessage(msg));
  if (!r.ok) throw r.error;
  if (r.msg.kind !== msg.kind) throw new Error('kind changed on the wire');
  return r.msg as T;
}

export function isResponse(m: SipMessage): m is SipResponse {
  return m.kind === 'response';
}
