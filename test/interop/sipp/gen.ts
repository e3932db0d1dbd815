/**
 * Generators for the SIPp-against-the-PBX runs (test/interop/sipp-pbx.test.ts and
 * bench/pbx.ts): a node config with N extensions, SIPp injection CSVs, and the
 * same users as Kamailio db_text tables for the same-run reference.
 *
 * Users are numbers `first .. first+count-1`; the password of user N is `pw-N`.
 * SIPp computes the digest itself from the `[authentication ...]` keyword, which
 * is put whole into a CSV field (the reliable way with SIPp 3.6, INTEROP.md).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directory holding the scenario XML files. */
export const SCENARIO_DIR = dirname(fileURLToPath(import.meta.url));

export function scenario(name: 'register-auth' | 'uas' | 'uac-auth'): string {
  return join(SCENARIO_DIR, `${name}.xml`);
}

export function passwordOf(user: number): string {
  return `pw-${user}`;
}

export function users(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

export interface PbxConfigOptions {
  nodeName: string;
  /** IP of the node's UDP listener; also the SIP domain, so AORs are user@address. */
  address: string;
  port: number;
  rtp: { minPort: number; maxPort: number };
  database: string;
  firstUser: number;
  userCount: number;
  admin?: { address: string; port: number };
  /** Keep-alive OPTIONS would hit SIPp instances that do not expect them: ping rarely. */
  keepaliveSec?: number;
}

/** A one-node config (docs/config.md) with `userCount` extensions, passwords inline. */
export function pbxConfigYaml(o: PbxConfigOptions): string {
  const lines = [
    `domain: ${o.address}`,
    'nodes:',
    `  ${o.nodeName}:`,
    '    role: public',
    `    sip: [{ transport: udp, address: ${o.address}, port: ${o.port} }]`,
    `    rtp: { address: ${o.address}, minPort: ${o.rtp.minPort}, maxPort: ${o.rtp.maxPort} }`,
    `    database: ${JSON.stringify(o.database)}`,
  ];
  if (o.admin) lines.push(`    admin: { address: ${o.admin.address}, port: ${o.admin.port} }`);
  lines.push('extensions:');
  for (const u of users(o.firstUser, o.userCount)) lines.push(`  "${u}": { password: ${passwordOf(u)}, nodes: [${o.nodeName}] }`);
  lines.push(
    'registrar: { minExpires: 60, maxExpires: 3600, defaultExpires: 3600 }',
    `keepalive: { intervalSec: ${o.keepaliveSec ?? 3600}, maxFailures: 3 }`,
    'calls: { ringTimeoutSec: 30, maxForwards: 70 }',
    'sip: { t1: 500, t2: 4000, t4: 5000, userAgent: spacephone-sipp, digestAlgorithms: [MD5] }',
    '',
  );
  return lines.join('\n');
}

function auth(user: number, password: string): string {
  return `[authentication username=${user} password=${password}]`;
}

/**
 * Injection file for register-auth.xml: `user;[authentication ...];contact-host:port`.
 * `contact` is where the binding points (e.g. the SIPp UAS that answers for the user).
 */
export function registerCsv(list: readonly number[], contact: string, password: (u: number) => string = passwordOf): string {
  return ['SEQUENTIAL', ...list.map((u) => `${u};${auth(u, password(u))};${contact}`), ''].join('\n');
}

/**
 * Injection file for uac-auth.xml: `caller;[authentication ...];callee`, one call a line.
 * SIPp 3.6 computes the digest-uri as `sip:remote_ip:remote_port`, not from the
 * Request-URI; a server that checks the digest-uri against the Request-URI
 * (RFC 3261 §22.4, RFC 7616 §3.4.6; ours does) answers 400. SIPp's only fix is the
 * global `-auth_uri callee@host:port`, so every call of one SIPp run goes to one callee.
 */
export function uacCsv(callers: readonly number[], callee: number): string {
  return ['SEQUENTIAL', ...callers.map((a) => `${a};${auth(a, passwordOf(a))};${callee}`), ''].join('\n');
}

/** The `-auth_uri` SIPp needs for calls to `callee` at `node` (host:port); SIPp prepends `sip:`. */
export function authUri(callee: number, node: string): string {
  return `${callee}@${node}`;
}

/**
 * Kamailio htable db_text table `pw` (key = username, value = password), loaded
 * into shared memory at start (bench/kamailio/kamailio.cfg), plus db_text's
 * `version` table.
 */
export function writeKamailioDb(dir: string, list: readonly number[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'version'), 'table_name(str) table_version(int)\nhtable:2\n');
  const rows = list.map((u) => `${u}:0:0:${passwordOf(u)}:0`);
  writeFileSync(join(dir, 'htable'), ['key_name(str) key_type(int) value_type(int) key_value(str) expires(int)', ...rows, ''].join('\n'));
}

export function writeFiles(files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}
