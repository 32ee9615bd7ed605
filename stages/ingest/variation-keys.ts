// sdgen's manifests store the TEXT each placeholder rendered, not its key. The key is
// what scores, labels and datasets speak, so each text is mapped back through the
// user's variation files, loaded with resolve's own loader. A text no file holds, or one
// several files hold with different keys, stays unresolved with the reason: a wrong key
// would make CLIP grade the image against the wrong alternatives.
import { basename, relative } from 'node:path';
import { renderValue } from '../resolve/templates/compile.js';
import { kindOf, TemplateLoader, type VariationsFile } from '../resolve/templates/loader.js';
import type { AxisAlternativesRow, ChosenVariation, UnresolvedVariation } from '../../schemas/tables.js';
import { axisAlternatives } from '../resolve/alternatives.js';
import { placeholderNames } from './placeholders.js';
import { yamlFilesUnder } from './variation-files.js';

interface Candidate {
  file: VariationsFile;
  path: string;
  /** project-relative name, for messages */
  name: string;
  key: string;
  /** the key's rendered text, normalised */
  text: string;
  /** every value text of the file, normalised: shared by the file's candidates */
  fileTexts: Set<string>;
}

/** A recovered variation as prompt rows hold it, with the axes row its `alternatives` names. */
export interface MappedVariation extends ChosenVariation {
  set: AxisAlternativesRow;
}

export type Mapping = { axis: string; mapped: MappedVariation } | { unresolved: UnresolvedVariation };

/** What a placeholder's text is compared as: sdgen normalises whitespace and case is not meaningful to CLIP. */
const norm = (text: string) => text.trim().replace(/\s+/g, ' ').toLowerCase();

export class VariationIndex {
  private readonly byText = new Map<string, Candidate[]>();
  private readonly byKey = new Map<string, Candidate[]>();
  readonly files: string[] = [];
  readonly problems: string[] = [];
  /** variation file -> the placeholder the user's templates import it as */
  private readonly placeholders: Map<string, string>;

  constructor(dirs: string[], projectDir: string, templateDirs: string[] = []) {
    this.placeholders = placeholderNames(templateDirs, projectDir);
    const loader = new TemplateLoader(projectDir);
    // Named relative to their variations folder: `hair.yaml:Blonde`, as the user knows them.
    const files = dirs.flatMap((dir) => yamlFilesUnder(dir).map((path) => [dir, path] as const));
    for (const [dir, path] of files) {
      if (kindOf(path) !== 'variations') continue;
      let file: VariationsFile;
      try {
        file = loader.variationsFile(path);
      } catch (error) {
        // Prompt, template and theme files also end in .yaml; only real variation files count.
        this.problems.push(`${path}: not read as a variations file (${(error as Error).message.split('\n')[0]})`);
        continue;
      }
      this.files.push(path);
      const name = relative(dir, path);
      const texts = file.values.map((v) => norm(renderValue(v, null) ?? ''));
      const fileTexts = new Set(texts);
      file.keys.forEach((key, i) => {
        const candidate = { file, path, name, key, text: texts[i]!, fileTexts };
        push(this.byText, texts[i]!, candidate);
        push(this.byKey, key, candidate);
      });
    }
  }

  /**
   * The key of `text` on `axis`. `available` (the texts sdgen listed for the axis) narrows
   * the candidates to files that hold all of them; `fixedKey` is a key sdgen recorded as
   * pinned for the axis.
   */
  map(axis: string, text: string, available: string[] = [], fixedKey?: string): Mapping {
    const wanted = norm(text);
    let candidates = fixedKey !== undefined ? (this.byKey.get(fixedKey) ?? []) : (this.byText.get(wanted) ?? []);
    // A pinned key names no file: the files where that key renders the image's text are the axis'.
    const rendersText = candidates.filter((c) => c.text === wanted);
    if (rendersText.length > 0) candidates = rendersText;
    // The axis' file is the one holding most of the texts sdgen listed for it.
    const listed = available.map(norm);
    const holds = (c: Candidate) => listed.filter((t) => c.fileTexts.has(t)).length;
    const most = Math.max(0, ...candidates.map(holds));
    candidates = candidates.filter((c) => holds(c) === most);
    const unresolved = (reason: string): Mapping => ({ unresolved: { axis, text, key: null, reason, candidates: candidates.map((c) => `${c.name}:${c.key}`) } });
    if (candidates.length === 0) return unresolved(fixedKey !== undefined ? `pinned key ${fixedKey} is in no variations file` : 'the text is in no variations file');
    // Copies of one file (the same key for the text) agree; different keys are a real ambiguity.
    const keys = new Set(candidates.map((c) => c.key));
    if (keys.size > 1) return unresolved(`the text is a value of ${keys.size} keys`);
    return { axis, mapped: mappedOf(candidates[0]!, axis) };
  }

  /**
   * For a prompt with no manifest (a plain A1111 folder): each comma-separated part that is
   * exactly a value text of one variations file. The axis is the placeholder the user's
   * templates import that file as, the name generated images use; the file's name when no
   * template imports it.
   */
  findInPrompt(prompt: string): Mapping[] {
    const found = new Map<string, Mapping>();
    for (const part of prompt.split(/[,\n]/).map(norm).filter(Boolean)) {
      const candidates = this.byText.get(part) ?? [];
      const files = new Set(candidates.map((c) => c.name));
      const keys = new Set(candidates.map((c) => c.key));
      if (files.size === 1 || (files.size > 1 && keys.size === 1)) {
        const axis = this.placeholders.get(candidates[0]!.path) ?? basename(candidates[0]!.name).replace(/\.yaml$/, '');
        found.set(axis, { axis, mapped: mappedOf(candidates[0]!, axis) });
      } else if (files.size > 1) {
        found.set(`?${part}`, { unresolved: { axis: '', text: part, key: null, reason: `the text is a value of ${keys.size} keys`, candidates: candidates.map((c) => `${c.name}:${c.key}`) } });
      }
    }
    return [...found.values()];
  }
}

/** One object per candidate, shared by every image that took it: 38,000 images make no 38,000 copies. */
const mappedCache = new WeakMap<Candidate, Map<string, MappedVariation>>();
function mappedOf(candidate: Candidate, axis: string): MappedVariation {
  let byAxis = mappedCache.get(candidate);
  if (!byAxis) mappedCache.set(candidate, (byAxis = new Map()));
  let mapped = byAxis.get(axis);
  if (!mapped) {
    const { file, key } = candidate;
    const texts = file.values.map((v) => renderValue(v, null) ?? '');
    const set = axisAlternatives(axis, file.keys, texts);
    const at = file.keys.indexOf(key);
    mapped = { key, value: file.values[at], text: texts[at] ?? key, alternatives: set.alternatives, set };
    byAxis.set(axis, mapped);
  }
  return mapped;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
