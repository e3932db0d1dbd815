/**
 * Receive-queue delay of a UDP listener, measured with datagrams the process sends
 * to itself.
 *
 * Under a UDP flood the backlog sits in the KERNEL receive queue (up to 4 MiB, see
 * udp.ts): the event loop is never late (libuv reads datagrams in batches, timers
 * still run every turn), yet every request waits in that queue before the node sees
 * it. Once the wait passes T1 (500 ms) clients retransmit (RFC 3261 §17.1.1.2,
 * §17.1.2.2), the retransmissions add work and goodput collapses. Neither loop lag
 * nor "a full read batch every turn" (true at 80 % load, queue short) tells how
 * long that wait is; a probe that waits in the same FIFO does:
 *
 *   probe socket (listener address, port 0) --[token|seq|sentAt]--> listener:port
 *   delay = time the listener's handler sees it - sentAt
 *
 * A probe still in flight counts as at least its age, so the estimate keeps growing
 * when the queue overflows and the kernel drops the probes too. A probe is only
 * recognised by source address:port (our private socket) AND the per-process random
 * token, so nobody outside can feed or suppress the measurement: anything else is
 * an ordinary datagram. UDP only: TCP/TLS have per-connection flow control.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { monotonicNow, type Clock, type TimerHandle } from '../clock.ts';
import { TransportError } from './errors.ts';

const TOKEN_BYTES = 16;
/** token (16) | seq float64 BE (8; never wraps) | sentAt float64 BE, monotonic ms (8) */
export const PROBE_BYTES = TOKEN_BYTES + 8 + 8;
/** Outstanding probes remembered: 64 × 50 ms = 3.2 s (far beyond T1). */
const MAX_OUTSTANDING = 64;

/**
 * Bookkeeping of sent and returned probes (no sockets, no timers): testable with
 * plain numbers. Times are monotonic milliseconds.
 */
export class QueueDelayEstimate {
  private last = 0;
  private lastSeq = -1;
  /** seq → send time of probes not back yet, in seq order (Map keeps insertion order). */
  private readonly outstanding = new Map<number, number>();

  constructor(private readonly maxOutstanding = MAX_OUTSTANDING) {}

  /** A probe left. Beyond `maxOutstanding` it is not remembered: the oldest ones (which set the age) are. */
  sent(seq: number, at: number): void {
    if (this.outstanding.size < this.maxOutstanding) this.outstanding.set(seq, at);
  }

  /**
   * A probe came back. The queue is FIFO, so every earlier probe still outstanding
   * was dropped by the kernel (queue full): it will never arrive and stops counting.
   */
  received(seq: number, sentAt: number, at: number): void {
    if (seq <= this.lastSeq) return; // stale or duplicated: says nothing newer
    this.lastSeq = seq;
    this.last = Math.max(0, at - sentAt);
    for (const s of this.outstanding.keys()) {
      if (s > seq) break;
      this.outstanding.delete(s);
    }
  }

  /** Last measured delay, or the age of the oldest probe not back yet if larger (ms). */
  delayMs(now: number): number {
    let age = 0;
    for (const sentAt of this.outstanding.values()) {
      age = now - sentAt;
      break;
    }
    return Math.max(this.last, age);
  }

  /** Probes in flight (tests, diagnostics). */
  get inFlight(): number {
    return this.outstanding.size;
  }
}

/**
 * Sends a probe to `target` every `intervalMs` from a private socket. The listener
 * hands every datagram whose source port equals `port` to accept() before parsing.
 */
export class UdpQueueProbe {
  readonly estimate = new QueueDelayEstimate();
  private seq = 0;
  private timer: TimerHandle | undefined;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    /** The probe socket's own address and port: the only source a probe may come from. */
    readonly address: string,
    readonly port: number,
    private readonly target: { address: string; port: number },
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly token: Buffer,
  ) {
    this.arm();
  }

  /**
   * Binds the probe socket to `address` (the listener's; for a wildcard listener
   * pass the loopback address) and starts probing `address:targetPort`. `token`
   * (16 bytes) is for tests; by default a random one per probe.
   */
  static start(address: string, fam: 4 | 6, targetPort: number, clock: Clock, intervalMs: number, token: Buffer = randomBytes(TOKEN_BYTES)): Promise<UdpQueueProbe> {
    if (token.length !== TOKEN_BYTES) return Promise.reject(new RangeError(`queue probe token must be ${TOKEN_BYTES} bytes`));
    if (!(intervalMs > 0)) return Promise.reject(new RangeError('queue probe interval must be > 0'));
    const socket = createSocket({ type: fam === 6 ? 'udp6' : 'udp4', ipv6Only: fam === 6 });
    return new Promise((resolve, reject) => {
      const onBindError = (err: Error): void => {
        socket.close();
        reject(new TransportError('listen-failed', `queue probe bind ${address}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onBindError);
      socket.bind({ address, port: 0, exclusive: true }, () => {
        socket.off('error', onBindError);
        // Nothing is expected on this socket; errors (ICMP) must not crash the process.
        socket.on('error', () => undefined);
        const a = socket.address();
        resolve(new UdpQueueProbe(socket, a.address, a.port, { address, port: targetPort }, clock, intervalMs, token));
      });
    });
  }

  /** Current estimate (ms): see QueueDelayEstimate.delayMs. */
  queueDelayMs(): number {
    return this.estimate.delayMs(monotonicNow(this.clock));
  }

  /**
   * Called by the listener for a datagram from this probe's port: true (swallowed)
   * only for our own probe, recognised by source address and token. Hot path: the
   * caller compared the port first, so other datagrams never get here.
   */
  accept(data: Buffer, fromAddress: string): boolean {
    if (data.length !== PROBE_BYTES || fromAddress !== this.address) return false;
    if (data.compare(this.token, 0, TOKEN_BYTES, 0, TOKEN_BYTES) !== 0) return false;
    this.estimate.received(data.readDoubleBE(TOKEN_BYTES), data.readDoubleBE(TOKEN_BYTES + 8), monotonicNow(this.clock));
    return true;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private arm(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimer(this.intervalMs, () => {
      this.send();
      this.arm();
    });
  }

  private send(): void {
    const seq = this.seq++;
    const at = monotonicNow(this.clock);
    // A fresh 32-byte buffer per probe (20 a second): dgram may read it a tick later.
    const buf = Buffer.allocUnsafe(PROBE_BYTES);
    this.token.copy(buf, 0);
    buf.writeDoubleBE(seq, TOKEN_BYTES);
    buf.writeDoubleBE(at, TOKEN_BYTES + 8);
    this.estimate.sent(seq, at);
    try {
      this.socket.send(buf, this.target.port, this.target.address, () => undefined);
    } catch {
      // Socket closing: the next timer does not come.
    }
  }
}
