// sdgen keys an inline list item by the first 8 hex of its MD5: the example's scenery
// prompt imports `Weather: [../variations/weather.yaml, "light fog"]`, so "light fog" is
// `f1fb4c14` in the tables. Through the real CLI: the tables keep the key with the text
// beside it, and the dataset folder, captions, HTML report and review app show the text.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLockFile } from '../../src/lockfile.js';
import { isInlineKeyOf } from '../../stages/resolve/templates/imports.js';
import { variationValues } from '../../stages/catalog/values.js';
import type { AxisAlternativesRow } from '../../schemas/tables.js';
import { startServer } from '../../web/server.js';
import { copyProject, pipeline, request, sqlRows } from '../web/helpers.js';

const md5 = (text: string) => createHash('md5').update(text).digest('hex').slice(0, 8);
// YAML took the quotes off: the item as sdgen sees it is the bare text
const key = md5('light fog');

describe('inline keys', () => {
  it('are told from file keys by the MD5 of the item as written, bare or quoted', () => {
    expect(key).toBe('f1fb4c14');
    expect(isInlineKeyOf(key, 'light fog')).toBe(true);
    expect(isInlineKeyOf(md5('"light fog"'), 'light fog')).toBe(true);
    expect(isInlineKeyOf(md5("'light fog'"), 'light fog')).toBe(true);
    expect(isInlineKeyOf('Fog', 'light fog')).toBe(false);
    expect(isInlineKeyOf(key, 'heavy fog')).toBe(false);
  });

  it('variation_values lists each axis value once, the first set of alternatives naming its text', () => {
    const set = (id: string, texts: string[]): AxisAlternativesRow => ({ alternatives: id, axis: 'Weather', keys: ['Rain', key], texts });
    expect(variationValues([set('b', ['drizzle', 'light fog']), set('a', ['rain', 'light fog'])])).toEqual([
      { axis: 'Weather', key: 'Rain', text: 'rain', inline: false },
      { axis: 'Weather', key, text: 'light fog', inline: true },
    ]);
  });
});

describe('inline values through the CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = copyProject();
    const run = await pipeline(dir, ['run', 'dataset']);
    if (run.code !== 0) throw new Error(run.stderr);
  }, 170_000);

  it('tables keep the key, with the text beside it', async () => {
    expect(await sqlRows(dir, `SELECT axis, key, text, inline FROM variation_values WHERE inline`)).toEqual([{ axis: 'Weather', key, text: 'light fog', inline: true }]);
    const report = await pipeline(dir, ['report', 'variation_success', '--format', 'json']);
    const row = (JSON.parse(report.stdout) as { axis: string; value: string; text: string }[]).find((r) => r.value === key);
    expect(row).toMatchObject({ axis: 'Weather', value: key, text: 'light fog' });
  });

  it('plan shows the key --fixed takes with its text beside it', async () => {
    const plan = await pipeline(dir, ['plan', join(dir, 'data', 'prompts', 'scenery.prompt.yaml'), '--fixed', `Weather:${key}`, '--count', '1']);
    expect(plan.stdout).toContain(`Weather=${key} ("light fog")`);
  });

  it('the kohya folder and its captions say light fog', () => {
    const img = join(dir, readLockFile(join(dir, 'pipeline.lock')).stages.dataset!.outs.dataset!.path, 'img');
    const folders = readdirSync(img);
    expect(folders.filter((f) => f.includes(key))).toEqual([]);
    const fog = folders.find((f) => /^\d+_Weather_light-fog$/.test(f));
    expect(fog, folders.join(', ')).toBeDefined();
    const captions = readdirSync(join(img, fog!)).filter((f) => f.endsWith('.txt'));
    expect(captions.length).toBeGreaterThan(0);
    for (const caption of captions) expect(readFileSync(join(img, fog!, caption), 'utf8')).toMatch(/^sdloop, light fog(, |$)/);
  });

  it('the HTML report names it by its text in the plot and the grids', async () => {
    const file = join(dir, 'report.html');
    expect((await pipeline(dir, ['report', '--html', file])).code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<h3>Weather: light fog</h3>');
    expect(html).toContain('Weather: light fog</text>');
    expect(html).not.toMatch(new RegExp(`Weather: ${key}`));
    // the key is still what `pipeline label` takes
    expect(html).toContain(`Weather=${key}`);
  });

  describe('the review app', () => {
    let close: () => Promise<void>;
    let url: string;
    beforeAll(async () => {
      const server = await startServer(dir, { host: '127.0.0.1', port: 0, readOnly: true });
      url = server.url;
      close = () => server.close();
    });
    afterAll(() => close?.());

    it('offers the value by its text and shows it on each image', async () => {
      const facets = (await request(`${url}api/facets`)).json();
      const weather = facets.axes.find((a: { axis: string }) => a.axis === 'Weather');
      expect(weather.values.find((v: { value: string }) => v.value === key)).toMatchObject({ value: key, text: 'light fog' });
      expect(weather.values.find((v: { value: string }) => v.value === 'Rain')).toMatchObject({ text: 'Rain' });
      const page = (await request(`${url}api/images?axis=Weather&value=${key}`)).json();
      expect(page.items.length).toBeGreaterThan(0);
      expect(page.items[0].axes.find((a: { axis: string }) => a.axis === 'Weather')).toMatchObject({ value: key, value_text: 'light fog' });
    });
  });
});
