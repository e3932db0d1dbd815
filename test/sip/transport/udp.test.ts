import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createResponse } from '../../../src/sip/message/build.ts';
import { TransportError } from '../../../src/sip/transport/errors.ts';
import type { InboundRequest, TraceEvent } from '../../../src/sip/transport/types.ts';
import { nextDatagram, nextRequest, nextResponse, options, rawRequest, started, startedSamePort, udpPeer, viaOf } from './helpers.ts';

for (const address of ['127.0.0.1', '::1']) {
  const host = address.includes(':') ? `[${address}]` : address;
  describe(`UDP transport on ${address}`, () => {
    it('MUST deliver a request and route its response back (§18.1.1, §18.2.2)', async () => {
      const a = await started({ listen: [{ transport: 'udp', address, port: 0 }] });
      const b = await started({ listen: [{ transport: 'udp', address, port: 0 }] });
      try {
        const bEnd = b.localEndpoint('udp')!;
        assert.notEqual(bEnd.port, 0, 'ephemeral port resolved');
        const req = options(address, bEnd.port);
        const gotReq = nextRequest(b);
        const ctx = await a.sendRequest(req, bEnd);
        const inbound = await gotReq;
        const via = inbound.msg.via[0];
        assert.equal(via.transport, 'UDP');
        assert.equal(via.host, host, 'Via sent-by rewritten to the local socket (§18.1.1)');
        assert.equal(via.port, a.localEndpoint('udp')!.port);
        assert.equal(via.params.get('rport'), String(a.localEndpoint('udp')!.port), 'rport filled (RFC 3581)');
        assert.equal(inbound.source.port, a.localEndpoint('udp')!.port);
        assert.deepEqual(ctx.local, a.localEndpoint('udp'));

        const gotRes = nextResponse(a);
        await b.sendResponse(createResponse(inbound.msg, 200), inbound);
        const res = await gotRes;
        assert.equal(res.msg.status, 200);
        assert.equal(res.msg.callId, req.callId);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('MUST hand every request of a socket the same read-only local endpoint and reach listeners added or removed between datagrams', async () => {
      const t = await started({ listen: [{ transport: 'udp', address, port: 0 }] });
      const phone = await udpPeer(address);
      try {
        const port = t.localEndpoint('udp')!.port;
        const seen: string[] = [];
        const first = (r: InboundRequest): void => void seen.push(`first:${r.msg.callId}`);
        t.on('request', first);
        const got1 = nextRequest(t);
        phone.send(rawRequest(`SIP/2.0/UDP ${host}:${phone.port};branch=z9hG4bKlocal1`, { callId: 'one' }), port, address);
        const r1 = await got1;
        t.off('request', first);
        const got2 = nextRequest(t);
        phone.send(rawRequest(`SIP/2.0/UDP ${host}:${phone.port};branch=z9hG4bKlocal2`, { callId: 'two' }), port, address);
        const r2 = await got2;
        assert.deepEqual(seen, ['first:one'], 'a removed listener hears nothing more');
        assert.equal(r2.msg.callId, 'two', 'a listener added after the first datagram hears the second');
        assert.equal(r1.local, r2.local, 'one local endpoint object per socket');
        assert.deepEqual(r1.local, { transport: 'udp', address, port });
        assert.throws(() => {
          (r1.local as { port: number }).port = 1;
        }, TypeError);
        assert.equal(r2.local.port, port);
      } finally {
        phone.close();
        await t.close();
      }
    });

    it('MUST stamp received and rport and answer to the source port from the same socket (RFC 3581 §4)', async () => {
      const t = await started({ listen: [{ transport: 'udp', address, port: 0 }] });
      const phone = await udpPeer(address);
      try {
        const local = t.localEndpoint('udp')!;
        const gotReq = nextRequest(t);
        // The phone is "behind NAT": its Via names a private address and another port.
        phone.send(rawRequest('SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKnat1;rport'), local.port, address);
        const inbound = await gotReq;
        assert.equal(inbound.msg.via[0].params.get('received'), address);
        assert.equal(inbound.msg.via[0].params.get('rport'), String(phone.port));
        const gotDatagram = nextDatagram(phone);
        await t.sendResponse(createResponse(inbound.msg, 200), inbound);
        const d = await gotDatagram;
        assert.match(d.data, /^SIP\/2\.0 200 /);
        assert.equal(d.port, local.port, 'response leaves from the socket the request arrived on');
        assert.match(viaOf(d.data), new RegExp(`received=${address.replace(/[.[\]]/g, '\\$&')}`));
      } finally {
        phone.close();
        await t.close();
      }
    });

    it('MUST send the response to the sent-by port when rport was not requested (§18.2.2)', async () => {
      const t = await started({ listen: [{ transport: 'udp', address, port: 0 }] });
      const sender = await udpPeer(address);
      const listener = await udpPeer(address);
      try {
        const gotReq = nextRequest(t);
        sender.send(rawRequest(`SIP/2.0/UDP ${host}:${listener.port};branch=z9hG4bKnorport`), t.localEndpoint('udp')!.port, address);
        const inbound = await gotReq;
        assert.equal(inbound.msg.via[0].params.has('received'), false, 'no received when sent-by is the source address');
        assert.equal(inbound.msg.via[0].params.has('rport'), false);
        const gotDatagram = nextDatagram(listener);
        await t.sendResponse(createResponse(inbound.msg, 486), inbound);
        assert.match((await gotDatagram).data, /^SIP\/2\.0 486 /);
      } finally {
        sender.close();
        listener.close();
        await t.close();
      }
    });
  });
}

describe('UDP transport robustness', () => {
  it('MUST stamp received for a domain sent-by and answer to received + sent-by port (§18.2.1)', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const sender = await udpPeer();
    const listener = await udpPeer();
    try {
      const gotReq = nextRequest(t);
      sender.send(rawRequest(`SIP/2.0/UDP phone.example:${listener.port};branch=z9hG4bKdomain`), t.localEndpoint('udp')!.port, '127.0.0.1');
      const inbound = await gotReq;
      assert.equal(inbound.msg.via[0].params.get('received'), '127.0.0.1');
      const gotDatagram = nextDatagram(listener);
      await t.sendResponse(createResponse(inbound.msg, 180), inbound);
      assert.match((await gotDatagram).data, /^SIP\/2\.0 180 /);
    } finally {
      sender.close();
      listener.close();
      await t.close();
    }
  });

  it('MUST answer an unparseable request statelessly with a 400 to its source', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const phone = await udpPeer();
    const faults: TransportError[] = [];
    t.on('fault', (e) => faults.push(e));
    try {
      const got = nextDatagram(phone);
      phone.send(rawRequest('SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bKbad;rport', { body: 'abc', contentLength: 100 }), t.localEndpoint('udp')!.port, '127.0.0.1');
      const d = await got;
      assert.match(d.data, /^SIP\/2\.0 400 /);
      assert.ok(faults.some((f) => f.reason === 'bad-message'));
    } finally {
      phone.close();
      await t.close();
    }
  });

  it('MUST answer a request whose To does not parse with a 400 copying the raw headers (RFC 4475 §3.1.2.15)', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const phone = await udpPeer();
    try {
      const got = nextDatagram(phone);
      const badaspec = [
        'OPTIONS sip:user@example.org SIP/2.0',
        'Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKkdju43234;rport',
        'Max-Forwards: 70',
        'From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423',
        'To: "Watson, Thomas" < sip:t.watson@example.org >',
        'Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3',
        'CSeq: 3923239 OPTIONS',
        'l: 0',
        '',
        '',
      ].join('\r\n');
      phone.send(badaspec, t.localEndpoint('udp')!.port, '127.0.0.1');
      const d = await got;
      assert.match(d.data, /^SIP\/2\.0 400 bad To\r\n/);
      assert.match(d.data, /\r\nCall-ID: badaspec\.sdf0234n2nds0a099u23h3hnnw009cdkne3\r\n/);
      assert.match(d.data, /\r\nCSeq: 3923239 OPTIONS\r\n/);
      assert.match(d.data, /\r\nTo: "Watson, Thomas" < sip:t\.watson@example\.org >;tag=\w+\r\n/);
    } finally {
      phone.close();
      await t.close();
    }
  });

  it('MUST survive thousands of random datagrams and keep serving', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const fuzzer = await udpPeer();
    let requests = 0;
    t.on('request', () => requests++);
    t.on('response', () => assert.fail('garbage must never become a response'));
    try {
      const port = t.localEndpoint('udp')!.port;
      let seed = 42;
      const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
      const valid = Buffer.from(rawRequest('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKfuzz', { body: 'x' }));
      for (let i = 0; i < 3000; i++) {
        let d: Buffer;
        if (i % 3 === 0) {
          // Mutated valid message: the hard cases for a parser.
          d = Buffer.from(valid);
          for (let k = 0; k < 1 + (rnd() % 8); k++) d[rnd() % d.length] = rnd() % 256;
          d = d.subarray(0, rnd() % (d.length + 1));
        } else {
          d = Buffer.alloc(rnd() % 1500);
          for (let k = 0; k < d.length; k++) d[k] = rnd() % 256;
        }
        fuzzer.send(d, port, '127.0.0.1');
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      // Earlier mutated copies may still parse; wait for the request sent last.
      const after = new Promise<void>((resolve) =>
        t.on('request', (r) => {
          if (r.msg.callId === 'after-fuzz') resolve();
        }),
      );
      // Retransmit like a UDP client would (§17.1.2.2): the socket buffer may have overflowed.
      const probe = Buffer.from(rawRequest('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKafter', { callId: 'after-fuzz' }));
      const resend = setInterval(() => fuzzer.send(probe, port, '127.0.0.1'), 50);
      fuzzer.send(probe, port, '127.0.0.1');
      try {
        await after;
      } finally {
        clearInterval(resend);
      }
      assert.ok(requests < 3000);
    } finally {
      fuzzer.close();
      await t.close();
    }
  });

  it('MUST report a throwing listener as a fault and keep the transport alive', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const phone = await udpPeer();
    const faults: TransportError[] = [];
    t.on('fault', (e) => faults.push(e));
    const boom = (): void => {
      throw new Error('listener bug');
    };
    t.on('request', boom);
    try {
      const port = t.localEndpoint('udp')!.port;
      const first = nextRequest(t);
      phone.send(rawRequest('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKthrow1'), port, '127.0.0.1');
      await first;
      await new Promise((r) => setImmediate(r));
      assert.ok(faults.some((f) => f.reason === 'listener-threw'));
      t.off('request', boom);
      const second = nextRequest(t);
      phone.send(rawRequest('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKthrow2', { callId: 'second' }), port, '127.0.0.1');
      assert.equal((await second).msg.callId, 'second');
    } finally {
      phone.close();
      await t.close();
    }
  });

  it('MUST discard a response whose top Via is not ours (§18.1.2)', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const peer = await udpPeer();
    let responses = 0;
    t.on('response', () => responses++);
    const faults: TransportError[] = [];
    t.on('fault', (e) => faults.push(e));
    try {
      const foreign =
        'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKforeign\r\nFrom: <sip:a@a>;tag=1\r\nTo: <sip:b@b>;tag=2\r\n' +
        'Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';
      peer.send(foreign, t.localEndpoint('udp')!.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(responses, 0);
      assert.ok(faults.some((f) => /foreign sent-by/.test(f.message)));
    } finally {
      peer.close();
      await t.close();
    }
  });

  it('MUST switch a request near the MTU from UDP to TCP and rewrite Via (§18.1.1)', async () => {
    const a = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }, { transport: 'tcp', address: '127.0.0.1', port: 0 }] });
    const b = await startedSamePort('127.0.0.1');
    try {
      const bUdp = b.localEndpoint('udp')!;
      const small = nextRequest(b);
      await a.sendRequest(options('127.0.0.1', bUdp.port), bUdp);
      assert.equal((await small).source.transport, 'udp', 'a small request stays on UDP');

      const big = options('127.0.0.1', bUdp.port, { body: Buffer.alloc(1200, 0x61) });
      const got = nextRequest(b);
      const ctx = await a.sendRequest(big, bUdp);
      const inbound = await got;
      assert.equal(inbound.source.transport, 'tcp');
      assert.equal(ctx.source.transport, 'tcp');
      assert.ok(ctx.connectionId);
      assert.equal(inbound.msg.via[0].transport, 'TCP');
      assert.equal(inbound.msg.via[0].port, a.localEndpoint('tcp')!.port);
      assert.equal(inbound.msg.body.length, 1200);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('MUST keep a large request on UDP when TCP is refused (§18.1.1 retry)', async () => {
    const a = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }, { transport: 'tcp', address: '127.0.0.1', port: 0 }] });
    const b = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    try {
      const bUdp = b.localEndpoint('udp')!;
      const got = nextRequest(b);
      const ctx = await a.sendRequest(options('127.0.0.1', bUdp.port, { body: Buffer.alloc(1200, 0x62) }), bUdp);
      assert.equal(ctx.source.transport, 'udp');
      const inbound = await got;
      assert.equal(inbound.msg.via[0].transport, 'UDP');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('MUST answer from the listener the request arrived on when several share a family (RFC 3581 §4)', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }, { transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const phone = await udpPeer();
    try {
      const second = t.listening()[1];
      assert.notEqual(second.port, t.listening()[0].port);
      const gotReq = nextRequest(t);
      phone.send(rawRequest('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKsecond;rport'), second.port, '127.0.0.1');
      const inbound = await gotReq;
      assert.deepEqual(inbound.local, second);
      const answered = nextDatagram(phone);
      await t.sendResponse(createResponse(inbound.msg, 200), inbound);
      assert.equal((await answered).port, second.port);
    } finally {
      phone.close();
      await t.close();
    }
  });

  it('MUST emit a trace event for every message in and out (STYLE §11)', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const phone = await udpPeer();
    const traces: TraceEvent[] = [];
    t.on('trace', (e) => traces.push(e));
    try {
      const gotReq = nextRequest(t);
      const bytes = rawRequest('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKtrace;rport');
      phone.send(bytes, t.localEndpoint('udp')!.port, '127.0.0.1');
      const inbound = await gotReq;
      const answered = nextDatagram(phone);
      await t.sendResponse(createResponse(inbound.msg, 200), inbound);
      const d = await answered;
      assert.equal(traces.length, 2);
      assert.equal(traces[0].direction, 'in');
      assert.equal(traces[0].data.toString('latin1'), bytes);
      assert.equal(traces[0].remote.port, phone.port);
      assert.equal(traces[1].direction, 'out');
      assert.equal(traces[1].data.toString('latin1'), d.data);
      assert.deepEqual(traces[1].local, t.localEndpoint('udp'));
    } finally {
      phone.close();
      await t.close();
    }
  });

  it('MUST send a CRLF keep-alive datagram and ignore CRLF-only datagrams', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const phone = await udpPeer();
    const faults: TransportError[] = [];
    t.on('fault', (e) => faults.push(e));
    try {
      const port = t.localEndpoint('udp')!.port;
      const gotReq = nextRequest(t);
      phone.send('\r\n\r\n', port, '127.0.0.1');
      phone.send(rawRequest('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKka;rport'), port, '127.0.0.1');
      const inbound = await gotReq;
      assert.deepEqual(faults, [], 'a CRLF keep-alive is not a bad message');
      const ka = nextDatagram(phone);
      await t.sendKeepAlive(inbound);
      const d = await ka;
      assert.equal(d.data, '\r\n');
      assert.equal(d.port, port);
    } finally {
      phone.close();
      await t.close();
    }
  });

  it('MUST reject with a typed error when no socket fits the target', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    try {
      await assert.rejects(t.sendRequest(options('::1', 5060), { transport: 'udp', address: '::1', port: 5060 }), (e: unknown) => {
        assert.ok(e instanceof TransportError);
        assert.equal(e.code, 'SIP_TRANSPORT');
        assert.equal(e.reason, 'no-socket');
        return true;
      });
    } finally {
      await t.close();
    }
  });
});
