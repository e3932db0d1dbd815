import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseUri } from '../../../src/sip/message/parser.ts';
import { serializeUri } from '../../../src/sip/message/serializer.ts';
import { aorOf, uriEquals } from '../../../src/sip/message/build.ts';
import { SipParseError } from '../../../src/sip/message/errors.ts';
import { isSipUri, type SipUri } from '../../../src/sip/message/types.ts';

function sip(s: string): SipUri {
  const u = parseUri(s);
  assert.ok(isSipUri(u));
  return u;
}

describe('URI parsing (RFC 3261 §19.1, §25.1)', () => {
  it('MUST split user, password, host, port, params and headers', () => {
    const u = sip('sips:alice:secret@Atlanta.COM:5061;transport=tcp;LR;maddr=239.255.255.1?subject=project%20x&priority=urgent');
    assert.equal(u.scheme, 'sips');
    assert.equal(u.user, 'alice');
    assert.equal(u.password, 'secret');
    assert.equal(u.host, 'Atlanta.COM');
    assert.equal(u.port, 5061);
    assert.deepEqual([...u.params], [['transport', 'tcp'], ['lr', null], ['maddr', '239.255.255.1']]);
    assert.deepEqual([...u.headers], [['subject', 'project x'], ['priority', 'urgent']]);
  });
  it('MUST unescape %-escapes in the user part and params', () => {
    const u = sip('sip:%61lice%40home@example.com;n%61me=v%61lue');
    assert.equal(u.user, 'alice@home');
    assert.equal(u.params.get('name'), 'value');
  });
  it('MUST accept a URI without user part and with a bare host', () => {
    const u = sip('sip:example.com');
    assert.equal(u.user, undefined);
    assert.equal(u.host, 'example.com');
    assert.equal(u.port, undefined);
  });
  it('MUST keep IPv6 references bracketed and read the port after the bracket (RFC 5118 §4.4)', () => {
    assert.deepEqual([sip('sip:[2001:db8::10]:5070').host, sip('sip:[2001:db8::10]:5070').port], ['[2001:db8::10]', 5070]);
    assert.equal(sip('sip:alice@[::1];transport=udp').params.get('transport'), 'udp');
  });
  it('MUST reject an unbracketed IPv6 host (RFC 5118 §4.2)', () => {
    assert.throws(() => parseUri('sip:2001:db8::10'), SipParseError);
  });
  it('MUST reject malformed URIs', () => {
    for (const bad of ['', 'sip:', 'sip:@host', 'sip:host:99999', 'sip:host:', 'sip:ho st', 'sip:<x>', 'sip:a@b;;c', 'sip:a@b?x', 'sip:%zz@h', '1sip:x', 'sip:[::1', 'sip:a@b:5060x']) {
      assert.throws(() => parseUri(bad), SipParseError, bad);
    }
  });
  it('MUST parse tel URIs with parameters (RFC 3966)', () => {
    const u = parseUri('tel:+31-45-555-0100;phone-context=example.com');
    assert.deepEqual(u, { scheme: 'tel', number: '+31-45-555-0100', params: new Map([['phone-context', 'example.com']]) });
  });
  it('MUST keep unknown schemes verbatim as OtherUri', () => {
    assert.deepEqual(parseUri('urn:service:sos'), { scheme: 'urn', raw: 'urn:service:sos' });
  });
});

describe('URI serialization', () => {
  it('MUST escape characters the grammar does not allow unescaped', () => {
    const u = sip('sip:example.com');
    u.user = 'I have spaces@x';
    u.params.set('name', 'a;b=c%');
    u.headers.set('Route', '<sip:x;lr>');
    const s = serializeUri(u);
    assert.equal(s, 'sip:I%20have%20spaces%40x@example.com;name=a%3Bb%3Dc%25?Route=%3Csip:x%3Blr%3E');
    assert.deepEqual(parseUri(s), u);
  });
  it('MUST round-trip sip, tel and other URIs', () => {
    for (const s of ['sip:alice:pw@[2001:db8::1]:5060;transport=tcp;lr?h=v', 'tel:+31455550100', 'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6']) {
      assert.equal(serializeUri(parseUri(s)), s);
    }
  });
});

describe('URI equality (RFC 3261 §19.1.4)', () => {
  const eq = (a: string, b: string): boolean => uriEquals(parseUri(a), parseUri(b));
  it('MUST treat the RFC examples of equivalent URIs as equal', () => {
    assert.ok(eq('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'));
    assert.ok(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'));
    assert.ok(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'));
    assert.ok(eq('sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'));
    assert.ok(eq('sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'));
    assert.ok(eq('sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'));
  });
  it('MUST treat the RFC examples of different URIs as different', () => {
    assert.ok(!eq('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'));
    assert.ok(!eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'));
    assert.ok(!eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'));
    assert.ok(!eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'));
    assert.ok(!eq('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'));
    assert.ok(!eq('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'));
    assert.ok(!eq('sip:alice@atlanta.com', 'sips:alice@atlanta.com'));
    assert.ok(!eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off'));
  });
  it('MUST compare tel URIs ignoring visual separators', () => {
    assert.ok(eq('tel:+31-45-555-0100', 'tel:+31455550100'));
    assert.ok(!eq('tel:+31455550100', 'tel:+31455550101'));
  });
});

describe('aorOf', () => {
  it('MUST give user@host with the host lower-cased', () => {
    assert.equal(aorOf(parseUri('sip:Alice@Lab.SpacePhone.TEST:5060;transport=tcp')), 'Alice@lab.spacephone.test');
    assert.equal(aorOf(parseUri('sip:Lab.SpacePhone.test')), 'lab.spacephone.test');
  });
});
