import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint, Via } from '../../../src/sip/message/types.ts';
import { canonicalIp, endpointKey, hostForm, responseDestination, stampVia } from '../../../src/sip/transport/address.ts';

function via(host: string, port: number | undefined, params: Array<[string, string | null]>): Via {
  return { protocol: 'SIP/2.0', transport: 'UDP', host, port, params: new Map(params) };
}
const src = (address: string, port: number): Endpoint => ({ transport: 'udp', address, port });

describe('Via stamping (RFC 3261 §18.2.1, RFC 3581 §4)', () => {
  it('MUST NOT add received when sent-by is the source IP, even written differently', () => {
    const v = via('[0:0:0:0:0:0:0:1]', 5060, [['branch', 'z9hG4bK1']]);
    stampVia(v, src('::1', 5060));
    assert.equal(v.params.has('received'), false);
    const v4 = via('127.0.0.1', 5060, []);
    stampVia(v4, src('::ffff:127.0.0.1', 5060));
    assert.equal(v4.params.has('received'), false, 'IPv4-mapped source equals the IPv4 sent-by');
  });

  it('MUST add received when sent-by is a domain name or another address', () => {
    const v = via('phone.example', 5060, []);
    stampVia(v, src('192.0.2.4', 5060));
    assert.equal(v.params.get('received'), '192.0.2.4');
    const w = via('10.0.0.5', 5062, []);
    stampVia(w, src('192.0.2.4', 41000));
    assert.equal(w.params.get('received'), '192.0.2.4');
    assert.equal(w.params.has('rport'), false, 'rport only when the client asked');
  });

  it('MUST fill an empty rport and add received even when the address matches', () => {
    const v = via('192.0.2.4', 5060, [['rport', null]]);
    stampVia(v, src('192.0.2.4', 41000));
    assert.equal(v.params.get('rport'), '41000');
    assert.equal(v.params.get('received'), '192.0.2.4');
  });

  it('MUST leave a client-filled rport alone', () => {
    const v = via('192.0.2.4', 5060, [['rport', '7000']]);
    stampVia(v, src('192.0.2.4', 41000));
    assert.equal(v.params.get('rport'), '7000');
  });
});

describe('Response destination (RFC 3261 §18.2.2, RFC 3581 §4)', () => {
  it('MUST use received and rport over UDP', () => {
    assert.deepEqual(responseDestination(via('10.0.0.5', 5062, [['received', '192.0.2.4'], ['rport', '41000']]), 'udp'), { address: '192.0.2.4', port: 41000 });
  });
  it('MUST use the sent-by port, or the transport default, without rport', () => {
    assert.deepEqual(responseDestination(via('10.0.0.5', 5062, [['received', '192.0.2.4']]), 'udp'), { address: '192.0.2.4', port: 5062 });
    assert.deepEqual(responseDestination(via('192.0.2.4', undefined, []), 'udp'), { address: '192.0.2.4', port: 5060 });
    assert.deepEqual(responseDestination(via('192.0.2.4', undefined, []), 'tls'), { address: '192.0.2.4', port: 5061 });
  });
  it('MUST use the sent-by port, not rport, for a new TCP connection', () => {
    assert.deepEqual(responseDestination(via('10.0.0.5', 5062, [['received', '192.0.2.4'], ['rport', '41000']]), 'tcp'), { address: '192.0.2.4', port: 5062 });
  });
  it('MUST prefer maddr, and give no address for a bare domain sent-by', () => {
    assert.deepEqual(responseDestination(via('10.0.0.5', 5062, [['maddr', '192.0.2.99'], ['received', '192.0.2.4'], ['rport', '1']]), 'udp'), { address: '192.0.2.99', port: 5062 });
    assert.equal(responseDestination(via('phone.example', 5060, []), 'udp').address, undefined);
  });
  it('MUST unbracket IPv6 sent-by hosts', () => {
    assert.deepEqual(responseDestination(via('[::1]', 5070, []), 'udp'), { address: '::1', port: 5070 });
  });
});

describe('Address helpers', () => {
  it('MUST canonicalise IP text for comparisons and connection keys', () => {
    assert.equal(canonicalIp('[2001:DB8:0:0:0:0:0:1]'), '2001:db8::1');
    assert.equal(canonicalIp('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(canonicalIp('Phone.Example'), 'phone.example');
    assert.equal(canonicalIp('fe80::1%eth0'), 'fe80::1%eth0', 'zone ids never throw');
    assert.equal(endpointKey({ transport: 'tcp', address: '0::1', port: 5060 }), endpointKey({ transport: 'tcp', address: '::1', port: 5060 }));
    assert.equal(hostForm('::1'), '[::1]');
    assert.equal(hostForm('127.0.0.1'), '127.0.0.1');
  });
});
