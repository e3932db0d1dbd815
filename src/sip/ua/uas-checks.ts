/**
 * The generic UAS request checks of RFC 3261 §8.2 that come before any method
 * logic: method (§8.2.1), Request-URI scheme (§8.2.2.1), Max-Forwards (§16.3 step
 * 3, for elements that forward), Require/Proxy-Require (§8.2.2.3), Content-Type and
 * Accept (§8.2.3, §21.4.7). Returns the response to send, or undefined to go on.
 * RFC 4475 §3.3 vectors (unkscm, bext01, invut, zeromf, sdp01) exercise each.
 */
import { createResponse } from '../message/build.ts';
import type { SipRequest, SipResponse } from '../message/types.ts';

export interface UasPolicy {
  /** Methods this UAS implements (Allow header of a 405). */
  allow: readonly string[];
  /** Methods the UAS knows of at all; others get 501 (§8.2.1). Defaults to allow. */
  known?: readonly string[];
  /** Option tags we support (§8.2.2.3); unknown Require tags get 420. */
  supported: readonly string[];
  /** Request-URI schemes handled (§8.2.2.1); others get 416. */
  schemes: readonly string[];
  /** Body types accepted per method (§8.2.3): an unlisted type gets 415 with Accept. */
  accept: readonly string[];
  /** Methods that would be forwarded by this element (B2BUA/proxy): Max-Forwards 0 gets 483. */
  forwarded: readonly string[];
}

/** Body types we produce when answering, to honour the request's Accept (§8.2.3 → 406). */
const ANSWER_BODY_TYPE: Readonly<Record<string, string>> = { INVITE: 'application/sdp' };

export function checkRequest(req: SipRequest, policy: UasPolicy): SipResponse | undefined {
  const known = policy.known ?? policy.allow;
  if (!policy.allow.includes(req.method)) {
    if (!known.includes(req.method)) return createResponse(req, 501, 'Not Implemented');
    const res = createResponse(req, 405, 'Method Not Allowed');
    res.headers.push({ name: 'Allow', value: policy.allow.join(', ') });
    return res;
  }
  if (!policy.schemes.includes(req.uri.scheme.toLowerCase())) {
    return createResponse(req, 416, 'Unsupported URI Scheme');
  }
  // CANCEL and ACK are never rejected for unknown Require (§8.2.2.3).
  if (req.method !== 'CANCEL' && req.method !== 'ACK') {
    const unknown = [...req.require, ...req.proxyRequire].filter((t) => !policy.supported.includes(t));
    if (unknown.length > 0) {
      const res = createResponse(req, 420, 'Bad Extension');
      res.headers.push({ name: 'Unsupported', value: [...new Set(unknown)].join(', ') });
      return res;
    }
  }
  if (req.maxForwards === 0 && policy.forwarded.includes(req.method)) {
    return createResponse(req, 483, 'Too Many Hops');
  }
  if (req.body.length > 0 && req.method !== 'ACK') {
    const type = req.contentType?.type;
    if (type === undefined || !policy.accept.includes(type)) {
      const res = createResponse(req, 415, 'Unsupported Media Type');
      res.headers.push({ name: 'Accept', value: policy.accept.join(', ') });
      return res;
    }
  }
  const produced = ANSWER_BODY_TYPE[req.method];
  if (produced !== undefined && !acceptable(req, produced)) {
    const res = createResponse(req, 406, 'Not Acceptable');
    res.headers.push({ name: 'Accept', value: policy.accept.join(', ') });
    return res;
  }
  return undefined;
}

/** §20.1: an absent Accept means application/sdp; wildcards allowed. */
function acceptable(req: SipRequest, type: string): boolean {
  const values = req.headers.filter((h) => h.name.toLowerCase() === 'accept').flatMap((h) => h.value.split(','));
  if (values.length === 0) return true;
  const [major] = type.split('/');
  return values.some((v) => {
    const t = v.split(';')[0].trim().toLowerCase();
    return t === '' || t === '*/*' || t === type || t === `${major}/*`;
  });
}
