import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequest } from '../../../src/sip/message/build.ts';
import { parseUri } from '../../../src/sip/message/parser.ts';
import type { SipRequest } from '../../../src/sip/message/types.ts';
import type { SimPhone } from '../../../src/lab/sim-phone/index.ts';
import { DOMAIN, startNode, once, waitFor } from './harness.ts';

function invite(p: SimPhone, ruri: string, sdp: string | undefined, withContact = true): SipRequest {
  return createRequest({
    method: 'INVITE',
    uri: parseUri(ruri),
    from: { uri: parseUri(`sip:2001@${DOMAIN}`), params: new Map() },
    to: { uri: parseUri(ruri), params: new Map() },
    contact: withContact ? [{ uri: parseUri(`sip:2001@${p.endpoint.address}:${p.endpoint.port}`), params: new Map() }] : [],
    body: sdp === undefined ? undefined : Buffer.from(sdp),
    contentType: sdp === undefined ? undefined : 'application/sdp',
  });
}

const sdp = (m: string): string => `v=0\r\no=x 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\n${m}\r\n`;

describe('hostile INVITEs', () => {
  it('MUST answer malformed or unusable INVITEs with the right error, allocate nothing and keep serving calls', async () => {
    const node = await startNode();
    const errors: unknown[] = [];
    node.layer.onError = (e) => errors.push(e);
    try {
      const a = await node.phone('2001');
      const b = await node.phone('2002');
      await a.register();
      await b.register();
      const cases: [SipRequest, number][] = [
        [invite(a, 'sip:2002@pbx.test', sdp('m=audio 4000 RTP/AVP 0'), false), 400], // no Contact
        [invite(a, 'tel:2002', sdp('m=audio 4000 RTP/AVP 0')), 404],
        [invite(a, 'sip:pbx.test', sdp('m=audio 4000 RTP/AVP 0')), 404], // no user part
        [invite(a, 'sip:2002@pbx.test', sdp('m=audio 0 RTP/AVP 0')), 488], // stream disabled
        [invite(a, 'sip:2002@pbx.test', sdp('m=audio 4000 RTP/SAVP 0')), 488], // SRTP
        [invite(a, 'sip:2002@pbx.test', sdp('m=video 4000 RTP/AVP 96')), 488], // no audio
      ];
      for (const [req, status] of cases) assert.equal((await a.send(req)).status, status, `expected ${status}`);
      assert.equal(node.calls.stats().total, 0);
      assert.equal(node.ports.inUse, 0);
      const call = await a.call('sip:2002@pbx.test');
      await once(call, 'answered');
      call.hangup();
      await waitFor(() => node.calls.stats().active === 0, 2000, 'end');
      assert.deepEqual(errors, []);
    } finally {
      await node.close();
    }
  });
});
