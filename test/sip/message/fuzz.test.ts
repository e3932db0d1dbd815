/**
 * Property tests over mutated real messages (torture vectors + typical traffic):
 * byte flips, truncation, insertion of CR/LF/NUL/quotes/<>, duplicated lines, huge
 * numbers. >= 100,000 inputs in total. The parser must never throw, must answer
 * quickly, and every result must be well-formed (and parsed messages must survive
 * a serialize/parse round trip).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import { serializeMessage } from '../../../src/sip/message/serializer.ts';
import { SipParseError, type ParseResult } from '../../../src/sip/message/errors.ts';
import { StreamFramer } from '../../../src/sip/transport/framer.ts';
import { serializeRawResponse } from '../../../src/sip/message/raw-response.ts';
import type { SipMessage } from '../../../src/sip/message/types.ts';
import { listRfc4475, listRfc5118, rfc4475, rfc5118, TYPICAL } from './vectors.ts';

const SEEDS: Buffer[] = [...TYPICAL, ...listRfc4475().map(rfc4475), ...listRfc5118().map(rfc5118)];
const INSERTS = ['\r', '\n', '\r\n', '\r\n ', '\r\n\r\n', '\0', '"', '\\', '<', '>', ',', ';', ':', '=', '%', '%0', '[', ']', '@', ' ', '\t', '99999999999999999999999', '-1', '4294967296', 'Content-Length: 99999\r\n', 'Via: \r\n', '\u00ff', '\ufeff'].map((s) => Buffer.from(s, s === '\u00ff' ? 'latin1' : 'utf8'));

type Op =
  | { t: 'flip'; pos: number; byte: number }
  | { t: 'truncate'; pos: number }
  | { t: 'insert'; pos: number; what: number }
  | { t: 'dupline'; pos: number }
  | { t: 'delete'; pos: number; len: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('flip' as const), pos: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ t: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({ t: fc.constant('insert' as const), pos: fc.nat(), what: fc.nat(INSERTS.length - 1) }),
  fc.record({ t: fc.constant('dupline' as const), pos: fc.nat() }),
  fc.record({ t: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
);

function mutate(seed: Buffer, ops: Op[]): Buffer {
  let b = seed;
  for (const o of ops) {
    const pos = b.length === 0 ? 0 : o.pos % (b.length + 1);
    switch (o.t) {
      case 'flip':
        if (b.length > 0) {
          b = Buffer.from(b);
          b[pos % b.length] = o.byte;
        }
        break;
      case 'truncate':
        b = b.subarray(0, pos);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, pos), INSERTS[o.what], b.subarray(pos)]);
        break;
      case 'dupline': {
        const start = b.lastIndexOf('\r\n', pos) + 2;
        const end = b.indexOf('\r\n', pos);
        if (end > start) b = Buffer.concat([b.subarray(0, end + 2), b.subarray(start, end + 2), b.subarray(end + 2)]);
        break;
      }
      case 'delete':
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + o.len)]);
        break;
    }
  }
  return b;
}

function strip(m: SipMessage): SipMessage {
  const c = { ...m };
  delete c.contentLength;
  return c;
}

/** Checks one input: never throws, quick, well-formed result, stable round trip. */
function check(input: Buffer): void {
  const t0 = performance.now();
  let r: ParseResult;
  try {
    r = parseMessage(input);
  } catch (e) {
    assert.fail(`parseMessage threw ${String(e)} for ${JSON.stringify(input.toString('latin1'))}`);
  }
  let dt = performance.now() - t0;
  // A slow parse is re-timed before it counts: on a busy machine one GC pause or
  // preemption can exceed the budget, a pathological input stays slow every time.
  for (let retry = 0; retry < 2 && dt >= 250; retry++) {
    const t1 = performance.now();
    parseMessage(input);
    dt = performance.now() - t1;
  }
  assert.ok(dt < 250, `parse took ${dt} ms`);
  if (r.ok) {
    const m = r.msg;
    assert.ok(m.via.length >= 1 && typeof m.callId === 'string' && m.callId.length > 0);
    assert.ok(Number.isInteger(m.cseq.seq) && m.cseq.seq >= 0 && m.cseq.seq <= 4294967295);
    assert.ok(Buffer.isBuffer(m.body));
    if (m.kind === 'response') assert.ok(m.status >= 100 && m.status <= 699);
    const again = parseMessage(serializeMessage(m));
    if (!again.ok) assert.fail(`re-parse failed: ${again.error.fault} for ${JSON.stringify(input.toString('latin1'))}`);
    assert.deepEqual(strip(again.msg), strip(m));
  } else {
    assert.ok(r.error instanceof SipParseError);
    assert.ok([400, 413, 505].includes(r.error.status));
    assert.ok(r.error.fault.length > 0 && !/[\r\n]/.test(r.error.fault));
    if (r.response) {
      assert.equal(r.isRequest, true);
      assert.equal(r.response.status, r.error.status);
      assert.ok(r.response.to.params.has('tag'));
      const back = parseMessage(serializeMessage(r.response));
      if (!back.ok) assert.fail(`error response does not parse: ${back.error.fault} for ${JSON.stringify(input.toString('latin1'))}`);
    }
    if (r.rawResponse) {
      // Raw copies must still frame as one response: every line a header line, nothing injected.
      assert.equal(r.response, undefined);
      const text = serializeRawResponse(r.rawResponse).toString('utf8');
      assert.ok(text.startsWith(`SIP/2.0 ${r.error.status} `) && text.endsWith('\r\n\r\n'));
      const lines = text.slice(0, -4).split('\r\n');
      for (const l of lines) assert.ok(!/[\r\n\0]/.test(l), `raw response line with CR/LF/NUL: ${JSON.stringify(l)}`);
      for (const l of lines.slice(1)) assert.match(l, /^(Via|From|To|Call-ID|CSeq|Content-Length): /);
    }
  }
  // Stream framing on the same bytes must not throw either.
  const frames = new StreamFramer(65535).push(input);
  for (const f of frames) if (f.kind === 'message') assert.ok(f.data.length <= input.length);
}

const mutated = fc.record({ seed: fc.nat(SEEDS.length - 1), ops: fc.array(op, { minLength: 1, maxLength: 6 }) });

describe('parser fuzzing (fast-check)', () => {
  for (let part = 0; part < 4; part++) {
    it(`MUST never throw and always return a well-formed result for mutated real messages (part ${part + 1}/4, 24,000 inputs)`, () => {
      fc.assert(fc.property(mutated, ({ seed, ops }) => check(mutate(SEEDS[seed], ops))), { numRuns: 24000, seed: 4475 + part });
    });
  }
  it('MUST survive arbitrary bytes and arbitrary header text (5,000 inputs)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (a) => check(Buffer.from(a))), { numRuns: 2000, seed: 3261 });
    const line = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ':', ';', ',', '"', '\\', '<', '>', ' ', '\t', '=', '@', '[', ']', '%', '/', '\r\n', '\r\n '), maxLength: 60 });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (ls) =>
        check(Buffer.from(['INVITE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1', 'To: <sip:b@c>', 'Call-ID: x', 'CSeq: 1 INVITE', ...ls.map((l, i) => (i % 2 ? `Contact: ${l}` : `X-H: ${l}`))].join('\r\n') + '\r\n\r\n')),
      ),
      { numRuns: 3000, seed: 5118 },
    );
  });
});
