import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/sip/clock.ts';
import { Uas2xxRetransmitter } from '../../../src/sip/dialog/uas-2xx-retransmit.ts';

function make() {
  const clock = new FakeClock();
  const sends: number[] = [];
  let timeouts = 0;
  const start = clock.now();
  const r = new Uas2xxRetransmitter({
    clock,
    resend: () => sends.push(clock.now() - start),
    onTimeout: () => timeouts++,
  });
  r.start();
  return { clock, r, sends, timeouts: () => timeouts };
}

describe('UAS 2xx retransmission (RFC 3261 §13.3.1.4)', () => {
  it('MUST re-send the 2xx at T1, doubling up to T2, until 64*T1, then tell the TU', () => {
    const { clock, r, sends, timeouts } = make();
    clock.advance(31_999);
    assert.deepEqual(sends.slice(0, 6), [500, 1500, 3500, 7500, 11500, 15500]);
    assert.equal(timeouts(), 0);
    clock.advance(1);
    assert.equal(timeouts(), 1);
    assert.equal(r.state, 'timedout');
    assert.equal(clock.pending, 0);
  });

  it('MUST stop re-sending when the ACK arrives', () => {
    const { clock, r, sends, timeouts } = make();
    clock.advance(1600);
    r.ack();
    clock.advance(60_000);
    assert.deepEqual(sends, [500, 1500]);
    assert.equal(r.state, 'acked');
    assert.equal(timeouts(), 0);
    assert.equal(clock.pending, 0);
    r.ack(); // late ACK retransmission: harmless
    r.stop();
    assert.equal(r.state, 'acked');
  });

  it('MUST stop on stop() without telling the TU', () => {
    const { clock, r, timeouts } = make();
    r.stop();
    clock.advance(60_000);
    assert.equal(r.state, 'stopped');
    assert.equal(timeouts(), 0);
    assert.equal(clock.pending, 0);
  });
});
