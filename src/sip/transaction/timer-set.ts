import type { Clock, TimerHandle } from '../clock.ts';
import type { SipResponse } from '../message/types.ts';
import { serializeMessage } from '../message/serializer.ts';
import type { InboundContext, TransportLayer } from '../transport/types.ts';
import { entryVia, type CompletedServer } from './completed.ts';

/** Named one-shot timers of one state machine, on the injected clock. */
export class TimerSet<N extends string> {
  private readonly live = new Map<N, TimerHandle>();
  constructor(private readonly clock: Clock) {}

  start(name: N, ms: number, fn: () => void): void {
    this.stop(name);
    const h = this.clock.setTimer(ms, () => {
      this.live.delete(name);
      fn();
    });
    this.live.set(name, h);
  }

  stop(name: N): void {
    const h = this.live.get(name);
    if (h) {
      this.clock.clearTimer(h);
      this.live.delete(name);
    }
  }

  stopAll(): void {
    for (const h of this.live.values()) this.clock.clearTimer(h);
    this.live.clear();
  }

  /** Names of running timers (diagnostics, tests). */
  running(): N[] {
    return [...this.live.keys()];
  }
}

/**
 * Calls a possibly-throwing send and routes sync throws and rejections to onError,
 * always asynchronously so a failure never re-enters a transition in progress.
 */
export function safeSend(send: () => Promise<unknown>, onError: (err: unknown) => void): void {
  try {
    send().catch(onError);
  } catch (err) {
    void Promise.resolve().then(() => onError(err));
  }
}

/**
 * The last response of a server transaction, serialized once: retransmissions
 * (§17.2.1 Timer G, §17.2.2 request retransmissions) resend the same bytes.
 * Keyed by object identity; `forget()` after the TU hands over a response again
 * (it may have changed the same object).
 */
export class ResponseBytes {
  private of: SipResponse | undefined = undefined;
  private bytes: Buffer | undefined = undefined;

  /** The octets of `res`, serialized on first use. */
  bytesOf(res: SipResponse): Buffer {
    if (this.of !== res || this.bytes === undefined) {
      this.bytes = serializeMessage(res);
      this.of = res;
    }
    return this.bytes;
  }

  /**
   * Sends `res`; a failure reaches onError, always asynchronously. Uses the
   * transport's Promise-free sendResponseNow when it has one (the hot path).
   */
  send(transport: TransportLayer, res: SipResponse, to: InboundContext, onError: (err: unknown) => void): void {
    const via = res.via[0];
    if (transport.sendResponseNow && via) {
      let bytes: Buffer;
      try {
        bytes = this.bytesOf(res);
      } catch (err) {
        void Promise.resolve().then(() => onError(err));
        return;
      }
      transport.sendResponseNow(bytes, via, to, onError);
      return;
    }
    safeSend(() => (transport.sendResponseBytes ? transport.sendResponseBytes(this.bytesOf(res), res, to) : transport.sendResponse(res, to)), onError);
  }

  forget(): void {
    this.of = undefined;
    this.bytes = undefined;
  }
}

/** Resends a Completed entry's response (§17.2.2); a failure reaches onError asynchronously. */
export function resendCompleted(transport: TransportLayer, entry: CompletedServer, onError: (err: unknown) => void): void {
  const via = entryVia(entry);
  if (entry.bytes && via && transport.sendResponseNow) {
    transport.sendResponseNow(entry.bytes, via, entry, onError);
    return;
  }
  const res = entry.res;
  if (!res) return;
  safeSend(() => (transport.sendResponseBytes && entry.bytes ? transport.sendResponseBytes(entry.bytes, res, entry) : transport.sendResponse(res, entry)), onError);
}
