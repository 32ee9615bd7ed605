// `pipeline schema export`: JSON Schema for pipeline.yaml and the template files, for
// editor autocompletion.
import { resolve, join } from 'node:path';
import { z } from 'zod';
import { pipelineConfigSchema } from '../schemas/pipeline.js';
import { templateFileSchemas } from '../schemas/templates.js';
import { writeFileAtomic } from '../src/atomic.js';
import { defineCommand, parseCommandArgs } from '../src/command.js';
import { InputError } from '../src/errors.js';

const SCHEMA_USAGE = 'pipeline schema export [--out DIR]   (default DIR: schemas/json)';

/**
 * JSON Schema of every file a user writes, for editors (`# yaml-language-server: $schema=...`).
 * Draft-07 because that is the draft VS Code's YAML extension supports best; `input` because
 * users write the input side (defaults optional, scalars before they become text).
 */
export function jsonSchemas(): Record<string, unknown> {
  const all: Record<string, z.ZodType> = { ...templateFileSchemas, pipeline: pipelineConfigSchema };
  return Object.fromEntries(
    Object.entries(all).map(([name, schema]) => [name, z.toJSONSchema(schema, { target: 'draft-07', io: 'input', unrepresentable: 'any' })]),
  );
}

const schema = defineCommand({
  name: 'schema',
  summary: 'write JSON Schema for pipeline.yaml and the template files (for editor autocompletion)',
  usage: SCHEMA_USAGE,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs({ args, allowPositionals: true, options: { out: { type: 'string' } } }, SCHEMA_USAGE);
    if (positionals[0] !== 'export' || positionals.length !== 1) throw new InputError(`expected "schema export"; usage: ${SCHEMA_USAGE}`);
    const out = values.out ? resolve(values.out) : join(ctx.projectDir, 'schemas', 'json');
    for (const [name, json] of Object.entries(jsonSchemas())) {
      const file = join(out, `${name}.schema.json`);
      await writeFileAtomic(file, JSON.stringify(json, null, 2) + '\n');
      ctx.stdout(`wrote ${file}\n`);
    }
    return 0;
  },
});


export default [schema];
