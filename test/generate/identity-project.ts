// A small resolve -> generate -> catalog -> score project in a temporary folder (synthetic backend,
// demo CLIP, 64x96 images), driven through the real CLI as a child process: from the
// repo's build, or from a copy of it whose stage files a test may edit.
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot, finished, runSummary, sqlRows, stageStatuses, type CliResult, type RunSummary, type StageStatus } from '../engine/helpers.js';

const syntheticParams = '{backend: synthetic, concurrency: 2, retries: 3, timeout_s: 600, failure_rate: 0.3, blank_rate: 0}';

const pipelineYaml = (generate: string) => `params:
  resolve: {prompts: [data/prompts/look.prompt.yaml], count: 0}
  generate: ${generate}
  score: {model: demo, batch_size: 8, workers: 0}
commands: [commands]
stages:
  resolve: {uses: resolve, params: [resolve], deps: [data/prompts, data/templates, data/variations]}
  generate: {uses: generate, params: [generate], inputs: {prompts: resolve.planned, axes: resolve.planned_axes, manifests: resolve.planned_manifests}}
  catalog: {uses: catalog, inputs: {rendered: generate.rendered, planned: resolve.planned, planned_axes: resolve.planned_axes}}
  score: {uses: score, params: [score], inputs: {images: catalog.images, prompts: catalog.prompts, axes: catalog.axes}}
`;

const files: Record<string, string> = {
  'data/templates/small.template.yaml': `version: "2.0"
type: template
name: small
template: "{prompt}"
negative_prompt: "lowres"
parameters: {steps: 20, cfg_scale: 7, width: 64, height: 96, sampler_name: "Euler a"}
`,
  'data/prompts/look.prompt.yaml': `version: "2.0"
type: prompt
name: look
implements: ../templates/small.template.yaml
prompt: "portrait, {Hair}, {Outfit}"
imports:
  Hair: ../variations/hair.yaml
  Outfit: ../variations/outfit.yaml
generation: {mode: combinatorial, seed: 500, seed_mode: fixed, max_images: 0}
output: {session_name: look}
`,
  'data/variations/hair.yaml': 'Blonde: "blonde hair"\nBlack: "black hair"\nRed: "red hair"\n',
  'data/variations/outfit.yaml': 'Suit: "a suit"\nDress: "a dress"\n',
};

export class IdentityProject {
  private constructor(
    readonly dir: string,
    /** the folder holding bin/ and dist/ of the build the CLI runs from */
    private readonly build: string,
  ) {}

  /**
   * A fresh project, run by the repo's build, or by a private copy of it when `ownBuild`;
   * `generate` replaces the synthetic backend's params (a YAML flow map).
   */
  static create(options: { ownBuild?: boolean; generate?: string } = {}): IdentityProject {
    const dir = mkdtempSync(join(tmpdir(), 'sdloop-identity-'));
    writeFileSync(join(dir, 'pipeline.yaml'), pipelineYaml(options.generate ?? syntheticParams));
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    if (!options.ownBuild) return new IdentityProject(dir, repoRoot);
    const build = join(dir, '.build');
    for (const part of ['bin', 'dist', 'assets', 'package.json']) cpSync(join(repoRoot, part), join(build, part), { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules'), join(build, 'node_modules'), 'dir');
    return new IdentityProject(dir, build);
  }

  /** The project renamed to another folder (`mv`), as a project of its own; this one then names nothing. */
  moved(): IdentityProject {
    const to = `${this.dir}-moved`;
    renameSync(this.dir, to);
    return new IdentityProject(to, this.build === this.dir ? to : this.build.replace(this.dir, to));
  }

  path(rel: string): string {
    return join(this.dir, rel);
  }

  read(rel: string): string {
    return readFileSync(this.path(rel), 'utf8');
  }

  append(rel: string, text: string): void {
    appendFileSync(this.path(rel), text);
  }

  /** Edit a built file of this project's own build (dist/...). */
  editBuild(rel: string, edit: (text: string) => string): void {
    const file = join(this.build, rel);
    const before = readFileSync(file, 'utf8');
    const after = edit(before);
    if (after === before) throw new Error(`the edit changed nothing in ${rel}`);
    writeFileSync(file, after);
  }

  pipeline(args: string[]): Promise<CliResult> {
    const child = spawn(process.execPath, [join(this.build, 'bin', 'pipeline.js'), '-C', this.dir, ...args], {
      env: { ...process.env, SDLOOP_DEBUG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return finished(child);
  }

  run(args: string[] = []): Promise<RunSummary & { stderr: string; code: number }> {
    return runSummary((a) => this.pipeline(a), args);
  }

  status(args: string[] = []): Promise<Record<string, StageStatus>> {
    return stageStatuses((a) => this.pipeline(a), args);
  }

  sql<T = Record<string, unknown>>(query: string): Promise<T[]> {
    return sqlRows<T>((a) => this.pipeline(a), query);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Items a stage ran in a `run --json` summary: 0 when it was skipped. */
export function itemsRun(summary: RunSummary, stage: string): number {
  const found = summary.stages.find((s) => s.name === stage);
  if (!found) throw new Error(`no stage ${stage} in the run summary`);
  return found.items?.done ?? 0;
}
