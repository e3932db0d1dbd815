/**
 * Stateless error response to a request whose From, To, Call-ID or CSeq cannot be
 * parsed into typed fields (RFC 4475 §3.1.2.1 badinv01, §3.1.2.4 scalar02,
 * §3.1.2.14 quotbal, §3.1.2.15 badaspec, §3.1.2.16 baddn, §3.3.1 insuf — each
 * "should respond with a 400").
 *
 * §8.2.6.2 asks the response to copy Via, From, To, Call-ID and CSeq. When the
 * typed fields cannot hold the request's values, the raw values are copied as
 * octets: the peer's client transaction matches on the top Via branch and the
 * CSeq method (§17.1.3), which survive byte for byte. Headers the request lacks
 * are left out (insuf has no From, To or Call-ID; the 400 is still the RFC 4475
 * §3.3.1 answer, and the peer can match it by branch).
 *
 * Routing needs a Via we can read (§18.2.2): the top via-parm, leniently — its
 * sent-protocol and sent-by, params dropped if they are what is broken
 * (badinv01's "SIP/2.0/UDP 192.0.2.15;;"). A request whose top Via has no
 * readable sent-by has nowhere to be answered and is dropped.
 */
import { parseViaValue } from './headers.ts';
import type { Via } from './types.ts';

/** A ready-to-send error response plus the Via that says where it goes. */
export interface RawResponse {
  status: number;
  reason: string;
  /** Leniently read top Via of the request, for §18.2.2 / RFC 3581 routing only. */
  via: Via;
  /** Raw header fields copied from the request, in §8.2.6.2 order; To tag added where safe. */
  headers: { name: string; value: string }[];
}

/** Raw values of the five headers a response copies, as the parser collected them. */
export interface RawCore {
  via?: string[];
  from?: string[];
  to?: string[];
  callId?: string[];
  cseq?: string[];
}

/** Strips octets that would break the header framing of the response (CR, LF, NUL). */
function clean(s: string): string {
  return s.replace(/[\r\n\0]/g, ' ');
}

/** Top via-parm, read leniently: whole, else without its params, else undefined. */
export function lenientTopVia(values: string[] | undefined): Via | undefined {
  const first = values?.[0];
  if (first === undefined) return undefined;
  const comma = first.indexOf(',');
  const parm = comma < 0 ? first : first.slice(0, comma);
  try {
    return parseViaValue(parm);
  } catch {
    const semi = parm.indexOf(';');
    if (semi < 0) return undefined;
    try {
      return parseViaValue(parm.slice(0, semi));
    } catch {
      return undefined;
    }
  }
}

/**
 * True when appending ";tag=…" to a raw To value lands outside any quoted string
 * or angle brackets, and no tag is there yet — "parseable enough" to tag (§8.2.6.2).
 */
export function canAppendTag(to: string): boolean {
  let quoted = false;
  let angle = 0;
  for (let i = 0; i < to.length; i++) {
    const c = to.charCodeAt(i);
    if (quoted) {
      if (c === 92) i++;
      else if (c === 34) quoted = false;
    } else if (c === 34) quoted = true;
    else if (c === 60) angle++;
    else if (c === 62) angle--;
    if (angle < 0) return false;
  }
  if (quoted || angle !== 0) return false;
  return !/;\s*tag\s*=/i.test(to.slice(to.lastIndexOf('>') + 1));
}

/** Builds the raw response, or undefined when there is no readable top Via to answer. */
export function buildRawResponse(core: RawCore, status: number, reason: string, tag: string): RawResponse | undefined {
  const via = lenientTopVia(core.via);
  if (!via) return undefined;
  const headers: { name: string; value: string }[] = [];
  const copy = (name: string, vs: string[] | undefined): void => {
    for (const v of vs ?? []) headers.push({ name, value: clean(v) });
  };
  copy('Via', core.via);
  copy('From', core.from);
  // A To tag only on a single To we can safely extend; otherwise copied as is.
  const to = core.to?.length === 1 && canAppendTag(core.to[0]) ? [`${core.to[0]};tag=${tag}`] : core.to;
  copy('To', to);
  copy('Call-ID', core.callId);
  copy('CSeq', core.cseq);
  headers.push({ name: 'Content-Length', value: '0' });
  return { status, reason: clean(reason), via, headers };
}

/** Serialises a raw response; `status`/`reason` override (the stream framer re-statuses to 413). */
export function serializeRawResponse(r: RawResponse, status = r.status, reason = r.reason): Buffer {
  let s = `SIP/2.0 ${status} ${clean(reason)}\r\n`;
  for (const h of r.headers) s += `${h.name}: ${h.value}\r\n`;
  return Buffer.from(s + '\r\n', 'utf8');
}
