import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, computeHa1, extensionsOf, loadConfig, nodeConfig, parseConfig, redact, type Config } from '../../src/node/config.ts';

/** A minimal valid config; tests splice broken lines into it. Line numbers matter. */
const BASE = [
  'domain: example.test', // 1
  'nodes:', // 2
  '  nl:', // 3
  '    role: public', // 4
  '    sip:', // 5
  '      - { transport: udp, address: 127.0.0.11, port: 5060 }', // 6
  '    rtp: { address: 127.0.0.11, minPort: 20000, maxPort: 20999 }', // 7
  '  de:', // 8
  '    role: public', // 9
  '    sip:', // 10
  '      - { transport: udp, address: 127.0.0.12 }', // 11
  '    rtp: { address: 127.0.0.12, minPort: 21000, maxPort: 21999 }', // 12
  'extensions:', // 13
  '  "2001":', // 14
  '    name: Alice', // 15
  '    password: lab-2001', // 16
  '    nodes: [nl, de]', // 17
];

function text(lines: string[]): string {
  return lines.join('\n') + '\n';
}

function replaced(lineNo: number, ...lines: string[]): string {
  const copy = [...BASE];
  copy.splice(lineNo - 1, 1, ...lines);
  return text(copy);
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'CONFIG');
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('config validation', () => {
  it('MUST accept a minimal config and apply documented defaults', () => {
    const c = parseConfig(text(BASE), 'lab.yaml', { configDir: '/etc/spacephone' });
    assert.equal(c.realm, 'example.test');
    assert.deepEqual(c.registrar, { minExpires: 60, maxExpires: 3600, defaultExpires: 600 });
    assert.deepEqual(c.keepalive, { intervalSec: 25, maxFailures: 3 });
    assert.deepEqual(c.calls, { ringTimeoutSec: 30, maxForwards: 70 });
    assert.deepEqual(c.sip, { t1: 500, t2: 4000, t4: 5000, userAgent: 'spacephone', digestAlgorithms: ['MD5'] });
    assert.equal(c.nodes.de.sip[0].port, 5060, 'udp listener defaults to 5060');
    assert.deepEqual(c.nodes.nl.domains, ['example.test']);
    assert.equal(c.nodes.nl.database, '/etc/spacephone/nl.sqlite');
    assert.deepEqual(c.extensions['2001'].permissions, { external: true, international: false });
    assert.deepEqual(extensionsOf(c, 'de').map((e) => e.number), ['2001']);
  });

  it('MUST name file:line:col and path when an extension has no secret', () => {
    const err = configError(() => parseConfig(replaced(16), 'lab.yaml'));
    assert.equal(err.issues.length, 1);
    assert.match(err.message, /^lab\.yaml:15:5: extensions\.2001\.password: required/);
  });

  it('MUST reject two secrets at once, pointing at the second', () => {
    const err = configError(() => parseConfig(replaced(16, '    password: lab-2001', '    passwordEnv: EXT_2001'), 'lab.yaml'));
    assert.match(err.message, /^lab\.yaml:17:18: extensions\.2001\.passwordEnv: only one of password, passwordEnv, passwordFile, ha1/);
  });

  it('MUST reject an extension that lists an unknown node', () => {
    const err = configError(() => parseConfig(replaced(17, '    nodes: [nl, space]'), 'lab.yaml'));
    assert.match(err.message, /^lab\.yaml:17:17: extensions\.2001\.nodes\[1\]: unknown node "space" \(known: nl, de\)$/);
  });

  it('MUST reject a port outside 1..65535 at the port value', () => {
    const err = configError(() => parseConfig(replaced(6, '      - { transport: udp, address: 127.0.0.11, port: 70000 }'), 'lab.yaml'));
    assert.equal(err.message, 'lab.yaml:6:54: nodes.nl.sip[0].port: must be <= 65535');
  });

  it('MUST reject an unknown transport and list the valid ones', () => {
    const err = configError(() => parseConfig(replaced(11, '      - { transport: sctp, address: 127.0.0.12 }'), 'lab.yaml'));
    assert.equal(err.message, 'lab.yaml:11:22: nodes.de.sip[0].transport: must be one of udp, tcp, tls');
  });

  it('MUST reject unknown keys (typos) at the key', () => {
    const err = configError(() => parseConfig(text([...BASE, 'registrar: { maxExpire: 10 }']), 'lab.yaml'));
    assert.equal(err.message, 'lab.yaml:18:14: registrar.maxExpire: unknown key "maxExpire"');
  });

  it('MUST require tls files when a tls listener is configured', () => {
    const err = configError(() => parseConfig(replaced(11, '      - { transport: tls, address: 127.0.0.12 }'), 'lab.yaml'));
    assert.match(err.message, /^lab\.yaml:9:5: nodes\.de\.tls: required when a tls listener/);
  });

  it('MUST reject inconsistent registrar expiry bounds and non-IP addresses', () => {
    const err = configError(() =>
      parseConfig(text([...replaced(6, '      - { transport: udp, address: nl.example.test }').trimEnd().split('\n'), 'registrar: { minExpires: 600, maxExpires: 300 }']), 'x.yaml'),
    );
    assert.ok(err.issues.some((i) => i.path === 'nodes.nl.sip[0].address' && i.line === 6));
    assert.ok(err.issues.some((i) => i.path === 'registrar.maxExpires' && i.message === 'must be >= minExpires'));
  });

  it('MUST report YAML syntax errors with their position and without echoing source text', () => {
    const err = configError(() => parseConfig('domain: x\nnodes: [a\npassword: hunter2\n', 's.yaml'));
    assert.match(err.issues[0].message, /^YAML: /);
    assert.equal(err.issues[0].file, 's.yaml');
    assert.ok(err.issues[0].line !== undefined);
    assert.doesNotMatch(err.message, /hunter2/);
  });

  it('MUST NOT echo a secret value in a type error', () => {
    const err = configError(() => parseConfig(replaced(16, '    password: [hunter2]'), 'lab.yaml'));
    assert.equal(err.message, 'lab.yaml:16:15: extensions.2001.password: expected string, got list');
  });

  it('MUST name the file when it cannot be read', () => {
    const err = configError(() => loadConfig('/nonexistent/spacephone.yaml'));
    assert.match(err.message, /^\/nonexistent\/spacephone\.yaml: cannot read config file \(ENOENT\)$/);
  });

  it('MUST report an unknown node name passed to nodeConfig', () => {
    const c = parseConfig(text(BASE), 'lab.yaml');
    assert.equal(nodeConfig(c, 'de').name, 'de');
    assert.match(configError(() => nodeConfig(c, 'fr')).message, /no node "fr" \(known: nl, de\)/);
  });
});

describe('config secrets', () => {
  it('MUST derive digest HA1 (RFC 7616 §3.4.2) from a clear password with realm = domain', () => {
    const c = parseConfig(text(BASE), 'lab.yaml');
    const s = c.extensions['2001'].secret;
    assert.equal(s.password, 'lab-2001');
    assert.equal(s.ha1.md5, computeHa1('2001', 'example.test', 'lab-2001', 'md5'));
    assert.equal(s.ha1.sha256, computeHa1('2001', 'example.test', 'lab-2001', 'sha256'));
    // RFC 2617 §3.5 example: HA1 of Mufasa:testrealm@host.com:Circle Of Life.
    assert.equal(computeHa1('Mufasa', 'testrealm@host.com', 'Circle Of Life', 'md5'), '939e7578ed9e3c518a452acee763bce9');
    assert.match(computeHa1('Mufasa', 'testrealm@host.com', 'Circle Of Life', 'sha256'), /^[0-9a-f]{64}$/);
  });

  it('MUST read passwordEnv from the environment and fail at the key when unset', () => {
    const yaml = replaced(16, '    passwordEnv: EXT_2001_PASSWORD');
    const c = parseConfig(yaml, 'lab.yaml', { env: { EXT_2001_PASSWORD: 's3cret' } });
    assert.equal(c.extensions['2001'].secret.password, 's3cret');
    assert.deepEqual(c.extensions['2001'].secret.source, { kind: 'env', name: 'EXT_2001_PASSWORD' });
    const err = configError(() => parseConfig(yaml, 'lab.yaml', { env: {} }));
    assert.equal(err.message, 'lab.yaml:16:18: extensions.2001.passwordEnv: environment variable EXT_2001_PASSWORD is not set');
  });

  it('MUST read passwordFile relative to the config directory, dropping one trailing newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spacephone-config-'));
    try {
      writeFileSync(join(dir, 'secret-2001'), 'file pass \n');
      writeFileSync(join(dir, 'sp.yaml'), replaced(16, '    passwordFile: secret-2001'));
      const c = loadConfig(join(dir, 'sp.yaml'));
      assert.equal(c.extensions['2001'].secret.password, 'file pass ');
      assert.deepEqual(c.extensions['2001'].secret.source, { kind: 'file', path: join(dir, 'secret-2001') });
      writeFileSync(join(dir, 'bad.yaml'), replaced(16, '    passwordFile: missing'));
      assert.match(configError(() => loadConfig(join(dir, 'bad.yaml'))).message, /bad\.yaml:16:19: extensions\.2001\.passwordFile: cannot read .*missing \(ENOENT\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('MUST accept precomputed HA1 values and validate their length', () => {
    const md5 = computeHa1('2001', 'example.test', 'x', 'md5').toUpperCase();
    const c = parseConfig(replaced(16, `    ha1: { md5: ${md5} }`), 'lab.yaml');
    assert.deepEqual(c.extensions['2001'].secret.ha1, { md5: md5.toLowerCase() });
    assert.equal(c.extensions['2001'].secret.password, undefined);
    const err = configError(() => parseConfig(replaced(16, '    ha1: { md5: abc }'), 'lab.yaml'));
    assert.equal(err.message, 'lab.yaml:16:17: extensions.2001.ha1.md5: must be 32 hex digits');
  });

  it('MUST hide every password and HA1 in redact() while keeping the source visible', () => {
    const yaml = text([...BASE, '  "2002": { passwordEnv: P2002, nodes: [nl] }', `  "2003": { ha1: { sha256: ${'a'.repeat(64)} }, nodes: [de] }`]);
    const c = parseConfig(yaml, 'lab.yaml', { env: { P2002: 'envsecret' } });
    const shown = JSON.stringify(redact(c));
    for (const secret of ['lab-2001', 'envsecret', 'a'.repeat(64), c.extensions['2001'].secret.ha1.md5 ?? 'x', c.extensions['2002'].secret.ha1.sha256 ?? 'x']) {
      assert.ok(!shown.includes(secret), `redacted output leaks ${secret}`);
    }
    assert.match(shown, /P2002/);
    const r: Config = redact(c);
    assert.equal(r.extensions['2001'].secret.password, '***');
    assert.equal(c.extensions['2001'].secret.password, 'lab-2001', 'redact must not modify its input');
  });
});

describe('config paths', () => {
  it('MUST resolve relative paths against baseDir, relative to the config directory, unless baseDirEnv is set', () => {
    const yaml = text([...BASE, 'baseDir: ../state', 'baseDirEnv: SP_STATE']);
    assert.equal(parseConfig(yaml, 'x.yaml', { configDir: '/etc/sp', env: {} }).nodes.nl.database, '/etc/state/nl.sqlite');
    assert.equal(parseConfig(yaml, 'x.yaml', { configDir: '/etc/sp', env: { SP_STATE: '' } }).nodes.nl.database, '/etc/state/nl.sqlite');
    assert.equal(parseConfig(yaml, 'x.yaml', { configDir: '/etc/sp', env: { SP_STATE: '/var/lib/sp' } }).nodes.nl.database, '/var/lib/sp/nl.sqlite');
    assert.equal(parseConfig(yaml, 'x.yaml', { configDir: '/etc/sp', env: { SP_STATE: '/var/lib/sp' }, baseDir: '/opt' }).baseDir, '/opt');
  });
});

describe('lab.yaml', () => {
  it('MUST put databases and TLS files in the lab directory the runner passes (SPACEPHONE_LAB_DIR)', () => {
    const c = loadConfig(new URL('../../src/lab/lab.yaml', import.meta.url).pathname, { env: { SPACEPHONE_LAB_DIR: '/tmp/my-lab' } });
    assert.equal(c.nodes.de.database, '/tmp/my-lab/de.sqlite');
    assert.deepEqual(c.nodes.nl.tls, { certFile: '/tmp/my-lab/tls/lab-cert.pem', keyFile: '/tmp/my-lab/tls/lab-key.pem' });
  });

  it('MUST validate and match the lab contract of DESIGN.md §6', () => {
    const c = loadConfig(new URL('../../src/lab/lab.yaml', import.meta.url).pathname, { env: {} });
    assert.equal(c.baseDir, fileURLToPath(new URL('../../.lab', import.meta.url)), 'default lab dir: .lab in the repository root');
    assert.deepEqual(Object.keys(c.nodes), ['nl', 'de', 'space']);
    const ips = { nl: '127.0.0.11', de: '127.0.0.12', space: '127.0.0.13' } as const;
    for (const [name, ip] of Object.entries(ips)) {
      const n = c.nodes[name];
      assert.deepEqual(n.sip.map((l) => `${l.transport}:${l.address}:${l.port}`), [`udp:${ip}:5060`, `tcp:${ip}:5060`, `tls:${ip}:5061`]);
      assert.deepEqual(n.admin, { address: ip, port: 8080 });
      assert.ok(n.database.endsWith(`/.lab/${name}.sqlite`));
    }
    assert.equal(c.nodes.space.role, 'internal');
    const ranges = Object.values(c.nodes).map((n) => [n.rtp.minPort, n.rtp.maxPort]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i][0] > ranges[i - 1][1], 'RTP ranges must not overlap');
    for (const n of ['2001', '2002', '2003', '2004']) {
      assert.equal(c.extensions[n].secret.password, `lab-${n}`);
      assert.deepEqual(c.extensions[n].nodes, ['nl', 'de']);
    }
    for (const n of ['100', '101', '102', '103', '104']) {
      assert.equal(c.extensions[n].secret.password, `lab-${n}`);
      assert.deepEqual(c.extensions[n].nodes, ['space']);
    }
  });
});
