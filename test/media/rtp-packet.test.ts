import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isRtcp, isRtp, parseRtp, rtpPayloadOffset, serializeRtp } from '../../src/media/rtp-packet.ts';

describe('RTP packet (RFC 3550 §5.1)', () => {
  it('MUST round-trip every header field', () => {
    const buf = serializeRtp({
      marker: true,
      payloadType: 101,
      sequenceNumber: 65535,
      timestamp: 0xfffffff0,
      ssrc: 0xdeadbeef,
      csrcs: [1, 0xffffffff],
      extension: { profile: 0xbede, data: Buffer.from([1, 2, 3, 4]) },
      payload: Buffer.from('hello'),
      paddingLength: 3,
    });
    assert.equal(buf[0] >> 6, 2);
    const p = parseRtp(buf);
    assert.ok(p);
    assert.equal(p.marker, true);
    assert.equal(p.payloadType, 101);
    assert.equal(p.sequenceNumber, 65535);
    assert.equal(p.timestamp, 0xfffffff0);
    assert.equal(p.ssrc, 0xdeadbeef);
    assert.deepEqual(p.csrcs, [1, 0xffffffff]);
    assert.equal(p.extension?.profile, 0xbede);
    assert.deepEqual([...(p.extension?.data ?? [])], [1, 2, 3, 4]);
    assert.equal(p.payload.toString(), 'hello');
    assert.equal(p.padding, true);
    assert.equal(p.paddingLength, 3);
    assert.equal(rtpPayloadOffset(buf), 12 + 8 + 8);
  });

  it('MUST parse a known PCMU packet from the wire', () => {
    // 80 00 | seq 0x1234 | ts 0x000000a0 | ssrc 0x01020304 | payload ff ff
    const wire = Buffer.from('80001234000000a001020304ffff', 'hex');
    const p = parseRtp(wire);
    assert.ok(p);
    assert.equal(p.payloadType, 0);
    assert.equal(p.marker, false);
    assert.equal(p.sequenceNumber, 0x1234);
    assert.equal(p.timestamp, 160);
    assert.equal(p.ssrc, 0x01020304);
    assert.deepEqual([...p.payload], [0xff, 0xff]);
  });

  it('MUST return undefined (never throw) for short or malformed packets', () => {
    const cases: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0x80]),
      Buffer.from('80001234000000a00102', 'hex'), // 10 bytes
      Buffer.from('400012340000000001020304', 'hex'), // version 1
      Buffer.from('8f0012340000000001020304', 'hex'), // CC=15 but no CSRCs
      Buffer.from('900012340000000001020304bede0005', 'hex'), // extension longer than packet
      Buffer.from('a00012340000000001020304aa00', 'hex'), // padding count 0
      Buffer.from('a00012340000000001020304aa20', 'hex'), // padding count > packet
    ];
    for (const c of cases) assert.equal(parseRtp(c), undefined, c.toString('hex'));
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.alloc(Math.floor(Math.random() * 40));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(Math.random() * 256);
      assert.doesNotThrow(() => parseRtp(junk));
      assert.doesNotThrow(() => rtpPayloadOffset(junk));
    }
  });

  it('MUST classify RTCP packet types 200-204 as RTCP, not RTP (RFC 5761 §4)', () => {
    // RTCP RR: V=2, RC=0, PT=201, length=1, SSRC
    const rr = Buffer.from('80c9000101020304', 'hex');
    assert.equal(isRtcp(rr), true);
    assert.equal(isRtp(rr), false);
    assert.equal(parseRtp(rr), undefined);
    for (const pt of [200, 201, 202, 203, 204]) {
      const b = Buffer.from(rr);
      b[1] = pt;
      assert.equal(isRtcp(b), true, String(pt));
    }
    const rtp = serializeRtp({ payloadType: 8, sequenceNumber: 1, timestamp: 1, ssrc: 1, payload: Buffer.alloc(160) });
    assert.equal(isRtcp(rtp), false);
    assert.equal(isRtp(rtp), true);
  });

  it('MUST round-trip arbitrary valid packets (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          marker: fc.boolean(),
          payloadType: fc.integer({ min: 0, max: 127 }).filter((pt) => pt < 64 || pt > 95),
          sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
          timestamp: fc.integer({ min: 0, max: 0xffffffff }),
          ssrc: fc.integer({ min: 0, max: 0xffffffff }),
          csrcs: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }),
          payload: fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
          paddingLength: fc.integer({ min: 0, max: 255 }),
        }),
        (init) => {
          const p = parseRtp(serializeRtp(init));
          assert.ok(p);
          assert.equal(p.marker, init.marker);
          assert.equal(p.payloadType, init.payloadType);
          assert.equal(p.sequenceNumber, init.sequenceNumber);
          assert.equal(p.timestamp, init.timestamp);
          assert.equal(p.ssrc, init.ssrc);
          assert.deepEqual(p.csrcs, init.csrcs);
          assert.deepEqual(p.payload, init.payload);
        },
      ),
    );
  });
});
