/** Parse-and-assert helpers the message tests share. */
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/sip/message/types.ts';

/** The parsed message; fails the test when the parser refused it. */
export function parsed(buf: Buffer): SipMessage {
  const r = parseMessage(buf);
  if (!r.ok) assert.fail(`expected a parsed message, got ${r.error.status} "${r.error.fault}"`);
  return r.msg;
}

export function request(buf: Buffer): SipRequest {
  const m = parsed(buf);
  assert.equal(m.kind, 'request');
  return m as SipRequest;
}

export function response(buf: Buffer): SipResponse {
  const m = parsed(buf);
  assert.equal(m.kind, 'response');
  return m as SipResponse;
}

/** The parser's fault text; fails the test when the message parsed. */
export function fault(buf: Buffer): string {
  const r = parseMessage(buf);
  if (r.ok) assert.fail('expected a failure');
  return r.error.fault;
}
