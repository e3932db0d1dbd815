/**
 * Message construction needed inside the transaction layer: synthesized responses
 * (§8.1.3.1), the ACK for a non-2xx final response (§17.1.1.3) and CANCEL (§9.1).
 * Cloning, branches and tags come from the message builders (build.ts).
 */
import { bareRequest, cloneNameAddr, cloneUri, cloneVia, createResponse } from '../message/build.ts';
import type { CSeq, NameAddr, SipRequest, SipResponse, Uri, Via } from '../message/types.ts';

/** RFC 3261 §8.1.1.7 magic cookie. */
export const BRANCH_COOKIE = 'z9hG4bK';

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

/**
 * A request with exactly the given fields (Max-Forwards defaults to 70, §8.1.1.6).
 * Unlike build.ts createRequest it adds no From tag and no Call-ID: ACK, CANCEL and
 * in-dialog requests copy those from the request or dialog they belong to.
 */
export function makeRequest(init: RequestInit): SipRequest {
  // Built by bareRequest (one literal in the canonical key order), not by spreading
  // emptyFields() into a literal with more keys: on Node 20 that costs ~1 µs per added
  // key and can leave a dictionary-mode object.
  const req = bareRequest(init.method, init.uri, init.via ?? [], init.from, init.to, init.callId, init.cseq);
  if (init.contact !== undefined) req.contact = init.contact;
  if (init.route !== undefined) req.route = init.route;
  req.maxForwards = init.maxForwards ?? 70;
  return req;
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
 * A request that copies `req`'s Request-URI, Call-ID, From, CSeq number, top Via
 * (same branch) and Route, with `method` and `to` (§9.1, §17.1.1.3).
 */
function sameTransactionRequest(req: SipRequest, method: 'ACK' | 'CANCEL', to: NameAddr): SipRequest {
  return makeRequest({
    method,
    uri: cloneUri(req.uri),
    via: req.via.length > 0 ? [cloneVia(req.via[0])] : [],
    from: cloneNameAddr(req.from),
    to: cloneNameAddr(to),
    callId: req.callId,
    cseq: { seq: req.cseq.seq, method },
    route: req.route.map(cloneNameAddr),
  });
}

/** ACK for a non-2xx final response (§17.1.1.3): To from the response (its tag). */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  return sameTransactionRequest(invite, 'ACK', res.to);
}

/** CANCEL for a pending request (§9.1): To as in the request. */
export function buildCancel(req: SipRequest): SipRequest {
  return sameTransactionRequest(req, 'CANCEL', req.to);
}
