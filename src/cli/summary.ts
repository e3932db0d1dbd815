/**
 * Human-readable summary of a (redacted) config for `check-config`.
 * Takes the redacted copy so a secret can never reach the terminal.
 */
import type { Config, NodeConfig } from '../node/config.ts';

export function summarize(redacted: Config, onlyNode?: string): string {
  const lines: string[] = [];
  lines.push(`config ${redacted.source}: OK`);
  lines.push(`domain ${redacted.domain} (realm ${redacted.realm})`);
  lines.push(`base dir ${redacted.baseDir}`);
  const nodes = Object.values(redacted.nodes).filter((n) => onlyNode === undefined || n.name === onlyNode);
  for (const n of nodes) lines.push(...nodeLines(n, redacted));
  lines.push(
    `registrar expires min ${redacted.registrar.minExpires}s / default ${redacted.registrar.defaultExpires}s / max ${redacted.registrar.maxExpires}s; ` +
      `keepalive every ${redacted.keepalive.intervalSec}s, ${redacted.keepalive.maxFailures} failures; ` +
      `ring timeout ${redacted.calls.ringTimeoutSec}s; T1 ${redacted.sip.t1}ms T2 ${redacted.sip.t2}ms T4 ${redacted.sip.t4}ms`,
  );
  return lines.join('\n');
}

function nodeLines(n: NodeConfig, c: Config): string[] {
  const out = [`node ${n.name} (${n.role}${n.host !== undefined ? `, ${n.host}` : ''}) domains ${n.domains.join(', ')}`];
  out.push(`  sip   ${n.sip.map((l) => `${l.transport}:${l.address}:${l.port}`).join('  ')}`);
  if (n.tls !== undefined) out.push(`  tls   cert ${n.tls.certFile} key ${n.tls.keyFile}`);
  if (n.admin !== undefined) out.push(`  admin http://${n.admin.address.includes(':') ? `[${n.admin.address}]` : n.admin.address}:${n.admin.port}`);
  out.push(`  rtp   ${n.rtp.address} ${n.rtp.minPort}-${n.rtp.maxPort}`);
  out.push(`  db    ${n.database}`);
  const exts = Object.values(c.extensions).filter((e) => e.nodes.includes(n.name));
  for (const e of exts) {
    const src = e.secret.source;
    const secret = src.kind === 'env' ? `env ${src.name}` : src.kind === 'file' ? `file ${src.path}` : src.kind;
    const perms = [e.permissions.external ? 'external' : 'internal-only', ...(e.permissions.international ? ['international'] : [])].join(',');
    out.push(`  ext   ${e.number}${e.name !== undefined ? ` "${e.name}"` : ''} secret=${secret} ${perms}`);
  }
  return out;
}
