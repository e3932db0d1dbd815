/**
 * Shared set-up for the real-phone interop tests: a one-node federation on
 * loopback (addresses 127.0.0.60–79, ports 16000–17999, see docs/interop.md) and
 * small helpers to look at the node and at recordings.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type Config } from '../../../src/node/config.ts';
import { PbxNode } from '../../../src/node/node.ts';
import { createLogger } from '../../../src/util/log.ts';
import { dominantFrequency, toneEnergy } from '../../../src/media/tone.ts';
import type { WavAudio } from '../../../src/media/wav.ts';

export const DOMAIN = 'phones.spacephone.test';

export interface FederationOptions {
  nodeAddress: string;
  sipPort: number;
  adminPort: number;
  rtp: [number, number];
  /** Extension number → password. */
  extensions: Record<string, string>;
  database: string;
  registrar?: { minExpires: number; maxExpires: number; defaultExpires: number };
  /** RFC 3261 T1, ms (default 500); shorter lets transactions end within a test (64·T1). */
  t1?: number;
}

/**
 * The config of a one-node federation `n1`. Digest offers MD5 only: baresip 1.0.0
 * fails on any non-MD5 challenge (docs/interop.md).
 */
export function federationYaml(o: FederationOptions): string {
  const exts = Object.entries(o.extensions)
    .map(([n, pw]) => `  "${n}": { name: Phone ${n}, password: ${pw}, nodes: [n1] }`)
    .join('\n');
  const reg = o.registrar ?? { minExpires: 60, maxExpires: 3600, defaultExpires: 600 };
  return [
    `domain: ${DOMAIN}`,
    'nodes:',
    '  n1:',
    '    role: public',
    '    sip:',
    `      - { transport: udp, address: ${o.nodeAddress}, port: ${o.sipPort} }`,
    `    admin: { address: ${o.nodeAddress}, port: ${o.adminPort} }`,
    `    rtp: { address: ${o.nodeAddress}, minPort: ${o.rtp[0]}, maxPort: ${o.rtp[1]} }`,
    `    database: ${o.database}`,
    'extensions:',
    exts,
    `registrar: { minExpires: ${reg.minExpires}, maxExpires: ${reg.maxExpires}, defaultExpires: ${reg.defaultExpires} }`,
    'keepalive: { intervalSec: 25, maxFailures: 3 }',
    `sip: { digestAlgorithms: [MD5], t1: ${o.t1 ?? 500} }`,
    '',
  ].join('\n');
}

/** A temp dir holding the YAML and the SQLite database; `remove()` deletes it. */
export interface FederationFiles {
  dir: string;
  configPath: string;
  config: Config;
  remove(): void;
}

export function writeFederation(o: Omit<FederationOptions, 'database'>): FederationFiles {
  const dir = mkdtempSync(join(tmpdir(), 'spacephone-phones-'));
  const yaml = federationYaml({ ...o, database: join(dir, 'n1.sqlite') });
  const configPath = join(dir, 'federation.yaml');
  writeFileSync(configPath, yaml);
  const config = parseConfig(yaml, configPath, { baseDir: dir });
  return { dir, configPath, config, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startNode(files: FederationFiles): Promise<PbxNode> {
  // Quiet by default; SPACEPHONE_LOG_LEVEL=trace shows the SIP exchange.
  const logger = createLogger({ node: 'n1', level: process.env.SPACEPHONE_LOG_LEVEL ?? 'warn' });
  const node = new PbxNode({ config: files.config, nodeName: 'n1', logger });
  await node.start();
  return node;
}

/** RTP packets the node's relay has received per leg (a = caller, b = callee), summed over live calls (GET /api/calls data). */
export function relayPacketsIn(node: PbxNode): { a: number; b: number } {
  let a = 0;
  let b = 0;
  for (const c of node.calls.calls()) {
    a += c.media?.aToB.packets ?? 0;
    b += c.media?.bToA.packets ?? 0;
  }
  return { a, b };
}

/** Polls `cond` every 50 ms until true or `timeoutMs` passes. */
/** Deadline-bounded wait (test/support/wait.ts). */
export { waitFor as until, sleep } from '../../support/wait.ts';

export interface ToneCheck {
  dominant: number | undefined;
  seconds: number;
  /** Goertzel energy at the expected frequency over that at the other one. */
  ratio: number;
}

/** Which of the two test tones dominates a recording, and by how much. */
export function checkTone(audio: WavAudio, expected: number, other: number): ToneCheck {
  const s = audio.samples;
  // Skip the first 200 ms (jitter buffer fill, codec start).
  const body = s.subarray(Math.min(s.length, Math.round(audio.sampleRate * 0.2)));
  const dominant = dominantFrequency(body, [expected, other], { sampleRate: audio.sampleRate, minEnergy: 1000 });
  const ratio = toneEnergy(body, expected, audio.sampleRate) / Math.max(1e-9, toneEnergy(body, other, audio.sampleRate));
  return { dominant, seconds: s.length / audio.sampleRate, ratio };
}
