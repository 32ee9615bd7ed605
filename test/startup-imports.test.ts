// What every command pays before it does anything: the modules the CLI, the command
// modules and the stage modules import statically, and the packages those reach. A
// package outside the few every command needs (DuckDB, Arrow, sharp, ONNX, BullMQ, the
// web app, vega...) is imported at its point of use, so `pipeline --version`, `status`
// and a no-op `run` do not load it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import fg from 'fast-glob';

const root = resolve(import.meta.dirname, '..');

/** The packages start-up may load: argv, pipeline.yaml and the lock, their schemas, hashing, limiting. */
const startupPackages = ['commander', 'yaml', 'zod', '@node-rs/xxhash', 'p-limit'];

/** One import or re-export statement, however many lines its braces take. */
const statementPattern = /^(import|export)\s+([^'";]*?)\s*from\s*['"]([^'"]+)['"]|^import\s*['"]([^'"]+)['"]/gm;
/** A CommonJS package required when the module loads (at the top level, not inside a function). */
const topLevelRequire = /^const\s[^=]+=\s*requireCommonJs\(\s*['"]([^'"]+)['"]/gm;

/** Whether TypeScript drops the statement: `import type`, or braces of nothing but `type X`. */
function typeOnly(clause: string): boolean {
  if (/^type\s/.test(clause)) return true;
  const braces = /^\{([^}]*)\}$/.exec(clause.replace(/\s+/g, ' ').trim());
  if (!braces) return false;
  const names = braces[1]!.split(',').map((s) => s.trim()).filter(Boolean);
  return names.length > 0 && names.every((name) => name.startsWith('type '));
}

/** The specifiers a source file loads when it is itself loaded. */
function loadedBy(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const statements = [...text.matchAll(statementPattern)].filter((m) => m[4] !== undefined || !typeOnly(m[2]!)).map((m) => m[3] ?? m[4]!);
  return [...statements, ...[...text.matchAll(topLevelRequire)].map((m) => m[1]!)];
}

const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/** Each package the entry reaches, with the chain of files that reaches it first. */
function packagesReached(entry: string): Map<string, string> {
  const reached = new Map<string, string>();
  const seen = new Set<string>();
  const visit = (file: string, chain: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const specifier of loadedBy(file)) {
      if (specifier.startsWith('node:')) continue;
      if (!specifier.startsWith('.')) {
        if (!reached.has(packageOf(specifier))) reached.set(packageOf(specifier), chain.join(' -> '));
        continue;
      }
      const target = relative(root, resolve(dirname(join(root, file)), specifier)).replace(/\.js$/, '.ts');
      if (existsSync(join(root, target))) visit(target, [...chain, target]);
    }
  };
  visit(entry, [entry]);
  return reached;
}

const entries = ['src/cli.ts', 'commands/index.ts', ...fg.sync('stages/*/index.ts', { cwd: root }).sort()];

describe('start-up', () => {
  it.each(entries)('%s loads no package beyond the ones every command needs', (entry) => {
    const extra = [...packagesReached(entry)].filter(([pkg]) => !startupPackages.includes(pkg)).map(([pkg, chain]) => `${pkg} via ${chain}`);
    expect(extra).toEqual([]);
  });

  it('counts the imports TypeScript keeps and only those', () => {
    expect(typeOnly('{ type A, type B }')).toBe(true);
    expect(typeOnly('type { A }')).toBe(true);
    expect(typeOnly('{ a, type B }')).toBe(false);
    expect(typeOnly('x')).toBe(false);
    // The import itself loads sharp, through a helper that imports it statically.
    expect(packagesReached('stages/ingest/folder.ts').get('sharp')).toBe('stages/ingest/folder.ts -> stages/ingest/annotation-band.ts');
  });
});
