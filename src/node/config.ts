/**
 * The federation config: one YAML file for every node (DESIGN.md §4,
 * docs/config.md). `loadConfig` reads, validates and resolves it: defaults
 * applied, secrets read from env/files and turned into digest HA1 values,
 * relative paths made absolute. Every problem becomes a ConfigError whose
 * message names file:line:col and the path of the offending field.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import type { TransportName } from '../sip/message/types.ts';
import { SpacephoneError } from '../util/errors.ts';
import { configSchema, defaultPort, issueMessage, type RawConfig, type RawExtension } from './config-schema.ts';
import { pathPosition } from './config-position.ts';
import { passwordFromFile, secretFromPassword, type ExtensionSecret } from './config-secrets.ts';

export { computeHa1, type DigestAlgorithm, type ExtensionSecret, type SecretSource } from './config-secrets.ts';

export interface ConfigIssue {
  file: string;
  line?: number;
  col?: number;
  /** Dotted path of the field, e.g. "extensions.2001.password" ("" for the document). */
  path: string;
  message: string;
}

/** Invalid or unusable configuration. The message has one line per issue. */
export class ConfigError extends SpacephoneError {
  readonly code = 'CONFIG';
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], options?: { cause?: unknown }) {
    super(issues.map(formatIssue).join('\n'), options);
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line === undefined ? i.file : `${i.file}:${i.line}:${i.col ?? 1}`;
  return i.path === '' ? `${where}: ${i.message}` : `${where}: ${i.path}: ${i.message}`;
}

export interface ListenerConfig {
  transport: TransportName;
  address: string;
  port: number;
}

export interface NodeConfig {
  name: string;
  role: 'public' | 'internal';
  host?: string;
  /** Domains this node is authoritative for (besides its own addresses and host). */
  domains: string[];
  sip: ListenerConfig[];
  /** Absolute paths. */
  tls?: { certFile: string; keyFile: string };
  admin?: { address: string; port: number };
  rtp: { address: string; minPort: number; maxPort: number };
  /** Absolute path of the node's SQLite file. */
  database: string;
}

export interface ExtensionConfig {
  /** The extension number = SIP user part = digest username. */
  number: string;
  name?: string;
  nodes: string[];
  permissions: { external: boolean; international: boolean };
  secret: ExtensionSecret;
}

export interface Config {
  /** Config file name as given (for messages). */
  source: string;
  /** Absolute directory relative paths were resolved against. */
  baseDir: string;
  domain: string;
  realm: string;
  nodes: Record<string, NodeConfig>;
  extensions: Record<string, ExtensionConfig>;
  registrar: { minExpires: number; maxExpires: number; defaultExpires: number };
  keepalive: { intervalSec: number; maxFailures: number };
  overload: { enabled: boolean; enterLagMs: number; exitLagMs: number; enterUtilization: number; exitUtilization: number; retryAfterSec: number; sampleMs: number; enterQueueDelayMs: number; exitQueueDelayMs: number; queueProbeMs: number; dropQueueDelayMs: number };
  calls: { ringTimeoutSec: number; maxForwards: number };
  sip: { t1: number; t2: number; t4: number; userAgent: string; digestAlgorithms: Array<'SHA-256' | 'MD5'> };
}

export interface ParseOptions {
  /** Directory of the config file (default: dirname of sourceName, from cwd). */
  configDir?: string;
  /** Overrides the file's `baseDir` and `baseDirEnv` (absolute, or relative to cwd). */
  baseDir?: string;
  /** Environment for passwordEnv (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Reads, validates and resolves a config file. Throws ConfigError. */
export function loadConfig(path: string, options: Omit<ParseOptions, 'configDir'> = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file: path, path: '', message: `cannot read config file (${errnoText(err)})` }], { cause: err });
  }
  return parseConfig(text, path, { ...options, configDir: dirname(resolve(path)) });
}

/** Validates and resolves config text; `sourceName` only labels messages. Throws ConfigError. */
export function parseConfig(text: string, sourceName: string, options: ParseOptions = {}): Config {
  const lc = new LineCounter();
  // uniqueKeys: false — the library's duplicate-key check compares each key with
  // every earlier one (O(n²): ~9 s for 20,000 extensions); duplicateKeys() does the
  // same check with a Set.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length === 0) {
    const dups = duplicateKeys(doc.contents);
    if (dups.length > 0) {
      throw new ConfigError(dups.map((offset) => ({ file: sourceName, ...lc.linePos(offset), path: '', message: 'YAML: Map keys must be unique' })));
    }
  }
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        // The library's message carries a source excerpt (which may hold a secret): keep the first clause.
        return { file: sourceName, line: pos.line, col: pos.col, path: '', message: `YAML: ${e.message.split(' at line ')[0]}` };
      }),
    );
  }
  const at = (path: readonly PropertyKey[], message: string, atKey = false): ConfigIssue => {
    const pos = pathPosition(doc, lc, path, atKey);
    return { file: sourceName, line: pos?.line, col: pos?.col, path: formatPath(path), message };
  };

  let data: unknown;
  try {
    // Throws on an unresolved alias or an alias bomb (maxAliasCount): still a config error.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([{ file: sourceName, path: '', message: `YAML: ${err instanceof Error ? err.message : String(err)}` }], { cause: err });
  }
  const parsed = configSchema.safeParse(data ?? {}, { error: issueMessage });
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((iss) => zodIssue(iss, at)));

  const raw = parsed.data;
  const configDir = options.configDir ?? dirname(resolve(sourceName));
  const env = options.env ?? process.env;
  const fromEnv = raw.baseDirEnv !== undefined ? env[raw.baseDirEnv] : undefined;
  const baseDir =
    options.baseDir !== undefined ? resolve(options.baseDir)
    : fromEnv !== undefined && fromEnv !== '' ? resolve(fromEnv)
    : resolve(configDir, raw.baseDir);
  const realm = raw.realm ?? raw.domain;

  const issues: ConfigIssue[] = [];
  const extensions: Record<string, ExtensionConfig> = {};
  for (const [number, e] of Object.entries(raw.extensions)) {
    const secret = resolveSecret(number, e, realm, baseDir, env, (key, msg) => issues.push(at(['extensions', number, key], msg)));
    if (secret === undefined) continue;
    extensions[number] = { number, name: e.name, nodes: e.nodes, permissions: e.permissions, secret };
  }
  if (issues.length > 0) throw new ConfigError(issues);

  return {
    source: sourceName,
    baseDir,
    domain: raw.domain,
    realm,
    nodes: resolveNodes(raw, baseDir),
    extensions,
    registrar: raw.registrar,
    keepalive: raw.keepalive,
    overload: raw.overload,
    calls: raw.calls,
    sip: raw.sip,
  };
}

/**
 * Offsets of keys that repeat an earlier key of the same mapping (YAML 1.2 §3.2.1.1:
 * keys are unique), in document order. Scalar keys compare by value, as the
 * library does for scalars; other keys are left to the schema.
 */
function duplicateKeys(root: unknown): number[] {
  const found: number[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = pair.key as YamlNode | null;
        if (isScalar(key)) {
          if (seen.has(key.value)) found.push(key.range?.[0] ?? 0);
          seen.add(key.value);
        }
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
  return found.sort((a, b) => a - b);
}

/** The named node's section; ConfigError when the file has no such node. */
export function nodeConfig(config: Config, name: string): NodeConfig {
  const node = config.nodes[name];
  if (node === undefined) {
    throw new ConfigError([{ file: config.source, path: 'nodes', message: `no node "${name}" (known: ${Object.keys(config.nodes).join(', ')})` }]);
  }
  return node;
}

/** Extensions served by a node. */
export function extensionsOf(config: Config, nodeName: string): ExtensionConfig[] {
  return Object.values(config.extensions).filter((e) => e.nodes.includes(nodeName));
}

/**
 * A copy safe to print or log: passwords and HA1 values replaced by "***"
 * (the secret's source — env var name, file path — stays visible).
 */
export function redact(config: Config): Config {
  const extensions: Record<string, ExtensionConfig> = {};
  for (const [n, e] of Object.entries(config.extensions)) {
    const { password, ha1 } = e.secret;
    extensions[n] = {
      ...e,
      secret: {
        source: { ...e.secret.source },
        ...(password !== undefined ? { password: REDACTED } : {}),
        ha1: {
          ...(ha1.md5 !== undefined ? { md5: REDACTED } : {}),
          ...(ha1.sha256 !== undefined ? { sha256: REDACTED } : {}),
        },
      },
    };
  }
  return structuredClone({ ...config, extensions });
}

export const REDACTED = '***';

function resolveNodes(raw: RawConfig, baseDir: string): Record<string, NodeConfig> {
  const nodes: Record<string, NodeConfig> = {};
  for (const [name, n] of Object.entries(raw.nodes)) {
    nodes[name] = {
      name,
      role: n.role,
      ...(n.host !== undefined ? { host: n.host } : {}),
      domains: n.domains ?? [raw.domain],
      sip: n.sip.map((l) => ({ transport: l.transport, address: l.address, port: l.port ?? defaultPort(l.transport) })),
      ...(n.tls !== undefined ? { tls: { certFile: resolve(baseDir, n.tls.certFile), keyFile: resolve(baseDir, n.tls.keyFile) } } : {}),
      ...(n.admin !== undefined ? { admin: { ...n.admin } } : {}),
      rtp: { ...n.rtp },
      database: resolve(baseDir, n.database ?? `${name}.sqlite`),
    };
  }
  return nodes;
}

function resolveSecret(
  number: string,
  e: RawExtension,
  realm: string,
  baseDir: string,
  env: Readonly<Record<string, string | undefined>>,
  fail: (key: string, message: string) => void,
): ExtensionSecret | undefined {
  if (e.password !== undefined) return secretFromPassword({ kind: 'password' }, number, realm, e.password);
  if (e.passwordEnv !== undefined) {
    const v = env[e.passwordEnv];
    if (v === undefined || v === '') return void fail('passwordEnv', `environment variable ${e.passwordEnv} is not set`);
    return secretFromPassword({ kind: 'env', name: e.passwordEnv }, number, realm, v);
  }
  if (e.passwordFile !== undefined) {
    const path = resolve(baseDir, e.passwordFile);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      return void fail('passwordFile', `cannot read ${path} (${errnoText(err)})`);
    }
    const pw = passwordFromFile(text);
    if (pw === '') return void fail('passwordFile', `${path} is empty`);
    return secretFromPassword({ kind: 'file', path }, number, realm, pw);
  }
  if (e.ha1 !== undefined) {
    return {
      source: { kind: 'ha1' },
      ha1: {
        ...(e.ha1.md5 !== undefined ? { md5: e.ha1.md5.toLowerCase() } : {}),
        ...(e.ha1.sha256 !== undefined ? { sha256: e.ha1.sha256.toLowerCase() } : {}),
      },
    };
  }
  return undefined; // unreachable: the schema demands exactly one secret
}

function zodIssue(iss: z.core.$ZodIssue, at: (path: readonly PropertyKey[], message: string, atKey?: boolean) => ConfigIssue): ConfigIssue {
  if (iss.code === 'unrecognized_keys' && iss.keys.length > 0) return at([...iss.path, iss.keys[0]], iss.message, true);
  if (iss.code === 'invalid_key') return at(iss.path, iss.issues[0]?.message ?? iss.message, true);
  return at(iss.path, iss.message);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function errnoText(err: unknown): string {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : String(err);
}
