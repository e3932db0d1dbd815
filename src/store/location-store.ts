/**
 * The location service boundary (RFC 3261 §10.3, "location service"). The
 * registrar and the call router depend on this interface only; SQLite (store/)
 * and later the federation supply implementations. Synchronous on purpose: a
 * REGISTER is processed atomically against the store.
 */
import type { TransportName } from '../sip/message/types.ts';

/** Where the REGISTER came from: the node reaches the phone there (NAT, RFC 5626 flow). */
export interface FlowInfo {
  transport: TransportName;
  /** Remote address/port as seen by the node (after NAT). */
  address: string;
  port: number;
  /** Local listen address/port it arrived on. */
  localAddress: string;
  localPort: number;
  /** tcp/tls connection id, while the connection lives. */
  connectionId?: string;
}

export interface Binding {
  /** Canonical address-of-record: "user@domain" (lower-cased domain). */
  aor: string;
  /** Contact URI as serialized (the binding's identity together with aor). */
  contact: string;
  /** RFC 5626 +sip.instance value, when the phone sent one. */
  instanceId?: string;
  /** RFC 5626 reg-id. */
  regId?: number;
  /** Contact q-value, 0..1 (default 1). */
  q: number;
  /** Absolute expiry, ms since epoch. */
  expiresAt: number;
  callId: string;
  cseq: number;
  /** RFC 3327 Path values (serialized name-addrs), in order received. */
  path: string[];
  flow: FlowInfo;
  userAgent?: string;
  /** When the binding was last written (ms since epoch). */
  updatedAt: number;
  /** Consecutive keep-alive failures; reachable=false after the configured limit. */
  failures: number;
  reachable: boolean;
  /** Node that holds the binding (federation); the local node name otherwise. */
  node: string;
}

export interface LocationStore {
  /** Unexpired bindings of an AOR (expiresAt > now), highest q first. */
  bindings(aor: string, now: number): Binding[];
  /** Inserts or replaces the binding identified by (aor, contact). */
  save(binding: Binding): void;
  remove(aor: string, contact: string): void;
  removeAll(aor: string): void;
  /** Every unexpired binding (dashboard, keep-alive). */
  all(now: number): Binding[];
  /** How many unexpired bindings there are (metrics: without building all() of them). */
  count(now: number): number;
  /** Deletes expired bindings; returns how many. */
  purgeExpired(now: number): number;
  /**
   * Optional: runs fn atomically (one commit for a REGISTER touching several
   * contacts; a throw rolls everything back). Stores without it get the
   * registrar's manual undo.
   */
  transaction?<T>(fn: () => T): T;
  /**
   * Optional group commit: runs fn like transaction(), its writes visible to
   * reads at once, but committed together with other staged writes (one commit
   * per event-loop turn). The promise resolves once they are durable and rejects
   * when that commit failed (then none of them is applied). A throw from fn
   * applies none of fn's writes and is rethrown.
   */
  stage?(fn: () => void): Promise<void>;
  close(): void;
}
