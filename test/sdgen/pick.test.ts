// pipeline pick on a pseudo-terminal: placeholders with their values, the image count
// after each choice, and the --fixed spec printed at the end, which plan then honours.
import { describe, expect, it } from 'vitest';
import { onTerminal, pipelineIn, writeFiles } from './cli.js';

const down = '\x1b[B';
const up = '\x1b[A';
const enter = '\r';

const files = {
  'variations/colors.yaml': 'Red: red\nBlue: blue\nGreen: green\n',
  'prompts/car.prompt.yaml': 'name: car\nprompt: "{Color} car, {Size}"\nimports:\n  Color: ../variations/colors.yaml\n  Size: ../variations/sizes.yaml\ngeneration:\n  mode: combinatorial\n  seed: 1\n  seed_mode: fixed\n  max_images: 0\n',
  'variations/sizes.yaml': 'Small: small\nBig: big\n',
};

describe('pipeline pick', () => {
  it('fixes values one placeholder at a time, counting the images, and prints the spec', async () => {
    const dir = writeFiles(files);
    const result = await onTerminal(dir, ['pick', 'prompts/car.prompt.yaml'], [
      { when: /6 images; fix which placeholder\?/, keys: enter }, // Color
      { when: /Red: red/, keys: `${down}${down}${enter}` }, // (any), Red, Blue -> Blue
      { when: /2 images; fix which placeholder\?/, keys: `${down}${enter}` }, // Size
      { when: /Big: big/, keys: `${down}${down}${enter}` }, // Big
      { when: /1 images; fix which placeholder\?/, keys: `${up}${enter}` }, // done
    ]);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/Color \(3 values\) = Blue/);
    expect(result.stdout).toMatch(/done: 1 images/);
    // The terminal's cursor codes aside, the last line is the spec.
    const spec = result.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').trim().split(/\r?\n/).pop()!.trim();
    expect(spec).toBe('Color:Blue|Size:Big');
    const plan = await pipelineIn(dir, ['plan', 'prompts/car.prompt.yaml', '--fixed', spec, '--format', 'json']);
    expect(JSON.parse(plan.stdout).map((r: { api_prompt: string }) => r.api_prompt)).toEqual(['blue car, big']);
  });

  it('with --json, ends with the envelope of what was picked; the questions stay on the terminal', async () => {
    const dir = writeFiles(files);
    const result = await onTerminal(dir, ['pick', 'prompts/car.prompt.yaml', '--json'], [
      { when: /6 images; fix which placeholder\?/, keys: `${down}${enter}` }, // Size
      { when: /Big: big/, keys: `${down}${enter}` }, // Small
      { when: /3 images; fix which placeholder\?/, keys: `${up}${enter}` }, // done
    ]);
    expect(result.code, result.stdout).toBe(0);
    // The terminal shows the questions and stdout alike: the envelope is the last thing on it.
    const screen = result.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
    const envelope = JSON.parse(screen.slice(screen.lastIndexOf('{\n  "command": "pick"'))) as Record<string, unknown>;
    expect(envelope).toEqual({ command: 'pick', ok: true, exit_code: 0, fixed: 'Size:Small', values: { Size: 'Small' }, images: 3 });
  });

  it('with --json and no terminal, the refusal is an envelope too (exit 2)', async () => {
    const result = await pipelineIn(writeFiles(files), ['pick', 'prompts/car.prompt.yaml', '--json'], '');
    expect(result.code).toBe(2);
    const envelope = JSON.parse(result.stdout) as { command: string; exit_code: number; errors: { message: string; field: string }[] };
    expect(envelope).toMatchObject({ command: 'pick', ok: false, exit_code: 2 });
    expect(envelope.errors).toEqual([{ message: expect.stringMatching(/^pick asks on a terminal/), field: 'stdin' }]);
  });

  it('says it needs a terminal when there is none', async () => {
    const result = await pipelineIn(writeFiles(files), ['pick', 'prompts/car.prompt.yaml'], '');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/pick asks on a terminal; without one, write the spec for --fixed yourself/);
  });
});
