// ADetailer and ControlNet presets as sdgen sends them, checked on the exact request
// bodies: `plan --payloads` and what the A1111 stand-in received from `pipeline run`.
// The expected detector and unit dicts are written out from sdgen's builders
// (ADetailerDetector.to_api_dict and ControlNetUnit.to_api_dict), field by field.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyExampleProject } from '../example-project.js';
import { solidPng, startA1111StandIn, type A1111StandIn } from '../standins/a1111-server.js';
import { pipelineIn, writeFiles } from './cli.js';

const standing = solidPng(8, [10, 20, 30]);
const sitting = solidPng(8, [200, 100, 0]);

const files = {
  'data/presets/face_hq.adetailer.yaml': `version: '2.0'
name: High Quality Face Refinement
detector:
  ad_model: face_yolov8n.pt
  ad_confidence: 0.3
  ad_prompt: detailed eyes, perfect skin
  ad_denoising_strength: 0.4
  ad_mask_k_largest: 1
  ad_inpaint_only_masked_padding: 32
`,
  'data/presets/hands.adetailer.yaml': `version: '2.0'
detector:
  ad_model: hand_yolov8n.pt
  ad_prompt: perfect hands
`,
  'data/presets/pose.controlnet.yaml': `type: controlnet_config
version: "1.0"
units:
  - model: control_v11p_sd15_openpose
    module: openpose
    weight: 0.8
    image: {Pose}
`,
  'data/poses/standing.png': standing,
  'data/poses/sitting.png': sitting,
  'data/variations/poses.yaml': 'Standing: ../poses/standing.png\nSitting: ../poses/sitting.png\n',
  'data/variations/expression.yaml': 'Happy: smiling\nSad: crying\n',
  'data/prompts/portrait.prompt.yaml': `version: "2.0"
name: portrait
prompt: "portrait, {Expression}, {Pose}"
imports:
  Expression: ../variations/expression.yaml
  Pose: ../variations/poses.yaml
parameters:
  sampler: DPM++ 2M
  adetailer:
    - import: ../presets/face_hq.adetailer.yaml
      override:
        ad_prompt: "detailed face, {Expression}"
    - ../presets/hands.adetailer.yaml
  controlnet: ../presets/pose.controlnet.yaml
generation:
  mode: combinatorial
  seed: 7
  seed_mode: fixed
  max_images: 0
`,
};

/** sdgen's ADetailerDetector defaults in to_api_dict order, with the given fields set. */
function detector(set: Record<string, unknown>): Record<string, unknown> {
  const api = {
    ad_model: 'face_yolov8n.pt', ad_model_classes: '', ad_tab_enable: true, ad_prompt: '', ad_negative_prompt: '',
    ad_confidence: 0.3, ad_mask_filter_method: 'Area', ad_mask_k: 0, ad_mask_min_ratio: 0, ad_mask_max_ratio: 1,
    ad_dilate_erode: 4, ad_x_offset: 0, ad_y_offset: 0, ad_mask_merge_invert: 'None', ad_mask_blur: 4,
    ad_denoising_strength: 0.4, ad_inpaint_only_masked: true, ad_inpaint_only_masked_padding: 32,
    ad_use_inpaint_width_height: false, ad_inpaint_width: 512, ad_inpaint_height: 512, ad_use_steps: false, ad_steps: 28,
    ad_use_cfg_scale: false, ad_cfg_scale: 7, ad_use_checkpoint: false, ad_checkpoint: null, ad_use_vae: false, ad_vae: null,
    ad_use_sampler: false, ad_sampler: 'DPM++ 2M Karras', ad_scheduler: 'Use same scheduler', ad_use_noise_multiplier: false,
    ad_noise_multiplier: 1, ad_use_clip_skip: false, ad_clip_skip: 1, ad_restore_face: false, ad_controlnet_model: 'None',
    ad_controlnet_module: 'None', ad_controlnet_weight: 1, ad_controlnet_guidance_start: 0, ad_controlnet_guidance_end: 1,
  };
  return { ...api, ...set };
}

function openposeUnit(image: Buffer): Record<string, unknown> {
  return {
    enabled: true, module: 'openpose', model: 'control_v11p_sd15_openpose', weight: 0.8, image: image.toString('base64'),
    resize_mode: 'Crop and Resize', low_vram: false, processor_res: 512, threshold_a: 64, threshold_b: 128,
    guidance_start: 0, guidance_end: 1, control_mode: 'Balanced', pixel_perfect: false, guessmode: false,
  };
}

const expected = [
  { expression: 'smiling', pose: standing },
  { expression: 'smiling', pose: sitting },
  { expression: 'crying', pose: standing },
  { expression: 'crying', pose: sitting },
].map(({ expression, pose }) => ({
  ADetailer: {
    args: [true, false,
      detector({ ad_prompt: `detailed face, ${expression}`, ad_mask_k: 1 }),
      detector({ ad_model: 'hand_yolov8n.pt', ad_prompt: 'perfect hands' })],
  },
  controlnet: { args: [openposeUnit(pose)] },
}));

const servers: A1111StandIn[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('presets reach A1111 as sdgen sends them', () => {
  it('plan --payloads writes ADetailer positional args and base64 ControlNet images per image', async () => {
    const dir = writeFiles(files, copyExampleProject());
    const out = join(dir, 'payloads');
    const result = await pipelineIn(dir, ['plan', 'data/prompts/portrait.prompt.yaml', '--payloads', 'payloads']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const names = readdirSync(out).sort();
    expect(names).toEqual(['0000.json', '0001.json', '0002.json', '0003.json']);
    const bodies = names.map((n) => JSON.parse(readFileSync(join(out, n), 'utf8')) as Record<string, unknown>);
    expect(bodies.map((b) => b.alwayson_scripts)).toEqual(expected);
    expect(bodies.map((b) => b.sampler_name)).toEqual(Array(4).fill('DPM++ 2M'));
    expect(bodies.every((b) => !('adetailer' in b) && !('controlnet' in b))).toBe(true);
  });

  it('pipeline run sends the same bodies to the server', async () => {
    const server = await startA1111StandIn();
    servers.push(server);
    const dir = writeFiles(files, copyExampleProject());
    const set = ['--set', 'resolve.prompts=[data/prompts/portrait.prompt.yaml]', '--set', 'generate.backend=a1111', '--set', `generate.endpoints=[${server.url}]`];
    const result = await pipelineIn(dir, ['run', 'generate', ...set]);
    expect(result.code, result.stderr).toBe(0);
    const sent = server.txt2img();
    expect(sent).toHaveLength(4);
    // generate may send in any order; each planned body arrives once.
    expect(sent.map((b) => b.alwayson_scripts)).toEqual(expect.arrayContaining(expected));
    expect(new Set(sent.map((b) => JSON.stringify(b.alwayson_scripts))).size).toBe(4);
    // A ControlNet image is an input of resolve like the YAML files: changing it makes resolve stale.
    const before = await pipelineIn(dir, ['status', 'resolve', '--json', ...set]);
    expect(JSON.parse(before.stdout).stages[0]).toMatchObject({ name: 'resolve', up_to_date: true });
    writeFileSync(join(dir, 'data/poses/sitting.png'), solidPng(8, [1, 2, 3]));
    const status = await pipelineIn(dir, ['status', 'resolve', '--json', ...set]);
    expect(JSON.parse(status.stdout).stages[0]).toMatchObject({ name: 'resolve', up_to_date: false });
  });

  it('takes the other forms sdgen takes: {import, override}, a list with unit overrides, an inline unit, images drawn per image', async () => {
    const prompt = (name: string, text: string, parameters: string) => `version: "2.0"\nname: ${name}\nprompt: "${text}"\nimports:\n  Expression: ../variations/expression.yaml\n  Pose: ../variations/poses.yaml\nparameters:\n${parameters}\ngeneration:\n  mode: combinatorial\n  seed: 7\n  seed_mode: fixed\n  max_images: 0\n`;
    const dir = writeFiles({
      ...files,
      'data/prompts/single.prompt.yaml': prompt('single', 'portrait, {Expression}', '  adetailer:\n    import: ../presets/hands.adetailer.yaml\n    override: {ad_denoising_strength: 0.6}\n  controlnet: [../presets/pose.controlnet.yaml, {weight: 0.5, image: ../poses/sitting.png}]'),
      'data/prompts/inline.prompt.yaml': prompt('inline', 'portrait, {Expression}', '  controlnet: {model: control_v11p_sd15_canny, module: canny, image: "{Pose}"}'),
    }, copyExampleProject());
    const payloads = async (file: string) => {
      const out = join(dir, 'out', file);
      const result = await pipelineIn(dir, ['plan', `data/prompts/${file}.prompt.yaml`, '--payloads', out]);
      expect(result.code, result.stderr).toBe(0);
      return readdirSync(out).sort().map((n) => JSON.parse(readFileSync(join(out, n), 'utf8')).alwayson_scripts);
    };
    const single = await payloads('single');
    expect(single[0].ADetailer.args).toEqual([true, false, detector({ ad_model: 'hand_yolov8n.pt', ad_prompt: 'perfect hands', ad_denoising_strength: 0.6 })]);
    expect(single.map((s: { controlnet: { args: unknown[] } }) => s.controlnet.args)).toEqual([[{ ...openposeUnit(sitting), weight: 0.5 }], [{ ...openposeUnit(sitting), weight: 0.5 }]]);
    // {Pose} is no placeholder of this prompt: each image draws one pose, the same on every plan.
    const inline = await payloads('inline');
    const images = inline.map((s: { controlnet: { args: { image: string; module: string }[] } }) => s.controlnet.args[0]!.image);
    expect(images.every((i: string) => [standing.toString('base64'), sitting.toString('base64')].includes(i))).toBe(true);
    expect(await payloads('inline')).toEqual(inline);
    expect(inline[0].controlnet.args[0].module).toBe('canny');
  });

  it('names the file and field of a bad preset', async () => {
    const dir = writeFiles({
      ...files,
      'data/presets/hands.adetailer.yaml': "version: '2.0'\ndetector:\n  ad_promt: hands\n",
      'data/presets/pose.controlnet.yaml': 'type: controlnet_config\nversion: "1.0"\nunits:\n  - module: openpose\n',
    }, copyExampleProject());
    const result = await pipelineIn(dir, ['plan', 'data/prompts/portrait.prompt.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/hands\.adetailer\.yaml:3:3: detector: .*ad_promt/);
  });

  it('rejects an ADetailer prompt placeholder the prompt does not have', async () => {
    const dir = writeFiles({ ...files, 'data/presets/hands.adetailer.yaml': "version: '2.0'\ndetector:\n  ad_prompt: '{Gloves} hands'\n" }, copyExampleProject());
    const result = await pipelineIn(dir, ['plan', 'data/prompts/portrait.prompt.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/portrait\.prompt\.yaml:\d+:\d+: parameters\.adetailer: \{Gloves\} in parameters\.adetailer is not a placeholder of the prompt itself/);
  });
});
