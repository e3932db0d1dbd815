/**
 * Transaction timer values (RFC 3261 §17, Table 4 in §A; RFC 6026 §8.4 for L and M).
 * Every timer is derived here from T1/T2/T4 so that nothing else hard-codes a number.
 */

import type { Endpoint } from '../message/types.ts';
import type { InboundContext } from '../transport/types.ts';
import type { TransactionEnv } from './types.ts';

export interface TimerBase {
  /** RTT estimate, default 500 ms (§17.1.1.1). */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  T2: number;
  /** Maximum time a message remains in the network, default 5 s. */
  T4: number;
}

export const DEFAULT_TIMER_BASE: TimerBase = { T1: 500, T2: 4000, T4: 5000 };

/** Timer values in milliseconds, resolved for one transport (reliable or not). */
export interface TimerValues extends TimerBase {
  /** INVITE request retransmit, initial interval (doubles, uncapped); unreliable only. */
  A: number;
  /** INVITE transaction timeout. */
  B: number;
  /** Wait time for response retransmits (INVITE client, Completed). */
  D: number;
  /** Non-INVITE request retransmit, initial interval (doubles, capped at T2); unreliable only. */
  E: number;
  /** Non-INVITE transaction timeout. */
  F: number;
  /** INVITE response retransmit, initial interval (doubles, capped at T2); unreliable only. */
  G: number;
  /** Wait time for ACK receipt. */
  H: number;
  /** Wait time for ACK retransmits. */
  I: number;
  /** Wait time for non-INVITE request retransmits. */
  J: number;
  /** Wait time for non-INVITE response retransmits. */
  K: number;
  /** RFC 6026: INVITE server, Accepted → Terminated. */
  L: number;
  /** RFC 6026: INVITE client, Accepted → Terminated. */
  M: number;
  /** Delay before the INVITE server sends 100 Trying on its own (§17.2.1: "200 ms"). */
  trying100: number;
}

/** Resolves all transaction timers for a transport. Zero means "fire immediately". */
export function timerValues(base: Partial<TimerBase> = {}, reliable: boolean): TimerValues {
  const { T1, T2, T4 } = { ...DEFAULT_TIMER_BASE, ...base };
  const t64 = 64 * T1;
  return {
    T1,
    T2,
    T4,
    A: T1,
    B: t64,
    // §17.1.1.2: "at least 32 seconds for unreliable transports, and zero for reliable".
    D: reliable ? 0 : Math.max(32_000, t64),
    E: T1,
    F: t64,
    G: T1,
    H: t64,
    I: reliable ? 0 : T4,
    J: reliable ? 0 : t64,
    K: reliable ? 0 : T4,
    L: t64,
    M: t64,
    trying100: 200,
  };
}

/**
 * Reliability follows the transport a request actually went over: when the
 * transport moved it from UDP to TCP (§18.1.1 MTU rule), the client transaction
 * switches to reliable-transport timers (§17.1.1.2, §17.1.2.2: no A/E
 * retransmissions, D = K = 0). Returns the new env and the endpoint used, or
 * undefined when nothing changes.
 */
export function afterSend(env: TransactionEnv, target: Endpoint, sent: InboundContext): { env: TransactionEnv; sentTo: Endpoint } | undefined {
  const used = sent.source.transport;
  if (env.reliable || used === target.transport || !env.transport.isReliable(used)) return undefined;
  return { env: { ...env, reliable: true, timers: env.reliableTimers }, sentTo: { ...target, transport: used } };
}
