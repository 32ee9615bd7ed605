// Readers are never blocked: pipeline serve starts, answers and takes labels while a
// `pipeline run` holds the state database (which admits one process).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { copyProject, pipeline, request, spawnPipeline, sqlRows, startServe } from './helpers.js';

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await sleep(20);
  }
}

describe('pipeline serve during a run', () => {
  it('starts, answers and records labels while the run holds the state', async () => {
    const dir = copyProject();
    const first = await pipeline(dir, ['run', 'classify']);
    expect(first.code, first.stderr).toBe(0);
    const runLock = join(dir, 'data', '.sdloop', 'run.lock');
    const run = spawnPipeline(dir, ['run', '--force', 'classify']);
    const runDone = new Promise<number>((done) => run.on('close', (code) => done(code ?? -1)));
    await waitFor(() => existsSync(runLock), 30_000);

    const sql = await pipeline(dir, ['sql', 'select count(*) from images']);
    expect(sql.code, 'sql reads the tables, not the state the run holds').toBe(0);

    const serve = await startServe(dir);
    const page = await request(`${serve.url}api/images?limit=1`);
    expect(page.status, page.text).toBe(200);
    const [item] = page.json().items;
    expect((await request(`${serve.url}api/sessions`)).status).toBe(200);
    const label = await request(`${serve.url}api/labels`, { method: 'POST', body: { image_id: item.image_id, axis: item.axes[0].axis, verdict: 'ok' } });
    expect(label.status, label.text).toBe(200);
    expect(existsSync(runLock), 'the run was still going when serve answered').toBe(true);

    expect(await runDone).toBe(0);

    // New tables show up once their copy is made, with no request waiting for it.
    const rescored = await pipeline(dir, ['run', 'score', '--set', 'score.thresholds.success=0.99']);
    expect(rescored.code, rescored.stderr).toBe(0);
    const [{ n: successes }] = await sqlRows<{ n: number }>(dir, `select count(*)::integer as n from quality where verdict = 'success'`);
    const verdictsBefore = (await request(`${serve.url}api/images?verdict=success&limit=1`)).json().total;
    expect(verdictsBefore).not.toBe(successes);
    let total = verdictsBefore;
    const until = Date.now() + 20_000;
    while (total !== successes && Date.now() < until) {
      await sleep(50);
      total = (await request(`${serve.url}api/images?verdict=success&limit=1`)).json().total;
    }
    expect(total).toBe(successes);
    expect(await serve.stop()).toBe(0);
    expect(await sqlRows(dir, 'select image_id, axis, value from labels')).toEqual([{ image_id: item.image_id, axis: item.axes[0].axis, value: item.axes[0].value }]);
  });
});
