// `pipeline schema export`: JSON Schema for pipeline.yaml and the template files, for
// editor autocompletion.
import { resolve, join } from 'node:path';
import { z } from 'zod';
import { pipelineConfigSchema } from '../schemas/pipeline.js';
import { templateFileSchemas } from '../schemas/templates.js';
import { writeFileAtomic } from '../src/atomic.js';
import { defineCommand, examples } from '../src/command.js';
import { shownPath } from '../src/errors.js';
import { writeJsonEnvelope } from '../src/json-output.js';

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

export default defineCommand<{ out?: string; json?: boolean }>({
  name: 'schema',
  summary: 'write JSON Schema for pipeline.yaml and the template files (for editor autocompletion)',
  configure(cli) {
    cli
      .addArgument(cli.createArgument('<action>', 'what to do with the schemas').choices(['export']))
      .option('--out <dir>', 'the folder to write them to (default: schemas/json in the project)')
      .option('--json', 'print the files written as JSON')
      .addHelpText('after', examples('pipeline schema export', 'pipeline schema export --out /tmp/schemas'));
  },
  async run({ options }, ctx) {
    const out = options.out ? resolve(options.out) : join(ctx.projectDir, 'schemas', 'json');
    const written: string[] = [];
    for (const [name, json] of Object.entries(jsonSchemas())) {
      const file = join(out, `${name}.schema.json`);
      await writeFileAtomic(file, JSON.stringify(json, null, 2) + '\n');
      written.push(shownPath(ctx.projectDir, file));
    }
    if (options.json) return writeJsonEnvelope('schema', 0, { written }, ctx.stdout);
    for (const file of written) ctx.stdout(`wrote ${file}\n`);
    return 0;
  },
});
