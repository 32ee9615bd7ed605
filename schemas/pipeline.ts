// pipeline.yaml: the DAG a project runs. The single source of truth for its format;
// `pipeline schema export` turns it into JSON Schema for editors.
import { z } from 'zod';

const stageName = z.string().regex(/^[A-Za-z_][\w-]*$/, 'a stage name: letters, digits, _ or -, not starting with a digit');
const outputRef = z.string().regex(/^[A-Za-z_][\w-]*\.[A-Za-z_][\w-]*$/, 'an output reference: <stage>.<output>');

/**
 * Where a map stage's batches run: in this process, or on \`pipeline worker\` processes fed
 * through a Redis queue. Operational: switching executors reruns nothing.
 */
export const executorSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local') }).strict(),
  z
    .object({
      kind: z.literal('bullmq'),
      redis: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').describe('redis://[user:password@]host:port[/db]'),
      queue_prefix: z.string().min(1).default('sdloop').describe('prefix of the Redis keys, one queue per stage under it'),
      in_flight: z.number().int().positive().default(16).describe('batches queued or running at once per stage'),
      attempts: z.number().int().positive().default(3).describe('tries per batch (a killed worker counts as one) before its items are recorded as failed'),
      lock_ms: z.number().int().positive().default(30_000).describe("how long a silent worker keeps its batch before it goes to another (BullMQ's lockDuration)"),
      stalled_check_ms: z.number().int().positive().default(30_000).describe("how often workers look for batches of silent workers (BullMQ's stalledInterval)"),
      redis_timeout_s: z.number().positive().default(300).describe('how long a run waits for an unreachable Redis before it fails'),
      refusal_timeout_s: z.number().positive().default(60).describe('how long after a worker refuses a batch (other code or params) the run waits for a matching worker to take one before it fails'),
    })
    .strict(),
]);

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
    executor: executorSchema.optional().describe("for map stages: where the batches run (default: the pipeline's executor)"),
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
    executor: executorSchema.default({ kind: 'local' }).describe('where map stages run their batches unless a stage says otherwise'),
    stages: z.record(stageName, stageConfigSchema).refine((s) => Object.keys(s).length > 0, 'at least one stage'),
  })
  .strict();

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;
export type StageConfig = z.infer<typeof stageConfigSchema>;
export type ExecutorConfig = z.infer<typeof executorSchema>;
export type BullmqExecutorConfig = Extract<ExecutorConfig, { kind: 'bullmq' }>;
