import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, parseNameAddr } from '../../../src/sip/message/parser.ts';
import { serializeMessage, serializeNameAddr, serializeVia } from '../../../src/sip/message/serializer.ts';
import type { SipMessage } from '../../../src/sip/message/types.ts';
import { TYPICAL } from './vectors.ts';

function parsed(b: Buffer): SipMessage {
  const r = parseMessage(b);
  assert.ok(r.ok);
  return r.msg;
}
const names = (wire: Buffer): string[] => wire.toString().split('\r\n\r\n')[0].split('\r\n').slice(1).map((l) => l.slice(0, l.indexOf(':')));

describe('serializeMessage (RFC 3261 §7)', () => {
  it('MUST write typed headers in canonical order, raw headers in original order, Content-Length last', () => {
    const m = parsed(TYPICAL[0]);
    assert.deepEqual(names(serializeMessage(m)), ['Via', 'Max-Forwards', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Supported', 'Content-Type', 'Allow', 'User-Agent', 'Content-Length']);
  });
  it('MUST recompute Content-Length from the body', () => {
    const m = parsed(TYPICAL[0]);
    m.body = Buffer.from('v=0\r\n');
    const wire = serializeMessage(m);
    assert.match(wire.toString(), /\r\nContent-Length: 5\r\n\r\nv=0\r\n$/);
    assert.equal(parsed(wire).body.toString(), 'v=0\r\n');
  });
  it('MUST NOT let CR or LF in a value start a new header line', () => {
    const m = parsed(TYPICAL[2]);
    m.headers.push({ name: 'Subject', value: 'a\r\nVia: SIP/2.0/UDP evil' });
    assert.ok(m.kind === 'response');
    m.reason = 'OK\r\nX: y';
    m.from.displayName = 'Eve\r\nInjected: 1';
    const r = parseMessage(serializeMessage(m));
    assert.ok(r.ok);
    assert.equal(r.msg.via.length, 1);
    assert.equal(r.msg.headers.find((h) => h.name === 'Subject')?.value, 'a  Via: SIP/2.0/UDP evil');
    assert.ok(!r.msg.headers.some((h) => h.name === 'Injected' || h.name === 'X'));
  });
  it('MUST write Contact: * for a wildcard', () => {
    const m = parsed(TYPICAL[1]);
    m.contact = '*';
    m.expires = 0;
    assert.match(serializeMessage(m).toString(), /\r\nContact: \*\r\nExpires: 0\r\n/);
  });
  it('MUST write Via and name-addr in their canonical forms', () => {
    assert.equal(serializeVia({ protocol: 'SIP/2.0', transport: 'TCP', host: '[::1]', port: 5061, params: new Map([['branch', 'z9hG4bKx'], ['rport', null]]) }), 'SIP/2.0/TCP [::1]:5061;branch=z9hG4bKx;rport');
    assert.equal(serializeNameAddr(parseNameAddr('sip:a@b;tag=1')), '<sip:a@b>;tag=1');
    assert.equal(serializeNameAddr(parseNameAddr('Bob <tel:+3145>')), '"Bob" <tel:+3145>');
  });
});
