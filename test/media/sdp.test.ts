import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sdpTransform from 'sdp-transform';
import {
  SdpError, SdpOrigin, answerDirection, checkOffer, holdState, negotiateAnswer, parseAudio, rewriteOffer, type SdpLeg,
} from '../../src/media/sdp.ts';

const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n';

/** A phone's offer: opus, G722, PCMA, PCMU, telephone-event, ICE and SDES-SRTP attributes, a video line. */
const PHONE_OFFER = crlf([
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.0.2.10',
  's=Talk',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789abcdef0123456789',
  'm=audio 49170 RTP/AVP 96 9 8 0 101',
  'a=rtpmap:96 opus/48000/2',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32',
  'a=candidate:1 1 UDP 2130706431 192.0.2.10 49170 typ host',
  'a=rtcp-mux',
  'a=sendrecv',
  'm=video 49172 RTP/AVP 97',
  'a=rtpmap:97 H264/90000',
]);

function leg(address: string, port: number): SdpLeg {
  return { address, port, origin: new SdpOrigin(address) };
}

function answerFrom(codecs: string, rtpmaps: string[], extra: string[] = [], video = true): string {
  return crlf([
    'v=0',
    'o=bob 1 1 IN IP4 198.51.100.7',
    's=-',
    'c=IN IP4 198.51.100.7',
    't=0 0',
    `m=audio 30000 RTP/AVP ${codecs}`,
    ...rtpmaps,
    ...extra,
    ...(video ? ['m=video 0 RTP/AVP 97'] : []),
  ]);
}

describe('SDP rewriteOffer (B2BUA media anchoring)', () => {
  it('MUST put our address and port in c=/m= and keep only PCMA, PCMU and telephone-event in order', () => {
    const r = rewriteOffer(PHONE_OFFER, leg('127.0.0.1', 40002));
    const s = sdpTransform.parse(r.sdp);
    assert.equal(s.connection?.ip, '127.0.0.1');
    assert.equal(s.origin.address, '127.0.0.1');
    assert.notEqual(s.origin.username, 'alice');
    const audio = s.media[0];
    assert.equal(audio.port, 40002);
    assert.equal(audio.protocol, 'RTP/AVP');
    assert.equal(audio.payloads, '8 0 101');
    assert.deepEqual(audio.rtp.map((x) => x.codec), ['PCMA', 'PCMU', 'telephone-event']);
    assert.equal(audio.ptime, 20);
    assert.equal(audio.direction, 'sendrecv');
  });

  it('MUST strip ICE, SRTP crypto and rtcp-mux attributes we cannot honour', () => {
    const { sdp } = rewriteOffer(PHONE_OFFER, leg('127.0.0.1', 40002));
    for (const bad of ['a=candidate', 'a=ice-', 'a=crypto', 'a=rtcp-mux', '192.0.2.10', 'opus', 'G722', 'H264']) {
      assert.ok(!sdp.includes(bad), `still contains ${bad}`);
    }
  });

  it('MUST keep the m= line count and disable the unsupported video stream with port 0 (RFC 3264 §8.2)', () => {
    const s = sdpTransform.parse(rewriteOffer(PHONE_OFFER, leg('127.0.0.1', 40002)).sdp);
    assert.equal(s.media.length, 2);
    assert.equal(s.media[1].type, 'video');
    assert.equal(s.media[1].port, 0);
  });

  it('MUST understand static payload types 0 and 8 without a=rtpmap', () => {
    const offer = crlf(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 0']);
    const a = parseAudio(offer);
    assert.deepEqual(a.codecs, [{ name: 'PCMU', pt: 0, rate: 8000 }]);
    const r = rewriteOffer(offer, leg('127.0.0.1', 40002), { transcode: false });
    assert.deepEqual(r.codecs.map((c) => c.name), ['PCMU']);
  });

  it('MUST add the other G.711 law for transcoding unless disabled, and honour the codec list', () => {
    const offer = crlf(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 0']);
    assert.deepEqual(rewriteOffer(offer, leg('127.0.0.1', 40002)).codecs.map((c) => `${c.name}/${c.pt}`), ['PCMU/0', 'PCMA/8']);
    const onlyA = rewriteOffer(PHONE_OFFER, leg('127.0.0.1', 40002), { codecs: ['PCMA'] });
    assert.deepEqual(onlyA.codecs.map((c) => c.name), ['PCMA', 'telephone-event']);
  });

  it('MUST refuse in checkOffer exactly the offers rewriteOffer refuses, with the same error code', () => {
    const video = crlf(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=video 5000 RTP/AVP 96']);
    const g729 = crlf(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 18']);
    for (const offer of [video, g729, 'garbage', PHONE_OFFER]) {
      const code = (f: () => unknown): string | undefined => {
        try {
          f();
          return undefined;
        } catch (err) {
          return err instanceof SdpError ? err.code : 'other';
        }
      };
      assert.equal(code(() => checkOffer(offer)), code(() => rewriteOffer(offer, leg('127.0.0.1', 40002))), offer.slice(0, 40));
    }
    assert.equal(checkOffer(PHONE_OFFER).port > 0, true);
  });

  it('MUST keep the offered direction (hold offer passes through)', () => {
    const hold = PHONE_OFFER.replace('a=sendrecv', 'a=sendonly');
    const s = sdpTransform.parse(rewriteOffer(hold, leg('127.0.0.1', 40002)).sdp);
    assert.equal(s.media[0].direction, 'sendonly');
  });

  it('MUST fail with SDP_NO_COMMON_CODEC when the offer has no G.711', () => {
    const offer = PHONE_OFFER.replace('m=audio 49170 RTP/AVP 96 9 8 0 101', 'm=audio 49170 RTP/AVP 96 9 101');
    assert.throws(() => rewriteOffer(offer, leg('127.0.0.1', 40002)), (e: unknown) => e instanceof SdpError && e.code === 'SDP_NO_COMMON_CODEC');
  });

  it('MUST refuse SRTP-only transports with SDP_UNSUPPORTED_TRANSPORT (RFC 3264 §6: same transport in the answer)', () => {
    const offer = PHONE_OFFER.replace('RTP/AVP 96 9 8 0 101', 'RTP/SAVP 96 9 8 0 101');
    assert.throws(() => rewriteOffer(offer, leg('127.0.0.1', 40002)), (e: unknown) => e instanceof SdpError && e.code === 'SDP_UNSUPPORTED_TRANSPORT');
  });

  it('MUST fail with SDP_INVALID on an audio stream without c=', () => {
    const offer = crlf(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0', 'm=audio 5000 RTP/AVP 0']);
    assert.throws(() => parseAudio(offer), (e: unknown) => e instanceof SdpError && e.code === 'SDP_INVALID');
  });
});

describe('SDP session version (RFC 3264 §8)', () => {
  it('MUST keep the session id and increment the version by one for each changed re-offer on a leg', () => {
    const l = leg('127.0.0.1', 40002);
    const o1 = sdpTransform.parse(rewriteOffer(PHONE_OFFER, l).sdp).origin;
    const o2 = sdpTransform.parse(rewriteOffer(PHONE_OFFER.replace('a=sendrecv', 'a=sendonly'), l).sdp).origin;
    const o3 = sdpTransform.parse(rewriteOffer(PHONE_OFFER, l).sdp).origin;
    assert.equal(String(o2.sessionId), String(o1.sessionId));
    assert.equal(o2.sessionVersion, o1.sessionVersion + 1);
    assert.equal(o3.sessionVersion, o1.sessionVersion + 2);
  });

  it('MUST keep the version when the same description is sent again', () => {
    const l = leg('127.0.0.1', 40002);
    const v1 = sdpTransform.parse(rewriteOffer(PHONE_OFFER, l).sdp).origin.sessionVersion;
    const v2 = sdpTransform.parse(rewriteOffer(PHONE_OFFER, l).sdp).origin.sessionVersion;
    assert.equal(v2, v1);
  });

  it('MUST use independent session ids per leg', () => {
    const a = sdpTransform.parse(rewriteOffer(PHONE_OFFER, leg('127.0.0.1', 40002)).sdp).origin;
    const b = sdpTransform.parse(rewriteOffer(PHONE_OFFER, leg('127.0.0.2', 40004)).sdp).origin;
    assert.equal(a.address, '127.0.0.1');
    assert.equal(b.address, '127.0.0.2');
  });
});

describe('SDP negotiateAnswer (RFC 3264 §6)', () => {
  it('MUST pick the first answered codec that A offered and answer A with A\'s payload numbers', () => {
    const ans = answerFrom('0 8 101', ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000']);
    const n = negotiateAnswer(PHONE_OFFER, ans, leg('127.0.0.1', 40010));
    assert.equal(n.transcode, false);
    assert.equal(n.offerer.codec, 'PCMU');
    assert.equal(n.answerer.codec, 'PCMU');
    assert.equal(n.offerer.telephoneEvent, 101);
    assert.deepEqual(n.offerer.remote, { address: '192.0.2.10', port: 49170, rtcpPort: 49171 });
    assert.deepEqual(n.answerer.remote, { address: '198.51.100.7', port: 30000, rtcpPort: 30001 });
    const s = sdpTransform.parse(n.sdp);
    assert.equal(s.connection?.ip, '127.0.0.1');
    assert.equal(s.media[0].port, 40010);
    assert.equal(s.media[0].payloads, '0 101');
    assert.equal(s.media.length, 2);
    assert.equal(s.media[1].port, 0);
  });

  it('MUST map telephone-event payload types between legs', () => {
    const ans = answerFrom('8 96', ['a=rtpmap:8 PCMA/8000', 'a=rtpmap:96 telephone-event/8000']);
    const n = negotiateAnswer(PHONE_OFFER, ans, leg('127.0.0.1', 40010));
    assert.equal(n.offerer.telephoneEvent, 101);
    assert.equal(n.answerer.telephoneEvent, 96);
    // B sends events with the number we offered it (RFC 3264 §6.1).
    assert.equal(n.answerer.recvTelephoneEvent, 101);
    assert.equal(n.offerer.pt, 8);
    const same = negotiateAnswer(PHONE_OFFER, answerFrom('8 101', ['a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000']), leg('127.0.0.1', 40010));
    assert.equal(same.answerer.recvTelephoneEvent, undefined);
  });

  it('MUST remember the PT B was offered when B answers the codec with another number', () => {
    const n = negotiateAnswer(PHONE_OFFER, answerFrom('110', ['a=rtpmap:110 PCMA/8000']), leg('127.0.0.1', 40010));
    assert.equal(n.answerer.pt, 110);
    assert.equal(n.answerer.recvPt, 8);
  });

  it('MUST pass the offerer\'s telephone-event list (a=fmtp) on', () => {
    const offer = PHONE_OFFER.replace('a=fmtp:101 0-16', 'a=fmtp:101 0-15');
    assert.match(rewriteOffer(offer, leg('127.0.0.1', 40002)).sdp, /a=fmtp:101 0-15\r\n/);
  });

  it('MUST drop telephone-event from the answer when B does not support it', () => {
    const n = negotiateAnswer(PHONE_OFFER, answerFrom('8', ['a=rtpmap:8 PCMA/8000']), leg('127.0.0.1', 40010));
    assert.equal(n.offerer.telephoneEvent, undefined);
    assert.equal(String(sdpTransform.parse(n.sdp).media[0].payloads), '8'); // sdp-transform yields a number for one PT
  });

  it('MUST transcode when the legs share no codec but both have a G.711 law', () => {
    const offer = crlf(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 0']);
    const n = negotiateAnswer(offer, answerFrom('8', ['a=rtpmap:8 PCMA/8000'], [], false), leg('127.0.0.1', 40010));
    assert.equal(n.transcode, true);
    assert.equal(n.offerer.codec, 'PCMU');
    assert.equal(n.answerer.codec, 'PCMA');
    assert.equal(String(sdpTransform.parse(n.sdp).media[0].payloads), '0');
  });

  it('MUST fail with SDP_NO_COMMON_CODEC when the answer has no G.711 or rejects the stream', () => {
    const g722 = answerFrom('9', ['a=rtpmap:9 G722/8000']);
    const rejected = answerFrom('0', []).replace('m=audio 30000', 'm=audio 0');
    for (const ans of [g722, rejected]) {
      assert.throws(() => negotiateAnswer(PHONE_OFFER, ans, leg('127.0.0.1', 40010)), (e: unknown) => e instanceof SdpError && e.code === 'SDP_NO_COMMON_CODEC');
    }
  });

  it('MUST carry B\'s answered direction to A (hold answered with recvonly)', () => {
    const hold = PHONE_OFFER.replace('a=sendrecv', 'a=sendonly');
    const n = negotiateAnswer(hold, answerFrom('8', ['a=rtpmap:8 PCMA/8000'], ['a=recvonly']), leg('127.0.0.1', 40010));
    assert.equal(n.offerer.direction, 'sendonly');
    assert.equal(n.answerer.direction, 'recvonly');
    assert.equal(sdpTransform.parse(n.sdp).media[0].direction, 'recvonly');
  });
});

describe('SDP hold detection', () => {
  const base = (extra: string[], c = '192.0.2.1'): string =>
    crlf(['v=0', 'o=- 1 2 IN IP4 192.0.2.1', 's=-', `c=IN IP4 ${c}`, 't=0 0', 'm=audio 5000 RTP/AVP 0', ...extra]);

  it('MUST detect a=sendonly and a=inactive as hold and a=sendrecv/recvonly as not', () => {
    assert.deepEqual(holdState(base(['a=sendonly'])), { direction: 'sendonly', onHold: true });
    assert.deepEqual(holdState(base(['a=inactive'])), { direction: 'inactive', onHold: true });
    assert.deepEqual(holdState(base([])), { direction: 'sendrecv', onHold: false });
    assert.deepEqual(holdState(base(['a=recvonly'])), { direction: 'recvonly', onHold: false });
  });

  it('MUST treat c=0.0.0.0 as RFC 2543 hold', () => {
    assert.deepEqual(holdState(base([], '0.0.0.0')), { direction: 'sendonly', onHold: true });
    assert.deepEqual(holdState(base(['a=recvonly'], '0.0.0.0')), { direction: 'inactive', onHold: true });
  });

  it('MUST apply a session-level direction attribute to the media', () => {
    const sdp = crlf(['v=0', 'o=- 1 2 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'a=sendonly', 'm=audio 5000 RTP/AVP 0']);
    assert.equal(holdState(sdp).onHold, true);
  });

  it('MUST answer sendonly with recvonly and vice versa', () => {
    assert.equal(answerDirection('sendonly'), 'recvonly');
    assert.equal(answerDirection('recvonly'), 'sendonly');
    assert.equal(answerDirection('inactive'), 'inactive');
  });

  it('MUST not throw anything but SdpError on garbage', () => {
    for (const junk of ['', 'garbage', '\r\n\r\n', 'v=0\r\nm=audio x RTP/AVP\r\n', 'm=audio 1 RTP/AVP 0\r\nc=IN IP4\r\n']) {
      try {
        parseAudio(junk);
      } catch (e) {
        assert.ok(e instanceof SdpError, `${JSON.stringify(junk)} threw ${String(e)}`);
      }
      try {
        rewriteOffer(junk, leg('127.0.0.1', 40002));
      } catch (e) {
        assert.ok(e instanceof SdpError, `${JSON.stringify(junk)} threw ${String(e)}`);
      }
    }
  });
});
