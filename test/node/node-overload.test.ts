import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, TimerHandle } from '../../src/sip/clock.ts';
import { LoopLagSampler, OverloadGuard, type LagSource } from '../../src/node/overload.ts';
import { DOMAIN, headerValues, metricValue, rawRequest, RawUdpClient, startTestNode, type NodeUnderTest } from './node-harness.ts';

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
    const g = new OverloadGuard({ source: src, enterLagMs: 100, exitLagMs: 40, enterUtilization: 0.97, exitUtilization: 0.85, retryAfterSec: 5 });
    src.value = 10;
    src.busy = 0.99;
    assert.equal(g.state(), 'overloaded');
    src.busy = 0.9;
    assert.equal(g.state(), 'overloaded', 'between the thresholds the state holds');
    src.busy = 0.5;
    src.value = 60;
    assert.equal(g.state(), 'overloaded', 'lag still above exitLagMs');
    src.value = 10;
    assert.equal(g.state(), 'ok');
  });

  it('MUST enter overload above enterLagMs and leave it only below exitLagMs (hysteresis)', () => {
    const lag = new FixedLag();
    const changes: boolean[] = [];
    const g = new OverloadGuard({ source: lag, enterLagMs: 100, exitLagMs: 40, retryAfterSec: 5, onChange: (o) => changes.push(o) });
    assert.equal(g.state(), 'ok');
    lag.value = 150;
    assert.equal(g.state(), 'overloaded');
    lag.value = 60;
    assert.equal(g.state(), 'overloaded', 'between the thresholds the state holds');
    lag.value = 30;
    assert.equal(g.state(), 'ok');
    lag.value = 60;
    assert.equal(g.state(), 'ok');
    assert.deepEqual(changes, [true, false]);
    g.close();
    assert.ok(lag.closed);
  });
});

describe('PbxNode under overload', () => {
  let t: NodeUnderTest;
  let client: RawUdpClient;
  const lag = new FixedLag();
  before(async () => {
    t = await startTestNode({ lagSource: lag });
    client = await RawUdpClient.open();
  });
  after(async () => {
    await client.close();
    await t.close();
  });

  it('MUST answer a new REGISTER with 503 carrying Retry-After while overloaded (never without it: linphone)', async () => {
    lag.value = 1000;
    const res = await client.request(t.udp, (l) => rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`]));
    assert.equal(res.status, 503);
    assert.deepEqual(headerValues(res, 'Retry-After'), ['5']);
    assert.ok(res.to.params.get('tag'), 'final response carries a To tag');
    assert.equal(metricValue(await t.metrics(), 'sip_overload_rejected_total'), 1);
  });

  it('MUST answer a new INVITE with 503 + Retry-After while overloaded', async () => {
    lag.value = 1000;
    const res = await client.request(t.udp, (l) => rawRequest('INVITE', `sip:2002@${DOMAIN}`, l, [`Contact: <sip:probe@${l.address}:${l.port}>`]));
    assert.equal(res.status, 503);
    assert.deepEqual(headerValues(res, 'Retry-After'), ['5']);
  });

  it('MUST still process a REGISTER answering a challenge, in-dialog requests and OPTIONS while overloaded', async () => {
    lag.value = 1000;
    const auth = `Authorization: Digest username="2001", realm="${DOMAIN}", nonce="bogus", uri="sip:${DOMAIN}", response="00000000000000000000000000000000"`;
    const reg = await client.request(t.udp, (l) => rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`, auth]));
    assert.equal(reg.status, 401, 'the credentials were checked (stale/bad nonce → fresh challenge), not refused');
    const bye = await client.request(t.udp, (l) => rawRequest('BYE', `sip:2001@${DOMAIN}`, l, [], { toTag: 'nosuchdialog' }));
    assert.equal(bye.status, 481);
    const opt = await client.request(t.udp, (l) => rawRequest('OPTIONS', `sip:${DOMAIN}`, l));
    assert.equal(opt.status, 200);
  });

  it('MUST accept new REGISTERs again once the lag has fallen below exitLagMs', async () => {
    lag.value = 0;
    const res = await client.request(t.udp, (l) => rawRequest('REGISTER', `sip:${DOMAIN}`, l, [`Contact: <sip:2001@${l.address}:${l.port}>`]));
    assert.equal(res.status, 401);
    assert.ok(headerValues(res, 'WWW-Authenticate').length > 0 || res.wwwAuthenticate.length > 0);
  });
});
