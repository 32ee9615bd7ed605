// Images whose variation text sdgen burned in, found from their pixels where no manifest
// says so: the box drawn as sdgen's annotator draws it, in each corner and style, against
// pictures that only look alike (dark ones, a dark patch without text, a bright corner).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { hasAnnotationBox } from '../../stages/ingest/annotation-band.js';
import ingest, { ingestParams } from '../../stages/ingest/index.js';
import { makeTestContext, runMapStage } from '../../src/testing.js';
import { catalogImageRow, catalogPromptRow } from '../../schemas/tables.js';
import { formatParameters, writePngText } from '../../adapters/png-text.js';
import { a1111Png, sdgenAnnotated, texturedPng, variationFiles } from './fixtures.js';

const lines = ['HairColor: blonde hair', 'Expression: happy'];

/** An annotator that keeps A1111's text: the box drawn, the file saved back in RGB with its `parameters`. */
async function annotatedKeepingText(picture: Buffer, seed: number): Promise<Buffer> {
  const rgb = await sharp(await sdgenAnnotated(picture, lines)).removeAlpha().png().toBuffer();
  const settings = { Steps: '20', Sampler: 'Euler a', 'CFG scale': '7', Seed: String(seed), Size: '320x320', Model: 'dreamshaper_8' };
  return writePngText(rgb, { parameters: formatParameters({ prompt: 'portrait, blonde hair, happy', negativePrompt: 'lowres', settings }) });
}

async function importFlags(base: string): Promise<Record<string, boolean>> {
  const variations = join(base, 'variations');
  mkdirSync(variations, { recursive: true });
  for (const [name, text] of Object.entries(variationFiles)) writeFileSync(join(variations, name), text);
  const params = ingestParams.parse({ ingest: { paths: [join(base, 'results')], variations_dirs: [variations] } });
  const { tables } = await runMapStage(ingest, makeTestContext({ dir: base, params, stage: 'ingest' }));
  return Object.fromEntries(tables.imported!.map((r) => catalogImageRow.parse(r)).map((i) => [i.filename, i.annotated]));
}

describe('the annotation box', () => {
  it('is found in every corner sdgen can put it, in its default and other styles', async () => {
    const picture = await texturedPng(320, 320, 1);
    for (const position of ['bottom-left', 'bottom-right', 'top-left', 'top-right'] as const) {
      expect(await hasAnnotationBox(await sdgenAnnotated(picture, lines, { position })), position).toBe(true);
    }
    expect(await hasAnnotationBox(await sdgenAnnotated(picture, ['Hair: Red'], { margin: 0, padding: 6, fontSize: 12 }))).toBe(true);
    expect(await hasAnnotationBox(await sdgenAnnotated(await texturedPng(512, 768, 2), lines, { margin: 40, fontSize: 24 }))).toBe(true);
  });

  it('is not found in pictures without one', async () => {
    const picture = await texturedPng(320, 320, 3);
    expect(await hasAnnotationBox(picture)).toBe(false);
    const night = await sharp({ create: { width: 320, height: 320, channels: 3, background: { r: 12, g: 14, b: 30 } } })
      .composite([{ input: Buffer.from('<svg width="320" height="320" xmlns="http://www.w3.org/2000/svg"><circle cx="40" cy="280" r="12" fill="white"/></svg>') }])
      .png().toBuffer();
    expect(await hasAnnotationBox(night)).toBe(false);
    const darkPatch = await sharp(picture)
      .composite([{ input: Buffer.from('<svg width="320" height="320" xmlns="http://www.w3.org/2000/svg"><rect x="20" y="220" width="180" height="80" fill="black" fill-opacity="0.7"/></svg>') }])
      .png().toBuffer();
    expect(await hasAnnotationBox(darkPatch)).toBe(false);
  });
});

describe('ingest without a manifest saying so', () => {
  it('flags the images that show the box and withholds their variations from scoring', async () => {
    const base = mkdtempSync(join(tmpdir(), 'sdloop-annotated-'));
    const variations = join(base, 'variations');
    mkdirSync(variations);
    for (const [name, text] of Object.entries(variationFiles)) writeFileSync(join(variations, name), text);
    const plain = join(base, 'results', 'txt2img-images');
    mkdirSync(plain, { recursive: true });
    const a1111 = await a1111Png({ prompt: 'masterpiece, blonde hair, happy', seed: 5, colour: 200 }, [320, 320]);
    writeFileSync(join(plain, '00001-5.png'), a1111);
    writeFileSync(join(plain, '00002-5.png'), await sdgenAnnotated(await texturedPng(320, 320, 4), lines));
    // An sdgen session annotated after its manifest was written: the manifest has no output block.
    const session = join(base, 'results', '20251202_090000-later');
    mkdirSync(session);
    writeFileSync(join(session, 'later_0000_seed-7.png'), await sdgenAnnotated(await texturedPng(320, 320, 5), lines, { position: 'top-right' }));
    writeFileSync(join(session, 'manifest.json'), JSON.stringify({
      snapshot: { version: '2.0', generation_params: { num_images: 1 }, variations: { HairColor: { available: ['blonde hair'], used: ['blonde hair'] } } },
      images: [{ filename: 'later_0000_seed-7.png', seed: 7, prompt: 'later, blonde hair', negative_prompt: '', applied_variations: { HairColor: 'blonde hair' } }],
    }));

    const params = ingestParams.parse({ ingest: { paths: [join(base, 'results')], variations_dirs: [variations] } });
    const { tables } = await runMapStage(ingest, makeTestContext({ dir: base, params, stage: 'ingest' }));
    const images = tables.imported!.map((r) => catalogImageRow.parse(r));
    const prompts = tables.imported_prompts!.map((r) => catalogPromptRow.parse(r));
    const annotated = Object.fromEntries(images.map((i) => [i.filename, i.annotated]));
    expect(annotated).toEqual({ '00001-5.png': false, '00002-5.png': true, 'later_0000_seed-7.png': true });
    const later = prompts.find((p) => p.prompt_id === images.find((i) => i.filename === 'later_0000_seed-7.png')!.prompt_id)!;
    expect(later.variations).toEqual({});
    expect(later.unresolved).toEqual([expect.objectContaining({ axis: 'HairColor', candidates: ['Blonde'], reason: 'annotated: the value text is burned into the image' })]);
  }, 60_000);
});

describe('images that kept their parameters in RGB', () => {
  it('are flagged when the box is drawn in them, and a folder whose first such image shows none is not looked at further', async () => {
    const base = mkdtempSync(join(tmpdir(), 'sdloop-annotated-rgb-'));
    const kept = join(base, 'results', '20251203_100000-kept');
    mkdirSync(kept, { recursive: true });
    for (const i of [0, 1, 2]) writeFileSync(join(kept, `kept_000${i}_seed-${i}.png`), await annotatedKeepingText(await texturedPng(320, 320, 6 + i), i));
    const plain = join(base, 'results', 'txt2img-images');
    mkdirSync(plain);
    writeFileSync(join(plain, '00001-1.png'), await a1111Png({ prompt: 'portrait, blonde hair', seed: 1, colour: 120 }, [320, 320]));
    // Not sdgen's way (a session is annotated whole or not at all): the cost of one look per folder is that this one goes unseen.
    writeFileSync(join(plain, '00002-2.png'), await annotatedKeepingText(await texturedPng(320, 320, 9), 2));
    const resaved = await sdgenAnnotated(await texturedPng(320, 320, 10), lines);
    writeFileSync(join(plain, '00003-3.png'), resaved);
    expect(await importFlags(base)).toEqual({
      'kept_0000_seed-0.png': true, 'kept_0001_seed-1.png': true, 'kept_0002_seed-2.png': true,
      '00001-1.png': false, '00002-2.png': false, '00003-3.png': true,
    });
  }, 60_000);
});
