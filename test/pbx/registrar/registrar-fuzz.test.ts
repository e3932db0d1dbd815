import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import type { SipRequest } from '../../../src/sip/message/types.ts';
import { AUTH100, DOMAIN, FLOW, setup } from './helpers.ts';

const ALLOWED = new Set([200, 400, 401, 403, 404, 420, 423, 439, 500]);

const paramValue = fc.oneof(fc.constant(undefined), fc.constant(null), fc.stringMatching(/^[0-9a-zA-Z.+-]{1,14}$/));
/** Mostly valid values (so bindings really change), sometimes garbage. */
function mostly(valid: fc.Arbitrary<string | undefined>): fc.Arbitrary<string | null | undefined> {
  return fc.oneof({ arbitrary: valid, weight: 8 }, { arbitrary: paramValue, weight: 1 });
}
const contact = fc.record({
  port: fc.integer({ min: 5060, max: 5063 }),
  expires: mostly(fc.oneof(fc.constant(undefined), fc.constantFrom('0', '30', '60', '3600', '99999999999'))),
  q: mostly(fc.oneof(fc.constant(undefined), fc.constantFrom('0', '0.5', '1', '0.125'))),
  regId: mostly(fc.oneof(fc.constant(undefined), fc.constantFrom('1', '2'))),
  instance: fc.oneof(fc.constant(undefined), fc.constantFrom('"<urn:uuid:a>"', '"<urn:uuid:b>"', 'bare', '""')),
});

function param(name: string, v: string | null | undefined): string {
  return v === undefined ? '' : v === null ? `;${name}` : `;${name}=${v}`;
}

describe('Registrar under hostile REGISTERs', () => {
  it('MUST answer every parsable REGISTER with a sensible status and never store an expiry beyond the maximum', () => {
    const { registrar, store, clock } = setup();
    fc.assert(
      fc.property(
        fc.array(contact, { maxLength: 4 }),
        fc.oneof(fc.constant(undefined), fc.stringMatching(/^[0-9]{1,14}$/)),
        fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 2 ** 31 - 1 })),
        fc.constantFrom('', '', '', 'Require: path', 'Require: foo', 'Supported: outbound', 'Path: <sip:edge.pbx.test;lr;ob>', 'Supported: outbound\r\nPath: <sip:edge.pbx.test;lr>'),
        fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
        (contacts, expires, cseq, extra, star) => {
          const lines = [
            `REGISTER sip:${DOMAIN} SIP/2.0`, 'Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKfuzz', 'Max-Forwards: 70',
            `From: <sip:100@${DOMAIN}>;tag=f`, `To: <sip:100@${DOMAIN}>`, `Call-ID: fuzz-${cseq % 3}`, `CSeq: ${cseq} REGISTER`,
            `Authorization: Digest username="${AUTH100.user}", response="${AUTH100.password}"`,
          ];
          if (star) lines.push('Contact: *');
          else for (const c of contacts) lines.push(`Contact: <sip:100@127.0.0.1:${c.port}>${param('expires', c.expires)}${param('q', c.q)}${param('reg-id', c.regId)}${param('+sip.instance', c.instance)}`);
          if (expires !== undefined) lines.push(`Expires: ${expires}`);
          if (extra) lines.push(extra);
          lines.push('Content-Length: 0', '', '');
          const parsed = parseMessage(Buffer.from(lines.join('\r\n')));
          if (!parsed.ok) return;
          const res = registrar.handle(parsed.msg as SipRequest, FLOW);
          assert.ok(ALLOWED.has(res.status), `status ${res.status} ${res.reason}`);
          for (const b of store.all(clock.now())) assert.ok(b.expiresAt <= clock.now() + 7200_000 && b.expiresAt > clock.now());
          if (res.status === 200 && res.contact !== '*') {
            for (const c of res.contact) {
              const e = Number(c.params.get('expires'));
              assert.ok(e >= 1 && e <= 7200);
            }
          }
          clock.advance(1000);
        },
      ),
      { numRuns: 400, seed: 4475 },
    );
  });
});
