import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/sip/clock.ts';
import { OverloadGuard, type LagSource, type OverloadSignals } from '../../src/node/overload.ts';
import { parseConfig } from '../../src/node/config.ts';
import type { SipRequest } from '../../src/sip/message/types.ts';
import { nodeYaml, parsedRegister } from './node-harness.ts';

/** An idle event loop: only the queue delay moves in these tests. */
const idleLoop: LagSource = { lagMs: () => 0, utilization: () => 0, close: () => undefined };

function guard(delay: () => number | undefined, changes: Array<[boolean, OverloadSignals]> = []): { g: OverloadGuard; clock: FakeClock } {
  const clock = new FakeClock();
  const g = new OverloadGuard({
    source: idleLoop,
    clock,
    adjustMs: 50,
    enterLagMs: 250,
    exitLagMs: 100,
    queueDelay: delay,
    enterQueueDelayMs: 200,
    exitQueueDelayMs: 50,
    retryAfterSec: 5,
    onChange: (o, s) => changes.push([o, s]),
  });
  return { g, clock };
}

const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

describe('overload guard: kernel receive-queue delay', () => {
  it('MUST enter overload on the queue delay alone (loop idle), raising the share by how far the delay is above enterQueueDelayMs', () => {
    let delay = 150;
    const { g, clock } = guard(() => delay);
    assert.equal(g.state(), 'ok', 'below the threshold');
    const steps: number[] = [];
    for (const d of [275, 350, 1000, 1000]) {
      clock.advance(50);
      delay = d;
      const before = g.rejectShare;
      assert.equal(g.state(), 'overloaded');
      steps.push(Math.round((g.rejectShare - before) * 1000) / 1000);
    }
    // Span enter - exit = 150 ms: half a span above → half a step; a span → SHARE_UP (0.1); at most twice that.
    assert.deepEqual(steps, [0.05, 0.1, 0.2, 0.2]);
    for (let i = 0; i < 10; i++) {
      clock.advance(50);
      g.state();
    }
    assert.ok(near(g.rejectShare, 0.95), `capped at 95 %: ${g.rejectShare}`);
  });

  it('MUST adjust at most every adjustMs', () => {
    const { g, clock } = guard(() => 500);
    g.state();
    const first = g.rejectShare;
    for (let i = 0; i < 10; i++) g.state();
    assert.equal(g.rejectShare, first, 'same instant: one adjustment');
    clock.advance(49);
    g.state();
    assert.equal(g.rejectShare, first);
    clock.advance(1);
    g.state();
    assert.ok(g.rejectShare > first);
  });

  it('MUST hold the share between the thresholds, lower it below exitQueueDelayMs and report the delay on every state change', () => {
    let delay = 350;
    const changes: Array<[boolean, OverloadSignals]> = [];
    const { g, clock } = guard(() => delay, changes);
    for (let i = 0; i < 3; i++) {
      g.state();
      clock.advance(50);
    }
    assert.ok(near(g.rejectShare, 0.3));
    delay = 120;
    for (let i = 0; i < 5; i++) {
      g.state();
      clock.advance(50);
    }
    assert.ok(near(g.rejectShare, 0.3), 'between exit and enter the share holds');
    delay = 10;
    const states: string[] = [];
    for (let i = 0; i < 6; i++) {
      states.push(g.state());
      clock.advance(50);
    }
    assert.deepEqual(states, ['overloaded', 'overloaded', 'overloaded', 'overloaded', 'overloaded', 'ok'], 'down by 0.05 per adjustment');
    assert.equal(g.rejectShare, 0);
    assert.deepEqual(
      changes.map(([o, s]) => [o, s.queueDelayMs]),
      [
        [true, 350],
        [false, 10],
      ],
    );
  });

  it('MUST lower the share by every adjustment step a quiet spell lasted, not by one, when requests come back', () => {
    let delay = 1000;
    const { g, clock } = guard(() => delay);
    for (let i = 0; i < 6; i++) {
      g.state();
      clock.advance(50);
    }
    assert.ok(g.rejectShare > 0.9, `share ${g.rejectShare}`);
    delay = 0; // the load ended: no requests, so nobody called state() for 300 ms
    clock.advance(300);
    assert.equal(g.state(), 'overloaded');
    assert.ok(near(g.rejectShare, 0.95 - 7 * 0.05), `seven steps of 50 ms passed: ${g.rejectShare}`);
    clock.advance(5000);
    assert.equal(g.state(), 'ok', 'after a long pause the first request meets no share');
    assert.equal(g.rejectShare, 0);
  });

  it('MUST refuse only new requests while the queue delay is high, a share of them spread evenly', () => {
    const { g, clock } = guard(() => 350);
    for (let i = 0; i < 5; i++) {
      clock.advance(50);
      g.state();
    }
    assert.ok(near(g.rejectShare, 0.5));
    const reg = parsedRegister();
    const refused = Array.from({ length: 100 }, () => g.shouldReject(reg)).filter(Boolean).length;
    assert.equal(refused, 50);
    const withAuth = { ...reg, authorization: [{ scheme: 'Digest', params: new Map<string, string>() }] } as SipRequest;
    for (let i = 0; i < 20; i++) assert.equal(g.shouldReject(withAuth), false, 'the second half of a handshake is served');
  });

  it('MUST drop only uncredentialed REGISTERs unread, from a delay past dropQueueDelayMs until it is back under enterQueueDelayMs', () => {
    let delay = 300;
    const clock = new FakeClock();
    const shedding: Array<[boolean, number]> = [];
    const g = new OverloadGuard({
      source: idleLoop, clock, adjustMs: 50, enterLagMs: 250, exitLagMs: 100, queueDelay: () => delay,
      enterQueueDelayMs: 200, exitQueueDelayMs: 50, dropQueueDelayMs: 500, retryAfterSec: 5,
      onShedding: (on, s) => shedding.push([on, s.queueDelayMs]),
    });
    const fresh = Buffer.from('REGISTER sip:lab.spacephone.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n');
    const credentialed = Buffer.from('REGISTER sip:lab.spacephone.test SIP/2.0\r\nAuthorization: Digest username="2001"\r\nContent-Length: 0\r\n\r\n');
    const invite = Buffer.from('INVITE sip:2002@lab.spacephone.test SIP/2.0\r\nContent-Length: 0\r\n\r\n');
    g.state();
    assert.equal(g.dropDatagram(fresh), false, 'overloaded (503s) but below the drop threshold');
    delay = 600;
    clock.advance(50);
    g.state();
    assert.equal(g.dropDatagram(fresh), true);
    assert.equal(g.dropDatagram(credentialed), false, 'the second half of a handshake is parsed');
    assert.equal(g.dropDatagram(invite), false, 'only REGISTERs');
    delay = 250; // under drop, over enter: still dropping
    clock.advance(50);
    assert.equal(g.dropDatagram(fresh), true);
    delay = 150;
    clock.advance(50);
    assert.equal(g.dropDatagram(fresh), false, 'under enterQueueDelayMs: parsed again (the 503 share handles the rest)');
    assert.equal(g.dropped, 2);
    assert.deepEqual(shedding, [[true, 600], [false, 150]]);
    assert.throws(
      () => new OverloadGuard({ source: idleLoop, clock, adjustMs: 50, enterLagMs: 250, exitLagMs: 100, enterQueueDelayMs: 400, exitQueueDelayMs: 200, dropQueueDelayMs: 300, retryAfterSec: 5 }),
      RangeError,
    );
    assert.throws(() => parseConfig(nodeYaml({ overloadYaml: 'overload: { dropQueueDelayMs: 300 }' }), '/tmp/x.yaml'), /dropQueueDelayMs/);
    assert.equal(parseConfig(nodeYaml(), '/tmp/x.yaml').overload.dropQueueDelayMs, 600);
    assert.equal(parseConfig(nodeYaml({ overloadYaml: 'overload: { dropQueueDelayMs: 0 }' }), '/tmp/x.yaml').overload.dropQueueDelayMs, 0, '0 = never drop');
  });

  it('MUST read an unknown queue delay (no probe) as none', () => {
    const { g, clock } = guard(() => undefined);
    for (let i = 0; i < 5; i++) {
      assert.equal(g.state(), 'ok');
      clock.advance(50);
    }
  });

  it('MUST refuse exitQueueDelayMs above enterQueueDelayMs, in the guard and in the config', () => {
    assert.throws(
      () => new OverloadGuard({ source: idleLoop, clock: new FakeClock(), adjustMs: 50, enterLagMs: 250, exitLagMs: 100, enterQueueDelayMs: 100, exitQueueDelayMs: 200, retryAfterSec: 5 }),
      RangeError,
    );
    assert.throws(() => parseConfig(nodeYaml({ overloadYaml: 'overload: { enterQueueDelayMs: 100, exitQueueDelayMs: 200 }' }), '/tmp/x.yaml'), /exitQueueDelayMs/);
    const defaults = parseConfig(nodeYaml(), '/tmp/x.yaml').overload;
    assert.deepEqual([defaults.enterQueueDelayMs, defaults.exitQueueDelayMs, defaults.queueProbeMs], [400, 200, 50]);
    assert.equal(parseConfig(nodeYaml({ overloadYaml: 'overload: { queueProbeMs: 0 }' }), '/tmp/x.yaml').overload.queueProbeMs, 0, '0 = no probe');
  });
});
