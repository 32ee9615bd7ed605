// The HTML report as a reader sees it: written from the fixture, opened from a file://
// URL in headless Chromium with the network unused, checked for console errors, plots,
// grids and loaded thumbnails, and screenshotted.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { buildFixture, failedError, plan, type Fixture } from './report-fixture.js';
import { loadReports, runReport } from '../../commands/report/sql.js';
import { writeHtmlReport, type HtmlReport } from '../../commands/report/html.js';

const chromiumPath = '/usr/bin/chromium';
const hasChromium = existsSync(chromiumPath);
if (!hasChromium) {
  console.warn(`skipping the Chromium test of the HTML report: ${chromiumPath} is missing (apt-get install -y chromium)`);
}

let fixture: Fixture;
let file: string;
let report: HtmlReport;

beforeAll(async () => {
  fixture = await buildFixture();
  file = join(fixture.dir, 'report.html');
  report = await writeHtmlReport(file, { projectDir: fixture.dir, sql: fixture.ctx.sql, reports: await loadReports(['reports']) });
});
afterAll(() => fixture.ctx.close());

test('the file is self-contained: no script, no outside reference; thumbnails link to their files by a relative path', () => {
  expect(report.notes).toEqual([]);
  expect(report.html).not.toMatch(/<script/i);
  expect(report.html).not.toMatch(/src="(?!data:)/);
  const hrefs = [...report.html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
  expect(hrefs.filter((h) => !h.startsWith('data:') && !h.startsWith('#')).every((h) => /^[^:]+\.png$/.test(h))).toBe(true);
  expect(report.html).not.toMatch(/url\((?!data:)/);
  for (const plot of ['success', 'scores', 'loop']) expect(report.html).toContain(`data-plot="${plot}"`);
});

test('every value gets a grid: successes only in best, failures only in worst, each saying when it has none', () => {
  const values = new Set(plan.map((p) => `${p.axis}: ${p.value}`));
  const headings = [...report.html.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
  expect(new Set(headings)).toEqual(values);
  const gridOf = (value: string) => {
    const start = report.html.indexOf(`data-value="${value}"`);
    return report.html.slice(start, report.html.indexOf('</div>\n</div>', start));
  };
  expect(gridOf('forest')).toContain('(no failure)');
  expect(gridOf('beach')).toContain('(no success: no image showed this value)');
});

test('the summary counts images and failures and quotes the error; the failed images are listed with it', () => {
  const summary = report.html.slice(report.html.indexOf('<section id="summary">'), report.html.indexOf('<section id="success">'));
  expect(summary).toContain('26 in the images table: 24 ok, 1 blank, <a href="#failed">1 failed</a>');
  expect(summary).toContain(`<code>${failedError}</code> (1 image)`);
  expect(summary).toContain('1 complete, <a href="#sessions">2 to review</a>');
  const failed = report.html.slice(report.html.indexOf('<section id="failed">'), report.html.indexOf('<section id="success">'));
  expect(failed).toContain('20261110_080000-landscapes');
  expect(failed).toContain(failedError);
});

test('each report says what it is sorted by, and the sessions and quality reports count blank alike', async () => {
  expect(report.html).toContain('<p class="sort">Sorted by ci_high ascending');
  expect(report.html).toMatch(/<th class="sorted" title="sorted by this column">ci_high ⇅<\/th>/);
  const reports = await loadReports(['reports']);
  const blank = async (name: string) => (await runReport(fixture.ctx.sql, reports.get(name)!, {})).reduce((sum, r) => sum + Number(r.blank), 0);
  expect(await blank('sessions')).toBe(1);
  expect(await blank('quality')).toBe(await blank('sessions'));
  // a frame the backend returned blank counts in both even before the score stage measured it
  const { quality } = await fixture.ctx.tables();
  await fixture.ctx.sql(`CREATE OR REPLACE TEMP VIEW quality AS SELECT * FROM read_parquet('${quality.path}') WHERE image_id NOT IN (SELECT image_id FROM images WHERE status = 'blank')`);
  try {
    expect(await blank('quality')).toBe(1);
  } finally {
    await fixture.ctx.sql('DROP VIEW temp.quality');
  }
});

test('without loop rounds, the loop section shows the benchmark that ran instead of asking for a loop', async () => {
  const other = await buildFixture({ withLoop: false });
  try {
    await other.ctx.sql(`CREATE TABLE benchmark_summary AS SELECT 'sdloop-abc' AS lora, 48 AS pairs, 0.5 AS baseline_adherence, 0.7 AS candidate_adherence,
      0.2 AS difference, 0.1 AS diff_ci_low, 0.3 AS diff_ci_high, 0.001 AS p_value, 'promote' AS verdict, 'won 10, lost 0' AS reason`);
    const { html } = await writeHtmlReport(join(other.dir, 'r.html'), { projectDir: other.dir, sql: other.ctx.sql, reports: await loadReports(['reports']) });
    const loop = html.slice(html.indexOf('<section id="loop">'), html.indexOf('<section id="grids">'));
    expect(loop).not.toMatch(/pipeline loop` first/);
    expect(loop).toContain('the benchmark of the current LoRA');
    expect(loop).toContain('sdloop-abc');
    expect(html).toContain('<dt>Benchmark</dt><dd>sdloop-abc: <strong>promote</strong> (won 10, lost 0)</dd>');
  } finally {
    other.ctx.close();
  }
});

test.skipIf(!hasChromium)('opens in headless Chromium with no console errors, every plot and grid present', async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

    for (const plot of ['success', 'scores', 'loop']) {
      const svg = page.locator(`figure[data-plot="${plot}"] svg`);
      expect(await svg.count()).toBe(1);
      expect((await svg.boundingBox())!.width).toBeGreaterThan(200);
      expect(await svg.locator('path, rect, line').count()).toBeGreaterThan(5);
    }
    expect(await page.locator('.grid').count()).toBe(4);
    // the summary first, saying how many failed and why
    expect(await page.locator('section').first().getAttribute('id')).toBe('summary');
    const summary = await page.locator('dl.summary').innerText();
    expect(summary).toMatch(/26 in the images table: 24 ok, 1 blank, 1 failed/);
    expect(summary).toContain('CUDA out of memory');
    expect(await page.locator('table.failed tbody tr').count()).toBe(1);
    // best: successes only, highest first; worst: failures only (marked ✗), lowest first
    const thumbs = await page.locator('.thumb').evaluateAll((figures) =>
      figures.map((f) => ({ kind: f.classList.contains('best') ? 'best' : 'worst', id: f.getAttribute('data-image-id'), p: Number(f.getAttribute('data-p')), caption: f.querySelector('figcaption')!.textContent!, href: f.querySelector('a')?.getAttribute('href') })),
    );
    const matched = new Set((await fixture.ctx.sql<{ image_id: string }>('SELECT image_id FROM scores WHERE matched')).map((r) => r.image_id));
    for (const t of thumbs) {
      expect(matched.has(t.id!), `${t.id} in ${t.kind}`).toBe(t.kind === 'best');
      expect(t.caption.includes('✗')).toBe(t.kind === 'worst');
      expect(t.caption).toContain(t.id);
      expect(existsSync(join(fixture.dir, decodeURIComponent(t.href!)))).toBe(true);
    }
    expect(await page.locator('#grids .legend').innerText()).toMatch(/✗: another value scored higher.*pipeline label <id>/s);
    expect(await page.locator('figure[data-plot="success"] figcaption').innerText()).toMatch(/n: the images scored/);
    const thumbnails = await page.locator('.grid img').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth));
    expect(thumbnails.length).toBeGreaterThanOrEqual(15);
    expect(thumbnails.every((w) => typeof w === 'number' && w > 0)).toBe(true);
    expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
    expect(problems).toEqual([]);

    const shot = join(mkdtempSync(join(tmpdir(), 'sdloop-report-shots-')), 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const meta = await sharp(shot).metadata();
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(meta.width).toBe(1200);
    expect(meta.height).toBeGreaterThan(1500);
    console.log(`HTML report screenshot: ${shot}`);
  } finally {
    await browser.close();
  }
});

test('thumbnails come from the store copy, else the session copy, else a placeholder', async () => {
  const other = await buildFixture();
  try {
    const { rmSync } = await import('node:fs');
    // forest has one image (index 24 in the plan): take away its store copy, then its session copy too
    const [image] = await other.ctx.sql<{ path: string; session_dir: string; filename: string }>("SELECT path, session_dir, filename FROM images WHERE image_id = 'img024'");
    const reports = await loadReports(['reports']);
    const forestGrid = async () => {
      const { html } = await writeHtmlReport(join(other.dir, 'r.html'), { projectDir: other.dir, sql: other.ctx.sql, reports });
      const start = html.indexOf('data-value="forest"');
      return html.slice(start, html.indexOf('</div>\n</div>', start));
    };
    rmSync(image.path);
    expect(await forestGrid()).toContain('src="data:image/webp;base64,');
    rmSync(join(other.dir, image.session_dir, image.filename));
    const grid = await forestGrid();
    expect(grid).not.toContain('<img');
    expect(grid).toContain('file missing');
  } finally {
    other.ctx.close();
  }
});
