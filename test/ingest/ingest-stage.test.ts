// The ingest stage in-process on a history of every sdgen format: what each folder
// planned, holds and lost, the variation keys recovered (or not, with why), and the
// files it could not read named and skipped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { hashBytes } from '../../src/hash.js';
import { expandRoots } from '../../stages/ingest/roots.js';
import { makeTestContext, runMapStage } from '../../src/testing.js';
import ingest, { ingestParams } from '../../stages/ingest/index.js';
import { axisAlternativesRow, catalogImageRow, catalogPromptRow, importedSessionRow, type AxisAlternativesRow, type CatalogImageRow, type CatalogPromptRow, type ImportedSessionRow } from '../../schemas/tables.js';
import { buildHistory, type History } from './fixtures.js';

let history: History;
let images: CatalogImageRow[];
let prompts: CatalogPromptRow[];
let axes: AxisAlternativesRow[];
let sessions: Map<string, ImportedSessionRow>;
let logs: string[];

const sessionNamed = (suffix: string) => [...sessions.values()].find((s) => s.session_dir.endsWith(suffix))!;
const promptOfFile = (name: string) => prompts.find((p) => p.prompt_id === images.find((i) => i.filename === name)!.prompt_id)!;

beforeAll(async () => {
  history = await buildHistory();
  const params = ingestParams.parse({ ingest: { paths: [history.root], variations_dirs: [history.variations] } });
  const ctx = makeTestContext({ dir: history.root, params, stage: 'ingest' });
  const { tables } = await runMapStage(ingest, ctx);
  images = tables.imported!.map((r) => catalogImageRow.parse(r));
  prompts = tables.imported_prompts!.map((r) => catalogPromptRow.parse(r));
  axes = tables.imported_axes!.map((r) => axisAlternativesRow.parse(r));
  sessions = new Map(tables.imported_sessions!.map((r) => importedSessionRow.parse(r)).map((s) => [s.session_dir, s]));
  logs = ctx.logs;
}, 60_000);

describe('ingest', () => {
  it('reads each manifest format and counts gaps in the index as failures', () => {
    expect(sessionNamed('-portrait')).toMatchObject({ format: 'v2', status: 'aborted', planned: 5, present: 3, failed_indexes: [2, 4] });
    expect(sessionNamed('_legacy')).toMatchObject({ format: 'v2-inferred', confidence: 'medium', planned: 2, present: 2, failed_indexes: [] });
    expect(sessionNamed('-october')).toMatchObject({ format: 'october-2025', planned: 4, present: 3, failed_indexes: [3] });
    expect(sessionNamed('_oldstyle')).toMatchObject({ format: 'v1', planned: 2, present: 2, failed_indexes: [] });
    expect(sessionNamed('2025-11-20')).toMatchObject({ format: 'png-info', planned: 3, present: 3 });
  });

  it('keys every image by the xxh128 content hash generate uses, and points at the file where it is', () => {
    for (const image of images) {
      // The results folder is the project here: paths are stored relative to it.
      expect(image.path.startsWith('/')).toBe(false);
      expect(image.image_id).toBe(hashBytes(readFileSync(join(history.root, image.path))));
      expect(image).toMatchObject({ origin: 'imported', status: 'ok', width: 64, height: 96 });
    }
  });

  it('takes seed and model from the PNG and maps variation texts back to their keys', () => {
    const image = images.find((i) => i.filename === 'portrait_0000_seed-100.png')!;
    expect(image).toMatchObject({ seed: 100, model_name: 'dreamshaper_8', model_hash: '879db523c3' });
    const prompt = promptOfFile('portrait_0000_seed-100.png');
    expect(prompt.variations.HairColor).toMatchObject({ key: 'Blonde', text: 'blonde hair' });
    // Each folder lists the axes its prompts name; catalog keeps one row per id.
    expect(axes.find((a) => a.alternatives === prompt.variations.HairColor!.alternatives))
      .toMatchObject({ axis: 'HairColor', keys: ['Blonde', 'Black', 'Red'], texts: ['blonde hair', 'black hair', 'bright red hair'] });
    expect(prompt.variations.Expression?.key).toBe('Happy');
    expect(promptOfFile('october_0001.png').variations.HairColor?.key).toBe('Black');
    expect(promptOfFile('october_0001.png').seed).toBe(556);
    expect(promptOfFile('002_Hair-black-hair.png').variations.Hair?.key).toBe('Black');
  });

  it('records a text that maps to no key, and one that maps to two, instead of guessing', () => {
    const purple = promptOfFile('portrait_0003_seed-103.png');
    expect(purple.variations.HairColor).toBeUndefined();
    expect(purple.unresolved).toEqual([expect.objectContaining({ axis: 'HairColor', text: 'purple hair', key: null, reason: 'the text is in no variations file' })]);
    const smiling = promptOfFile('legacy_0000.png');
    expect(smiling.variations.HairColor?.key).toBe('Red');
    const ambiguous = smiling.unresolved.find((u) => u.axis === 'Expression')!;
    expect(ambiguous).toMatchObject({ text: 'smiling', key: null, reason: 'the text is a value of 2 keys' });
    expect(ambiguous.candidates.sort()).toEqual(['expression.yaml:Smile', 'mood.yaml:Glad']);
  });

  it('withholds the variations of annotated images from scoring and flags them', () => {
    const image = images.find((i) => i.filename === 'labelled_0000_seed-1.png')!;
    expect(image.annotated).toBe(true);
    const prompt = promptOfFile('labelled_0000_seed-1.png');
    expect(prompt.variations).toEqual({});
    expect(prompt.unresolved.map((u) => [u.axis, u.candidates[0], u.reason])).toEqual([
      ['HairColor', 'Blonde', 'annotated: the value text is burned into the image'],
      ['Expression', 'Happy', 'annotated: the value text is burned into the image'],
    ]);
  });

  it('reads a plain A1111 folder from PNG Info, finding known values in the prompt', () => {
    const plain = promptOfFile('00001-1234.png');
    expect(plain).toMatchObject({ prompt: 'masterpiece, blonde hair, happy', negative_prompt: 'lowres', seed: 1234, idx: -1 });
    expect(Object.fromEntries(Object.entries(plain.variations).map(([axis, v]) => [axis, v.key]))).toEqual({ hair: 'Blonde', expression: 'Happy' });
    expect(images.find((i) => i.filename === '00001-1234.png')).toMatchObject({ model_name: 'juggernaut', model_hash: 'abcdef0123' });
    expect(promptOfFile('00002-1235.png').variations.mood?.key).toBe('Gloomy');
    // text after IDAT (not A1111's order) is still found
    expect(promptOfFile('00004-1237.png')).toMatchObject({ seed: 1237, prompt: 'masterpiece, black hair' });
  });

  it('names and skips a corrupt manifest and a truncated PNG, importing the rest', () => {
    expect(logs.some((l) => l.startsWith('warning: ') && l.includes(join('20251115_120000-broken')) && l.includes('manifest not read'))).toBe(true);
    expect(logs.some((l) => l.includes(join('2025-11-20', '00003-1236.png')) && l.includes('IEND'))).toBe(true);
    expect(sessionNamed('-broken')).toMatchObject({ format: 'png-info', present: 2 });
    expect(promptOfFile('broken_0000_seed-9.png').variations.hair?.key).toBe('Black');
    expect(sessionNamed('2025-11-20').unreadable).toEqual([expect.stringMatching(/^00003-1236\.png: not a complete PNG/)]);
  });
});

describe('ingest.paths', () => {
  it('expands ~ and globs to folders, and names a path that holds none', async () => {
    const home = process.env.HOME;
    process.env.HOME = join(history.root, '..');
    try {
      expect(await expandRoots(['~/results'], '/elsewhere')).toEqual([{ dir: history.root, relative: false }]);
      expect((await expandRoots([join(history.root, '2025-*')], '/elsewhere')).map((r) => r.dir)).toEqual([join(history.root, '2025-06-01_080000_oldstyle'), join(history.root, '2025-10-01_120000_legacy')]);
      expect(await expandRoots(['results'], join(history.root, '..'))).toEqual([{ dir: history.root, relative: true }]);
      await expect(expandRoots(['~/no-such-results'], '/elsewhere')).rejects.toThrow(/ingest path "~\/no-such-results" names no folder/);
      await expect(expandRoots(['~/no-such-results'], '/elsewhere')).rejects.toBeInstanceOf(InputError);
    } finally {
      process.env.HOME = home;
    }
  });
});
