import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLocationStore } from '../../../src/pbx/location/memory-store.ts';
import type { Binding } from '../../../src/store/location-store.ts';

function binding(over: Partial<Binding> = {}): Binding {
  return {
    aor: '100@pbx.test', contact: 'sip:100@127.0.0.1:5062', q: 1, expiresAt: 2_000_000, callId: 'c1', cseq: 1, path: [],
    flow: { transport: 'udp', address: '127.0.0.1', port: 5062, localAddress: '127.0.0.1', localPort: 5060 },
    updatedAt: 1_000_000, failures: 0, reachable: true, node: 'nl', ...over,
  };
}

describe('MemoryLocationStore', () => {
  it('MUST identify a binding by (aor, contact) and replace it on save', () => {
    const s = new MemoryLocationStore();
    s.save(binding());
    s.save(binding({ cseq: 2 }));
    s.save(binding({ contact: 'sip:100@127.0.0.1:5064' }));
    const got = s.bindings('100@pbx.test', 1_000_000);
    assert.equal(got.length, 2);
    assert.equal(got.find((b) => b.contact === 'sip:100@127.0.0.1:5062')?.cseq, 2);
  });

  it('MUST hide expired bindings and delete them on purgeExpired', () => {
    const s = new MemoryLocationStore();
    s.save(binding({ expiresAt: 1_500_000 }));
    s.save(binding({ contact: 'sip:b@127.0.0.1', expiresAt: 3_000_000 }));
    assert.equal(s.bindings('100@pbx.test', 1_500_000).length, 1);
    assert.equal(s.all(1_500_000).length, 1);
    assert.equal(s.count(1_500_000), 1, 'count() counts what all() lists');
    assert.equal(s.count(0), 2);
    assert.equal(s.purgeExpired(1_500_000), 1);
    assert.equal(s.purgeExpired(1_500_000), 0);
    assert.equal(s.bindings('100@pbx.test', 0).length, 1);
  });

  it('MUST order bindings highest q first', () => {
    const s = new MemoryLocationStore();
    s.save(binding({ contact: 'sip:a@127.0.0.1', q: 0.1 }));
    s.save(binding({ contact: 'sip:b@127.0.0.1', q: 0.9 }));
    s.save(binding({ contact: 'sip:c@127.0.0.1', q: 0.5 }));
    assert.deepEqual(s.bindings('100@pbx.test', 0).map((b) => b.q), [0.9, 0.5, 0.1]);
  });

  it('MUST NOT let callers mutate stored bindings through returned objects', () => {
    const s = new MemoryLocationStore();
    const b = binding();
    s.save(b);
    b.cseq = 99;
    s.bindings('100@pbx.test', 0)[0].flow.port = 1;
    const got = s.bindings('100@pbx.test', 0)[0];
    assert.equal(got.cseq, 1);
    assert.equal(got.flow.port, 5062);
  });

  it('MUST remove one binding, all of an AOR, and everything on close', () => {
    const s = new MemoryLocationStore();
    s.save(binding());
    s.save(binding({ contact: 'sip:b@127.0.0.1' }));
    s.save(binding({ aor: '200@pbx.test' }));
    s.remove('100@pbx.test', 'sip:b@127.0.0.1');
    assert.equal(s.bindings('100@pbx.test', 0).length, 1);
    s.removeAll('100@pbx.test');
    assert.equal(s.bindings('100@pbx.test', 0).length, 0);
    assert.equal(s.all(0).length, 1);
    s.close();
    s.close();
    assert.equal(s.all(0).length, 0);
  });
});
