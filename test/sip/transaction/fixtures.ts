/** Message objects for transaction tests, built directly on the message model. */
import type { NameAddr, SipRequest, SipResponse, Uri, Via } from '../../../src/sip/message/types.ts';
import { makeRequest, responseTo } from '../../../src/sip/transaction/messages.ts';

export function sipUri(user: string | undefined, host: string, port?: number): Uri {
  // Optional fields only when set, as the parser and cloneUri build them (deepEqual tells the two apart).
  const uri: Uri = { scheme: 'sip', host, params: new Map(), headers: new Map() };
  if (user !== undefined) uri.user = user;
  if (port !== undefined) uri.port = port;
  return uri;
}

export function nameAddr(user: string, host: string, tag?: string): NameAddr {
  const params = new Map<string, string | null>();
  if (tag) params.set('tag', tag);
  return { uri: sipUri(user, host), params };
}

export function via(branch: string | undefined, host = '127.0.0.2', port = 5070): Via {
  const params = new Map<string, string | null>();
  if (branch !== undefined) params.set('branch', branch);
  return { protocol: 'SIP/2.0', transport: 'UDP', host, port, params };
}

/** A request as a peer would send it to us (with a Via). */
export function inboundRequest(method: string, opts: { branch?: string; seq?: number; toTag?: string; cseqMethod?: string; callId?: string } = {}): SipRequest {
  return makeRequest({
    method,
    uri: sipUri('bob', '127.0.0.1', 5060),
    via: [via(opts.branch === undefined ? 'z9hG4bKpeer1' : opts.branch)],
    from: nameAddr('alice', 'example.org', 'fromtag1'),
    to: nameAddr('bob', 'example.com', opts.toTag),
    callId: opts.callId ?? 'call-1@127.0.0.2',
    cseq: { seq: opts.seq ?? 1, method: opts.cseqMethod ?? method },
  });
}

/** A request our TU would send (no Via: the layer adds one). */
export function outboundRequest(method: string, seq = 1): SipRequest {
  return makeRequest({
    method,
    uri: sipUri('bob', '127.0.0.2', 5070),
    from: nameAddr('alice', 'example.org', 'ourtag'),
    to: nameAddr('bob', 'example.com'),
    callId: 'out-1@127.0.0.1',
    cseq: { seq, method },
  });
}

/** The response a peer would send to `req` (which went through our layer). */
export function peerResponse(req: SipRequest, status: number, toTag = 'peertag'): SipResponse {
  const res = responseTo(req, status, 'X');
  if (status > 100) res.to.params.set('tag', toTag);
  return res;
}
