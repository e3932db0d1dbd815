/**
 * Message construction needed inside the transaction layer: synthesized responses
 * (§8.1.3.1), the ACK for a non-2xx final response (§17.1.1.3) and CANCEL (§9.1).
 * Kept local so the layer depends only on the message model (types.ts).
 */
import { randomBytes } from 'node:crypto';
import { createResponse } from '../message/build.ts';
import { isSipUri, type CSeq, type NameAddr, type SipRequest, type SipResponse, type Uri, type Via } from '../message/types.ts';

/** RFC 3261 §8.1.1.7 magic cookie. */
export const BRANCH_COOKIE = 'z9hG4bK';

export function randomToken(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

export function makeBranch(): string {
  return BRANCH_COOKIE + randomToken(8);
}

/**
 * True when the branch was built by an RFC 3261 element and is usable as a
 * transaction id. A branch that is exactly the cookie (RFC 4475 §3.2.1 "badbranch")
 * is treated as RFC 2543. NOTE: deviates from a literal reading of §17.2.3, which
 * only checks the prefix, because a bare cookie is not unique.
 */
export function isRfc3261Branch(branch: string | null | undefined): branch is string {
  return typeof branch === 'string' && branch.startsWith(BRANCH_COOKIE) && branch.length > BRANCH_COOKIE.length;
}

export function viaBranch(via: Via | undefined): string | undefined {
  const b = via?.params.get('branch');
  return b ?? undefined;
}

function copyParams<K, V>(m: Map<K, V>): Map<K, V> {
  return new Map(m);
}

export function cloneUri(u: Uri): Uri {
  if (isSipUri(u)) return { ...u, params: copyParams(u.params), headers: copyParams(u.headers) };
  if ('number' in u) return { ...u, params: copyParams(u.params) };
  return { ...u };
}

export function cloneNameAddr(n: NameAddr): NameAddr {
  return { ...n, uri: cloneUri(n.uri), params: copyParams(n.params) };
}

export function cloneVia(v: Via): Via {
  return { ...v, params: copyParams(v.params) };
}

/** The fields every message carries, empty. */
function emptyLists(): Omit<SipRequest, 'kind' | 'method' | 'uri' | 'via' | 'from' | 'to' | 'callId' | 'cseq'> {
  return {
    contact: [],
    route: [],
    recordRoute: [],
    path: [],
    wwwAuthenticate: [],
    proxyAuthenticate: [],
    authorization: [],
    proxyAuthorization: [],
    require: [],
    supported: [],
    proxyRequire: [],
    headers: [],
    body: Buffer.alloc(0),
  };
}

export interface RequestInit {
  method: string;
  uri: Uri;
  from: NameAddr;
  to: NameAddr;
  callId: string;
  cseq: CSeq;
  via?: Via[];
  route?: NameAddr[];
  contact?: NameAddr[];
  maxForwards?: number;
}

/** A request with only the given fields set (Max-Forwards defaults to 70, §8.1.1.6). */
export function makeRequest(init: RequestInit): SipRequest {
  return {
    ...emptyLists(),
    kind: 'request',
    method: init.method,
    uri: init.uri,
    via: init.via ?? [],
    from: init.from,
    to: init.to,
    callId: init.callId,
    cseq: init.cseq,
    maxForwards: init.maxForwards ?? 70,
    route: init.route ?? [],
    contact: init.contact ?? [],
  };
}

const synthetic = new WeakSet<SipResponse>();

/** True for a 408/503 the transaction layer made up itself (§8.1.3.1, §17.1.1.2). */
export function isSynthetic(res: SipResponse): boolean {
  return synthetic.has(res);
}

/**
 * A response to `req` copying Via, From, To, Call-ID and CSeq (§8.2.6.2; Timestamp
 * for a 100). The caller adds a To tag where one is needed.
 */
export function responseTo(req: SipRequest, status: number, reason?: string): SipResponse {
  return createResponse(req, status, reason);
}

/** A response that never crossed the network: timeout (408) or transport failure (503). */
export function syntheticResponse(req: SipRequest, status: 408 | 503): SipResponse {
  const res = responseTo(req, status, status === 408 ? 'Request Timeout' : 'Service Unavailable');
  synthetic.add(res);
  return res;
}

/**
 * ACK for a non-2xx final response (§17.1.1.3): same Request-URI, Call-ID, From,
 * CSeq number; To from the response (its tag); one Via = the request's top Via;
 * the request's Route headers.
 */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  return makeRequest({
    method: 'ACK',
    uri: cloneUri(invite.uri),
    via: invite.via.length > 0 ? [cloneVia(invite.via[0])] : [],
    from: cloneNameAddr(invite.from),
    to: cloneNameAddr(res.to),
    callId: invite.callId,
    cseq: { seq: invite.cseq.seq, method: 'ACK' },
    route: invite.route.map(cloneNameAddr),
  });
}

/**
 * CANCEL for a pending request (§9.1): same Request-URI, Call-ID, To, From, CSeq
 * number; one Via equal to the request's top Via (same branch); same Route.
 */
export function buildCancel(req: SipRequest): SipRequest {
  return makeRequest({
    method: 'CANCEL',
    uri: cloneUri(req.uri),
    via: req.via.length > 0 ? [cloneVia(req.via[0])] : [],
    from: cloneNameAddr(req.from),
    to: cloneNameAddr(req.to),
    callId: req.callId,
    cseq: { seq: req.cseq.seq, method: 'CANCEL' },
    route: req.route.map(cloneNameAddr),
  });
}
