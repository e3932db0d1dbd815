import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createResponse } from '../../../src/sip/message/build.ts';
import { serializeMessage } from '../../../src/sip/message/serializer.ts';
import { nextDatagram, nextRequest, rawRequest, started, udpPeer } from './helpers.ts';

describe('responses put on the wire (onResponseSent)', () => {
  it('MUST report the status of every response sent, by either send path, and of the transport\'s own 400s, without a trace listener', async () => {
    const t = await started({ listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }] });
    const phone = await udpPeer('127.0.0.1');
    const seen: string[] = [];
    t.onResponseSent = (status) => seen.push(status);
    try {
      const local = t.localEndpoint('udp')!;
      const gotReq = nextRequest(t);
      phone.send(rawRequest('SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKcount1;rport'), local.port, '127.0.0.1');
      const inbound = await gotReq;
      let got = nextDatagram(phone);
      const ringing = createResponse(inbound.msg, 180);
      await t.sendResponse(ringing, inbound);
      await got;
      got = nextDatagram(phone);
      const ok = createResponse(inbound.msg, 200);
      t.sendResponseNow(serializeMessage(ok), ok.via[0], inbound);
      await got;
      got = nextDatagram(phone);
      phone.send(rawRequest('SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKbad;rport', { contentLength: 999 }), local.port, '127.0.0.1');
      const bad = await got;
      assert.match(bad.data, /^SIP\/2\.0 400 /);
      assert.deepEqual(seen, ['180', '200', '400']);
    } finally {
      phone.close();
      await t.close();
    }
  });
});
