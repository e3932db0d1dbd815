import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createResponse } from '../../../src/sip/message/build.ts';
import { serializeMessage } from '../../../src/sip/message/serializer.ts';
import { TransportError } from '../../../src/sip/transport/errors.ts';
import { collect, nextDatagram, nextRequest, rawRequest, started, tcpPeer, udpPeer } from './helpers.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('UDP responses without a Promise (sendResponseNow)', () => {
  it('MUST send the octets to received/rport from the socket the request arrived on (RFC 3581 §4)', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const phone = await udpPeer('127.0.0.1');
    try {
      const local = t.localEndpoint('udp')!;
      const gotReq = nextRequest(t);
      phone.send(rawRequest('SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKnow1;rport'), local.port, '127.0.0.1');
      const inbound = await gotReq;
      const res = createResponse(inbound.msg, 200);
      const errors: unknown[] = [];
      const gotDatagram = nextDatagram(phone);
      t.sendResponseNow(serializeMessage(res), res.via[0], inbound, (err) => errors.push(err));
      const d = await gotDatagram;
      assert.match(d.data, /^SIP\/2\.0 200 /);
      assert.equal(d.port, local.port);
      await tick();
      assert.deepEqual(errors, []);
    } finally {
      phone.close();
      await t.close();
    }
  });

  it('MUST answer over the TCP connection the request came in on (§18.2.2)', async () => {
    const t = await started({ listen: [{ transport: 'tcp', address: '127.0.0.1', port: 0 }] });
    const s = await tcpPeer(t.localEndpoint('tcp')!.port);
    const rx = collect(s);
    try {
      const gotReq = nextRequest(t);
      s.write(rawRequest('SIP/2.0/TCP 10.0.0.5:5062;branch=z9hG4bKnowtcp', { method: 'REGISTER' }));
      const inbound = await gotReq;
      assert.ok(inbound.connectionId);
      const res = createResponse(inbound.msg, 200);
      const errors: unknown[] = [];
      t.sendResponseNow(serializeMessage(res), res.via[0], inbound, (err) => errors.push(err));
      const text = await rx.until((x) => x.includes('\r\n\r\n'));
      assert.match(text, /^SIP\/2\.0 200 /);
      await tick();
      assert.deepEqual(errors, []);
    } finally {
      s.destroy();
      await t.close();
    }
  });

  it('MUST report a failure to onError asynchronously and never throw', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const local = t.localEndpoint('udp')!;
    await t.close();
    const via = { protocol: 'SIP/2.0', transport: 'UDP', host: '127.0.0.1', port: 5999, params: new Map<string, string | null>() };
    const errors: unknown[] = [];
    t.sendResponseNow(Buffer.from('SIP/2.0 200 OK\r\n\r\n'), via, { source: { transport: 'udp', address: '127.0.0.1', port: 5999 }, local }, (err) => errors.push(err));
    assert.equal(errors.length, 0, 'not synchronously');
    await tick();
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TransportError);
    assert.equal((errors[0] as TransportError).reason, 'closed');
  });

  it('MUST report a failure on the fault channel when no onError is given', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const local = t.localEndpoint('udp')!;
    const faults: TransportError[] = [];
    t.on('fault', (err) => faults.push(err));
    try {
      // An IPv6 destination with only an IPv4 socket: no socket to answer from.
      const via = { protocol: 'SIP/2.0', transport: 'UDP', host: '[::1]', port: 5999, params: new Map<string, string | null>() };
      t.sendResponseNow(Buffer.from('SIP/2.0 200 OK\r\n\r\n'), via, { source: { transport: 'udp', address: '::1', port: 5999 }, local });
      assert.equal(faults.length, 0, 'not synchronously');
      await tick();
      assert.equal(faults.length, 1);
      assert.equal(faults[0].reason, 'no-socket');
    } finally {
      await t.close();
    }
  });
});
