/**
 * RTP/RTCP port pair allocation. RTP gets an even port and RTCP the next odd one
 * (RFC 3550 §11; RFC 3264 §5.1 implies RTCP = RTP + 1 when a=rtcp is absent).
 * The cursor rotates through the range so a just-released pair is not reused at
 * once (late packets of the previous call must not leak into the next one).
 * A pair whose port is taken by another process (EADDRINUSE) is skipped.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { SpacephoneError } from '../util/errors.ts';

export class PortPoolError extends SpacephoneError {
  constructor(
    readonly code: 'MEDIA_PORTS_EXHAUSTED' | 'MEDIA_PORT_RANGE' | 'MEDIA_BIND',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface PortPoolOptions {
  /** Lowest port (rounded up to even). */
  min: number;
  /** Highest port usable for RTCP (inclusive). */
  max: number;
}

/** A bound RTP socket and its RTCP companion. */
export interface RtpSocketPair {
  readonly address: string;
  readonly rtpPort: number;
  readonly rtcpPort: number;
  readonly rtp: dgram.Socket;
  readonly rtcp: dgram.Socket;
  readonly closed: boolean;
  /** Closes both sockets and returns the ports to the pool. Idempotent. */
  close(): void;
}

function bindSocket(type: 'udp4' | 'udp6', address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type, reuseAddr: false });
    const onError = (err: Error): void => {
      s.close();
      reject(err);
    };
    s.once('error', onError);
    s.bind({ address, port, exclusive: true }, () => {
      s.off('error', onError);
      // A UDP socket error after bind (e.g. ICMP reported on some OSes) must never crash the process.
      s.on('error', () => undefined);
      resolve(s);
    });
  });
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

export class PortPool {
  readonly min: number;
  readonly max: number;
  private cursor: number;
  private readonly reserved = new Set<number>();

  constructor(opts: PortPoolOptions) {
    const min = opts.min % 2 === 0 ? opts.min : opts.min + 1;
    if (!Number.isInteger(min) || !Number.isInteger(opts.max) || min < 1024 || opts.max > 65535 || opts.max < min + 1) {
      throw new PortPoolError('MEDIA_PORT_RANGE', `invalid RTP port range ${opts.min}-${opts.max}`);
    }
    this.min = min;
    this.max = opts.max;
    this.cursor = min;
  }

  /** Number of pairs the range holds. */
  get capacity(): number {
    return Math.floor((this.max - this.min + 1) / 2);
  }

  /** Number of pairs currently allocated (for leak tests and metrics). */
  get inUse(): number {
    return this.reserved.size;
  }

  /**
   * Binds an RTP/RTCP pair on `address`. Tries each free pair at most once;
   * rejects with MEDIA_PORTS_EXHAUSTED when none could be bound.
   */
  async allocate(address: string): Promise<RtpSocketPair> {
    const type = net.isIPv6(address) ? 'udp6' : 'udp4';
    for (let tries = 0; tries < this.capacity; tries++) {
      const port = this.cursor;
      this.cursor = port + 2 + 1 > this.max ? this.min : port + 2;
      if (this.reserved.has(port)) continue;
      this.reserved.add(port);
      let rtp: dgram.Socket | undefined;
      try {
        rtp = await bindSocket(type, address, port);
        const rtcp = await bindSocket(type, address, port + 1);
        return this.makePair(address, port, rtp, rtcp);
      } catch (err) {
        this.reserved.delete(port);
        if (rtp) rtp.close();
        const code = errCode(err);
        if (code === 'EADDRINUSE' || code === 'EACCES') continue;
        throw new PortPoolError('MEDIA_BIND', `cannot bind RTP on ${address}:${port}: ${String(err)}`, { cause: err });
      }
    }
    throw new PortPoolError('MEDIA_PORTS_EXHAUSTED', `no free RTP port pair in ${this.min}-${this.max} on ${address}`);
  }

  private makePair(address: string, port: number, rtp: dgram.Socket, rtcp: dgram.Socket): RtpSocketPair {
    let closed = false;
    const release = (): void => {
      if (closed) return;
      closed = true;
      this.reserved.delete(port);
      rtp.close();
      rtcp.close();
    };
    return {
      address,
      rtpPort: port,
      rtcpPort: port + 1,
      rtp,
      rtcp,
      get closed() {
        return closed;
      },
      close: release,
    };
  }
}
