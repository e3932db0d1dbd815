/**
 * Reading the registration-relevant parts of one Contact value of a REGISTER:
 * expiry (RFC 3261 §10.3 step 7, §20.19), q (§20.10), +sip.instance and reg-id
 * (RFC 5626 §4.1, §6). Malformed values raise REG_BAD_REQUEST (→ 400 with the
 * fault as reason phrase); nothing here throws anything else.
 */
import type { NameAddr, Params } from '../../sip/message/types.ts';
import { RegistrarError } from './errors.ts';

/** delta-seconds cap (§20.19: values above 2^32-1 are taken as 2^32-1). */
const MAX_DELTA = 4294967295;

/** delta-seconds = 1*DIGIT (§25.1). Returns undefined if absent. */
export function parseDeltaSeconds(raw: string | null | undefined, what: string): number | undefined {
  if (raw === undefined) return undefined;
  if (raw === null || !/^[0-9]{1,20}$/.test(raw.trim())) throw new RegistrarError('REG_BAD_REQUEST', `Bad ${what}`);
  return Math.min(Number(raw.trim()), MAX_DELTA);
}

/** qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (§25.1); default 1. */
export function parseQ(params: Params): number {
  if (!params.has('q')) return 1;
  const raw = params.get('q');
  if (raw === null || raw === undefined || !/^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/.test(raw.trim())) {
    throw new RegistrarError('REG_BAD_REQUEST', 'Bad Contact q');
  }
  return Number(raw.trim());
}

/** Formats a q for a Contact parameter: "1", "0.5", "0.125". */
export function formatQ(q: number): string {
  return String(Math.round(q * 1000) / 1000);
}

function unquote(v: string): string {
  const t = v.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/\\(.)/g, '$1') : t;
}

/** +sip.instance value without quotes, e.g. "<urn:uuid:f81d...>" (RFC 5626 §4.1). */
export function instanceIdOf(params: Params): string | undefined {
  const raw = params.get('+sip.instance');
  if (raw === undefined) return undefined;
  if (raw === null || unquote(raw) === '') throw new RegistrarError('REG_BAD_REQUEST', 'Bad +sip.instance');
  return unquote(raw);
}

/** reg-id = 1*DIGIT, 1..2^31-1 (RFC 5626 §12). */
export function regIdOf(params: Params): number | undefined {
  if (!params.has('reg-id')) return undefined;
  const raw = params.get('reg-id');
  if (raw === null || raw === undefined || !/^[1-9][0-9]{0,9}$/.test(raw.trim()) || Number(raw) > 2147483647) {
    throw new RegistrarError('REG_BAD_REQUEST', 'Bad reg-id');
  }
  return Number(raw.trim());
}

/** Instance ids compare case-insensitively (URN uuid, RFC 4122 §3). */
export function sameInstance(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

/** One Contact value of a REGISTER, checked. */
export interface RegContact {
  nameAddr: NameAddr;
  /** Requested expiry in seconds before min/max policy (param, else Expires header, else default). */
  requested: number;
  q: number;
  instanceId?: string;
  regId?: number;
}

export function readContact(c: NameAddr, headerExpires: number | undefined, defaultExpires: number): RegContact {
  const param = parseDeltaSeconds(c.params.has('expires') ? (c.params.get('expires') ?? null) : undefined, 'Contact expires');
  return {
    nameAddr: c,
    // §10.3 step 7: the expires parameter wins, then the Expires header, then local default.
    requested: param ?? headerExpires ?? defaultExpires,
    q: parseQ(c.params),
    instanceId: instanceIdOf(c.params),
    regId: regIdOf(c.params),
  };
}
