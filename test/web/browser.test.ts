// The review app in a real browser (Debian's chromium through playwright-core): filter
// the gallery, open an image, label it with the keyboard, and see classify train on it.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { copyProject, pipeline, request, sqlRows, startServe } from './helpers.js';

const chromiumPath = '/usr/bin/chromium';
let dir: string;
let browser: Browser;
const settings = ['--set', 'resolve.seeds=4#100', '--set', 'resolve.count=36'];
const shots = mkdtempSync(join(tmpdir(), 'sdloop-serve-shots-'));

beforeAll(async () => {
  dir = copyProject();
  // four seeds per prompt so the value x seed grid has columns; the sessions stage for verdicts
  const run = await pipeline(dir, ['run', 'classify', 'sessions', ...settings]);
  if (run.code !== 0) throw new Error(run.stderr);
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});
afterAll(() => browser?.close());

describe.runIf(existsSync(chromiumPath))('pipeline serve in a browser', () => {
  it('filters, opens an image, labels it by keyboard, and classify uses the label', async () => {
    const serve = await startServe(dir);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    let firstId = '';
    let axes: { axis: string; asked: string }[] = [];
    let shown = '';
    let stopped: number | string = 'not stopped';
    try {
      await page.goto(serve.url);
      await page.waitForSelector('.card img');
      const all = Number(await page.getAttribute('#summary', 'data-total'));
      expect(all).toBeGreaterThan(100);
      // every thumbnail in view made and decoded, so the screenshot shows the page as people see it
      await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('.card img')]
        .filter((img) => img.getBoundingClientRect().top < innerHeight)
        .every((img) => img.complete && img.naturalWidth > 0));
      await page.screenshot({ path: join(shots, 'gallery.png') });

      await page.click('details.axis:has(summary:text-is("HairColor")) summary');
      await page.click('[data-filter="HairColor=Red"]');
      await page.waitForURL(/axis=HairColor&value=Red/);
      await page.waitForFunction((n) => Number(document.querySelector('#summary')?.getAttribute('data-total')) !== n, all);
      const filtered = Number(await page.getAttribute('#summary', 'data-total'));
      const api = (await request(`${serve.url}api/images?axis=HairColor&value=Red&limit=1`)).json();
      expect(filtered).toBe(api.total);
      expect(filtered).toBeLessThan(all);

      firstId = (await page.getAttribute('.card', 'data-id'))!;
      await page.keyboard.press('ArrowRight');
      expect(await page.evaluate(() => document.activeElement?.getAttribute('data-id'))).toBe(firstId);
      await page.keyboard.press('Enter');
      await page.waitForURL(new RegExp(`image=${firstId}`));
      await page.waitForSelector('#full-image');
      await page.waitForFunction(() => (document.querySelector('#full-image') as HTMLImageElement | null)?.complete);
      expect(await page.textContent('#position')).toBe(`1 / ${filtered}`);
      await page.screenshot({ path: join(shots, 'viewer.png') });

      axes = await page.$$eval('table.axes tbody tr', (rows) => rows.map((r) => ({ axis: r.getAttribute('data-axis')!, asked: r.children[1]!.textContent! })));
      await page.keyboard.press('o');
      await page.waitForSelector(`tr[data-axis="${axes[0]!.axis}"].ok`);
      await page.keyboard.press('w');
      await page.waitForSelector('#picker');
      shown = (await page.textContent('#picker button'))!.replace(/^1\s*/, '').trim();
      await page.keyboard.press('1');
      await page.waitForSelector(`tr[data-axis="${axes[1]!.axis}"].wrong`);
      await page.screenshot({ path: join(shots, 'viewer-labelled.png') });
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction(() => document.querySelector('#position')?.textContent?.startsWith('2 /'));
      expect(page.url()).not.toContain(`image=${firstId}`);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      stopped = await serve.stop();
    }
    expect(stopped).toBe(0);

    const id = firstId;
    const labels = await sqlRows<{ axis: string; value: string }>(dir, `select axis, value from labels where image_id = '${id}' order by axis`);
    const wanted = [{ axis: axes[0]!.axis, value: axes[0]!.asked }, { axis: axes[1]!.axis, value: shown }].sort((a, b) => a.axis.localeCompare(b.axis));
    expect(labels).toEqual(wanted);

    const rerun = await pipeline(dir, ['run', 'classify', ...settings]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/classify: running/);
    const predictions = await sqlRows<{ axis: string; label: string; label_source: string }>(dir,
      `select axis, label, label_source from predictions where image_id = '${id}' and axis in ('${wanted[0]!.axis}', '${wanted[1]!.axis}') order by axis`);
    expect(predictions).toEqual(wanted.map((w) => ({ axis: w.axis, label: w.value, label_source: 'human' })));
    console.log(`screenshots in ${shots}`);
  });

  it('filters by the quality flag and a margin range, tags by keyboard, and compares values by seed', async () => {
    const serve = await startServe(dir);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const total = async () => Number(await page.getAttribute('#summary', 'data-total'));
    let stopped: number | string = 'not stopped';
    try {
      await page.goto(serve.url);
      await page.waitForSelector('.card');
      const all = await total();
      await page.selectOption('#flagged', 'false');
      await page.waitForURL(/flagged=false/);
      await page.waitForFunction((n) => Number(document.querySelector('#summary')?.getAttribute('data-total')) !== n, all);
      expect(await total()).toBe((await request(`${serve.url}api/images?flagged=false&limit=1`)).json().total);
      await page.fill('#min_margin', '0.5');
      await page.press('#min_margin', 'Enter');
      await page.waitForURL(/min_margin=0.5/);
      await page.selectOption('#sort', 'margin');
      await page.waitForURL(/sort=margin/);
      await page.waitForSelector('.card .margin');
      const api = (await request(`${serve.url}api/images?flagged=false&min_margin=0.5&sort=margin&limit=1`)).json();
      await page.waitForFunction((n) => Number(document.querySelector('#summary')?.getAttribute('data-total')) === n, api.total);
      expect(await page.getAttribute('.card', 'data-id')).toBe(api.items[0].image_id);

      await page.click('.card');
      await page.waitForSelector('#full-image');
      await page.keyboard.press('t');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('tag-input');
      await page.keyboard.type('hands, keeper');
      await page.keyboard.press('Enter');
      await page.waitForSelector('.tag-editor .tag[data-tag="keeper"]');
      expect(await page.$$eval('.tag-editor .tag', (tags) => tags.map((t) => t.getAttribute('data-tag')))).toEqual(['hands', 'keeper']);
      const tagged = (await page.url().match(/image=([0-9a-f]+)/))![1]!;

      // the grid of the selected axis: its values by the seeds of the session, this image's cell marked
      await page.waitForSelector('#value-seed-grid');
      const axis = await page.getAttribute('#value-seed-grid', 'data-axis');
      const grid = (await request(`${serve.url}api/images/${tagged}/grid?axis=${axis}`)).json();
      expect(await page.$$eval('#value-seed-grid tbody tr', (rows) => rows.map((r) => r.getAttribute('data-value')))).toEqual(grid.values);
      expect(await page.$$eval('#value-seed-grid td.empty', (cells) => cells.length)).toBe(grid.cells.flat().filter((c: unknown) => c === null).length);
      expect(await page.getAttribute('#value-seed-grid td.here a', 'data-id')).toBe(tagged);
      await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#value-seed-grid img, #full-image')].every((img) => img.complete && img.naturalWidth > 0));
      await page.screenshot({ path: join(shots, 'viewer-tags-grid.png'), fullPage: true });
      const other = await page.$eval('#value-seed-grid td:not(.here):not(.empty) a', (a) => a.getAttribute('data-id'));
      await page.click(`#value-seed-grid a[data-id="${other}"]`);
      await page.waitForURL(new RegExp(`image=${other}`));

      // the model and the day it was made: every image here has the one model and was made today (local
      // time, as session folders are named)
      const day = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
      await page.goto(serve.url);
      await page.waitForSelector('.card');
      const model = (await request(`${serve.url}api/facets`)).json().models[0].value;
      await page.click(`[data-filter="model:${model}"]`);
      await page.waitForURL(new RegExp(`model=${model}`));
      const today = day(new Date());
      await page.fill('#from', today);
      await page.waitForURL(new RegExp(`from=${today}`));
      await page.waitForSelector('.card');
      expect(await total()).toBe(all);
      const tomorrow = day(new Date(Date.now() + 86_400_000));
      await page.fill('#from', tomorrow);
      await page.waitForURL(new RegExp(`from=${tomorrow}`));
      await page.waitForFunction(() => document.querySelector('#summary')?.getAttribute('data-total') === '0');

      await page.goto(`${serve.url}?tag=keeper`);
      await page.waitForSelector('.card');
      expect(await page.$$eval('.card', (cards) => cards.map((c) => c.getAttribute('data-id')))).toEqual([tagged]);
      expect(await page.isChecked('[data-filter="tag:keeper"]')).toBe(true);
      await page.screenshot({ path: join(shots, 'gallery-tag-filter.png') });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      stopped = await serve.stop();
    }
    expect(stopped).toBe(0);
    const tags = await sqlRows<{ tag: string }>(dir, 'select tag from tags order by tag');
    expect(tags.map((t) => t.tag)).toEqual(['hands', 'keeper']);
  });

  it('sorts the sessions by a column and filters them, in the URL', async () => {
    const serve = await startServe(dir);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let stopped: number | string = 'not stopped';
    try {
      await page.goto(`${serve.url}?view=sessions`);
      await page.waitForSelector('table.sessions tbody tr');
      const names = () => page.$$eval('table.sessions tbody tr', (rows) => rows.map((r) => r.getAttribute('data-session')));
      await page.click('th[data-sort="mean_match"] button');
      await page.waitForURL(/sort=mean_match/);
      await page.waitForSelector('th.sorted[data-sort="mean_match"]');
      const byMatch = (await request(`${serve.url}api/sessions?sort=mean_match`)).json().map((s: { session: string }) => s.session);
      expect(await names()).toEqual(byMatch);
      await page.click('th[data-sort="mean_match"] button');
      await page.waitForURL(/order=asc/);
      await page.waitForFunction((first) => document.querySelector('table.sessions tbody tr')?.getAttribute('data-session') !== first, byMatch[0]);
      expect(await names()).toEqual([...byMatch].reverse());
      await page.fill('#name', 'pe');
      await page.press('#name', 'Enter');
      await page.waitForURL(/name=pe/);
      await page.waitForFunction(() => document.querySelectorAll('table.sessions tbody tr').length === 1);
      expect(await names()).toEqual(['pet']);
      await page.screenshot({ path: join(shots, 'sessions.png') });
    } finally {
      await page.close();
      stopped = await serve.stop();
    }
    expect(stopped).toBe(0);
  });

  it('walks on through the review queue after a label takes the image out of it', async () => {
    const serve = await startServe(dir);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let stopped: number | string = 'not stopped';
    try {
      await page.goto(`${serve.url}?sort=uncertain&labelled=false`);
      await page.waitForSelector('.card');
      const [first, second] = await page.$$eval('.card', (cards) => cards.slice(0, 2).map((c) => c.getAttribute('data-id')));
      await page.click('.card');
      await page.waitForSelector('#full-image');
      await page.keyboard.press('a');
      await page.waitForFunction(() => document.querySelectorAll('table.axes tbody tr.ok').length === document.querySelectorAll('table.axes tbody tr').length);
      await page.keyboard.press('ArrowRight');
      await page.waitForURL(new RegExp(`image=${second}`));
      const labelled = (await request(`${serve.url}api/images?labelled=true&limit=500`)).json();
      expect(labelled.items.map((i: { image_id: string }) => i.image_id)).toContain(first);
    } finally {
      await page.close();
      stopped = await serve.stop();
    }
    expect(stopped).toBe(0);
  });
});
