/**
 * What a running node exposes to operators (admin HTTP API, lab dashboard).
 * The node implements AdminSource; the admin server only reads through it.
 * Everything here is plain JSON-serialisable data.
 */
import type { Binding } from '../store/location-store.ts';
import type { TransportName } from '../sip/message/types.ts';

/** primary/fallback are the SRV roles of the public nodes (DESIGN.md §1); config may say just "public". */
export type NodeRole = 'primary' | 'fallback' | 'public' | 'internal';

export interface SipListenerInfo {
  transport: TransportName;
  address: string;
  port: number;
}

export interface PeerInfo {
  name: string;
  /** True while the peer answers health checks (cluster/). */
  up: boolean;
}

export interface TrunkInfo {
  /** Provider name from the config, e.g. "budgetphone". */
  name: string;
  /** True while our registration at the provider is active. */
  registered: boolean;
}

export interface NodeCounts {
  /** Unexpired bindings in the location store. */
  registrations: number;
  /** Calls not yet ended. */
  activeCalls: number;
  /** Calls since start (any outcome). */
  totalCalls: number;
}

export interface NodeStatus {
  name: string;
  role: NodeRole;
  version: string;
  /** ms since epoch. */
  startedAt: number;
  uptimeSec: number;
  listeners: SipListenerInfo[];
  counts: NodeCounts;
  peers?: PeerInfo[];
  trunks?: TrunkInfo[];
}

export type CallDirection = 'inbound' | 'outbound' | 'internal';
export type CallState = 'trying' | 'ringing' | 'answered' | 'ending';

export interface CallSummary {
  /** Node-local call id (not the SIP Call-ID). */
  id: string;
  direction: CallDirection;
  state: CallState;
  /** Caller and callee as URIs or numbers, for display. */
  from: string;
  to: string;
  /** Trunk or peer the call runs through, if any. */
  via?: string;
  /** ms since epoch. */
  startedAt: number;
  answeredAt?: number;
  /**
   * RTP the node's media relay received from each side (a = caller, b = callee),
   * counted on arrival: what A sent towards B, including packets the relay then
   * dropped (e.g. while held). Absent until the call has media ports.
   */
  media?: { aToB: MediaFlowCounters; bToA: MediaFlowCounters };
}

export interface MediaFlowCounters {
  packets: number;
  /** RTP bytes (header + payload, UDP payload size). */
  bytes: number;
}

/** The read-only view of a node that the admin server needs. */
export interface AdminSource {
  status(): NodeStatus;
  registrations(): Binding[];
  calls(): CallSummary[];
}

/** A binding as the admin API shows it: the stored binding plus seconds left. */
export type RegistrationView = Binding & { expiresInSec: number };

/**
 * Controls a node may offer to the lab and operators, to play the failure
 * scenarios of DESIGN.md §1/§6 by hand or from tests. Optional: a node without
 * them answers 501 on the control routes.
 */
export interface AdminControl {
  /**
   * Unregister from (enabled=false) or register again with a provider trunk.
   * Throws AdminNotFoundError for an unknown trunk.
   */
  setTrunkEnabled(trunk: string, enabled: boolean): Promise<void> | void;
  /**
   * Cut (up=false) or restore the link to a peer node: while cut, the node
   * neither sends to nor accepts SIP traffic from that peer.
   * Throws AdminNotFoundError for an unknown peer.
   */
  setPeerLink(peer: string, up: boolean): Promise<void> | void;
}
