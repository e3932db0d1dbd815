import { SpacephoneError } from '../../util/errors.ts';

/** No answer from the DNS server after all retries (UDP) or within the TCP timeout. */
export class DnsTimeoutError extends SpacephoneError {
  readonly code = 'DNS_TIMEOUT';
  constructor(readonly qname: string, readonly type: string) {
    super(`DNS ${type} query for ${qname} timed out`);
  }
}

/** The server answered with an error rcode other than NXDOMAIN (SERVFAIL, REFUSED ...). */
export class DnsServerError extends SpacephoneError {
  readonly code = 'DNS_SERVER_FAILURE';
  constructor(readonly qname: string, readonly type: string, readonly rcode: number) {
    super(`DNS ${type} query for ${qname} failed with rcode ${rcode}`);
  }
}

/** Socket error or an answer that could not be decoded. */
export class DnsTransportError extends SpacephoneError {
  readonly code = 'DNS_TRANSPORT';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The target cannot be resolved as asked (e.g. sips: over UDP, RFC 3261 §26.2.2). */
export class SipResolveError extends SpacephoneError {
  readonly code = 'SIP_RESOLVE';
  constructor(message: string) {
    super(message);
  }
}
