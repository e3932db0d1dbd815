/**
 * Sending a request to a SIP URI the RFC 3263 way: resolve the URI to an ordered
 * target list, send to the first, and on a timeout (Timer B/F: synthesized 408), a
 * transport error (synthesized 503) or a 503 from the server, try the next target
 * with a new branch (RFC 3263 §4.3). A 503 with Retry-After keeps that target out
 * for that long, for every later request too (the resolver's blacklist).
 *
 * Once a target has answered with a provisional response it is alive: an INVITE
 * is never moved to another target after that (§4.3 speaks of failure to reach
 * the server, not of the call's outcome).
 */
import { SpacephoneError } from '../../util/errors.ts';
import { cloneVia } from '../message/build.ts';
import type { SipRequest, SipResponse, SipUri } from '../message/types.ts';
import type { ResolveRequest, SipResolver, Target } from '../resolver/resolver.ts';
import { isSynthetic } from '../transaction/messages.ts';
import type { TransactionLayer } from '../transaction/layer.ts';
import type { ClientTransaction } from '../transaction/types.ts';

export interface FailoverResult {
  /** The final response (possibly synthesized 408/503 when every target failed). */
  response: SipResponse;
  /** The target that produced `response`; undefined when DNS gave no target at all. */
  target?: Target;
  /** Every target tried, in order, with why it was left. */
  tried: Array<{ target: Target; outcome: 'timeout' | 'transport' | '503' | 'answered' }>;
}

export interface FailoverUser {
  onProvisional?(res: SipResponse, target: Target, tx: ClientTransaction): void;
  /** Called when a transaction starts on a target (e.g. to keep it for CANCEL). */
  onAttempt?(tx: ClientTransaction, target: Target): void;
}

/** Seconds from a Retry-After header (RFC 3261 §20.33), if present and valid. */
export function retryAfterOf(res: SipResponse): number | undefined {
  const h = res.headers.find((x) => x.name.toLowerCase() === 'retry-after');
  const m = h ? /^\s*(\d+)/.exec(h.value) : null;
  return m ? Number(m[1]) : undefined;
}

export async function requestWithFailover(
  layer: TransactionLayer,
  resolver: SipResolver,
  request: SipRequest,
  destination: SipUri | ResolveRequest,
  user: FailoverUser = {},
): Promise<FailoverResult> {
  const targets = await resolver.targets(destination);
  const tried: FailoverResult['tried'] = [];
  let last: { response: SipResponse; target: Target } | undefined;
  for (let target = targets.next(); target !== undefined; target = targets.next()) {
    const attempt = freshCopy(request);
    const { response, alive } = await once(layer, attempt, target, user);
    last = { response, target };
    const outcome = failure(response, alive);
    if (outcome === undefined) {
      tried.push({ target, outcome: 'answered' });
      return { response, target, tried };
    }
    tried.push({ target, outcome });
    targets.markFailed(target, outcome, outcome === '503' ? retryAfterOf(response) : undefined);
  }
  if (!last) throw new NoTargetError(destination);
  return { ...last, tried };
}

export class NoTargetError extends SpacephoneError {
  readonly code = 'SIP_NO_TARGET';
  constructor(destination: SipUri | ResolveRequest) {
    super(`no usable target for ${destination.host}`);
  }
}

/** Why a target counts as failed (RFC 3263 §4.3), or undefined when it answered. */
function failure(res: SipResponse, alive: boolean): 'timeout' | 'transport' | '503' | undefined {
  if (isSynthetic(res)) return res.status === 408 ? 'timeout' : 'transport';
  if (res.status === 503 && !alive) return '503';
  return undefined;
}

/**
 * Each attempt is a new client transaction (§17.1.1.3 / RFC 3263 §4.3): the same
 * request with a new branch. Via[0], when present, is ours (the caller's UAC or
 * proxy Via): the copy drops its branch so the layer draws a fresh one.
 */
function freshCopy(req: SipRequest): SipRequest {
  const via = req.via.map(cloneVia);
  via[0]?.params.delete('branch');
  return { ...req, via, headers: [...req.headers] };
}

function once(layer: TransactionLayer, req: SipRequest, target: Target, user: FailoverUser): Promise<{ response: SipResponse; alive: boolean }> {
  return new Promise((resolve) => {
    let alive = false;
    const tx = layer.request(req, { transport: target.transport, address: target.address, port: target.port }, {
      onResponse: (res, t) => {
        if (res.status < 200) {
          alive = true;
          user.onProvisional?.(res, target, t);
          return;
        }
        resolve({ response: res, alive });
      },
    });
    user.onAttempt?.(tx, target);
  });
}
