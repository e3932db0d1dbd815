import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { responseTo } from '../../../src/sip/transaction/messages.ts';
import { inboundRequest } from './fixtures.ts';
import { setup } from './setup.ts';

const METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER'];
const BRANCHES = [undefined, '', 'z9hG4bK', 'z9hG4bKa', 'z9hG4bKb', 'oldstyle'];

const step = fc.oneof(
  fc.record({
    kind: fc.constant('request' as const),
    method: fc.constantFrom(...METHODS),
    cseqMethod: fc.option(fc.constantFrom(...METHODS), { nil: undefined }),
    branch: fc.constantFrom(...BRANCHES),
    toTag: fc.option(fc.constantFrom('t1', 't2'), { nil: undefined }),
    seq: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    kind: fc.constant('response' as const),
    status: fc.constantFrom(100, 180, 200, 404, 487),
    branch: fc.constantFrom(...BRANCHES),
    method: fc.constantFrom(...METHODS),
  }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
);

describe('transaction layer under arbitrary input', () => {
  it('MUST never throw, and MUST leave no transaction or timer behind once the TU has answered and time has passed', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), fc.array(fc.constantFrom(180, 200, 486), { minLength: 1 }), (steps, answers) => {
        const { clock, transport, layer, errors } = setup();
        let i = 0;
        layer.onRequest = (tx) => {
          const res = responseTo(tx.request, answers[i++ % answers.length]);
          res.to.params.set('tag', 'uas');
          tx.respond(res);
          // A provisional answer is followed by a final one, as a TU must (§17.2.1).
          if (res.status < 200) tx.respond(responseTo(tx.request, 486));
        };
        for (const s of steps) {
          if (s.kind === 'advance') clock.advance(s.ms);
          else if (s.kind === 'request') {
            transport.injectRequest(inboundRequest(s.method, { branch: s.branch, toTag: s.toTag, seq: s.seq, cseqMethod: s.cseqMethod }));
          } else {
            const req = inboundRequest(s.method, { branch: s.branch });
            transport.injectResponse(responseTo(req, s.status));
          }
        }
        assert.deepEqual(errors, []);
        clock.advance(200_000);
        assert.equal(layer.serverCount, 0);
        assert.equal(layer.clientCount, 0);
        assert.equal(clock.pending, 0);
        layer.close();
      }),
      { numRuns: 300 },
    );
  });
});
