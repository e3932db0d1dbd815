import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import type { SipRequest } from '../../../src/sip/message/types.ts';
import { getHeader } from '../../../src/sip/message/build.ts';
import { checkRequest, type UasPolicy } from '../../../src/sip/ua/uas-checks.ts';
import { vectorsDir } from '../../support/vectors.ts';

const POLICY: UasPolicy = {
  allow: ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER'],
  known: ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'SUBSCRIBE', 'NOTIFY', 'INFO', 'UPDATE', 'PRACK', 'REFER', 'MESSAGE', 'PUBLISH'],
  supported: ['path', 'outbound'],
  schemes: ['sip', 'sips', 'tel'],
  accept: ['application/sdp'],
  forwarded: ['INVITE'],
};

function vector(name: string): SipRequest {
  const r = parseMessage(readFileSync(join(vectorsDir('rfc4475'), `${name}.dat`)));
  assert.ok(r.ok, `${name} parses`);
  assert.equal(r.msg.kind, 'request');
  return r.msg as SipRequest;
}

describe('UAS request checks (RFC 3261 §8.2, RFC 4475 §3.3)', () => {
  it('MUST answer an unknown Request-URI scheme with 416 (unkscm, §3.3.2)', () => {
    assert.equal(checkRequest(vector('unkscm'), POLICY)?.status, 416);
  });
  it('MUST answer an unsupported Require with 420 listing it in Unsupported (bext01, §3.3.5)', () => {
    const res = checkRequest(vector('bext01'), POLICY);
    assert.equal(res?.status, 420);
    assert.match(getHeader(res!, 'Unsupported') ?? '', /nothingSupportsThis/i);
  });
  it('MUST answer an unknown Content-Type with 415 and Accept (invut, §3.3.6)', () => {
    const res = checkRequest(vector('invut'), POLICY);
    assert.equal(res?.status, 415);
    assert.equal(getHeader(res!, 'Accept'), 'application/sdp');
  });
  it('MUST answer 483 when Max-Forwards is 0 on a request it would forward (zeromf, §3.3.11)', () => {
    // zeromf is an OPTIONS to a user: an element that forwards OPTIONS answers 483.
    assert.equal(checkRequest(vector('zeromf'), { ...POLICY, forwarded: ['INVITE', 'OPTIONS'] })?.status, 483);
    assert.equal(checkRequest(vector('zeromf'), POLICY), undefined, 'answered locally: not forwarded');
  });
  it('MUST answer 406 when Accept excludes the SDP answer (sdp01, §3.3.15)', () => {
    assert.equal(checkRequest(vector('sdp01'), POLICY)?.status, 406);
  });
  it('MAY treat a known but atypical scheme as unknown: 416 (novelsc, §3.3.3)', () => {
    assert.equal(checkRequest(vector('novelsc'), POLICY)?.status, 416);
  });
  it('accepts an ordinary request', () => {
    const req = vector('novelsc');
    assert.equal(checkRequest({ ...req, uri: { scheme: 'sip', user: 'u', host: 'example.com', params: new Map(), headers: new Map() } }, POLICY), undefined);
  });
  it('MUST answer an unknown method with 501 and a known unimplemented one with 405 + Allow', () => {
    const req = vector('novelsc');
    assert.equal(checkRequest({ ...req, method: 'FOO', cseq: { seq: 1, method: 'FOO' } }, POLICY)?.status, 501);
    const res = checkRequest({ ...req, method: 'SUBSCRIBE', cseq: { seq: 1, method: 'SUBSCRIBE' } }, POLICY);
    assert.equal(res?.status, 405);
    assert.equal(getHeader(res!, 'Allow'), POLICY.allow.join(', '));
  });
});
