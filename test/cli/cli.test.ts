import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'spacephone.mjs');
const labYaml = join(root, 'src', 'lab', 'lab.yaml');
const dir = mkdtempSync(join(tmpdir(), 'spacephone-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const BROKEN = `domain: example.test
nodes:
  nl:
    role: public
    sip: [{ transport: udp, address: 127.0.0.11 }]
    rtp: { address: 127.0.0.11, minPort: 20000, maxPort: 20999 }
extensions:
  "2001":
    name: Alice
    nodes: [nl]
`;

describe('spacephone CLI', { concurrency: true }, () => {
  it('check-config MUST exit 2 and print file:line:col and path for a broken file', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, BROKEN);
    const r = await cli(['check-config', file]);
    assert.equal(r.code, 2);
    assert.ok(r.stderr.includes(`${file}:9:5: extensions.2001.password: required`), r.stderr);
    assert.equal(r.stdout, '');
  });

  it('check-config MUST accept lab.yaml and print a summary without any password', async () => {
    const r = await cli(['check-config', labYaml]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: OK\n/);
    assert.match(r.stdout, /node space \(internal/);
    assert.match(r.stdout, /udp:127\.0\.0\.12:5060/);
    assert.doesNotMatch(r.stdout, /lab-2001|lab-100/);
  });

  it('check-config --json MUST print the resolved config with secrets redacted', async () => {
    const r = await cli(['check-config', labYaml, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const parsed = JSON.parse(r.stdout) as { extensions: Record<string, { secret: { password?: string; ha1: { md5?: string } } }> };
    assert.equal(parsed.extensions['2001'].secret.password, '***');
    assert.equal(parsed.extensions['2001'].secret.ha1.md5, '***');
  });

  it('start MUST exit 2 on a config error and on an unknown node name', async () => {
    const broken = await cli(['start', '--config', join(dir, 'missing.yaml'), '--node', 'nl']);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /missing\.yaml: cannot read config file \(ENOENT\)/);
    const unknown = await cli(['start', '--config', labYaml, '--node', 'fr']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no node "fr" \(known: nl, de, space\)/);
  });

  it('MUST exit 2 on a usage error', async () => {
    const r = await cli(['start', '--config', labYaml]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /required option '-n, --node <name>'/);
  });

  it('hash-password MUST print the RFC 2617 §3.5 HA1 and read --password-stdin', async () => {
    const r = await cli(['hash-password', '--user', 'Mufasa', '--realm', 'testrealm@host.com', '--password', 'Circle Of Life']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^md5: 939e7578ed9e3c518a452acee763bce9\nsha256: [0-9a-f]{64}\n$/);
    const s = await cli(['hash-password', '-u', 'Mufasa', '-r', 'testrealm@host.com', '--password-stdin'], 'Circle Of Life\n');
    assert.equal(s.stdout, r.stdout);
    const none = await cli(['hash-password', '-u', 'Mufasa', '-r', 'testrealm@host.com']);
    assert.equal(none.code, 2);
  });
});
