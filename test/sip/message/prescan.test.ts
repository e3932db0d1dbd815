import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isUncredentialedRegister } from '../../../src/sip/message/prescan.ts';

const msg = (text: string): Buffer => Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1');

describe('prescan: isUncredentialedRegister (bytes, before parsing)', () => {
  it('MUST recognise a REGISTER without Authorization', () => {
    assert.equal(isUncredentialedRegister(msg('REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1\nContent-Length: 0\n\n')), true);
  });

  it('MUST NOT match a REGISTER with Authorization or Proxy-Authorization (usual spellings)', () => {
    for (const h of ['Authorization: Digest username="a"', 'authorization: Digest username="a"', 'Proxy-Authorization: Digest username="a"']) {
      assert.equal(isUncredentialedRegister(msg(`REGISTER sip:example.com SIP/2.0\n${h}\nContent-Length: 0\n\n`)), false, h);
    }
  });

  it('MUST NOT match other methods, a lower-case method (methods are case-sensitive, RFC 3261 §7.1), a longer token or short input', () => {
    for (const t of ['INVITE sip:a@example.com SIP/2.0\n\n', 'register sip:example.com SIP/2.0\n\n', 'REGISTERX sip:example.com SIP/2.0\n\n', 'SIP/2.0 200 OK\n\n', 'REGISTER ', 'REG', '', '\r\n\r\n']) {
      assert.equal(isUncredentialedRegister(msg(t)), false, JSON.stringify(t));
    }
  });
});
