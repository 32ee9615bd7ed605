// Finding and loading the modules pipeline.yaml names (`uses:` stages, `commands:`), and
// the code identity of a stage: its file plus the relative imports it pulls in, outside
// the engine, so editing a stage or its helpers reruns it and editing the engine doesn't.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InputError, shownPath } from './errors.js';
import { isStageModule, type StageModule } from './stage.js';
import type { Command } from './command.js';
import type { StatCache } from './stat-cache.js';
import { hashValue } from './hash.js';

const engineDir = dirname(fileURLToPath(import.meta.url));
const runningFromSource = engineDir.endsWith(`${sep}src`) && !engineDir.includes(`${sep}dist${sep}`);
/** Built-in modules sit beside the engine: dist/stages/<name>/index.js when built, stages/<name>/index.ts under vitest. */
const builtinRoot = resolve(engineDir, '..');
const moduleExt = runningFromSource ? '.ts' : '.js';

/** Where a built-in name is looked up: stages under stages/, command modules at the top (commands/). */
type ModuleKind = 'stage' | 'command';

export function resolveModulePath(ref: string, projectDir: string, kind: ModuleKind = 'stage'): string | undefined {
  const isPath = ref.startsWith('.') || isAbsolute(ref) || /\.(m?js|ts)$/.test(ref);
  const folder = kind === 'stage' ? join(builtinRoot, 'stages') : builtinRoot;
  const candidates = isPath ? [resolve(projectDir, ref)] : [join(folder, ref, `index${moduleExt}`)];
  return candidates.find((c) => existsSync(c));
}

/** .js modules load natively; a user's .ts module goes through tsx, loaded only then (it costs startup time). */
async function importModule(path: string): Promise<unknown> {
  const url = pathToFileURL(path).href;
  if (path.endsWith('.ts') && !runningFromSource) {
    const { tsImport } = await import('tsx/esm/api');
    const mod = (await tsImport(url, import.meta.url)) as { default?: { default?: unknown } };
    // tsx may wrap the module as CommonJS, nesting the default export once more.
    return mod.default && Object.keys(mod.default).join() === 'default' ? mod.default.default : mod.default;
  }
  return ((await import(url)) as { default?: unknown }).default;
}

export interface LoadedStage {
  module: StageModule;
  file: string;
}

export async function loadStageModule(ref: string, projectDir: string, where: { file: string; field: string }): Promise<LoadedStage> {
  const file = resolveModulePath(ref, projectDir);
  if (!file) {
    throw new InputError(`stage module "${ref}" not found (a built-in stage name, or a path to a .js or .ts module relative to the project)`, where);
  }
  const mod = await importModule(file);
  if (!isStageModule(mod)) {
    throw new InputError(`${shownPath(projectDir, file)} does not export a stage: its default export must be defineStage(...) or defineMapStage(...)`, where);
  }
  return { module: mod, file };
}

export async function loadCommandModule(ref: string, projectDir: string, where: { file: string; field: string }): Promise<Command[]> {
  const file = resolveModulePath(ref, projectDir, 'command');
  if (!file) throw new InputError(`command module "${ref}" not found`, where);
  const mod = await importModule(file);
  const commands = Array.isArray(mod) ? mod : [mod];
  if (!commands.every((c) => c && typeof c.name === 'string' && typeof c.configure === 'function' && typeof c.run === 'function')) {
    throw new InputError(`${shownPath(projectDir, file)} does not export commands: its default export must be defineCommand(...) or an array of them`, where);
  }
  return commands as Command[];
}

const importPattern = /(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

/** The module file and the relative imports it reaches, except the engine's own files. */
export function moduleClosure(file: string): string[] {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path) || dirname(path) === engineDir || !existsSync(path)) return;
    seen.add(path);
    for (const match of readFileSync(path, 'utf8').matchAll(importPattern)) {
      let target = resolve(dirname(path), match[1] ?? match[2]!);
      if (!existsSync(target) && target.endsWith('.js')) target = target.replace(/\.js$/, '.ts');
      visit(target);
    }
  };
  visit(file);
  return [...seen].sort();
}

export async function codeHash(files: string[], stats: StatCache): Promise<string> {
  return hashValue({ files: await stats.hashFiles(files) });
}
