import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DtmfDetector, decodeTelephoneEvent, digitToEvent, encodeTelephoneEvent, eventToDigit, type DetectedDigit,
} from '../../src/media/dtmf.ts';

/** The packets a phone sends for one digit: start, updates every 50 ms, 3 ends (RFC 4733 §2.5.1). */
function digitPackets(event: number, ts: number, updates = 3): Array<{ ts: number; payload: Buffer }> {
  const out: Array<{ ts: number; payload: Buffer }> = [];
  for (let i = 1; i <= updates; i++) out.push({ ts, payload: encodeTelephoneEvent({ event, end: false, volume: 10, duration: i * 400 }) });
  for (let i = 0; i < 3; i++) out.push({ ts, payload: encodeTelephoneEvent({ event, end: true, volume: 10, duration: (updates + 1) * 400 }) });
  return out;
}

describe('RFC 4733 telephone-event', () => {
  it('MUST encode the payload layout of §2.3 (event, E, volume, duration)', () => {
    const b = encodeTelephoneEvent({ event: 11, end: true, volume: 10, duration: 1600 });
    assert.deepEqual([...b], [11, 0x80 | 10, 0x06, 0x40]);
    assert.deepEqual(decodeTelephoneEvent(b), { event: 11, end: true, volume: 10, duration: 1600 });
    assert.deepEqual(decodeTelephoneEvent(Buffer.from([5, 0x3f, 0xff, 0xff])), { event: 5, end: false, volume: 63, duration: 65535 });
  });

  it('MUST reject payloads shorter than 4 bytes', () => {
    assert.equal(decodeTelephoneEvent(Buffer.from([1, 2, 3])), undefined);
  });

  it('MUST map DTMF symbols to event codes 0-16 (§3.2)', () => {
    assert.equal(digitToEvent('*'), 10);
    assert.equal(digitToEvent('#'), 11);
    assert.equal(digitToEvent('d'), 15);
    assert.equal(digitToEvent('x'), undefined);
    assert.equal(eventToDigit(0), '0');
    assert.equal(eventToDigit(16), '!');
    assert.equal(eventToDigit(32), undefined);
  });

  it('MUST report each digit once despite the three end packets', () => {
    const digits: DetectedDigit[] = [];
    const det = new DtmfDetector((d) => digits.push(d));
    let ts = 1000;
    for (const ch of '12#') {
      for (const p of digitPackets(digitToEvent(ch) ?? -1, ts)) det.push(42, p.ts, p.payload);
      ts += 2000;
    }
    assert.deepEqual(digits.map((d) => d.digit).join(''), '12#');
    assert.equal(digits[0].duration, 1600);
    assert.equal(digits[0].ended, true);
  });

  it('MUST report the same digit pressed twice as two digits (new timestamp)', () => {
    const digits: string[] = [];
    const det = new DtmfDetector((d) => digits.push(d.digit));
    for (const p of [...digitPackets(5, 100), ...digitPackets(5, 900)]) det.push(1, p.ts, p.payload);
    assert.deepEqual(digits, ['5', '5']);
  });

  it('MUST report a digit whose end packets were lost when the next event starts', () => {
    const digits: DetectedDigit[] = [];
    const det = new DtmfDetector((d) => digits.push(d));
    for (const p of digitPackets(7, 100).slice(0, 2)) det.push(1, p.ts, p.payload); // no end packets
    assert.equal(digits.length, 0);
    for (const p of digitPackets(8, 900)) det.push(1, p.ts, p.payload);
    assert.deepEqual(digits.map((d) => [d.digit, d.ended]), [['7', false], ['8', true]]);
  });

  it('MUST flush an event still in progress', () => {
    const digits: string[] = [];
    const det = new DtmfDetector((d) => digits.push(d.digit));
    det.push(1, 5, encodeTelephoneEvent({ event: 3, end: false, volume: 0, duration: 160 }));
    det.flush();
    det.flush();
    assert.deepEqual(digits, ['3']);
  });
});
