/**
 * The zod schema of the federation config file (docs/config.md documents every
 * field). This file only describes shape and cross-field rules; positions,
 * secrets and path resolution live in config.ts and its siblings.
 *
 * Objects are strict: an unknown key (a typo such as `maxExpire`) is an error,
 * not silently ignored — a silently ignored security setting is worse than a
 * refusal to start.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
/** Node names appear in URIs, metrics labels and file names: keep them plain. */
const NODE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** SIP user part of an extension (RFC 3261 §25.1 `user`, restricted to the safe subset). */
const EXTENSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

export const TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
export const SECRET_KEYS = ['password', 'passwordEnv', 'passwordFile', 'ha1'] as const;

const hostname = z.string().regex(HOSTNAME, 'must be a DNS name').transform((s) => s.toLowerCase());
const ipAddress = z.string().refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address');
const port = z.number().int().min(1).max(65535);
const positiveInt = z.number().int().min(1);

const listenerSchema = z.strictObject({
  transport: z.enum(TRANSPORTS),
  address: ipAddress,
  /** Default: 5060 for udp/tcp, 5061 for tls (RFC 3261 §19.1.2). */
  port: port.optional(),
});

const nodeSchema = z.strictObject({
  role: z.enum(['public', 'internal']),
  /** The node's own DNS name (used in Via/Record-Route; accepted as "us" like its IPs). */
  host: hostname.optional(),
  /** Domains this node is authoritative for; default: [domain]. */
  domains: z.array(hostname).min(1).optional(),
  sip: z.array(listenerSchema).min(1),
  tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
  admin: z.strictObject({ address: ipAddress, port }).optional(),
  rtp: z.strictObject({ address: ipAddress, minPort: port, maxPort: port }),
  /** SQLite file; relative paths resolve against baseDir. Default: `<node>.sqlite`. */
  database: z.string().min(1).optional(),
}).superRefine((node, ctx) => {
  const seen = new Set<string>();
  node.sip.forEach((l, i) => {
    const key = `${l.transport} ${l.address} ${l.port ?? defaultPort(l.transport)}`;
    if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['sip', i], message: `duplicate listener ${key}` });
    seen.add(key);
  });
  if (node.sip.some((l) => l.transport === 'tls') && node.tls === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tls'], message: 'required when a tls listener is configured (certFile, keyFile)' });
  }
  if (node.rtp.maxPort - node.rtp.minPort < 1) {
    // RTP takes an even port and RTCP the next one (RFC 3550 §11).
    ctx.addIssue({ code: 'custom', path: ['rtp', 'maxPort'], message: 'must be above minPort (room for at least one RTP/RTCP pair)' });
  }
});

const ha1Schema = z.strictObject({
  md5: z.string().regex(/^[0-9a-f]{32}$/i, 'must be 32 hex digits').optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits').optional(),
});

const extensionSchema = z.strictObject({
  name: z.string().optional(),
  password: z.string().min(1).optional(),
  passwordEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
  passwordFile: z.string().min(1).optional(),
  ha1: ha1Schema.optional(),
  nodes: z.array(z.string()).min(1),
  permissions: z
    .strictObject({
      /** May call numbers outside the federation (through a trunk). */
      external: z.boolean().default(true),
      /** May call international numbers (toll-fraud guard: off by default). */
      international: z.boolean().default(false),
    })
    .prefault({}),
}).superRefine((e, ctx) => {
  const given = SECRET_KEYS.filter((k) => e[k] !== undefined);
  if (given.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['password'], message: 'required (or one of passwordEnv, passwordFile, ha1)' });
  } else if (given.length > 1) {
    ctx.addIssue({ code: 'custom', path: [given[1]], message: `only one of ${SECRET_KEYS.join(', ')} may be given (also has ${given[0]})` });
  }
  if (e.ha1 !== undefined && e.ha1.md5 === undefined && e.ha1.sha256 === undefined) {
    ctx.addIssue({ code: 'custom', path: ['ha1'], message: 'needs md5 and/or sha256' });
  }
});

const registrarSchema = z.strictObject({
  minExpires: positiveInt.default(60),
  maxExpires: positiveInt.default(3600),
  defaultExpires: positiveInt.default(600),
}).superRefine((r, ctx) => {
  if (r.minExpires > r.maxExpires) ctx.addIssue({ code: 'custom', path: ['maxExpires'], message: 'must be >= minExpires' });
  else if (r.defaultExpires < r.minExpires || r.defaultExpires > r.maxExpires) {
    ctx.addIssue({ code: 'custom', path: ['defaultExpires'], message: 'must lie between minExpires and maxExpires' });
  }
});

/**
 * Overload protection: when the event loop lags or datagrams wait too long in the
 * kernel receive queue, new work (REGISTER/INVITE outside
 * a dialog without credentials) gets 503 + Retry-After (RFC 3261 §21.5.4).
 */
const overloadSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Smoothed event-loop lag (ms) above which the node is overloaded. */
  enterLagMs: positiveInt.default(250),
  /** Smoothed lag (ms) below which it accepts new work again (hysteresis). */
  exitLagMs: positiveInt.default(100),
  /**
   * Smoothed event-loop utilization (0..1, busy share of time) above which the node
   * is overloaded; 1 = off (default: a node near 100 % still keeps up — at 0.97 it
   * refused 22 % of a 1,000/s REGISTER load the node served without a failure).
   */
  enterUtilization: z.number().min(0).max(1).default(1),
  /** Utilization below which it accepts new work again. */
  exitUtilization: z.number().min(0).max(1).default(0.9),
  /** Retry-After seconds in the 503 (never omitted: see docs/interop.md on linphone). */
  retryAfterSec: positiveInt.default(5),
  /** How often the lag is sampled (ms). */
  sampleMs: positiveInt.default(50),
  /**
   * Kernel UDP receive-queue delay (ms, measured by a probe datagram the node sends
   * itself, src/sip/transport/queue-probe.ts) above which the node is overloaded:
   * below T1 (500 ms), when clients start retransmitting (docs/config.md: why 400).
   */
  enterQueueDelayMs: positiveInt.default(400),
  /** Queue delay (ms) below which it accepts new work again. */
  exitQueueDelayMs: positiveInt.default(200),
  /**
   * Queue delay (ms) above which REGISTERs without credentials are dropped unread
   * instead of answered 503, until the delay is back under enterQueueDelayMs
   * (docs/config.md); 0 = never drop.
   */
  dropQueueDelayMs: z.number().int().min(0).default(600),
  /** Queue-delay probe interval (ms); 0 = no probe (the queue delay is then not a signal). */
  queueProbeMs: z.number().int().min(0).default(50),
}).superRefine((o, ctx) => {
  if (o.exitLagMs > o.enterLagMs) ctx.addIssue({ code: 'custom', path: ['exitLagMs'], message: 'must be <= enterLagMs' });
  if (o.exitUtilization > o.enterUtilization) ctx.addIssue({ code: 'custom', path: ['exitUtilization'], message: 'must be <= enterUtilization' });
  if (o.exitQueueDelayMs > o.enterQueueDelayMs) ctx.addIssue({ code: 'custom', path: ['exitQueueDelayMs'], message: 'must be <= enterQueueDelayMs' });
  if (o.dropQueueDelayMs !== 0 && o.dropQueueDelayMs < o.enterQueueDelayMs) ctx.addIssue({ code: 'custom', path: ['dropQueueDelayMs'], message: 'must be >= enterQueueDelayMs (or 0: never drop)' });
});

export const configSchema = z
  .strictObject({
    domain: hostname,
    /** Digest realm for every extension (RFC 3261 §22.1); default: domain. */
    realm: z.string().min(1).optional(),
    /** Directory relative paths resolve against; itself relative to the config file's directory. */
    baseDir: z.string().min(1).default('.'),
    /** When this environment variable is set (non-empty), its value replaces baseDir (absolute, or relative to cwd). */
    baseDirEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
    nodes: z.record(z.string().regex(NODE_NAME, 'node names are lower-case letters, digits and -'), nodeSchema),
    extensions: z.record(z.string().regex(EXTENSION, 'extension must be a SIP user part (letters, digits, . _ + -)'), extensionSchema).default({}),
    registrar: registrarSchema.prefault({}),
    keepalive: z.strictObject({ intervalSec: positiveInt.default(25), maxFailures: positiveInt.default(3) }).prefault({}),
    overload: overloadSchema.prefault({}),
    calls: z.strictObject({ ringTimeoutSec: positiveInt.default(30), maxForwards: z.number().int().min(1).max(255).default(70) }).prefault({}),
    sip: z
      .strictObject({
        t1: positiveInt.default(500),
        t2: positiveInt.default(4000),
        t4: positiveInt.default(5000),
        userAgent: z.string().min(1).default('spacephone'),
        /**
         * Digest algorithms offered in 401/407, most preferred first (RFC 8760 §2.4).
         * Some UACs (baresip 1.0.0) only read the FIRST challenge and give up when it
         * is not MD5: list MD5 first (or alone) for them.
         */
        digestAlgorithms: z.array(z.enum(['SHA-256', 'MD5'])).min(1).default(['MD5']),
      })
      .superRefine((t, ctx) => {
        if (t.t2 < t.t1) ctx.addIssue({ code: 'custom', path: ['t2'], message: 'must be >= t1 (RFC 3261 §17.1.2.2)' });
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const nodeNames = Object.keys(cfg.nodes);
    if (nodeNames.length === 0) ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'at least one node is required' });
    for (const [ext, e] of Object.entries(cfg.extensions)) {
      e.nodes.forEach((n, i) => {
        if (!(n in cfg.nodes)) ctx.addIssue({ code: 'custom', path: ['extensions', ext, 'nodes', i], message: `unknown node "${n}" (known: ${nodeNames.join(', ')})` });
      });
    }
  });

export type RawConfig = z.output<typeof configSchema>;
export type RawExtension = z.output<typeof extensionSchema>;
export type RawNode = z.output<typeof nodeSchema>;

export function defaultPort(transport: (typeof TRANSPORTS)[number]): number {
  return transport === 'tls' ? 5061 : 5060;
}

/**
 * Turns a zod issue into a short message that never echoes the input value
 * (the input may be a secret).
 */
export function issueMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required';
      if (iss.input === null) return `has no value (expected ${iss.expected})`;
      return `expected ${iss.expected}, got ${describe(iss.input)}`;
    case 'too_small':
      if (iss.origin === 'number') return `must be >= ${String(iss.minimum)}`;
      if (iss.origin === 'array') return `needs at least ${String(iss.minimum)} entr${iss.minimum === 1 ? 'y' : 'ies'}`;
      return 'must not be empty';
    case 'too_big':
      return iss.origin === 'number' ? `must be <= ${String(iss.maximum)}` : 'too long';
    case 'invalid_value':
      return `must be one of ${iss.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown key${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => `"${k}"`).join(', ')}`;
    default:
      return undefined;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  return typeof v;
}
