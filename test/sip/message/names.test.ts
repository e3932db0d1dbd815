import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lowerName } from '../../../src/sip/message/scan.ts';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import { isSipUri } from '../../../src/sip/message/types.ts';

describe('parameter names (RFC 3261 §7.3.1: case-insensitive)', () => {
  it('MUST lower-case a parameter name whatever its case, common or not', () => {
    const s = ';BRANCH;Tag;x-Custom;tag;received';
    assert.equal(lowerName(s, 1, 7), 'branch');
    assert.equal(lowerName(s, 8, 11), 'tag');
    assert.equal(lowerName(s, 12, 20), 'x-custom');
    assert.equal(lowerName(s, 21, 24), 'tag');
    assert.equal(lowerName(s, 25, 33), 'received');
  });

  it('MUST NOT take a name for a common one it only starts or ends with', () => {
    const s = 'tags;xtag;ta;nonce2';
    assert.equal(lowerName(s, 0, 4), 'tags');
    assert.equal(lowerName(s, 5, 9), 'xtag');
    assert.equal(lowerName(s, 10, 12), 'ta');
    assert.equal(lowerName(s, 13, 19), 'nonce2');
  });

  it('MUST key Via, name-addr, URI and Digest parameters by their lower-cased names', () => {
    const text =
      'REGISTER sip:reg.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;BRANCH=z9hG4bK-1;RPort\r\n' +
      'From: <sip:a@reg.test>;TAG=1\r\nTo: <sip:a@reg.test>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n' +
      'Contact: <sip:a@127.0.0.1:5061;Transport=udp;LR>;Expires=60\r\n' +
      'Authorization: Digest UserName="a", Realm="reg.test", NONCE="n", URI="sip:reg.test", Response="r"\r\nContent-Length: 0\r\n\r\n';
    const r = parseMessage(Buffer.from(text));
    assert.ok(r.ok);
    const m = r.msg;
    assert.equal(m.via[0].params.get('branch'), 'z9hG4bK-1');
    assert.equal(m.via[0].params.get('rport'), null);
    assert.equal(m.from.params.get('tag'), '1');
    assert.ok(m.contact !== '*');
    const c = m.contact[0];
    assert.equal(c.params.get('expires'), '60');
    assert.ok(isSipUri(c.uri));
    assert.deepEqual([...c.uri.params.keys()], ['transport', 'lr']);
    assert.deepEqual([...m.authorization[0].params.keys()], ['username', 'realm', 'nonce', 'uri', 'response']);
  });
});
