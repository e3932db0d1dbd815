import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseFinal, type BranchFailure } from '../../../src/pbx/calls/final-response.ts';

const f = (status: number, synthetic = false): BranchFailure => ({ status, reason: `r${status}`, synthetic });

describe('choosing the caller\'s final response (RFC 3261 §16.7 step 6)', () => {
  it('MUST prefer a 6xx over any other response', () => {
    assert.equal(chooseFinal([f(486), f(603), f(404)]).status, 603);
  });
  it('MUST answer 486 when every branch is busy, and prefer 486 within the 4xx class', () => {
    assert.equal(chooseFinal([f(486), f(486)]).status, 486);
    assert.equal(chooseFinal([f(404), f(486)]).status, 486);
  });
  it('MUST choose the lowest class', () => {
    assert.equal(chooseFinal([f(500), f(404)]).status, 404);
  });
  it('MUST turn timeouts, transport failures, challenges and redirects into 480', () => {
    assert.equal(chooseFinal([f(408, true), f(503, true)]).status, 480);
    assert.equal(chooseFinal([f(407)]).status, 480);
    assert.equal(chooseFinal([f(302)]).status, 480);
    assert.equal(chooseFinal([f(302), f(486)]).status, 486);
    assert.equal(chooseFinal([]).status, 480);
  });
  it('MUST pass on the reason phrase of the chosen response', () => {
    assert.deepEqual(chooseFinal([f(404)]), { status: 404, reason: 'r404' });
  });
});
