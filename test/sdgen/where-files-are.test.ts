// Commands work where the user's files are: the project is found by walking up to the
// nearest pipeline.yaml, plan and validate work in a folder with no project at all, and
// file arguments are relative to where they were typed, with or without -C.
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyExampleProject } from '../example-project.js';
import { pipelineIn, writeFiles } from './cli.js';

const gen = 'generation:\n  mode: combinatorial\n  seed: 1\n  seed_mode: fixed\n  max_images: 0\n';
const sdgenFolder = () => writeFiles({
  'variations/colors.yaml': 'Red: red\nBlue: blue\n',
  'prompts/car.prompt.yaml': `name: car\nprompt: "{Color} car"\nimports:\n  Color: ../variations/colors.yaml\n${gen}`,
});

describe('the project is the nearest pipeline.yaml above', () => {
  it('runs engine and project commands from a subfolder, file arguments relative to it', async () => {
    const dir = copyExampleProject();
    const sub = join(dir, 'data', 'prompts');
    const dag = await pipelineIn(sub, ['dag']);
    expect(dag.code, dag.stderr).toBe(0);
    expect(dag.stdout).toMatch(/resolve/);
    const plan = await pipelineIn(sub, ['plan', 'pet.prompt.yaml', '--format', 'json', '--count', '2']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).map((r: { source: string }) => r.source)).toEqual(['data/prompts/pet.prompt.yaml', 'data/prompts/pet.prompt.yaml']);
  });

  it('with -C, file arguments stay relative to where they were typed', async () => {
    const dir = copyExampleProject();
    const [parent, name] = [dirname(dir), basename(dir)];
    const plan = await pipelineIn(parent, ['-C', name, 'plan', join(name, 'data/prompts/pet.prompt.yaml'), '--count', '1', '--format', 'json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout)[0].source).toBe('data/prompts/pet.prompt.yaml');
  });
});

describe('a folder of sdgen files with no project', () => {
  it('plans and validates there; run says a project is needed', async () => {
    const dir = sdgenFolder();
    const plan = await pipelineIn(join(dir, 'prompts'), ['plan', 'car.prompt.yaml', '--format', 'json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).map((r: { api_prompt: string }) => r.api_prompt)).toEqual(['red car', 'blue car']);
    const validate = await pipelineIn(dir, ['validate']);
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toBe('ok: 2 files checked, 1 prompt files planned\n');
    const run = await pipelineIn(dir, ['run']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no pipeline\.yaml in .* \(run inside a project folder or one below it, or pass -C DIR\)/);
    const help = await pipelineIn(dir, ['--help']);
    expect(help.stdout).toMatch(/plan \[options\] <prompt-file>/);
    expect(help.stdout).toMatch(/validate/);
    expect(help.stdout).not.toMatch(/\blabel\b/);
  });

  it('validate PATH plans every prompt file it checks and reports as JSON', async () => {
    const dir = writeFiles({
      'variations/colors.yaml': 'Red: red\nBlue: blue\n',
      'shape.chunk.yaml': 'type: part\nname: shape\ntemplate: round\n',
      'ok.prompt.yaml': `name: ok\nprompt: "{Color[Red,Grene]} car"\nimports:\n  Color: variations/colors.yaml\n${gen}`,
      'bad.prompt.yaml': `name: bad\nprompt: "{Color}, {Size}, {Shape}"\nimports:\n  Color: variations/colors.yaml\n  Shape: shape.chunk.yaml\n${gen}`,
      'chunky.prompt.yaml': `name: chunky\nprompt: "{Shape}"\nimports:\n  Shape: shape.chunk.yaml\n${gen}`,
    });
    mkdirSync(join(dir, 'elsewhere'));
    const result = await pipelineIn(join(dir, 'elsewhere'), ['validate', '../ok.prompt.yaml', '../bad.prompt.yaml', '../chunky.prompt.yaml', '--format', 'json']);
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ ok: false, prompt_files: 3 });
    const messages = report.problems.map((p: { file: string; message: string }) => `${p.file.split('/').pop()}: ${p.message}`);
    expect(messages).toEqual([
      'bad.prompt.yaml: unknown placeholders: Size; no import declares them (available imports: Color); Shape are imported as chunks, not variations',
      'chunky.prompt.yaml: {Shape}: imported as chunks, not variations; insert a chunk with @Name, or import a variations file for {Name}',
    ]);
    expect(report.warnings.map((w: { message: string }) => w.message)).toEqual([expect.stringMatching(/ok\.prompt\.yaml:2: \{Color\[Red,Grene\]\}: unknown keys Grene dropped \(available keys: Red, Blue\)$/)]);
  });

  it('validate accepts ADetailer and ControlNet preset files in the folders it checks', async () => {
    const dir = writeFiles({
      'presets/face.adetailer.yaml': "version: '2.0'\ndetector:\n  ad_model: face_yolov8n.pt\n",
      'presets/canny.controlnet.yaml': 'type: controlnet_config\nversion: "1.0"\nunits:\n  - model: control_v11p_sd15_canny\n    module: canny\n',
      'presets/broken.adetailer.yaml': "version: '2.0'\ndetector:\n  ad_confidence: high\n",
    });
    const result = await pipelineIn(dir, ['validate', 'presets']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/broken\.adetailer\.yaml:3:18: detector\.ad_confidence: .*expected number/)]);
  });
});
