// `pipeline validate`: check every template-kind file under the given folders and plan
// every prompt file, collecting all problems instead of stopping at the first.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError, InputErrors } from '../../../src/errors.js';
import { resolveInheritance } from './inherit.js';
import { kindOf, TemplateLoader } from './loader.js';
import { planPromptFile, type PlanOptions } from './plan.js';
import { discoverThemes } from './themes.js';
import { unknownKeys } from './unknown-keys.js';

export interface ValidationReport {
  files: string[];
  problems: InputError[];
  /** worth a look, not wrong: unknown keys */
  warnings: InputError[];
}

/** The folder part of a glob before its first wildcard (`data/prompts/**\/*.yaml` -> `data/prompts`). */
export function globBase(glob: string): string {
  const parts = glob.split('/');
  const firstWild = parts.findIndex((p) => /[*?[\]{}!]/.test(p));
  return (firstWild < 0 ? parts.slice(0, -1) : parts.slice(0, firstWild)).join('/') || '.';
}

function yamlFilesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    // Tool folders (node_modules, .git, .github...) hold YAML that is no sdgen file.
    .filter((name) => /\.ya?ml$/.test(name) && !name.split(/[\\/]/).some((part) => part.startsWith('.') || part === 'node_modules'))
    .map((name) => join(path, name))
    .filter((file) => statSync(file).isFile())
    .sort();
}

function problemsOf(error: unknown, file: string): InputError[] {
  if (error instanceof InputErrors) return error.errors.map((e) => located(e, file));
  if (error instanceof InputError) return [located(error, file)];
  throw error;
}

/** Errors raised deep inside planning may not know their file: the entry file is the best guess. */
function located(error: InputError, file: string): InputError {
  return error.where.file ? error : new InputError(error.message, { ...error.where, file });
}

function checkOne(file: string, report: ValidationReport): void {
  const loader = new TemplateLoader(dirname(file));
  try {
    const kind = kindOf(file, loader.yaml(file).data);
    if (kind === 'variations') loader.variationsFile(file);
    else loader[kind](file);
    report.warnings.push(...unknownKeys(loader.yaml(file), kind));
  } catch (error) {
    report.problems.push(...problemsOf(error, file));
  }
}

/** The themes an entry prompt can use, so that each is planned once too. */
function themesOf(entry: string): string[] {
  try {
    const loader = new TemplateLoader(dirname(entry));
    const { themes } = resolveInheritance(loader, entry);
    return themes ? [...discoverThemes(loader, themes).keys()] : [];
  } catch {
    return []; // the plan without a theme reports this file's problems
  }
}

/** Distinct problems only: an entry planned once per theme may hit the same one each time. */
function distinct(errors: InputError[]): InputError[] {
  const seen = new Set<string>();
  return errors.filter((e) => !seen.has(e.format()) && seen.add(e.format()));
}

/**
 * Plan every entry (once per theme it can use) and check every file in the folders given
 * and every file the plans read (with `readFolders`, all of those files' folders); a
 * prompt file met there is planned too, so that an unknown placeholder is an error
 * wherever the file sits.
 */
export function validateTemplates(entries: string[], folders: string[], options: PlanOptions & { readFolders?: boolean }): ValidationReport {
  const report: ValidationReport = { files: [], problems: [], warnings: [] };
  const checked = new Set<string>();
  const planned = new Set<string>();
  const dirs = new Set(folders.map((f) => resolve(options.projectDir, f)));
  const planEntry = (entry: string) => {
    if (planned.has(entry)) return;
    planned.add(entry);
    checked.add(entry);
    for (const theme of [options.theme ?? null, ...themesOf(entry)]) {
      try {
        // A file that asks is checked as the first answer would plan it.
        const plan = planPromptFile(entry, { answers: { mode: 'combinatorial', seed_mode: 'fixed' }, ...options, theme });
        for (const file of plan.files.filter((f) => /\.ya?ml$/.test(f))) dirs.add(options.readFolders === false ? file : dirname(file));
        report.warnings.push(...plan.warnings.map((w) => new InputError(w)));
      } catch (error) {
        report.problems.push(...problemsOf(error, entry));
      }
    }
    report.warnings.push(...keyWarnings(entry));
  };
  for (const entry of entries) planEntry(resolve(entry));
  const scanned = new Set<string>();
  for (let dir = nextDir(dirs, scanned); dir !== null; dir = nextDir(dirs, scanned)) {
    for (const file of yamlFilesUnder(dir)) {
      if (checked.has(file)) continue;
      if (isPromptFile(file)) planEntry(file);
      else {
        checked.add(file);
        checkOne(file, report);
      }
    }
  }
  return { files: [...checked], problems: distinct(report.problems), warnings: distinct(report.warnings) };
}

/** Folders are added while plans read files; take them in sorted order until none is left. */
function nextDir(dirs: Set<string>, scanned: Set<string>): string | null {
  const next = [...dirs].filter((d) => !scanned.has(d)).sort()[0] ?? null;
  if (next !== null) scanned.add(next);
  return next;
}

function isPromptFile(file: string): boolean {
  try {
    return kindOf(file, new TemplateLoader(dirname(file)).yaml(file).data) === 'prompt';
  } catch {
    return false; // a file that does not parse is reported by checkOne
  }
}

function keyWarnings(entry: string): InputError[] {
  try {
    return unknownKeys(new TemplateLoader(dirname(entry)).yaml(entry), 'prompt');
  } catch {
    return [];
  }
}
