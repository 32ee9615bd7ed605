// The HTML report as a reader sees it: written from the fixture, opened from a file://
// URL in headless Chromium with the network unused, checked for console errors, plots,
// grids and loaded thumbnails, and screenshotted.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { buildFixture, plan, type Fixture } from './report-fixture.js';
import { loadReports } from '../../commands/report/sql.js';
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

test('the file is self-contained: no script, no outside reference', () => {
  expect(report.notes).toEqual([]);
  expect(report.html).not.toMatch(/<script/i);
  expect(report.html).not.toMatch(/(src|href)="(?!data:)/);
  expect(report.html).not.toMatch(/url\((?!data:)/);
  for (const plot of ['success', 'scores', 'loop']) expect(report.html).toContain(`data-plot="${plot}"`);
});

test('every value gets a grid; best and worst do not repeat an image', () => {
  const values = new Set(plan.map((p) => `${p.axis}: ${p.value}`));
  const headings = [...report.html.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
  expect(new Set(headings)).toEqual(values);
  const forest = report.html.slice(report.html.indexOf('data-value="forest"'));
  expect(forest.slice(0, forest.indexOf('</div>\n</div>'))).toContain('(all shown above)');
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
    const thumbnails = await page.locator('.grid img').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth));
    expect(thumbnails.length).toBeGreaterThanOrEqual(15);
    expect(thumbnails.every((w) => typeof w === 'number' && w > 0)).toBe(true);
    expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
    expect(problems).toEqual([]);

    const shot = join(fixture.dir, 'report.png');
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
