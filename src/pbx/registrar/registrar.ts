/**
 * The registrar (RFC 3261 §10.3) with Path (RFC 3327) and outbound
 * instance/reg-id (RFC 5626 §6). Protocol logic only: it takes a parsed REGISTER
 * and the flow it arrived on and returns the response to send; storage is the
 * LocationStore, authentication a RegistrarAuth. `handle()` never throws.
 *
 * Processing follows §10.3 in order:
 *   1 Request-URI domain is ours          else 404 (§21.4.4)
 *   2 Require understood                  else 420 + Unsupported
 *   3 authenticate                        else 401 (fresh challenge) / 403
 *   4 user authorized for the To AOR      else 403
 *   5 To AOR is one of our extensions     else 404
 *   6 Contact * only alone with Expires 0 else 400
 *   7 per Contact: expiry, 423, Call-ID/CSeq order, add/update/remove — atomically
 *   8 200 listing every current binding with expires= and q
 *
 * Enumeration: steps 4–5 (which reveal whether an AOR exists) run only after
 * step 3 succeeded, and the authenticated user can only learn about its own AOR.
 * An unknown user and a known user with a wrong password both get the same
 * fresh 401 challenge (see RegistrarAuth for the adapter's side of this).
 */
import type { AuthValue, NameAddr, SipRequest, SipResponse, Uri } from '../../sip/message/types.ts';
import { isSipUri } from '../../sip/message/types.ts';
import type { Clock } from '../../sip/clock.ts';
import type { Binding, FlowInfo, LocationStore } from '../../store/location-store.ts';
import { createResponse, getHeader, newTag, uriEquals } from '../../sip/message/build.ts';
import { parseUri } from '../../sip/message/parser.ts';
import { serializeNameAddr, serializeUri } from '../../sip/message/serializer.ts';
import type { RegistrarAuth } from './auth.ts';
import { RegistrarError, REGISTRAR_FAULTS } from './errors.ts';
import { formatQ, readContact, sameInstance, type RegContact } from './contact.ts';

/** Option tags this registrar understands in Require (§8.2.2.3). */
export const SUPPORTED_OPTION_TAGS: readonly string[] = ['path', 'outbound'];

export interface RegistrarOptions {
  store: LocationStore;
  auth: RegistrarAuth;
  clock: Clock;
  /** Domains (host names / addresses) we hold bindings for; the first is canonical. */
  domains: string[];
  /** Written into Binding.node. */
  nodeName: string;
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  /** Is `user` an extension that may register here? */
  extensions: (user: string) => boolean;
  /** WWW-Authenticate values for a 401 (stale=true when the nonce expired). */
  challenge: (stale: boolean) => AuthValue[];
  /** Most bindings one AOR may hold after a REGISTER (default: unlimited); more → 403. */
  maxBindingsPerAor?: number;
  /** Called after a committed change with the AOR's current bindings. */
  onChange?: (aor: string, bindings: Binding[]) => void;
  /** Unexpected failures (store errors, bugs) that were answered with a 500. */
  onError?: (err: unknown) => void;
}

export function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * Canonical AOR "user@domain" for a user of ours. All configured domains are
 * aliases of one system, so the AOR uses the first (canonical) domain and a phone
 * registered as 100@10.0.0.1 is found when calling 100@pbx.example.org.
 */
export function canonicalAor(user: string, domains: readonly string[]): string {
  return `${user}@${normalizeHost(domains[0] ?? '')}`;
}

/**
 * Parsed contact URIs of stored bindings, so that a refresh does not re-parse
 * every contact of the AOR (contact matching, the 200's Contact list). Keyed by
 * the Binding object: the store hands out the same objects until they change.
 * null: the stored string does not parse.
 */
const parsedContacts = new WeakMap<Binding, Uri | null>();

function contactUri(b: Binding): Uri | null {
  let uri = parsedContacts.get(b);
  if (uri === undefined) {
    try {
      uri = parseUri(b.contact);
    } catch {
      uri = null;
    }
    parsedContacts.set(b, uri);
  }
  return uri;
}

/** A binding as a Contact value of a 200 (§10.3 step 8). */
function bindingContact(b: Binding, now: number): NameAddr | undefined {
  const uri = contactUri(b);
  if (uri === null) return undefined; // a store row we cannot read back is not advertised
  const params = new Map<string, string | null>();
  params.set('expires', String(Math.max(0, Math.ceil((b.expiresAt - now) / 1000))));
  params.set('q', formatQ(b.q));
  if (b.instanceId !== undefined) params.set('+sip.instance', `"${b.instanceId}"`);
  if (b.regId !== undefined) params.set('reg-id', String(b.regId));
  return { uri, params };
}

/** The LocationStore order: highest q first, then most recently updated, then contact. */
function storeOrder(a: Binding, b: Binding): number {
  return b.q - a.q || b.updatedAt - a.updatedAt || (a.contact < b.contact ? -1 : a.contact > b.contact ? 1 : 0);
}

/** `serialized`: serializeUri(c.nameAddr.uri), computed once per Contact. */
function contactMatches(stored: Binding, c: RegContact, serialized: string, outbound: boolean): boolean {
  // RFC 5626 §6: with an instance id (and reg-id when outbound applies) the binding
  // is identified by (AOR, instance, reg-id) — a new contact URI replaces the old one.
  if (c.instanceId !== undefined && sameInstance(stored.instanceId, c.instanceId)) {
    if ((outbound ? c.regId : undefined) === stored.regId) return true;
  }
  // RFC 3261 §10.3 step 7: otherwise by URI comparison (§19.1.4). The stored
  // contact is our own serialization, so a refresh from the same phone is equal
  // as a string: no parse needed.
  if (stored.contact === serialized) return true;
  const uri = contactUri(stored);
  return uri !== null && uriEquals(uri, c.nameAddr.uri);
}

/**
 * The Date header value (§20.17, rfc1123-date), formatted once per second:
 * Date.prototype.toUTCString costs ~1 µs, every 200 carries one.
 */
class DateCache {
  private second = -1;
  private value = '';

  at(now: number): string {
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.value = new Date(second * 1000).toUTCString();
    }
    return this.value;
  }
}

/** 200s waiting for one staged commit (see Registrar.waiting). */
interface Waiting {
  staged: Promise<void>;
  replies: ((res: SipResponse) => void)[];
  requests: SipRequest[];
  responses: SipResponse[];
}

/** A stage() that writes nothing: waits for the writes already staged. */
function noWrites(): void {}

export class Registrar {
  private readonly domains: Set<string>;
  /** "@" + canonical domain: the AOR suffix (see canonicalAor). */
  private readonly aorSuffix: string;
  private readonly dates = new DateCache();
  /**
   * Set by commit() while handleDurable() runs: the staged writes' commit, which
   * the 200 must wait for. Single-threaded, so one field serves every request.
   */
  private staged: Promise<void> | undefined;
  private staging = false;
  /**
   * The 200s waiting for the latest staged commit, as parallel arrays: one
   * `.then` per batch instead of a promise and two closures per REGISTER.
   */
  private waiting: Waiting | undefined;

  constructor(private readonly opts: RegistrarOptions) {
    if (opts.domains.length === 0) throw new RangeError('Registrar needs at least one domain');
    if (!(opts.minExpires >= 0 && opts.maxExpires >= opts.minExpires)) throw new RangeError('bad expiry limits');
    this.domains = new Set(opts.domains.map(normalizeHost));
    this.aorSuffix = canonicalAor('', opts.domains);
  }

  /** Canonical AOR of one of our users (for the call router's lookups). */
  aorOf(user: string): string {
    return user + this.aorSuffix;
  }

  /**
   * Answers one REGISTER. Never throws: every failure becomes a response. The
   * store's changes are committed before it returns (store.transaction).
   */
  handle(req: SipRequest, flow: FlowInfo): SipResponse {
    try {
      return this.process(req, flow);
    } catch (err) {
      return this.failed(req, err);
    }
  }

  /**
   * Answers one REGISTER through `reply`, exactly once, never throwing. With a
   * group-committing store (LocationStore.stage) a 200 is sent only after the
   * commit of its batch: a registration that was answered survives kill -9. If
   * that commit fails the answer is 500 (§10.3 step 7: all or nothing) — and so
   * for every REGISTER of the batch. Answers that changed nothing and waited on
   * nothing (401, 4xx) are sent synchronously.
   */
  handleDurable(req: SipRequest, flow: FlowInfo, reply: (res: SipResponse) => void): void {
    let res: SipResponse;
    this.staging = this.opts.store.stage !== undefined;
    this.staged = undefined;
    try {
      res = this.process(req, flow);
    } catch (err) {
      res = this.failed(req, err);
    } finally {
      this.staging = false;
    }
    const staged = this.takeStaged();
    if (staged === undefined || res.status !== 200) {
      reply(res);
      return;
    }
    let w = this.waiting;
    if (w === undefined || w.staged !== staged) {
      // The first 200 of a batch: one continuation answers the whole batch.
      const batch: Waiting = { staged, replies: [], requests: [], responses: [] };
      this.waiting = w = batch;
      staged.then(
        () => this.settle(batch, false, undefined),
        (err: unknown) => this.settle(batch, true, err),
      );
    }
    w.replies.push(reply);
    w.requests.push(req);
    w.responses.push(res);
  }

  /** Sends the 200s of a committed batch, or a 500 for each when its commit failed. */
  private settle(w: Waiting, failed: boolean, err: unknown): void {
    if (this.waiting === w) this.waiting = undefined;
    for (let i = 0; i < w.replies.length; i++) {
      let res = w.responses[i];
      if (failed) {
        this.opts.onError?.(new RegistrarError('REG_STORE_FAILED', 'location store commit failed', { cause: err }));
        res = this.respond(w.requests[i], 500, REGISTRAR_FAULTS.REG_STORE_FAILED.reason);
      }
      try {
        w.replies[i](res);
      } catch {
        // `reply` must not throw (the node's does not); if one does, the rest of the batch is still answered.
      }
    }
  }

  private takeStaged(): Promise<void> | undefined {
    const staged = this.staged;
    this.staged = undefined;
    return staged;
  }

  private failed(req: SipRequest, err: unknown): SipResponse {
    if (err instanceof RegistrarError) {
      if (err.code === 'REG_STORE_FAILED') this.opts.onError?.(err);
      return this.fault(req, err);
    }
    this.opts.onError?.(err);
    return this.respond(req, 500, 'Server Internal Error');
  }

  private process(req: SipRequest, flow: FlowInfo): SipResponse {
    if (req.method !== 'REGISTER') throw new RegistrarError('REG_NOT_REGISTER');

    // Step 1: do we hold bindings for the Request-URI's domain? We do not proxy
    // REGISTERs elsewhere, so a foreign domain is a 404 (§21.4.4).
    if (!isSipUri(req.uri) || !this.domains.has(normalizeHost(req.uri.host))) {
      throw new RegistrarError('REG_DOMAIN_NOT_SERVED');
    }

    // Step 2: Require (§8.2.2.3). 'path' (RFC 3327) and 'outbound' (RFC 5626) are understood.
    const unsupported = req.require.length === 0 ? req.require : req.require.filter((t) => !SUPPORTED_OPTION_TAGS.includes(t));
    if (unsupported.length > 0) {
      const res = this.respond(req, 420, REGISTRAR_FAULTS.REG_BAD_EXTENSION.reason);
      res.headers.push({ name: 'Unsupported', value: unsupported.join(', ') });
      return res;
    }

    // Step 3: authenticate (§22). Unknown user and wrong password are the same outcome.
    const auth = this.opts.auth.check(req);
    if (!auth.ok) {
      if (auth.response === 'forbidden') return this.respond(req, 403, 'Forbidden');
      if (auth.response === 'bad-request') return this.respond(req, 400, 'Malformed Credentials');
      const res = this.respond(req, 401, 'Unauthorized');
      res.wwwAuthenticate = this.opts.challenge(auth.response === 'stale');
      return res;
    }

    // Step 4: the authenticated user may only modify its own AOR.
    const to = req.to.uri;
    if (!isSipUri(to) || to.user === undefined || to.user !== auth.user) throw new RegistrarError('REG_AOR_FORBIDDEN');

    // Step 5: the To AOR must be valid for our domain(s).
    if (!this.domains.has(normalizeHost(to.host)) || !this.opts.extensions(to.user)) {
      throw new RegistrarError('REG_AOR_NOT_FOUND');
    }
    const aor = this.aorOf(to.user);
    const now = this.opts.clock.now();

    if (req.contact === '*') {
      // Step 6: "*" only with Expires: 0 (and alone — the parser yields '*' only for a lone star).
      if (req.expires !== 0) throw new RegistrarError('REG_STAR_WITH_EXPIRES');
      this.removeAllBindings(req, aor, now);
      return this.ok(req, aor, now, false, []);
    }
    if (req.contact.length === 0) {
      // A query (§10.2.3). It may read bindings staged but not yet committed: wait for them.
      if (this.staging) this.staged = this.opts.store.stage?.(noWrites);
      return this.ok(req, aor, now, false);
    }
    return this.update(req, req.contact, flow, aor, now);
  }

  /** Step 6, second half: each binding obeys the Call-ID/CSeq rule before "*" removes it. */
  private removeAllBindings(req: SipRequest, aor: string, now: number): void {
    const current = this.opts.store.bindings(aor, now);
    for (const b of current) {
      if (b.callId === req.callId && req.cseq.seq <= b.cseq) throw new RegistrarError('REG_OUT_OF_ORDER');
    }
    if (current.length === 0) return;
    this.commit(aor, current, []);
  }

  /** Step 7: compute the tentative binding set, then commit it all or nothing. */
  private update(req: SipRequest, contactValues: NameAddr[], flow: FlowInfo, aor: string, now: number): SipResponse {
    // NOTE: plain loops rather than map/filter chains here and below: this runs
    // for every registration, and each callback is an allocation (plus, under
    // tsx, a __name() call for every named closure).
    const contacts: RegContact[] = [];
    let withRegId = 0;
    for (const c of contactValues) {
      if (!isSipUri(c.uri)) throw new RegistrarError('REG_BAD_REQUEST', 'Unsupported Contact URI scheme');
      const rc = readContact(c, req.expires, this.opts.defaultExpires);
      if (rc.regId !== undefined && rc.instanceId !== undefined) withRegId++;
      contacts.push(rc);
    }

    // RFC 5626 §6: outbound applies when the UA supports it and the contact carries
    // instance + reg-id; at most one such contact per REGISTER.
    const outbound = withRegId > 0 && req.supported.includes('outbound');
    if (outbound && withRegId > 1) throw new RegistrarError('REG_BAD_REQUEST', 'Multiple reg-id Contacts');
    if (outbound && req.path.length > 0) {
      // The edge proxy that added the first Path must do outbound (flag "ob", RFC 5626 §5.1, §6).
      const first = req.path[0].uri;
      if (!isSipUri(first) || !first.params.has('ob')) throw new RegistrarError('REG_FIRST_HOP_LACKS_OUTBOUND');
    }

    // §10.3 step 7: 0 < expiry < minExpires fails the whole request with 423.
    for (const c of contacts) {
      if (c.requested > 0 && c.requested < this.opts.minExpires) throw new RegistrarError('REG_INTERVAL_TOO_BRIEF');
    }

    // RFC 3327 §5.3: Path values are stored with the binding, in order received.
    // NOTE: stored even when the UA did not send "Supported: path" (Kamailio's
    // "lazy" mode, not YXA/Kamailio-"strict" 420/421): a proxy that added Path
    // anyway (§5.2 says it SHOULD NOT) is still the only way back to the phone.
    const path = req.path.length === 0 ? [] : req.path.map((p) => serializeNameAddr(p));
    const userAgent = getHeader(req, 'User-Agent');
    const original = this.opts.store.bindings(aor, now);
    let work: Binding[] = original;
    const fresh: Binding[] = [];
    for (const c of contacts) {
      const contact = serializeUri(c.nameAddr.uri);
      // The registrar MAY shorten the interval (§10.3 step 7): clamp to maxExpires.
      const seconds = Math.min(c.requested, this.opts.maxExpires);
      // Drop the bindings this contact matches; when it adds one, also a leftover
      // with the same contact string (two entries may not share (aor, contact)).
      const rest: Binding[] = [];
      for (const b of work) {
        if (contactMatches(b, c, contact, outbound)) {
          // Same Call-ID: only a higher CSeq may touch the binding; out-of-order requests fail.
          if (!fresh.includes(b) && b.callId === req.callId && req.cseq.seq <= b.cseq) throw new RegistrarError('REG_OUT_OF_ORDER');
        } else if (seconds === 0 || b.contact !== contact) {
          rest.push(b);
        }
      }
      work = rest;
      if (seconds === 0) continue; // expires 0 removes (or is a no-op for an unknown contact)
      // One literal, every key, always this order: all Bindings share one V8 shape.
      const b: Binding = {
        aor,
        contact,
        instanceId: c.instanceId,
        regId: outbound ? c.regId : undefined,
        q: c.q,
        expiresAt: now + seconds * 1000,
        callId: req.callId,
        cseq: req.cseq.seq,
        path,
        flow: { ...flow }, // a plain copy (adds no keys: cheap for V8)
        userAgent,
        updatedAt: now,
        failures: 0,
        reachable: true,
        node: this.opts.nodeName,
      };
      work.push(b);
      fresh.push(b);
      parsedContacts.set(b, c.nameAddr.uri);
    }
    const max = this.opts.maxBindingsPerAor;
    if (max !== undefined && work.length > max && work.length > original.length) {
      throw new RegistrarError('REG_TOO_MANY_BINDINGS');
    }
    return this.ok(req, aor, now, outbound, this.commit(aor, original, work));
  }

  /**
   * Makes `next` the AOR's binding set and returns it in store order. §10.3 step 7:
   * updates are visible only if all succeed — one store transaction when the store
   * has them (also one commit instead of one per statement), else a manual undo;
   * either way a store failure fails the request with 500.
   */
  private commit(aor: string, original: Binding[], next: Binding[]): Binding[] {
    const { store, onChange } = this.opts;
    // What the store will hold, without reading it back (every entry is unexpired).
    const current = next.slice().sort(storeOrder);
    try {
      if (this.staging && store.stage) {
        // Group commit: the change is visible now, durable when `staged` resolves;
        // observers hear of it only then (as with a committed transaction below).
        const committed = store.stage(() => this.apply(aor, original, next));
        this.staged = onChange === undefined ? committed : committed.then(() => onChange(aor, current));
        return current;
      }
      if (store.transaction) store.transaction(() => this.apply(aor, original, next));
      else this.apply(aor, original, next);
    } catch (err) {
      if (!store.transaction) {
        const originalKeys = new Set(original.map((b) => b.contact));
        try {
          for (const b of next) if (!originalKeys.has(b.contact)) store.remove(aor, b.contact);
          for (const b of original) store.save(b);
        } catch {
          // The store is failing; nothing more we can do than report the first error.
        }
      }
      throw new RegistrarError('REG_STORE_FAILED', 'location store failed', { cause: err });
    }
    onChange?.(aor, current);
    return current;
  }

  /** The store writes turning `original` into `next`: removals, then new or changed bindings. */
  private apply(aor: string, original: Binding[], next: Binding[]): void {
    const { store } = this.opts;
    for (const b of original) if (!next.some((n) => n.contact === b.contact)) store.remove(aor, b.contact);
    for (const b of next) if (!original.includes(b)) store.save(b);
  }

  /** Step 8: 200 with every current binding, Date, and Path/outbound echoes. */
  private ok(req: SipRequest, aor: string, now: number, outbound: boolean, current?: Binding[]): SipResponse {
    const res = this.respond(req, 200, 'OK');
    const contact: NameAddr[] = [];
    for (const b of current ?? this.opts.store.bindings(aor, now)) {
      const value = bindingContact(b, now);
      if (value !== undefined) contact.push(value);
    }
    res.contact = contact;
    // RFC 3327 §5.3: return the Path we stored when the UA said it supports path.
    if (req.supported.includes('path') && req.path.length > 0) res.path = req.path.map((p) => ({ ...p }));
    // RFC 5626 §6: the UA learns that outbound is in use from Require: outbound.
    if (outbound) res.require = ['outbound'];
    res.supported = SUPPORTED_OPTION_TAGS.slice();
    // §10.3 step 8: Date lets simple UAs set their clock (§20.17, rfc1123-date in GMT).
    res.headers.push({ name: 'Date', value: this.dates.at(now) });
    return res;
  }

  private fault(req: SipRequest, err: RegistrarError): SipResponse {
    const res = this.respond(req, err.status, err.reason);
    if (err.code === 'REG_INTERVAL_TOO_BRIEF') res.minExpires = this.opts.minExpires;
    if (err.code === 'REG_NOT_REGISTER') res.headers.push({ name: 'Allow', value: 'REGISTER' });
    return res;
  }

  /** A response with a To tag (§8.2.6.2) and nothing carried over beyond §8.2.6. */
  private respond(req: SipRequest, status: number, reason: string): SipResponse {
    let res: SipResponse;
    try {
      // createResponse copies To (params included): the tag can be set in place.
      res = createResponse(req, status, reason);
    } catch {
      res = {
        kind: 'response', status, reason,
        via: req.via, from: req.from, to: { ...req.to, params: new Map(req.to.params) }, callId: req.callId, cseq: req.cseq,
        contact: [], route: [], recordRoute: [], path: [], wwwAuthenticate: [], proxyAuthenticate: [],
        authorization: [], proxyAuthorization: [], require: [], supported: [], proxyRequire: [], headers: [], body: Buffer.alloc(0),
      };
    }
    if (!res.to.params.has('tag')) res.to.params.set('tag', newTag());
    return res;
  }
}
