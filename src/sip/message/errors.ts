import { SpacephoneError } from '../../util/errors.ts';
import type { RawResponse } from './raw-response.ts';
import type { SipMessage, SipResponse } from './types.ts';

/**
 * A message that cannot be parsed. `fault` names the problem in a few words
 * ("bad Via", "missing Call-ID", "Content-Length larger than body") and is used
 * as the reason phrase of the 400 (RFC 3261 §21.4.1 lets the reason explain).
 */
export class SipParseError extends SpacephoneError {
  readonly code = 'SIP_PARSE';
  constructor(
    readonly fault: string,
    /** Status to answer a request with: 400, or 505 for a bad SIP version (§21.5.6). */
    readonly status: 400 | 505 | 413 = 400,
  ) {
    super(fault);
  }
}

export type ParseResult =
  | { ok: true; msg: SipMessage }
  | {
      ok: false;
      error: SipParseError;
      /** True when the start line was a request line. */
      isRequest: boolean;
      /**
       * For a request that has enough headers to be answered (Via, From, To,
       * Call-ID, CSeq readable), the stateless error response to send back;
       * undefined when the message must just be dropped (broken responses, §7.1 …).
       */
      response?: SipResponse;
      /**
       * When `response` cannot be built because From/To/Call-ID/CSeq do not parse
       * (or are missing) but the top Via is readable: the stateless error response
       * with those headers copied raw (RFC 4475 §3.1.2, §3.3.1). Send it instead.
       */
      rawResponse?: RawResponse;
    };
