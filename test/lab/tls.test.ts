import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { ensureLabCert } from '../../src/lab/tls.ts';

describe('lab TLS certificate', () => {
  it('MUST create a usable self-signed certificate covering every node name and address, then reuse it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spacephone-tls-'));
    try {
      const c = await ensureLabCert(dir);
      assert.equal(c.created, true);
      assert.equal(c.certFile, join(dir, 'tls', 'lab-cert.pem'));
      const pem = readFileSync(c.certFile);
      const x = new X509Certificate(pem);
      for (const name of ['DNS:lab.spacephone.test', 'DNS:*.lab.spacephone.test', 'IP Address:127.0.0.11', 'IP Address:127.0.0.12', 'IP Address:127.0.0.13']) {
        assert.ok(x.subjectAltName?.includes(name), `${name} in ${x.subjectAltName}`);
      }
      assert.equal(x.checkHost('nl.lab.spacephone.test'), '*.lab.spacephone.test');
      assert.equal(x.checkIP('127.0.0.13'), '127.0.0.13');
      assert.doesNotThrow(() => tls.createSecureContext({ cert: pem, key: readFileSync(c.keyFile) }));
      const mtime = statSync(c.certFile).mtimeMs;
      const again = await ensureLabCert(dir);
      assert.equal(again.created, false);
      assert.equal(statSync(c.certFile).mtimeMs, mtime);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
