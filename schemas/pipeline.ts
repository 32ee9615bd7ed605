// pipeline.yaml: the DAG a project runs. The single source of truth for its format;
// `pipeline schema export` turns it into JSON Schema for editors.
import { z } from 'zod';

const stageName = z.string().regex(/^[A-Za-z_][\w-]*$/, 'a stage name: letters, digits, _ or -, not starting with a digit');
const outputRef = z.string().regex(/^[A-Za-z_][\w-]*\.[A-Za-z_][\w-]*$/, 'an output reference: <stage>.<output>');

export const stageConfigSchema = z
  .object({
    description: z.string().optional(),
    uses: z.string().min(1).optional().describe('a stage module: a built-in name (resolve, generate...) or a path to a .js module'),
    cmd: z.string().min(1).optional().describe('a shell command (Make/DVC style: whole-stage granularity)'),
    params: z.array(z.string().min(1)).default([]).describe('dot paths of the params this stage reads'),
    deps: z.array(z.string().min(1)).default([]).describe('files, folders or globs this stage reads, relative to the project'),
    inputs: z
      .union([z.record(z.string(), outputRef), z.array(outputRef)])
      .default({})
      .describe('artifacts of other stages: {local_name: stage.output} or a list of stage.output'),
    outs: z.array(z.string().min(1)).default([]).describe('for cmd stages: the files or folders the command writes'),
  })
  .strict()
  .superRefine((stage, ctx) => {
    if (!stage.uses === !stage.cmd) ctx.addIssue({ code: 'custom', message: 'a stage needs exactly one of `uses:` or `cmd:`' });
    if (stage.uses && stage.outs.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['outs'], message: '`outs:` is for cmd stages; a module declares its own outputs' });
    }
  });

export const pipelineConfigSchema = z
  .object({
    $schema: z.string().optional(),
    params: z.record(z.string(), z.unknown()).default({}),
    resources: z
      .record(z.string(), z.number().int().positive())
      .default({})
      .describe('named concurrency limits shared by stages (e.g. a1111: 2, onnx: 1)'),
    commands: z.array(z.string()).default([]).describe('modules that add CLI commands'),
    stages: z.record(stageName, stageConfigSchema).refine((s) => Object.keys(s).length > 0, 'at least one stage'),
  })
  .strict();

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;
export type StageConfig = z.infer<typeof stageConfigSchema>;
