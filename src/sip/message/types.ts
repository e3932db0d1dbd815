/**
 * The SIP message model (RFC 3261 §7, §20). Core headers are parsed once by the
 * parser into the typed fields below; every other header is kept raw, in order,
 * in `headers`. The serializer writes typed fields first, then raw headers, and
 * recomputes Content-Length from `body`.
 *
 * Parameter maps (`Params`) use lower-cased names (parameter names are
 * case-insensitive, RFC 3261 §7.3.1); a flag parameter without value maps to null.
 * Values are kept as written (unescaped only where the RFC says so).
 */

export type Params = Map<string, string | null>;

export interface SipUri {
  scheme: 'sip' | 'sips';
  /** Unescaped user part; undefined when the URI has no user. */
  user?: string;
  password?: string;
  /** Host as written; IPv6 references keep their brackets: "[2001:db8::1]". */
  host: string;
  port?: number;
  params: Params;
  /** URI headers (`?a=b&c=d`), unescaped values. */
  headers: Map<string, string>;
}

export interface TelUri {
  scheme: 'tel';
  /** The telephone-subscriber part as written, e.g. "+31455550100". */
  number: string;
  params: Params;
}

/** Any other absolute URI (RFC 3261 §25.1 absoluteURI), kept verbatim. */
export interface OtherUri {
  scheme: string;
  raw: string;
}

export type Uri = SipUri | TelUri | OtherUri;

export function isSipUri(u: Uri): u is SipUri {
  return u.scheme === 'sip' || u.scheme === 'sips';
}

/** name-addr / addr-spec with header parameters (From, To, Contact, Route ...). */
export interface NameAddr {
  /** Display name, unquoted and unescaped. */
  displayName?: string;
  uri: Uri;
  params: Params;
}

/** One Via entry (RFC 3261 §20.42). `branch`, `received`, `rport` live in params. */
export interface Via {
  /** Protocol name and version, normally "SIP/2.0". */
  protocol: string;
  /** Upper-case transport token: "UDP", "TCP", "TLS", "SCTP", "WS" ... */
  transport: string;
  /** Sent-by host; IPv6 references keep their brackets. */
  host: string;
  port?: number;
  params: Params;
}

export interface CSeq {
  seq: number;
  method: string;
}

/** WWW-/Proxy-Authenticate challenge or (Proxy-)Authorization credentials (RFC 3261 §25.1, RFC 7616). */
export interface AuthValue {
  /** Scheme as written, e.g. "Digest". */
  scheme: string;
  /** Lower-cased parameter names; quoted values unquoted and unescaped. */
  params: Map<string, string>;
}

export interface ContentType {
  /** Lower-cased "type/subtype", e.g. "application/sdp". */
  type: string;
  params: Params;
}

export interface RawHeader {
  /** Full (non-compact) header name in the case written, e.g. "User-Agent". */
  name: string;
  value: string;
}

interface MessageCommon {
  via: Via[];
  from: NameAddr;
  to: NameAddr;
  callId: string;
  cseq: CSeq;
  maxForwards?: number;
  /** Contact list; '*' only for a REGISTER removing all bindings (RFC 3261 §10.2.2). */
  contact: NameAddr[] | '*';
  route: NameAddr[];
  recordRoute: NameAddr[];
  /** RFC 3327 Path. */
  path: NameAddr[];
  expires?: number;
  minExpires?: number;
  contentType?: ContentType;
  /** Content-Length as received (undefined if absent). The serializer ignores it. */
  contentLength?: number;
  wwwAuthenticate: AuthValue[];
  proxyAuthenticate: AuthValue[];
  authorization: AuthValue[];
  proxyAuthorization: AuthValue[];
  /** Option tags, lower-cased. */
  require: string[];
  supported: string[];
  proxyRequire: string[];
  /** All other headers, in order of appearance. */
  headers: RawHeader[];
  body: Buffer;
}

export interface SipRequest extends MessageCommon {
  kind: 'request';
  /** Method token, case-sensitive (RFC 3261 §7.1). */
  method: string;
  uri: Uri;
}

export interface SipResponse extends MessageCommon {
  kind: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** Where a message came from or goes to, at the transport level. */
export type TransportName = 'udp' | 'tcp' | 'tls';

export interface Endpoint {
  transport: TransportName;
  /** IP address (no brackets for IPv6). */
  address: string;
  port: number;
}
