/**
 * The lab's self-signed TLS certificate for the 5061 listeners (RFC 3261 §26.2,
 * sips:). Generated once with the openssl CLI into <dir>/tls/ and reused; the
 * lab config (src/lab/lab.yaml) points every node at these two files. The
 * subjectAltName covers the lab domain, every node name and address, so a phone
 * that is told to trust the file can validate any node.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LabSetupError } from './errors.ts';
import { LAB_DOMAIN, LAB_NODES } from './topology.ts';

export interface LabCert {
  certFile: string;
  keyFile: string;
  /** False when existing files were reused. */
  created: boolean;
}

export async function ensureLabCert(dir: string): Promise<LabCert> {
  const tlsDir = join(dir, 'tls');
  const certFile = join(tlsDir, 'lab-cert.pem');
  const keyFile = join(tlsDir, 'lab-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile, created: false };
  await mkdir(tlsDir, { recursive: true });
  const san = [
    `DNS:${LAB_DOMAIN}`, `DNS:*.${LAB_DOMAIN}`,
    ...LAB_NODES.map((n) => `IP:${n.address}`), 'IP:127.0.0.1',
  ].join(',');
  const args = [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
    '-keyout', keyFile, '-out', certFile,
    '-subj', `/O=spacephone lab/CN=${LAB_DOMAIN}`,
    '-addext', `subjectAltName=${san}`,
  ];
  await new Promise<void>((resolve, reject) => {
    execFile('openssl', args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err) reject(new LabSetupError(`openssl could not create the lab TLS certificate: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });
  return { certFile, keyFile, created: true };
}
