import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../src/node/config.ts';

function onlyConfigErrors(text: string): void {
  try {
    parseConfig(text, 'fuzz.yaml', { env: {}, configDir: '/nonexistent' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `non-ConfigError thrown: ${String(err)}`);
    for (const i of err.issues) {
      assert.equal(i.file, 'fuzz.yaml');
      if (i.line !== undefined) assert.ok(i.line >= 1 && (i.col ?? 1) >= 1);
    }
  }
}

describe('config parser robustness', () => {
  it('MUST fail only with ConfigError on arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), onlyConfigErrors), { numRuns: 300 });
  });

  it('MUST fail only with ConfigError on arbitrary YAML structures shaped like a config', () => {
    const leaf = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom('udp', 'tls', 'nl', '127.0.0.1'));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('role', 'sip', 'rtp', 'nodes', 'password', 'ha1', 'port', 'address', 'transport', 'x'), tie('v'), { maxKeys: 4 })),
    })).v;
    const doc = fc.record({ domain: fc.constantFrom('a.test', 'bad domain', 5), nodes: value, extensions: value }, { requiredKeys: [] });
    fc.assert(fc.property(doc, (d) => onlyConfigErrors(stringify(d))), { numRuns: 300 });
  });
});

describe('config YAML features', () => {
  it('MUST turn an unresolved alias (found by fuzzing) into a ConfigError', () => {
    assert.throws(() => parseConfig('*!', 'a.yaml'), (e: unknown) => e instanceof ConfigError && /^a\.yaml: YAML: Unresolved alias/.test(e.message));
  });

  it('MUST refuse an alias bomb instead of expanding it', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]'].join('\n');
    assert.throws(() => parseConfig(bomb, 'bomb.yaml'), (e: unknown) => e instanceof ConfigError && /YAML: .*alias/i.test(e.message));
  });
});
