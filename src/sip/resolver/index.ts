/** RFC 3263 server location: public surface of src/sip/resolver. */
export { DnsClient, type DnsClientOptions, type DnsLookup, type DnsServer, type SrvRecord, type NaptrRecord, type DnsQueryType } from './dns-client.ts';
export { SipResolver, defaultPort, targetKey, type Target, type ResolveRequest, type FailureReason, type SipResolverOptions, type TargetIterator } from './resolver.ts';
export { orderSrv, weightedOrder, type RandomSource } from './srv-order.ts';
export { DnsTimeoutError, DnsServerError, DnsTransportError, SipResolveError } from './errors.ts';
