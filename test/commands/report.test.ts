// The `report` and `prune` commands as the CLI calls them: args in, text out, exit code back.
import { afterEach, describe, expect, test } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import commands from '../../commands/index.js';
import { buildFixture, type Fixture } from './report-fixture.js';
import { InputError, InputErrors } from '../../src/errors.js';
import { invokeCommand } from '../../src/command.js';

const command = (name: string) => commands.find((c) => c.name === name)!;
let fixture: Fixture | undefined;
afterEach(() => fixture?.ctx.close());

async function report(args: string[], options?: Parameters<typeof buildFixture>[0]) {
  fixture = await buildFixture(options);
  const code = await invokeCommand(command('report'), args, fixture.ctx);
  return { code, out: fixture.ctx.out.join(''), err: fixture.ctx.err.join('') };
}

describe('pipeline report', () => {
  test('with no name lists every report with its header line and parameters', async () => {
    const { code, out } = await report([]);
    expect(code).toBe(0);
    for (const name of ['variation_success', 'failing_variations', 'sessions', 'quality', 'prompt_ab', 'models', 'loop_history']) {
      expect(out).toMatch(new RegExp(`^${name}\\s+\\S`, 'm'));
    }
    expect(out).toContain('--param since=1970-01-01');
    expect(out).toMatch(/failing_variations .*\n\s+sorted by ci_high ascending/);
  });

  test("a project's own reports are listed and run, and override shipped ones by name", async () => {
    fixture = await buildFixture();
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(fixture.dir, 'reports'));
    writeFileSync(join(fixture.dir, 'reports', 'custom.sql'), '-- Images per status.\n-- @needs images\nSELECT status, count(*)::INTEGER AS n FROM images GROUP BY status ORDER BY status\n');
    writeFileSync(join(fixture.dir, 'reports', 'sessions.sql'), '-- My own sessions view.\n-- @needs prompts\nSELECT DISTINCT session FROM prompts ORDER BY session\n');
    expect(await invokeCommand(command('report'), [], fixture.ctx)).toBe(0);
    expect(fixture.ctx.out.join('')).toMatch(/^custom\s+Images per status\.$/m);
    expect(fixture.ctx.out.join('')).toMatch(/^sessions\s+My own sessions view\.$/m);
    fixture.ctx.out.length = 0;
    expect(await invokeCommand(command('report'), ['custom', '--format', 'json'], fixture.ctx)).toBe(0);
    expect(JSON.parse(fixture.ctx.out.join(''))).toEqual([{ status: 'blank', n: 1 }, { status: 'failed', n: 1 }, { status: 'ok', n: 24 }]);
  });

  test('table format aligns columns', async () => {
    const { code, out } = await report(['variation_success']);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^axis\s+value\s+text\s+n\s+successes\s+success_rate\s+ci_low\s+ci_high\s+mean_p_target$/);
    expect(lines).toHaveLength(2 + 4);
    expect(lines.find((l) => l.includes('red'))).toMatch(/hair\s+red\s+red hair\s+10\s+7\s+0\.7000\s+0\.3968\s+0\.8922/);
  });

  test('csv and json with --param', async () => {
    const csv = await report(['sessions', '--format', 'csv', '--param', 'since=2026-11-05']);
    expect(csv.out.split('\n')[0]).toBe('session,started,origin,format,planned,made,failed,blank,missing,avg_match,flagged,annotated,complete,verdict');
    expect(csv.out.split('\n').filter(Boolean)).toHaveLength(3);
    fixture!.ctx.close();
    const json = await report(['failing_variations', '--format', 'json', '--param', 'limit=1']);
    const rows = JSON.parse(json.out);
    expect(rows).toEqual([expect.objectContaining({ axis: 'bg', value: 'beach', n: 4, failures: 4 })]);
  });

  test('bad names, formats and parameters are bad input saying what is expected', async () => {
    await expect(report(['nope'])).rejects.toThrow(/unknown report "nope": expected one of .*variation_success/);
    fixture!.ctx.close();
    await expect(report(['sessions', '--format', 'xml'])).rejects.toThrow(/option '--format <format>' argument 'xml' is invalid. Allowed choices are table, csv, json/);
    fixture!.ctx.close();
    await expect(report(['sessions', '--param', 'sinse=2026-01-01'])).rejects.toThrow(/unknown parameter sinse: expected one of since, complete_at/);
    fixture!.ctx.close();
    await expect(report(['sessions', '--param', 'since'])).rejects.toBeInstanceOf(InputError);
    fixture!.ctx.close();
    await expect(report(['sessions', '--colour'])).rejects.toBeInstanceOf(InputError);
  });

  test('missing tables: bad input (exit 2) with a message naming the stage to run', async () => {
    await expect(report(['loop_history'], { withLoop: false })).rejects.toBeInstanceOf(InputErrors);
    await expect(invokeCommand(command('report'), ['loop_history'], fixture!.ctx)).rejects.toThrow(
      'report loop_history needs table loop_rounds, which does not exist yet: run `pipeline loop` first',
    );
  });

  test('--html writes one file and notes what could not be shown', async () => {
    fixture = await buildFixture({ withLoop: false });
    const file = join(fixture.dir, 'out', 'report.html');
    expect(await invokeCommand(command('report'), ['--html', file], fixture.ctx)).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('data-plot="success"');
    expect(fixture.ctx.err.join('')).toContain('note: report loop_history needs table loop_rounds');
    expect(fixture.ctx.out.join('')).toBe('wrote out/report.html\n');
  });
});

describe('pipeline prune', () => {
  const prune = (args: string[]) => invokeCommand(command('prune'), args, fixture!.ctx);
  const output = () => fixture!.ctx.out.splice(0).join('');

  test('lists by default, --apply moves to the trash with a record, --restore brings them back', async () => {
    fixture = await buildFixture();
    const blurred = ['data/sessions/20261101_120000-portraits/portraits_0000_seed-1000.png', 'data/sessions/20261101_120000-portraits/portraits_0001_seed-1001.png'];
    const original = blurred.map((f) => readFileSync(join(fixture!.dir, f)));

    expect(await prune(['--where', 'quality.blurred'])).toBe(0);
    const listing = output();
    for (const f of blurred) expect(listing).toContain(f);
    expect(listing).toContain('would move 2 images');
    for (const f of blurred) expect(existsSync(join(fixture.dir, f))).toBe(true);

    expect(await prune(['--where', 'quality.blurred', '--apply'])).toBe(0);
    expect(output()).toMatch(/moved 2 images to data\/trash\/\S+\/ \(record: /);
    for (const f of blurred) expect(existsSync(join(fixture.dir, f))).toBe(false);
    const [state] = await fixture.ctx.sql('SELECT count(*)::INTEGER AS n, count(restored_at)::INTEGER AS restored, min(predicate) AS predicate FROM pruned');
    expect(state).toEqual({ n: 2, restored: 0, predicate: 'quality.blurred' });

    expect(await prune(['--where', 'quality.blurred'])).toBe(0);
    expect(output()).toContain('would move 0 images');

    expect(await prune(['--restore'])).toBe(0);
    expect(output()).toContain('restored 2 images');
    blurred.forEach((f, i) => expect(readFileSync(join(fixture!.dir, f))).toEqual(original[i]));
    const [after] = await fixture.ctx.sql('SELECT count(restored_at)::INTEGER AS restored FROM pruned');
    expect(after.restored).toBe(2);
    expect(await prune(['--restore'])).toBe(0);
    expect(output()).toContain('restored 0 images');
  });

  test('predicates over scores; a file recreated meanwhile is never overwritten', async () => {
    fixture = await buildFixture();
    expect(await prune(['--where', "scores.axis = 'bg' AND NOT scores.matched AND NOT quality.blank", '--apply'])).toBe(0);
    expect(output()).toContain('moved 3 images');
    const [first] = await fixture.ctx.sql<{ file: string }>('SELECT file FROM pruned ORDER BY file LIMIT 1');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(fixture.dir, first.file), 'user file');
    expect(await prune(['--restore'])).toBe(0);
    expect(output()).toContain('restored 2 images');
    expect(fixture.ctx.err.join('')).toContain(`kept in trash: ${first.file}: a file is already at`);
    expect(readFileSync(join(fixture.dir, first.file), 'utf8')).toBe('user file');
  });

  test('a broken predicate is bad input quoting DuckDB', async () => {
    fixture = await buildFixture();
    await expect(prune(['--where', 'no_such_column > 1'])).rejects.toThrow(/expected a SQL predicate over columns of images, quality, scores and session.*no_such_column/);
    await expect(prune([])).rejects.toThrow(/expected --where/);
    await expect(prune(['--where', 'true); DELETE FROM images; SELECT (1'])).rejects.toThrow(/without ; or comments/);
    await expect(prune(['--where', 'true) OR (true'])).rejects.toThrow(/balanced parentheses/);
    expect(await prune(['--where', "images.filename LIKE '%;%' OR (quality.blur < 0)"])).toBe(0);
    expect(output()).toContain('would move 0 images');
  });
});
