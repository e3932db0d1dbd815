import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/node/config.ts';

function yamlWith(extensions: string[]): string {
  return [
    'domain: scale.test',
    'nodes:',
    '  n1:',
    '    role: public',
    '    sip: [{ transport: udp, address: 127.0.0.1 }]',
    '    rtp: { address: 127.0.0.1, minPort: 30000, maxPort: 30099 }',
    'extensions:',
    ...extensions,
    '',
  ].join('\n');
}

describe('config at PBX scale', () => {
  it('MUST still reject a duplicate extension key, naming its line (YAML keys are unique)', () => {
    const text = yamlWith(['  "100": { password: a, nodes: [n1] }', '  "101": { password: b, nodes: [n1] }', '  "100": { password: c, nodes: [n1] }']);
    assert.throws(() => parseConfig(text, 'dup.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.issues.length, 1);
      assert.equal(err.issues[0]?.line, 10);
      assert.match(err.message, /^dup\.yaml:10:3: YAML: Map keys must be unique$/);
      return true;
    });
  });

  it('MUST reject a duplicate key in a nested mapping too', () => {
    const text = yamlWith(['  "100": { password: a, password: b, nodes: [n1] }']);
    assert.throws(() => parseConfig(text, 'dup.yaml'), /Map keys must be unique/);
  });

  it('MUST keep 1 and "1" apart as keys (different YAML scalars)', () => {
    const text = yamlWith(['  "1": { password: a, nodes: [n1] }', '  2: { password: b, nodes: [n1] }']);
    const cfg = parseConfig(text, 'ok.yaml');
    assert.deepEqual(Object.keys(cfg.extensions).sort(), ['1', '2']);
  });

  it('MUST load extensions in linear time (the duplicate-key check of the yaml library was O(n²): ~9 s for 20,000)', () => {
    const load = (n: number): number => {
      const exts = Array.from({ length: n }, (_, i) => `  "${10000 + i}": { password: pw-${i}, nodes: [n1] }`);
      const text = yamlWith(exts);
      const t0 = performance.now();
      const cfg = parseConfig(text, 'big.yaml');
      const ms = performance.now() - t0;
      assert.equal(Object.keys(cfg.extensions).length, n);
      return ms;
    };
    load(2_000); // warm-up
    const small = load(5_000);
    const big = load(20_000);
    // 4× the extensions: ~4× the time when linear, ~16× when quadratic. Either bound
    // passes (a loaded test machine stretches both timings, not usually their ratio).
    assert.ok(big < 4000 || big / small < 9, `5,000: ${small.toFixed(0)} ms, 20,000: ${big.toFixed(0)} ms`);
  });
});
