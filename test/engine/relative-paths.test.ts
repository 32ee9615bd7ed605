// Messages name files relative to the project (or, outside any project, as typed from
// the current folder): the output of failing commands, through the real CLI, never holds
// the project's absolute path.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { finished, repoRoot, TestProject, waitFor } from './helpers.js';
import { copyExampleProject } from '../example-project.js';
import { standinDir } from '../train/fixtures.js';

const projects: TestProject[] = [];
afterAll(() => projects.forEach((p) => p.dispose()));

function project(): TestProject {
  const created = TestProject.create(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}.txt`, `${i}\n`])));
  projects.push(created);
  return created;
}

/** Everything a command printed, checked for the folder's absolute path; returned for the rest. */
function printed(dir: string, result: { stdout: string; stderr: string }): string {
  const all = result.stdout + result.stderr;
  expect(all).not.toContain(dir);
  return all;
}

describe('paths in messages', () => {
  it('a refused second run names the lock file inside the project', async () => {
    const p = project();
    const first = p.spawn(['run', '--set', 'upper.batch=1'], { SLOW_MS: '400' });
    const exit = finished(first);
    await waitFor(() => p.exists('data/.sdloop/run.lock'), 'the first run to take the lock');
    const second = await p.pipeline(['run']);
    expect(second.code).toBe(1);
    // The holder's command is quoted as it was typed (`-C <its folder>` included).
    const message = second.stderr.replace(`-C ${p.dir} run`, '-C … run');
    expect(printed(p.dir, { stdout: second.stdout, stderr: message })).toContain('lock file data/.sdloop/run.lock');
    expect((await exit).code).toBe(0);
  });

  it('a stage module that exports no stage is named relative to the project', async () => {
    const p = project();
    p.write('nothing.mjs', 'export default { hello: 1 };\n');
    p.write('pipeline.yaml', p.read('pipeline.yaml').replace('uses: ./list.mjs', 'uses: ./nothing.mjs'));
    const result = await p.pipeline(['status']);
    expect(result.code).toBe(2);
    expect(printed(p.dir, result)).toMatch(/nothing\.mjs does not export a stage/);
  });

  it('a folder with no pipeline.yaml is named as typed from the current folder', () => {
    const p = project();
    mkdirSync(p.path('empty/deeper'), { recursive: true });
    const result = spawnSync(process.execPath, [join(repoRoot, 'bin', 'pipeline.js'), '-C', 'empty/deeper', 'status'], { cwd: p.dir, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(printed(p.dir, result)).toContain('no pipeline.yaml in empty/deeper');
  });

  it('a missing prompt file, and a failed training with its log, in the example project', () => {
    const dir = copyExampleProject('sdloop-paths-');
    const plan = spawnSync(process.execPath, [join(repoRoot, 'bin', 'pipeline.js'), 'plan', join(dir, 'data/prompts/missing.prompt.yaml')], { cwd: dir, encoding: 'utf8' });
    expect(plan.status).toBe(2);
    expect(printed(dir, plan)).toContain('error: data/prompts/missing.prompt.yaml: file not found');

    writeFileSync(join(dir, 'base.safetensors'), '');
    const sdScripts = ['--set', 'train.trainer=sd-scripts', '--set', `train.sd_scripts_dir=${standinDir}`, '--set', 'train.launcher=python3', '--set', 'train.base_model=base.safetensors'];
    const env = { ...process.env, SDLOOP_STANDIN_MODE: 'fail' };
    const train = spawnSync(process.execPath, [join(repoRoot, 'bin', 'pipeline.js'), '-C', dir, 'run', 'train', ...sdScripts], { env, encoding: 'utf8', timeout: 280_000 });
    expect(train.status, train.stderr).toBe(1);
    // sd-scripts' own last lines are quoted as it wrote them.
    const ours = train.stderr.replace(/--- last lines ---\n(?:(?!FAILED |train failed).*\n)*/g, '');
    const text = printed(dir, { stdout: train.stdout, stderr: ours });
    expect(text).toMatch(/full log: data\/logs\/train-[^\s]+\.log/);
  }, 300_000);
});
