/**
 * Where the torture-test vectors live: `SIP_VECTORS_DIR`, else `shared/vectors`
 * beside the repository (a CI clone has shared/ next to it, as /work has).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from this file's location (test/support/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const VECTORS_DIR = process.env.SIP_VECTORS_DIR ?? resolve(REPO_ROOT, '../shared/vectors');

/** Directory of one vector set, e.g. `vectorsDir('rfc4475')`. */
export function vectorsDir(set: 'rfc4475' | 'rfc5118'): string {
  return resolve(VECTORS_DIR, set);
}
