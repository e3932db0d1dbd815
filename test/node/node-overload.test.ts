import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, TimerHandle } from '../../src/sip/clock.ts';
import { LoopLagSampler, OverloadGuard, type LagSource } from '../../src/node/overload.ts';
import { FakeClock } from '../../src/sip/clock.ts';
import type { SipRequest } from '../../src/sip/message/types.ts';
import type { Endpoint } from '../../src/sip/message/types.ts';
import { DOMAIN, headerValues, metricValue, parsedRegister, rawRequest, RawUdpClient, startTestNode, type NodeUnderTest } from './node-harness.ts';

/** A lag the test sets by hand. */
class FixedLag implements LagSource {
  value = 0;
  busy = 0;
  closed = false;
  lagMs(): number {
    return this.value;
  }
  utilization(): number {
    return this.busy;
  }
  close(): void {
    this.closed = true;
  }
}

/** A clock whose timers fire only when the test says, at whatever time `now` is then (a late timer = lag). */
class LateClock implements Clock {
  t = 0;
  private next = 1;
  readonly timers = new Map<number, () => void>();
  now(): number {
    return this.t;
  }
  setTimer(_ms: number, fn: () => void): TimerHandle {
    const id = this.next++;
    this.timers.set(id, fn);
    return { id };
  }
  clearTimer(h: TimerHandle | undefined): void {
    if (h) this.timers.delete(h.id);
  }
  fireAt(t: number): void {
    this.t = t;
    const [id, fn] = [...this.timers.entries()][0] ?? [];
    if (id === undefined || fn === undefined) throw new Error('no timer pending');
    this.timers.delete(id);
    fn();
  }
}

describe('overload guard', () => {
  it('MUST measure lag as timer lateness on the injected clock, and stop its timer on close', () => {
    const clock = new LateClock();
    const s = new LoopLagSampler(clock, 50, undefined);
    let expected = 50;
    for (let i = 0; i < 20; i++) {
      clock.fireAt(expected + 200); // every sample 200 ms late
      expected = clock.t + 50;
    }
    assert.ok(s.lagMs() > 190 && s.lagMs() <= 200, `lag ${s.lagMs()}`);
    for (let i = 0; i < 30; i++) {
      clock.fireAt(expected);
      expected = clock.t + 50;
    }
    assert.ok(s.lagMs() < 1, `lag back to ~0: ${s.lagMs()}`);
    s.close();
    assert.equal(clock.timers.size, 0);
  });

  it('MUST smooth the loop utilization the probe reports at every sample', () => {
    const clock = new LateClock();
    let busy = 1;
    const s = new LoopLagSampler(clock, 50, () => busy);
    for (let i = 0; i < 30; i++) clock.fireAt(clock.t + 50);
    assert.ok(s.utilization() > 0.99, `utilization ${s.utilization()}`);
    assert.ok(s.lagMs() < 1, 'timers on time: no lag');
    busy = 0.2;
    for (let i = 0; i < 30; i++) clock.fireAt(clock.t + 50);
    assert.ok(Math.abs(s.utilization() - 0.2) < 0.01, `utilization ${s.utilization()}`);
    s.close();
  });

  it('MUST enter overload when the loop is saturated even though the lag is small (UDP flood), and leave below exitUtilization', () => {
    const src = new FixedLag();
    const clock = new FakeClock();
    const g = new OverloadGuard({ source: src, clock, adjustMs: 50, enterLagMs: 100, exitLagMs: 40, enterUtilization: 0.97, exitUtilization: 0.85, retryAfterSec: 5 });
    src.value = 10;
    src.busy = 0.99;
    assert.equal(g.state(), 'overloaded');
    clock.advance(50);
    src.busy = 0.9;
    assert.equal(g.state(), 'overloaded', 'between the thresholds the state holds');
    assert.ok(Math.abs(g.rejectShare - 0.1) < 1e-9, 'and so does the share');
    clock.advance(50);
    src.busy = 0.5;
    src.value = 60;
    assert.equal(g.state(), 'overloaded', 'lag still above exitLagMs');
    clock.advance(50);
    src.value = 10;
    assert.equal(g.state(), 'overloaded', 'share 0.1 - 0.05');
    clock.advance(50);
    assert.equal(g.state(), 'ok', 'share 0.05 - 0.05 = 0');
  });

  it('MUST refuse a growing share of new requests while overloaded (never all), spread evenly, and recover step by step', () => {
    const src = new FixedLag();
    const clock = new FakeClock();
    const changes: boolean[] = [];
    const g = new OverloadGuard({ source: src, clock, adjustMs: 50, enterLagMs: 100, exitLagMs: 40, retryAfterSec: 5, onChange: (o) => changes.push(o) });
    const req = parsedRegister();
    const refusedOf = (n: number): number => Array.from({ length: n }, () => g.shouldReject(req)).filter(Boolean).length;
    assert.equal(refusedOf(100), 0, 'no lag: nothing refused');
    src.value = 500;
    clock.advance(50);
    assert.equal(refusedOf(100), 10, 'first step: 10 %');
    for (let i = 0; i < 20; i++) {
      clock.advance(50);
      g.state();
    }
    assert.ok(Math.abs(g.rejectShare - 0.95) < 1e-9, `capped at 95 %: ${g.rejectShare}`);
    assert.equal(refusedOf(100), 95);
    src.value = 60;
    clock.advance(50);
    g.state();
    assert.ok(Math.abs(g.rejectShare - 0.95) < 1e-9, 'between the thresholds the share holds');
    src.value = 0;
    for (let i = 0; i < 19; i++) {
      clock.advance(50);
      g.state();
    }
    assert.equal(g.state(), 'ok');
    assert.equal(refusedOf(100), 0);
    assert.deepEqual(changes, [true, false]);
    g.close();
    assert.ok(src.closed);
  });

  it('MUST never refuse requests that finish or continue work (credentials, in-dialog, ACK, BYE, OPTIONS)', () => {
    const src = new FixedLag();
    const clock = new FakeClock();
    const g = new OverloadGuard({ source: src, clock, adjustMs: 0, enterLagMs: 100, exitLagMs: 40, retryAfterSec: 5 });
    src.value = 500;
    for (let i = 0; i < 20; i++) g.state();
    const reg = parsedRegister();
    const withAuth = { ...reg, authorization: [{ scheme: 'Digest', params: new Map<string, string>() }] } as SipRequest;
    const inDialog = { ...reg, method: 'INVITE', to: { ...reg.to, params: new Map([['tag', 'x']]) } } as SipRequest;
    for (const r of [withAuth, inDialog, { ...reg, method: 'ACK' }, { ...reg, method: 'BYE' }, { ...reg, method: 'OPTIONS' }, { ...reg, method: 'CANCEL' }] as SipRequest[]) {
      for (let i = 0; i < 50; i++) assert.equal(g.shouldReject(r), false, r.method);
    }
    assert.ok(Array.from({ length: 50 }, () => g.shouldReject(reg)).some(Boolean), 'a new REGISTER is refused');
  });
});

describe('PbxNode under overload', () => {
  let t: NodeUnderTest;
  let client: RawUdpClient;
  const lag = new FixedLag();
  const guardClock = new FakeClock();
  const register = (l: Endpoint): string => {
    guardClock.advance(1); // one reject-share adjustment per request (sampleMs 1): 95 % after ten
    return rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`]);
  };
  before(async () => {
    t = await startTestNode({ lagSource: lag, overloadClock: guardClock, overloadYaml: 'overload: { sampleMs: 1 }' });
    client = await RawUdpClient.open();
  });
  after(async () => {
    await client.close();
    await t.close();
  });

  it('MUST answer new REGISTERs with 503 carrying Retry-After while overloaded (never without it: linphone)', async () => {
    lag.value = 1000;
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await client.request(t.udp, register);
      statuses.push(res.status);
      if (res.status === 503) {
        assert.deepEqual(headerValues(res, 'Retry-After'), ['5']);
        assert.ok(res.to.params.get('tag'), 'final response carries a To tag');
      } else {
        assert.equal(res.status, 401, 'the admitted ones are processed');
      }
    }
    const refused = statuses.filter((s) => s === 503).length;
    // Shares 0.1, 0.2, … 0.95 (one step per request): the credit first reaches 1 at
    // the 4th request, then ever more often: 4th, 6th, 8th–10th, then 19 of the last 20.
    assert.equal(refused, 24, statuses.join(','));
    assert.equal(statuses[0], 401, 'never all at once');
    assert.equal(metricValue(await t.metrics(), 'sip_overload_rejected_total'), refused);
    assert.equal(metricValue(await t.metrics(), 'overloaded'), 1);
  });

  it('MUST answer new INVITEs with 503 + Retry-After while overloaded', async () => {
    lag.value = 1000;
    let res;
    for (let i = 0; i < 10 && res?.status !== 503; i++) {
      guardClock.advance(1);
      res = await client.request(t.udp, (l) => rawRequest('INVITE', `sip:2002@${DOMAIN}`, l, [`Contact: <sip:probe@${l.address}:${l.port}>`]));
    }
    assert.equal(res?.status, 503);
    assert.deepEqual(res && headerValues(res, 'Retry-After'), ['5']);
  });

  it('MUST still process a REGISTER answering a challenge, in-dialog requests and OPTIONS while overloaded', async () => {
    lag.value = 1000;
    const auth = `Authorization: Digest username="2001", realm="${DOMAIN}", nonce="bogus", uri="sip:${DOMAIN}", response="00000000000000000000000000000000"`;
    for (let i = 0; i < 5; i++) {
      const reg = await client.request(t.udp, (l) => rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`, auth]));
      assert.equal(reg.status, 401, 'the credentials were checked (bad nonce → fresh challenge), not refused');
      const bye = await client.request(t.udp, (l) => rawRequest('BYE', `sip:2001@${DOMAIN}`, l, [], { toTag: 'nosuchdialog' }));
      assert.equal(bye.status, 481);
      const opt = await client.request(t.udp, (l) => rawRequest('OPTIONS', `sip:${DOMAIN}`, l));
      assert.equal(opt.status, 200);
    }
  });

  it('MUST accept every new REGISTER again once the lag has stayed below exitLagMs', async () => {
    lag.value = 0;
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await client.request(t.udp, register)).status);
    assert.deepEqual(statuses.slice(-10), new Array<number>(10).fill(401), statuses.join(','));
    assert.equal(metricValue(await t.metrics(), 'overloaded'), 0);
  });
});

/**
 * A test node whose overload guard reads the queue delay `fx.delayMs` on its own
 * clock `fx.clock`; the loop is idle (lag 0), so only the kernel queue delay can
 * say overloaded. Registers the suite's before/after.
 */
function queueDelayNode(overloadYaml: string): { t: NodeUnderTest; client: RawUdpClient; delayMs: number; clock: FakeClock } {
  const fx = { t: undefined as unknown as NodeUnderTest, client: undefined as unknown as RawUdpClient, delayMs: 0, clock: new FakeClock() };
  before(async () => {
    fx.t = await startTestNode({ lagSource: new FixedLag(), overloadClock: fx.clock, queueDelay: () => fx.delayMs, overloadYaml });
    fx.client = await RawUdpClient.open();
  });
  after(async () => {
    await fx.client.close();
    await fx.t.close();
  });
  return fx;
}

describe('PbxNode under a long UDP receive queue', () => {
  // Dropping unread (dropQueueDelayMs) is off here: its own suite is below.
  const fx = queueDelayNode('overload: { sampleMs: 1, dropQueueDelayMs: 0 }');

  it('MUST report the delay its own probe measures as sip_udp_queue_delay_seconds (small when idle)', async () => {
    const value = metricValue(await fx.t.metrics(), 'sip_udp_queue_delay_seconds');
    assert.ok(value !== undefined && value >= 0 && value < 0.05, `gauge ${value}`);
  });

  it('MUST answer new REGISTERs with 503 + Retry-After while the queue delay is above enterQueueDelayMs, and serve the credentialed half', async () => {
    fx.delayMs = 1000; // far above enterQueueDelayMs (400 ms): +0.2 per adjustment
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      fx.clock.advance(1);
      const res = await fx.client.request(fx.t.udp, (l) => rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`]));
      statuses.push(res.status);
      if (res.status === 503) assert.deepEqual(headerValues(res, 'Retry-After'), ['5']);
    }
    // Shares 0.2, 0.4, 0.6, 0.8, 0.95 …: credit 0.2, 0.6, 1.2 (refused), 1.0 (refused), 0.95, 1.9 (refused) …
    assert.deepEqual(statuses, [401, 401, 503, 503, 401, 503, 503, 503, 503, 503]);
    const auth = `Authorization: Digest username="2001", realm="${DOMAIN}", nonce="bogus", uri="sip:${DOMAIN}", response="00000000000000000000000000000000"`;
    const reg = await fx.client.request(fx.t.udp, (l) => rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`, auth]));
    assert.equal(reg.status, 401, 'credentials are checked, not refused');
    assert.equal(metricValue(await fx.t.metrics(), 'overloaded'), 1);

    fx.delayMs = 10; // below exitQueueDelayMs (200): the share falls by 0.05 per adjustment
    const after: number[] = [];
    for (let i = 0; i < 25; i++) {
      fx.clock.advance(1);
      after.push((await fx.client.request(fx.t.udp, (l) => rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`]))).status);
    }
    assert.deepEqual(after.slice(-6), new Array<number>(6).fill(401), after.join(','));
    assert.equal(metricValue(await fx.t.metrics(), 'overloaded'), 0, 'back to ok once the queue is short');
  });
});

describe('PbxNode with the UDP receive queue past dropQueueDelayMs', () => {
  const fx = queueDelayNode('overload: { sampleMs: 1, dropQueueDelayMs: 600 }');

  const fresh = (l: Endpoint): string => rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`]);

  it('MUST drop new REGISTERs unread (no answer at all) while the delay is past dropQueueDelayMs, and count them', async () => {
    fx.delayMs = 700;
    fx.clock.advance(1);
    // The first one is parsed (the guard reads the signals on it) and refused or challenged; from then on new REGISTERs are dropped.
    const first = await fx.client.request(fx.t.udp, fresh);
    assert.ok(first.status === 503 || first.status === 401, `status ${first.status}`);
    for (let i = 0; i < 3; i++) {
      fx.clock.advance(1);
      await assert.rejects(fx.client.request(fx.t.udp, fresh, 300), 'no response: dropped before parsing');
    }
    assert.equal(metricValue(await fx.t.metrics(), 'sip_overload_dropped_total'), 3);
  });

  it('MUST still parse and answer credentialed REGISTERs and other requests while dropping', async () => {
    const auth = `Authorization: Digest username="2001", realm="${DOMAIN}", nonce="bogus", uri="sip:${DOMAIN}", response="00000000000000000000000000000000"`;
    fx.clock.advance(1);
    const reg = await fx.client.request(fx.t.udp, (l) => rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`, auth]));
    assert.equal(reg.status, 401, 'credentials checked (bogus nonce): not dropped');
    const options = await fx.client.request(fx.t.udp, (l) => rawRequest('OPTIONS', `sip:${DOMAIN}`, l, []));
    assert.equal(options.status, 200);
  });

  it('MUST keep dropping while the delay is above enterQueueDelayMs and stop below it', async () => {
    fx.delayMs = 450; // between enter (400) and drop (600): still dropping
    fx.clock.advance(1);
    await assert.rejects(fx.client.request(fx.t.udp, fresh, 300));
    fx.delayMs = 300; // below enter: parsed again (the 503 share falls from here)
    fx.clock.advance(1);
    await fx.client.request(fx.t.udp, (l) => rawRequest('OPTIONS', `sip:${DOMAIN}`, l, [])); // any datagram: the guard reads the signals
    const res = await fx.client.request(fx.t.udp, fresh);
    assert.ok(res.status === 401 || res.status === 503, `answered again: ${res.status}`);
    assert.equal(metricValue(await fx.t.metrics(), 'sip_overload_dropped_total'), 4);
  });
});
