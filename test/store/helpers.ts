import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Binding } from '../../src/store/location-store.ts';

/** A fresh temp directory; call the returned cleanup in after(). */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'spacephone-store-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function binding(over: Partial<Binding> = {}): Binding {
  return {
    aor: '2001@lab.spacephone.test',
    contact: '<sip:2001@192.0.2.10:5062;transport=udp>',
    q: 1,
    expiresAt: 1_000_000 + 600_000,
    callId: 'a84b4c76e66710@pc33',
    cseq: 1,
    path: [],
    flow: { transport: 'udp', address: '192.0.2.10', port: 5062, localAddress: '127.0.0.11', localPort: 5060 },
    updatedAt: 1_000_000,
    failures: 0,
    reachable: true,
    node: 'nl',
    ...over,
  };
}
