import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBase64url, randomHex } from '../../../src/sip/message/random.ts';
import { newBranch, newCallId, newTag } from '../../../src/sip/message/build.ts';

describe('pooled random identifiers', () => {
  it('MUST give 2n hex digits / base64url of n bytes', () => {
    assert.match(randomHex(8), /^[0-9a-f]{16}$/);
    assert.match(randomBase64url(12), /^[A-Za-z0-9_-]{16}$/);
    assert.match(newBranch(), /^z9hG4bK[0-9a-f]{24}$/);
    assert.match(newTag(), /^[0-9a-f]{16}$/);
    assert.match(newCallId(), /^[0-9a-f]{32}$/);
  });

  it('MUST never repeat an identifier across many pool refills (each byte handed out once)', () => {
    const seen = new Set<string>();
    // 20,000 × 12 bytes ≈ 60 refills of the 4 KiB pool, with requests straddling its end.
    for (let i = 0; i < 20_000; i++) seen.add(i % 3 === 0 ? randomHex(12) : newTag());
    assert.equal(seen.size, 20_000);
  });

  it('MUST spread bits evenly (no constant prefix or counter pattern)', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 4000; i++) for (const c of randomHex(4)) counts[parseInt(c, 16)]++;
    // 32,000 digits, 2,000 expected per value; a fixed or counting prefix would skew this far.
    for (const n of counts) assert.ok(n > 1700 && n < 2300, `digit count ${n}`);
  });

  it('MUST refuse a request larger than the pool', () => {
    assert.throws(() => randomHex(5000), RangeError);
  });
});
