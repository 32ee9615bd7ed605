// The house rules of the source tree, checked on every `npm test`: imports point down
// (commands -> web -> stages -> adapters -> src -> schemas), the demo parts are reached only
// where a backend, model or trainer is chosen by name, there are no import circles, and
// no test reaches into the project's own data/ folder (a user editing the demo files must
// not break the suite).
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import fg from 'fast-glob';

const root = resolve(import.meta.dirname, '..');
const layers = ['src', 'schemas', 'adapters', 'stages', 'commands', 'web', 'demo'] as const;
type Layer = (typeof layers)[number];

/** What each top folder may import besides itself. */
const allowed: Record<Layer, Layer[]> = {
  schemas: [],
  src: ['schemas'],
  adapters: ['src', 'schemas'],
  demo: ['adapters', 'src', 'schemas'],
  stages: ['adapters', 'src', 'schemas', 'demo'],
  commands: ['web', 'stages', 'adapters', 'src', 'schemas'],
  web: ['stages', 'adapters', 'src', 'schemas'],
};

/** The only places that reach the demo parts: where a backend, CLIP model or trainer is chosen by name. */
const demoChoosers = new Set(['stages/generate/backend.ts', 'stages/generate/identity.ts', 'stages/score/models.ts', 'stages/train/index.ts']);

const importPattern = /(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(?\s*['"](\.[^'"]+)['"]/g;

function relativeImports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(importPattern)].map((m) => {
    const target = relative(root, resolve(dirname(join(root, file)), m[1] ?? m[2]!));
    return target.replace(/\.js$/, '.ts');
  });
}

const sources = fg.sync(layers.map((l) => `${l}/**/*.ts`), { cwd: root }).sort();
const graph = new Map(sources.map((file) => [file, relativeImports(file)]));
const layerOf = (file: string) => file.split('/')[0] as Layer;

describe('source layout', () => {
  it('imports point down the layers', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = layerOf(file);
      for (const target of targets) {
        const to = layerOf(target);
        if (to !== from && !allowed[from].includes(to)) wrong.push(`${file} -> ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the demo parts are imported only where a backend, model or trainer is chosen', () => {
    const reaching = [...graph].filter(([file, targets]) => layerOf(file) !== 'demo' && targets.some((t) => t.startsWith('demo/'))).map(([file]) => file);
    expect(reaching.filter((file) => !demoChoosers.has(file))).toEqual([]);
  });

  it('has no import circles', () => {
    expect(importCircles(graph)).toEqual([]);
  });
});

describe('tests', () => {
  it('never reach into the project data/ folder', () => {
    const offenders = fg.sync(['test/**/*.{ts,mjs}'], { cwd: root, ignore: ['test/layout.test.ts'] }).flatMap((file) => dataReferences(file));
    expect(offenders).toEqual([]);
  });
});

/** Names a test file gives the repository root: `repoRoot` from the helpers, or a local resolve/join of its folder. */
function rootAliases(file: string, text: string): string[] {
  const here = dirname(join(root, file));
  const local = [...text.matchAll(/(?:const|let)\s+(\w+)\s*=\s*(?:resolve|join)\((?:import\.meta\.dirname|__dirname)((?:\s*,\s*'[^']*')*)\s*\)/g)]
    .filter((m) => resolve(here, ...[...m[2]!.matchAll(/'([^']*)'/g)].map((s) => s[1]!)) === root)
    .map((m) => m[1]!);
  return text.includes('repoRoot') ? [...local, 'repoRoot'] : local;
}

/** Places where a test file builds a path into the project's data/ folder. */
function dataReferences(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const joined = rootAliases(file, text)
    .filter((name) => new RegExp(`(?:join|resolve)\\(\\s*${name}\\s*,\\s*['"]data\\b`).test(text))
    .map((name) => `${file}: ${name} + data/`);
  const literal = [...text.matchAll(/['"]((?:\.\.\/)+data\/[^'"]*)['"]/g)]
    .filter((m) => resolve(dirname(join(root, file)), m[1]!).startsWith(join(root, 'data')))
    .map((m) => `${file}: ${m[1]}`);
  return [...joined, ...literal];
}

/** Every strongly connected group of more than one file (or a file importing itself), by Tarjan's algorithm. */
function importCircles(edges: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  let next = 0;
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const target of edges.get(node) ?? []) {
      if (!edges.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) low.set(node, Math.min(low.get(node)!, index.get(target)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== node);
    if (group.length > 1 || (edges.get(node) ?? []).includes(node)) circles.push(group.sort());
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return circles;
}
