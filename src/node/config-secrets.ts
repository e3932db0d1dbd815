/**
 * Extension secrets: where they come from and the digest HA1 values derived
 * from them. HA1 = H(username ":" realm ":" password) (RFC 2617 §3.2.2.2,
 * RFC 7616 §3.4.2); storing only HA1 keeps the clear password off the node.
 */
import { createHash } from 'node:crypto';

export type DigestAlgorithm = 'md5' | 'sha256';

export function computeHa1(username: string, realm: string, password: string, algorithm: DigestAlgorithm): string {
  const h = createHash(algorithm === 'md5' ? 'md5' : 'sha256');
  h.update(`${username}:${realm}:${password}`, 'utf8');
  return h.digest('hex');
}

/** Where an extension's secret came from (safe to display). */
export type SecretSource =
  | { kind: 'password' }
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'ha1' };

export interface ExtensionSecret {
  source: SecretSource;
  /** Clear password, when the source provides one (password, env, file). */
  password?: string;
  /** Digest HA1 per algorithm, lower-case hex; computed from the password when there is one. */
  ha1: { md5?: string; sha256?: string };
}

/**
 * Reads a password file: one line; a single trailing newline (as `echo` or a
 * Docker/Kubernetes secret writes it) is not part of the password.
 */
export function passwordFromFile(text: string): string {
  return text.replace(/\r?\n$/, '');
}

export function secretFromPassword(source: SecretSource, username: string, realm: string, password: string): ExtensionSecret {
  return {
    source,
    password,
    ha1: { md5: computeHa1(username, realm, password, 'md5'), sha256: computeHa1(username, realm, password, 'sha256') },
  };
}
