/**
 * Transaction matching keys (RFC 3261 §17.1.3 for responses, §17.2.3 for requests,
 * including the RFC 2543 fallback when the top Via branch lacks the magic cookie).
 */
import { isSipUri, type SipRequest, type Uri, type Via } from '../message/types.ts';
import { isRfc3261Branch, viaBranch } from './messages.ts';

const SEP = '\u0000';

/** §17.1.3: a response matches the client transaction with its top Via branch and CSeq method. */
export function clientKey(branch: string, cseqMethod: string): string {
  return 'c' + SEP + branch + SEP + cseqMethod;
}

function paramsKey(params: Map<string, string | null>, skip: readonly string[] = []): string {
  return [...params.entries()]
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => (v === null ? k : `${k}=${v.toLowerCase()}`))
    .sort()
    .join(';');
}

/** A comparable form of a URI, close to §19.1.4 (case-insensitive host and params, params unordered). */
export function uriKey(u: Uri): string {
  if (isSipUri(u)) {
    const headers = [...u.headers.entries()].map(([k, v]) => `${k.toLowerCase()}=${v}`).sort().join('&');
    const user = u.user ?? '';
    const pw = u.password ?? '';
    return `${u.scheme}:${user}:${pw}@${u.host.toLowerCase()}:${u.port ?? ''};${paramsKey(u.params)}?${headers}`;
  }
  if ('number' in u) return `tel:${u.number};${paramsKey(u.params)}`;
  return u.raw;
}

/**
 * Top Via in comparable form for RFC 2543 matching. `received` and `rport` are left
 * out: our transport stamps them (§18.2.1, RFC 3581), they were not in the request.
 */
export function viaKey(v: Via): string {
  return `${v.protocol}/${v.transport.toUpperCase()} ${v.host.toLowerCase()}:${v.port ?? ''};${paramsKey(v.params, ['received', 'rport'])}`;
}

function sentBy(v: Via): string {
  return v.host.toLowerCase() + ':' + (v.port ?? '');
}

/** True when the request's top Via carries an RFC 3261 branch (§17.2.3). */
export function hasRfc3261Branch(req: SipRequest): boolean {
  return isRfc3261Branch(viaBranch(req.via[0]));
}

/**
 * Server transaction key of `req` as if its method were `method` (INVITE for an
 * ACK or for the INVITE a CANCEL targets). For RFC 2543 requests the key holds
 * Request-URI, To tag (`toTag`), From tag, Call-ID, CSeq number and top Via
 * (§17.2.3); the CSeq method is in `method`.
 */
export function serverKey(req: SipRequest, method: string, toTag: string = tagOf(req.to.params)): string {
  const top = req.via[0];
  const branch = viaBranch(top);
  // join() builds a flat string. Concatenation (`'s' + SEP + branch ...`) would give a
  // rope holding `branch`, a slice of the request text: a Completed entry (§17.2.2)
  // keyed by it would keep the whole request text alive for Timer J.
  if (top && isRfc3261Branch(branch)) return ['s', branch, sentBy(top), method].join(SEP);
  return [
    's2543',
    uriKey(req.uri),
    toTag,
    tagOf(req.from.params),
    req.callId,
    String(req.cseq.seq),
    method,
    top ? viaKey(top) : '',
  ].join(SEP);
}

export function tagOf(params: Map<string, string | null>): string {
  return params.get('tag') ?? '';
}
