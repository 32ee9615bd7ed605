// "What changed since the last run" through the real CLI: a run, a value added to a
// variations file, a run, then the report: per table the rows the second run added,
// removed and changed, in `report --html --json` and in the HTML summary.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyExampleProject, runPipeline, sqlRows } from '../example-project.js';

interface Changes {
  run: { argv: string };
  tables: { table: string; stage: string; rows: number; added: number; removed: number; changed: number; keyed: boolean }[];
}

function report(dir: string): { changes: Changes; html: string } {
  const file = join(dir, 'report.html');
  const result = runPipeline(dir, ['report', '--html', file, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return { changes: (JSON.parse(result.stdout) as { changes: Changes }).changes, html: readFileSync(file, 'utf8') };
}

describe('the report says what the last run changed', () => {
  it('counts the rows a new variation value added to each table', () => {
    const dir = copyExampleProject('sdloop-report-changes-');
    // The synthetic backend sometimes renders another value of an axis, drawn among all its
    // values: with a fifth animal some old images would change too. Here none may.
    writeFileSync(join(dir, 'pipeline.yaml'), readFileSync(join(dir, 'pipeline.yaml'), 'utf8').replace('failure_rate: 0.3', 'failure_rate: 0'));
    const first = runPipeline(dir, ['run', 'catalog']);
    expect(first.code, first.stderr).toBe(0);
    const before = sqlRows<{ n: number }>(dir, 'select count(*)::INTEGER as n from images')[0]!.n;
    const initial = report(dir).changes.tables.find((t) => t.table === 'images')!;
    expect(initial).toMatchObject({ stage: 'catalog', rows: before, added: before, removed: 0, changed: 0, keyed: true });

    // pet.prompt.yaml: 4 animals x 4 fur colours x 3 backgrounds; a fifth animal adds 12 images.
    appendFileSync(join(dir, 'data/variations/animal.yaml'), 'Wolf: "a wolf"\n');
    const second = runPipeline(dir, ['run', 'catalog']);
    expect(second.code, second.stderr).toBe(0);
    const { changes, html } = report(dir);
    expect(changes.run.argv).toMatch(/run catalog/);
    const images = changes.tables.find((t) => t.table === 'images')!;
    expect(images).toEqual({ table: 'images', stage: 'catalog', rows: before + 12, added: 12, removed: 0, changed: 0, keyed: true });
    expect(changes.tables.find((t) => t.table === 'planned')).toMatchObject({ stage: 'resolve', added: 12, removed: 0 });
    expect(changes.tables.find((t) => t.table === 'rendered')).toMatchObject({ stage: 'generate', added: 12, removed: 0, changed: 0 });
    expect(html).toContain(`<dt>What changed</dt><dd>`);
    expect(html).toContain('images: +12 -0 ~0');
    // Readers query the records as a table too.
    expect(sqlRows<{ added: number }>(dir, "select added::INTEGER as added from table_changes where table_name = 'images' order by committed_at").map((r) => r.added)).toEqual([before, 12]);

    // A run with nothing to do changes nothing: the report still names the run that did.
    expect(runPipeline(dir, ['run', 'catalog']).code).toBe(0);
    const after = report(dir);
    expect(after.changes).toEqual(changes);
    expect(after.html).toMatch(/images: \+12 -0 ~0[^<]*<code>pipeline [^<]*run catalog<\/code>/);
  }, 300_000);
});
