// resolve: sdgen V2.0 prompt files (and the templates, chunks, variations and themes they
// reach) -> table `planned`, one row per planned image, in plan order (catalog adds the
// imported prompts to make `prompts`).
import { z } from 'zod';
import { promptRow } from '../../schemas/tables.js';
import { InputError } from '../../src/errors.js';
import { defineStage } from '../../src/stage.js';
import { findPromptFiles } from './templates/discover.js';
import { planPromptFile } from './templates/plan.js';

const text = z.union([z.string(), z.number()]).transform(String);

export const resolveParams = z.object({
  resolve: z.object({
    prompts: z.union([z.string().transform((glob) => [glob]), z.array(z.string())]).default(['data/prompts/**/*.prompt.yaml'])
      .describe('globs of entry prompt files, relative to the project; planned in this order'),
    theme: z.string().nullable().default(null).describe('theme name applied to files that declare themes'),
    style: z.string().default('default').describe('theme style: picks X.<style> imports'),
    seeds: text.nullable().default(null).describe('seed sweep: C#S, a,b,c, a-b or one integer'),
    fixed: z.string().nullable().default(null).describe('pinned placeholders: Name:key|Name2:key2'),
    count: z.number().int().min(0).default(0).describe('at most this many images per prompt file; 0 = no cap'),
  }).default({ prompts: ['data/prompts/**/*.prompt.yaml'], theme: null, style: 'default', seeds: null, fixed: null, count: 0 }),
});

export type ResolveParams = z.infer<typeof resolveParams>;

export default defineStage({
  description: 'plan one prompt row per image from sdgen V2.0 prompt files',
  version: '1',
  params: resolveParams,
  outputs: { planned: { kind: 'table', schema: promptRow } },
  async run(ctx) {
    const options = ctx.params.resolve;
    const files = await findPromptFiles(ctx.projectDir, options.prompts);
    if (files.length === 0) {
      throw new InputError(`no prompt file matches ${options.prompts.join(', ')} (relative to ${ctx.projectDir})`, { field: 'resolve.prompts' });
    }
    const rows = [];
    for (const file of files) {
      const plan = planPromptFile(file, { projectDir: ctx.projectDir, ...options });
      ctx.dependOn(plan.files);
      for (const warning of plan.warnings) ctx.warn(warning);
      ctx.log(`${file}: ${plan.rows.length} prompts`);
      rows.push(...plan.rows);
    }
    return { planned: rows };
  },
});
