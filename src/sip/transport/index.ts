export { SipTransport } from './transport.ts';
export type { FaultInfo, ListenConfig, SipTransportConfig, SipTransportEvents, TlsConfig } from './transport.ts';
export { TransportError } from './errors.ts';
export type { TransportFailure } from './errors.ts';
export { StreamFramer, contentLength } from './framer.ts';
export type { Frame, FrameFault } from './framer.ts';
export type { InboundContext, InboundRequest, InboundResponse, TraceEvent, TransportEvents, TransportLayer } from './types.ts';
