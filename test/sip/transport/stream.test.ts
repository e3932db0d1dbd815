import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { FakeClock } from '../../../src/sip/clock.ts';
import { createResponse } from '../../../src/sip/message/build.ts';
import { TransportError } from '../../../src/sip/transport/errors.ts';
import type { InboundContext, InboundRequest } from '../../../src/sip/transport/types.ts';
import { collect, next, nextRequest, nextResponse, options, rawRequest, started, tcpPeer } from './helpers.ts';

for (const address of ['127.0.0.1', '::1']) {
  const host = address.includes(':') ? `[${address}]` : address;
  describe(`TCP transport on ${address}`, () => {
    it('MUST carry a request and its response over one reused connection (§18.2.2)', async () => {
      const a = await started({ listen: [{ transport: 'tcp', address, port: 0 }] });
      const b = await started({ listen: [{ transport: 'tcp', address, port: 0 }] });
      try {
        const bEnd = b.localEndpoint('tcp')!;
        const got = nextRequest(b);
        const ctx1 = await a.sendRequest(options(address, bEnd.port), bEnd);
        const in1 = await got;
        assert.equal(in1.msg.via[0].transport, 'TCP');
        assert.equal(in1.msg.via[0].host, host);
        assert.equal(in1.msg.via[0].port, a.localEndpoint('tcp')!.port, 'sent-by names our listener (§18.1.1)');
        assert.ok(in1.connectionId);

        const gotRes = nextResponse(a);
        await b.sendResponse(createResponse(in1.msg, 200), in1);
        const res = await gotRes;
        assert.equal(res.msg.status, 200);
        assert.equal(res.connectionId, ctx1.connectionId, 'response came back over the same connection');

        const got2 = nextRequest(b);
        const ctx2 = await a.sendRequest(options(address, bEnd.port), bEnd);
        const in2 = await got2;
        assert.equal(ctx2.connectionId, ctx1.connectionId, 'connection reused for the next request');
        assert.equal(in2.connectionId, in1.connectionId);
        assert.equal(a.connectionIds().length, 1);
        assert.equal(b.connectionIds().length, 1);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}

describe('TCP framing and keep-alive (RFC 3261 §18.3, RFC 5626 §4.4.1)', () => {
  async function server(extra: { idleTimeoutMs?: number; maxMessageSize?: number; clock?: FakeClock } = {}) {
    const t = await started({ ...extra, listen: [{ transport: 'tcp', address: '127.0.0.1', port: 0 }] });
    const requests: InboundRequest[] = [];
    t.on('request', (r) => requests.push(r));
    return { t, requests, port: t.localEndpoint('tcp')!.port };
  }

  it('MUST deliver several messages that arrive in one chunk', async () => {
    const { t, requests, port } = await server();
    const s = await tcpPeer(port);
    try {
      const bytes = ['c1', 'c2', 'c3'].map((id) => rawRequest('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK' + id, { callId: id, body: 'v=0\r\n' })).join('');
      s.write(bytes);
      await next<void>((cb) => t.on('request', () => requests.length === 3 && cb()), 3000, 'three requests');
      assert.deepEqual(requests.map((r) => r.msg.callId), ['c1', 'c2', 'c3']);
      assert.equal(requests[0].msg.body.toString(), 'v=0\r\n');
      assert.equal(requests[0].msg.via[0].params.get('received'), undefined, 'sent-by 127.0.0.1 matches the source');
    } finally {
      s.destroy();
      await t.close();
    }
  });

  it('MUST reassemble one message written byte by byte', async () => {
    const { t, requests, port } = await server();
    const s = await tcpPeer(port);
    try {
      const bytes = Buffer.from(rawRequest('SIP/2.0/TCP 10.0.0.7:5060;branch=z9hG4bKbb;rport', { callId: 'bytewise', body: 'hello' }));
      for (const b of bytes) {
        s.write(Buffer.from([b]));
        await new Promise((r) => setImmediate(r));
      }
      const r = await next<InboundRequest>((cb) => (requests[0] ? cb(requests[0]) : t.on('request', cb)), 3000, 'request');
      assert.equal(r.msg.callId, 'bytewise');
      assert.equal(r.msg.body.toString(), 'hello');
      assert.equal(r.msg.via[0].params.get('received'), '127.0.0.1');
      assert.equal(r.msg.via[0].params.get('rport'), String(s.localPort));
      assert.equal(requests.length, 1);
    } finally {
      s.destroy();
      await t.close();
    }
  });

  it('MUST answer a double-CRLF ping with a CRLF pong and ignore stray CRLFs', async () => {
    const { t, requests, port } = await server();
    const s = await tcpPeer(port);
    const rx = collect(s);
    try {
      s.write('\r\n\r\n');
      assert.equal(await rx.until((x) => x.length >= 2), '\r\n');
      s.write('\r\n' + rawRequest('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKafterpong'));
      await next<void>((cb) => (requests.length ? cb() : t.on('request', () => cb())));
      assert.equal(requests.length, 1);
    } finally {
      s.destroy();
      await t.close();
    }
  });

  it('MUST send a ping with sendKeepAlive and report the pong', async () => {
    const { t, requests, port } = await server();
    const s = await tcpPeer(port);
    const rx = collect(s);
    try {
      s.write(rawRequest('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKreg', { method: 'REGISTER' }));
      await next<void>((cb) => (requests.length ? cb() : t.on('request', () => cb())));
      const pong = next<InboundContext>((cb) => t.on('pong', cb), 3000, 'pong');
      await t.sendKeepAlive(requests[0]);
      assert.equal(await rx.until((x) => x.length >= 4), '\r\n\r\n');
      s.write('\r\n');
      assert.equal((await pong).connectionId, requests[0].connectionId);
    } finally {
      s.destroy();
      await t.close();
    }
  });

  it('MUST answer 400 and close the connection when Content-Length is missing on a stream', async () => {
    const { t, requests, port } = await server();
    const s = await tcpPeer(port);
    const rx = collect(s);
    try {
      s.write(rawRequest('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKnocl', { contentLength: null }));
      await rx.closed;
      assert.match(rx.text(), /^SIP\/2\.0 400 /);
      assert.equal(requests.length, 0);
      assert.equal(t.connectionIds().length, 0);
    } finally {
      s.destroy();
      await t.close();
    }
  });

  it('MUST answer 400 and close on conflicting Content-Length values (no request smuggling)', async () => {
    const { t, requests, port } = await server();
    const s = await tcpPeer(port);
    const rx = collect(s);
    try {
      const smuggled = rawRequest('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKdup', { body: 'abc' }).replace('Content-Length: 3\r\n', 'Content-Length: 3\r\nl: 0\r\n');
      s.write(smuggled + rawRequest('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKhidden', { callId: 'hidden' }));
      await rx.closed;
      assert.match(rx.text(), /^SIP\/2\.0 400 Bad Content-Length/);
      assert.equal(requests.length, 0, 'neither the request nor what follows it is delivered');
    } finally {
      s.destroy();
      await t.close();
    }
  });

  it('MUST answer 400 with the raw core headers when a stream request lacks Content-Length and its To does not parse', async () => {
    const { t, requests, port } = await server();
    const s = await tcpPeer(port);
    const rx = collect(s);
    try {
      const req = rawRequest('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKrawto', { contentLength: null, callId: 'raw-to-1' }).replace(/\r\nTo: [^\r]*/, '\r\nTo: "Watson, Thomas" < sip:t.watson@example.org >');
      assert.match(req, /< sip:t\.watson/);
      s.write(req);
      await rx.closed;
      assert.match(rx.text(), /^SIP\/2\.0 400 /);
      assert.match(rx.text(), /\r\nCall-ID: raw-to-1\r\n/);
      assert.match(rx.text(), /\r\nTo: "Watson, Thomas" < sip:t\.watson@example\.org >;tag=\w+\r\n/);
      assert.equal(requests.length, 0);
    } finally {
      s.destroy();
      await t.close();
    }
  });

  it('MUST answer 413 and close the connection when a message exceeds maxMessageSize', async () => {
    const { t, requests, port } = await server({ maxMessageSize: 1000 });
    const s = await tcpPeer(port);
    const rx = collect(s);
    try {
      s.write(rawRequest('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKbig', { body: 'x'.repeat(2000) }));
      await rx.closed;
      assert.match(rx.text(), /^SIP\/2\.0 413 /, 'readable headers get a 413 (§21.4.14) before the close');
      assert.equal(requests.length, 0);
      const s2 = await tcpPeer(port);
      const rx2 = collect(s2);
      s2.write('INVITE ' + 'a'.repeat(2000)); // never ends its header block
      await rx2.closed;
    } finally {
      s.destroy();
      await t.close();
    }
  });

  it('MUST close an idle connection after idleTimeoutMs, counting traffic (injected clock)', async () => {
    const clock = new FakeClock();
    const { t, requests, port } = await server({ clock, idleTimeoutMs: 60_000 });
    const s = await tcpPeer(port);
    const rx = collect(s);
    const closedEvt = next<{ connectionId: string }>((cb) => t.on('connectionClosed', cb), 3000, 'connectionClosed');
    try {
      s.write(rawRequest('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKidle'));
      await next<void>((cb) => (requests.length ? cb() : t.on('request', () => cb())));
      clock.advance(40_000);
      s.write('\r\n\r\n'); // traffic resets the idle timer
      await rx.until((x) => x === '\r\n');
      clock.advance(40_000);
      assert.equal(t.connectionIds().length, 1, 'still open 40 s after the last traffic');
      clock.advance(20_000);
      assert.equal((await closedEvt).connectionId, requests[0].connectionId);
      await rx.closed;
      assert.equal(t.connectionIds().length, 0);
    } finally {
      s.destroy();
      await t.close();
    }
  });

  it('MUST open a new connection to received and the sent-by port when the request connection is gone (§18.2.2)', async () => {
    const { t, requests, port } = await server();
    const phoneServer = createServer();
    await new Promise<void>((r) => phoneServer.listen(0, '127.0.0.1', () => r()));
    const phonePort = (phoneServer.address() as { port: number }).port;
    const accepted = next<import('node:net').Socket>((cb) => phoneServer.once('connection', cb), 3000, 'reconnect');
    const s = await tcpPeer(port);
    try {
      s.write(rawRequest(`SIP/2.0/TCP 127.0.0.1:${phonePort};branch=z9hG4bKgone`));
      await next<void>((cb) => (requests.length ? cb() : t.on('request', () => cb())));
      s.destroy();
      await next<void>((cb) => (t.connectionIds().length === 0 ? cb() : t.on('connectionClosed', () => cb())));
      await t.sendResponse(createResponse(requests[0].msg, 200), requests[0]);
      const back = await accepted;
      const rx = collect(back);
      assert.match(await rx.until((x) => x.includes('\r\n\r\n')), /^SIP\/2\.0 200 /);
      back.destroy();
    } finally {
      s.destroy();
      await t.close();
      await new Promise<void>((r) => phoneServer.close(() => r()));
    }
  });

  it('MUST reject with SIP_TRANSPORT when the connection is refused', async () => {
    const t = await started({ listen: [{ transport: 'tcp', address: '127.0.0.1', port: 0 }] });
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const deadPort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    try {
      await assert.rejects(t.sendRequest(options('127.0.0.1', deadPort), { transport: 'tcp', address: '127.0.0.1', port: deadPort }), (e: unknown) => {
        assert.ok(e instanceof TransportError);
        assert.equal(e.code, 'SIP_TRANSPORT');
        assert.equal(e.reason, 'connect-failed');
        return true;
      });
      assert.equal(t.connectionIds().length, 0);
    } finally {
      await t.close();
    }
  });

  it('MUST time out a connection that never completes its TLS handshake (injected clock)', async () => {
    const clock = new FakeClock();
    const t = await started({ clock, connectTimeoutMs: 5000, listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const mute = createServer((sock) => sock.on('error', () => undefined)); // accepts TCP, never speaks TLS
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    const port = (mute.address() as { port: number }).port;
    const accepted = next<void>((cb) => mute.once('connection', () => cb()), 3000, 'tcp accept');
    try {
      const sending = t.sendRequest(options('127.0.0.1', port), { transport: 'tls', address: '127.0.0.1', port });
      const outcome = sending.then(
        () => 'sent',
        (e: unknown) => (e instanceof TransportError ? e.reason : 'other'),
      );
      await accepted;
      clock.advance(4999);
      assert.equal(t.connectionIds().length, 1, 'still connecting before the timeout');
      clock.advance(1);
      assert.equal(await outcome, 'connect-timeout');
      assert.equal(t.connectionIds().length, 0);
    } finally {
      await t.close();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });

  it('MUST survive random bytes on a stream and keep accepting connections', async () => {
    const { t, port } = await server({ maxMessageSize: 4096 });
    try {
      let seed = 9;
      const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
      for (let c = 0; c < 20; c++) {
        const s = await tcpPeer(port);
        s.on('error', () => undefined);
        for (let k = 0; k < 20; k++) {
          const b = Buffer.alloc(rnd() % 400);
          for (let i = 0; i < b.length; i++) b[i] = rnd() % 4 === 0 ? 0x0d + (rnd() % 2) * -3 : rnd() % 256;
          s.write(b);
        }
        s.destroy();
      }
      const s = await tcpPeer(port);
      const got = nextRequest(t);
      s.write(rawRequest('SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKalive', { callId: 'alive' }));
      assert.equal((await got).msg.callId, 'alive');
      s.destroy();
    } finally {
      await t.close();
    }
  });
});
