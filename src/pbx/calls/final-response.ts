/**
 * Choosing the caller's final response when every branch of a fork failed, after
 * RFC 3261 §16.7 step 6: a 6xx wins; otherwise the lowest class. We are a B2BUA,
 * not a proxy, so we answer with our own status rather than forwarding:
 *  - 6xx (600 Busy Everywhere, 603 Decline, 604, 606) is passed on;
 *  - 486 Busy Here is preferred within 4xx (all-busy → 486);
 *  - 3xx (we do not recurse), 401/407 (a phone challenging us), 408 and 503 (timeouts
 *    and transport failures, §16.7 step 6 maps 503 to 500) become 480 Temporarily Unavailable;
 *  - other 4xx/5xx are passed on.
 */
export interface BranchFailure {
  status: number;
  reason: string;
  /** Made up by the transaction layer (Timer B 408, transport 503). */
  synthetic: boolean;
}

const UNAVAILABLE = { status: 480, reason: 'Temporarily Unavailable' } as const;
const HIDDEN = new Set([401, 407, 408, 503]);

export function chooseFinal(failures: readonly BranchFailure[]): { status: number; reason: string } {
  const six = failures.find((f) => f.status >= 600);
  if (six) return { status: six.status, reason: six.reason };
  // 3xx: we do not recurse on redirects, so they count as "unavailable".
  const real = failures.filter((f) => !f.synthetic && f.status >= 400 && f.status < 600);
  if (real.length === 0) return UNAVAILABLE;
  const lowest = Math.min(...real.map((f) => Math.floor(f.status / 100)));
  const inClass = real.filter((f) => Math.floor(f.status / 100) === lowest);
  const busy = inClass.find((f) => f.status === 486);
  if (busy) return { status: 486, reason: busy.reason };
  const shown = inClass.find((f) => !HIDDEN.has(f.status));
  return shown ? { status: shown.status, reason: shown.reason } : UNAVAILABLE;
}
