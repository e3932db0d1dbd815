import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { PortPool } from '../../src/media/port-pool.ts';
import { MediaRelay, type RelayLegMedia } from '../../src/media/relay.ts';
import { parseRtp, serializeRtp } from '../../src/media/rtp-packet.ts';
import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw } from '../../src/media/g711.ts';
import { SdpOrigin, negotiateAnswer, rewriteOffer } from '../../src/media/sdp.ts';
import { dominantFrequency, generateTone, toneEnergy } from '../../src/media/tone.ts';
import { encodeTelephoneEvent, type DetectedDigit } from '../../src/media/dtmf.ts';

const HOST = '127.0.0.1';
const base = 40000 + 2 * Math.floor(Math.random() * 400);
const pool = new PortPool({ min: base, max: base + 199 });

/** A UDP socket standing in for a phone; collects what it receives. */
class Phone {
  readonly inbox: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private constructor(readonly sock: dgram.Socket) {
    sock.on('message', (m) => {
      this.inbox.push(m);
      this.waiter?.();
    });
  }
  static open(): Promise<Phone> {
    return new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      s.bind(0, HOST, () => resolve(new Phone(s)));
    });
  }
  get port(): number {
    return this.sock.address().port;
  }
  send(buf: Buffer, port: number): void {
    this.sock.send(buf, port, HOST);
  }
  /** Waits until `n` datagrams have arrived (network wait, not a protocol timer). */
  async received(n: number, ms = 2000): Promise<Buffer[]> {
    const deadline = Date.now() + ms;
    while (this.inbox.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out: got ${this.inbox.length}/${n} datagrams`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.inbox.splice(0, n);
  }
  close(): void {
    this.sock.close();
  }
}

/** Waits for the relay to have processed datagrams (network wait, not a protocol timer). */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 2));
  }
}

function rtp(pt: number, seq: number, payload: Buffer, marker = false): Buffer {
  return serializeRtp({ payloadType: pt, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0x1234abcd, payload, marker });
}

function media(remotePort: number, codec: 'PCMU' | 'PCMA', pt: number, te?: number): RelayLegMedia {
  return { remote: { address: HOST, port: remotePort }, codec, pt, telephoneEvent: te, direction: 'sendrecv' };
}

async function setup(aCodec: 'PCMU' | 'PCMA' = 'PCMU', bCodec: 'PCMU' | 'PCMA' = 'PCMU') {
  const relay = await MediaRelay.create(pool, { addressA: HOST });
  const a = await Phone.open();
  const b = await Phone.open();
  relay.configure('a', media(a.port, aCodec, aCodec === 'PCMU' ? 0 : 8, 101));
  relay.configure('b', media(b.port, bCodec, bCodec === 'PCMU' ? 0 : 8, 96));
  const done = (): void => {
    relay.close();
    a.close();
    b.close();
  };
  return { relay, a, b, done, la: relay.local('a'), lb: relay.local('b') };
}

after(() => assert.equal(pool.inUse, 0, 'relay ports leaked'));

describe('MediaRelay', () => {
  it('MUST relay RTP both ways keeping SSRC, sequence and timestamp', async () => {
    const { a, b, done, la, lb } = await setup();
    try {
      a.send(rtp(0, 7, Buffer.alloc(160, 0xff), true), la.rtpPort);
      const [atB] = await b.received(1);
      const p = parseRtp(atB);
      assert.ok(p);
      assert.equal(p.payloadType, 0);
      assert.equal(p.sequenceNumber, 7);
      assert.equal(p.timestamp, 7 * 160);
      assert.equal(p.ssrc, 0x1234abcd);
      assert.equal(p.marker, true);
      b.send(rtp(0, 9, Buffer.alloc(160, 0x7f)), lb.rtpPort);
      const [atA] = await a.received(1);
      assert.equal(parseRtp(atA)?.sequenceNumber, 9);
    } finally {
      done();
    }
  });

  it('MUST transcode PCMU to PCMA so a 1 kHz tone from A is still 1 kHz at B', async () => {
    const { relay, a, b, done, la } = await setup('PCMU', 'PCMA');
    try {
      const tone = generateTone(1000, 200, { amplitude: 8000 });
      for (let i = 0; i < 10; i++) a.send(rtp(0, i, encodeUlaw(tone.subarray(i * 160, (i + 1) * 160))), la.rtpPort);
      const got = await b.received(10);
      const pcm = new Int16Array(1600);
      for (const g of got) {
        const p = parseRtp(g);
        assert.ok(p);
        assert.equal(p.payloadType, 8, 'B must see its own PT (PCMA)');
        pcm.set(decodeAlaw(p.payload), p.sequenceNumber * 160);
      }
      assert.equal(dominantFrequency(pcm, [500, 800, 1000, 1200, 2000]), 1000);
      const e = toneEnergy(pcm, 1000);
      assert.ok(Math.abs(e - 8000 ** 2 / 4) / (8000 ** 2 / 4) < 0.1, `energy ${e}`);
      assert.equal(relay.counters('a').packetsIn, 10);
      assert.equal(relay.counters('b').packetsOut, 10);
      assert.equal(relay.counters('b').bytesOut, 10 * 172);
    } finally {
      done();
    }
  });

  it('MUST map telephone-event PT from A\'s number to B\'s and report the digit', async () => {
    const { relay, a, b, done, la } = await setup();
    const digits: Array<[string, DetectedDigit]> = [];
    relay.on('dtmf', (leg, d) => digits.push([leg, d]));
    try {
      const ev = (end: boolean, dur: number): Buffer => encodeTelephoneEvent({ event: 11, end, volume: 10, duration: dur });
      const pkts = [ev(false, 160), ev(false, 320), ev(true, 480), ev(true, 480), ev(true, 480)];
      pkts.forEach((pl, i) => a.send(serializeRtp({ payloadType: 101, sequenceNumber: 100 + i, timestamp: 8000, ssrc: 5, payload: pl, marker: i === 0 }), la.rtpPort));
      const got = await b.received(5);
      for (const g of got) assert.equal(parseRtp(g)?.payloadType, 96);
      assert.equal(parseRtp(got[0])?.marker, true);
      assert.deepEqual(digits.map(([leg, d]) => `${leg}:${d.digit}`), ['a:#']);
    } finally {
      done();
    }
  });

  it('MUST latch to a NAT\'d source port that differs from the SDP port (symmetric RTP)', async () => {
    const { relay, a, b, done, la, lb } = await setup();
    const natA = await Phone.open(); // A's real socket behind NAT; `a` is only the SDP address
    try {
      b.send(rtp(0, 1, Buffer.alloc(160)), lb.rtpPort);
      await a.received(1); // before latching: the SDP address
      natA.send(rtp(0, 2, Buffer.alloc(160)), la.rtpPort);
      await b.received(1);
      assert.deepEqual(relay.destination('a'), { address: HOST, port: natA.port });
      b.send(rtp(0, 3, Buffer.alloc(160)), lb.rtpPort);
      const [p] = await natA.received(1);
      assert.equal(parseRtp(p)?.sequenceNumber, 3);
      assert.equal(a.inbox.length, 0);
    } finally {
      natA.close();
      done();
    }
  });

  it('MUST drop RTP from a second source while the latched one is live, and re-latch after its silence', async () => {
    let now = 1_000_000;
    const relay = await MediaRelay.create(pool, { addressA: HOST, relatchAfterMs: 3000, clock: { now: () => now } });
    const a = await Phone.open();
    const b = await Phone.open();
    const intruder = await Phone.open();
    try {
      relay.configure('a', media(a.port, 'PCMU', 0));
      relay.configure('b', media(b.port, 'PCMU', 0));
      const la = relay.local('a');
      a.send(rtp(0, 1, Buffer.alloc(10)), la.rtpPort);
      await b.received(1);
      intruder.send(rtp(0, 666, Buffer.alloc(10)), la.rtpPort);
      await until(() => relay.counters('a').dropped === 1);
      now += 2999;
      a.send(rtp(0, 2, Buffer.alloc(10)), la.rtpPort);
      const [second] = await b.received(1);
      assert.equal(parseRtp(second)?.sequenceNumber, 2, 'intruder packet must not be relayed');
      now += 3000;
      intruder.send(rtp(0, 667, Buffer.alloc(10)), la.rtpPort);
      const [third] = await b.received(1);
      assert.equal(parseRtp(third)?.sequenceNumber, 667);
      assert.deepEqual(relay.destination('a'), { address: HOST, port: intruder.port });
    } finally {
      relay.close();
      for (const p of [a, b, intruder]) p.close();
    }
  });

  it('MUST accept only the SDP IP (any port) with strictSourceAddress', async () => {
    const relay = await MediaRelay.create(pool, { addressA: HOST, strictSourceAddress: true });
    const a = await Phone.open();
    const b = await Phone.open();
    const other = dgram.createSocket('udp4');
    await new Promise<void>((r) => other.bind(0, '127.0.0.2', () => r()));
    try {
      relay.configure('a', media(a.port + 1, 'PCMU', 0)); // SDP port differs from the real one (NAT)
      relay.configure('b', media(b.port, 'PCMU', 0));
      const la = relay.local('a');
      other.send(rtp(0, 1, Buffer.alloc(10)), la.rtpPort, HOST);
      await until(() => relay.counters('a').dropped === 1);
      a.send(rtp(0, 2, Buffer.alloc(10)), la.rtpPort);
      const [p] = await b.received(1);
      assert.equal(parseRtp(p)?.sequenceNumber, 2);
      assert.deepEqual(relay.destination('a'), { address: HOST, port: a.port });
    } finally {
      relay.close();
      a.close();
      b.close();
      other.close();
    }
  });

  it('MUST stop forwarding towards a leg on hold (sendonly/inactive) and resume after', async () => {
    const { relay, a, b, done, la, lb } = await setup();
    try {
      relay.setDirection('a', 'inactive');
      a.send(rtp(0, 1, Buffer.alloc(10)), la.rtpPort);
      b.send(rtp(0, 2, Buffer.alloc(10)), lb.rtpPort);
      await until(() => relay.counters('a').packetsIn === 1 && relay.counters('b').packetsIn === 1);
      relay.setDirection('a', 'sendonly'); // A → B flows, B → A does not
      b.send(rtp(0, 3, Buffer.alloc(10)), lb.rtpPort);
      a.send(rtp(0, 4, Buffer.alloc(10)), la.rtpPort);
      const [atB] = await b.received(1);
      assert.equal(parseRtp(atB)?.sequenceNumber, 4);
      await until(() => relay.counters('b').packetsIn === 2);
      relay.setDirection('a', 'sendrecv');
      b.send(rtp(0, 5, Buffer.alloc(10)), lb.rtpPort);
      const [atA] = await a.received(1);
      assert.equal(parseRtp(atA)?.sequenceNumber, 5, 'packets sent during hold must not arrive');
      assert.equal(relay.counters('a').dropped + relay.counters('b').dropped, 3);
    } finally {
      done();
    }
  });

  it('MUST relay RTCP between the legs\' RTCP ports', async () => {
    const r = await MediaRelay.create(pool, { addressA: HOST });
    const pa = await Phone.open();
    const pb = await Phone.open();
    const pbRtcp = await Phone.open();
    try {
      r.configure('a', media(pa.port, 'PCMU', 0));
      r.configure('b', { ...media(pb.port, 'PCMU', 0), remote: { address: HOST, port: pb.port, rtcpPort: pbRtcp.port } });
      const rr = Buffer.from('80c9000101020304', 'hex');
      pa.send(rr, r.local('a').rtcpPort);
      const [got] = await pbRtcp.received(1);
      assert.deepEqual(got, rr);
      assert.equal(r.counters('a').rtcpIn, 1);
      assert.equal(r.counters('b').rtcpOut, 1);
    } finally {
      r.close();
      for (const p of [pa, pb, pbRtcp]) p.close();
    }
  });

  it('MUST drop garbage and unknown payload types without throwing and keep relaying', async () => {
    const { relay, a, b, done, la } = await setup();
    try {
      for (const junk of [Buffer.alloc(0), Buffer.from([0x80]), Buffer.from('hello world, not rtp'), rtp(13, 1, Buffer.alloc(1)), rtp(18, 2, Buffer.alloc(20))]) {
        a.send(junk, la.rtpPort);
        a.send(junk, la.rtcpPort);
      }
      a.send(rtp(0, 42, Buffer.alloc(160)), la.rtpPort);
      const [p] = await b.received(1);
      assert.equal(parseRtp(p)?.sequenceNumber, 42);
      assert.ok(relay.counters('a').dropped >= 5);
    } finally {
      done();
    }
  });

  it('MUST stop relaying at close(), be idempotent and return ports (2000 cycles)', async () => {
    const { relay, a, b, la } = await setup();
    relay.close();
    relay.close();
    assert.equal(relay.closed, true);
    a.send(rtp(0, 1, Buffer.alloc(10)), la.rtpPort); // port is closed: nothing may arrive
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.inbox.length, 0);
    a.close();
    b.close();
    for (let i = 0; i < 2000; i++) {
      const r = await MediaRelay.create(pool, { addressA: HOST });
      r.close();
    }
    assert.equal(pool.inUse, 0);
  });
});

describe('MediaRelay configured from SDP negotiation', () => {
  it('MUST carry a call end to end: A offers PCMU, B answers PCMA, events mapped both ways', async () => {
    const relay = await MediaRelay.create(pool, { addressA: HOST });
    const a = await Phone.open();
    const b = await Phone.open();
    const digits: string[] = [];
    relay.on('dtmf', (leg, d) => digits.push(`${leg}:${d.digit}`));
    try {
      const la = relay.local('a');
      const lb = relay.local('b');
      const offerA = [
        'v=0', 'o=a 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
        `m=audio ${a.port} RTP/AVP 0 101`, 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', '',
      ].join('\r\n');
      const toB = rewriteOffer(offerA, { address: HOST, port: lb.rtpPort, origin: new SdpOrigin(HOST) });
      assert.match(toB.sdp, new RegExp(`m=audio ${lb.rtpPort} RTP/AVP 0 8 101`));
      const answerB = [
        'v=0', 'o=b 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
        `m=audio ${b.port} RTP/AVP 8 96`, 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:96 telephone-event/8000', '',
      ].join('\r\n');
      const n = negotiateAnswer(offerA, answerB, { address: HOST, port: la.rtpPort, origin: new SdpOrigin(HOST) });
      assert.equal(n.transcode, true);
      assert.match(n.sdp, new RegExp(`m=audio ${la.rtpPort} RTP/AVP 0 101`));
      relay.configure('a', n.offerer);
      relay.configure('b', n.answerer);

      // B → A: a PCMA tone arrives as PCMU at 1 kHz.
      const tone = generateTone(1000, 100, { amplitude: 8000 });
      for (let i = 0; i < 5; i++) b.send(rtp(8, i, encodeAlaw(tone.subarray(i * 160, (i + 1) * 160))), lb.rtpPort);
      const atA = await a.received(5);
      const pcm = new Int16Array(800);
      for (const g of atA) {
        const p = parseRtp(g);
        assert.ok(p);
        assert.equal(p.payloadType, 0);
        pcm.set(decodeUlaw(p.payload), p.sequenceNumber * 160);
      }
      assert.equal(dominantFrequency(pcm, [500, 1000, 2000]), 1000);

      // Events: A sends PT 101 → B gets 96; B sends with the offered 101 → A gets 101.
      const ev = encodeTelephoneEvent({ event: 1, end: true, volume: 10, duration: 800 });
      a.send(serializeRtp({ payloadType: 101, sequenceNumber: 50, timestamp: 1, ssrc: 1, payload: ev }), la.rtpPort);
      assert.equal(parseRtp((await b.received(1))[0])?.payloadType, 96);
      const ev2 = encodeTelephoneEvent({ event: 2, end: true, volume: 10, duration: 800 });
      b.send(serializeRtp({ payloadType: 101, sequenceNumber: 60, timestamp: 2, ssrc: 2, payload: ev2 }), lb.rtpPort);
      assert.equal(parseRtp((await a.received(1))[0])?.payloadType, 101);
      assert.deepEqual(digits, ['a:1', 'b:2']);
    } finally {
      relay.close();
      a.close();
      b.close();
    }
  });
});
