// YAML reading at the size of big variations files: 20,000 and 70,000 keys. The one
// reader (src/yaml-file.ts) checks duplicate keys itself in one pass; the yaml package's
// own check (uniqueKeys) compares every key with every other. Baseline, in the same run:
// the package's parse (with positions, as ours) and no duplicate check at all, so the
// ratio is what our check costs.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parseYaml } from '../dist/src/yaml-file.js';

const { parseDocument, LineCounter } = createRequire(import.meta.url)('yaml');

function variations(keys) {
  return Array.from({ length: keys }, (_, i) => `Value${i}: "value number ${i}, detailed, soft light"`).join('\n') + '\n';
}

function best(runs, fn) {
  let ms = Infinity;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return ms;
}

for (const keys of [20_000, 70_000]) {
  const text = variations(keys);
  const ours = best(3, () => parseYaml('bench.yaml', text));
  const bare = best(3, () => parseDocument(text, { uniqueKeys: false, lineCounter: new LineCounter(), prettyErrors: true }).toJS());
  console.log(`yaml: ${keys} keys (${(text.length / 1e6).toFixed(1)} MB): ${ours.toFixed(0)} ms with the duplicate-key check; baseline parse without any check ${bare.toFixed(0)} ms; ${(ours / bare).toFixed(2)}x`);
}
// The package's quadratic check, at a size that still finishes: 4x the keys costs ~16x.
for (const keys of [2_500, 5_000, 10_000]) {
  const text = variations(keys);
  const quadratic = best(1, () => parseDocument(text, { uniqueKeys: true }).toJS());
  const ours = best(3, () => parseYaml('bench.yaml', text));
  console.log(`yaml: ${keys} keys: uniqueKeys: true ${quadratic.toFixed(0)} ms, ours ${ours.toFixed(0)} ms (${(quadratic / ours).toFixed(1)}x)`);
}
