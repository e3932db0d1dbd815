/** A TransportLayer that records what it is asked to send and lets tests inject inbound messages. */
import type { Endpoint, SipRequest, SipResponse } from '../../../src/sip/message/types.ts';
import type { InboundContext, InboundRequest, InboundResponse, TransportEvents, TransportLayer } from '../../../src/sip/transport/types.ts';

export class FakeTransport implements TransportLayer {
  readonly sentRequests: { req: SipRequest; target: Endpoint }[] = [];
  readonly sentResponses: { res: SipResponse; to: InboundContext }[] = [];
  /** When set, sendRequest/sendResponse reject with this error. */
  failWith: Error | undefined;
  /** When set, sendRequest resolves as if the transport had moved the request to this transport (§18.1.1 MTU rule). */
  movedTo: Endpoint['transport'] | undefined;
  closed = false;
  private readonly listeners: { [E in keyof TransportEvents]: TransportEvents[E][] } = { request: [], response: [], trace: [] };

  constructor(readonly reliable = false) {}

  sendRequest(req: SipRequest, target: Endpoint): Promise<InboundContext> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.sentRequests.push({ req, target });
    return Promise.resolve({ source: this.movedTo ? { ...target, transport: this.movedTo } : target, local: LOCAL });
  }
  sendResponse(res: SipResponse, to: InboundContext): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.sentResponses.push({ res, to });
    return Promise.resolve();
  }
  isReliable(t: Endpoint['transport']): boolean {
    return t === 'udp' ? this.reliable : true;
  }
  localEndpoint(): Endpoint | undefined {
    return LOCAL;
  }
  on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    this.listeners[event].push(listener);
    return this;
  }
  off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    const list = this.listeners[event] as TransportEvents[E][];
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  /** Delivers an inbound request as if it came from `source`. */
  injectRequest(msg: SipRequest, source: Endpoint = PEER): InboundRequest {
    const inbound: InboundRequest = { msg, source, local: LOCAL };
    for (const l of this.listeners.request) l(inbound);
    return inbound;
  }
  injectResponse(msg: SipResponse, source: Endpoint = PEER): void {
    const inbound: InboundResponse = { msg, source, local: LOCAL };
    for (const l of this.listeners.response) l(inbound);
  }
  get listenerCount(): number {
    return this.listeners.request.length + this.listeners.response.length;
  }
  requestsOf(method: string): SipRequest[] {
    return this.sentRequests.filter((s) => s.req.method === method).map((s) => s.req);
  }
  statuses(): number[] {
    return this.sentResponses.map((s) => s.res.status);
  }
}

export const LOCAL: Endpoint = { transport: 'udp', address: '127.0.0.1', port: 5060 };
export const PEER: Endpoint = { transport: 'udp', address: '127.0.0.2', port: 5070 };

/** Lets promise callbacks (transport rejections) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
