// `pipeline validate [PATH...]`: every prompt, template, chunk, variations, theme and
// preset file checked in one pass, every prompt file planned, each problem reported with
// file, line and field. Touches no state, and needs no project: in a folder of sdgen
// files it checks that folder.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineCommand, examples } from '../src/command.js';
import type { InputError } from '../src/errors.js';
import { InputErrors } from '../src/errors.js';
import { writeJsonEnvelope } from '../src/json-output.js';
import { resolveParams } from '../stages/resolve/index.js';
import { findPromptFiles } from '../stages/resolve/templates/discover.js';
import { globBase, validateTemplates, type ValidationReport } from '../stages/resolve/templates/validate.js';

type ValidateOptions = {
  format: 'text' | 'json';
  json?: boolean;
};

const asJson = (e: InputError) => ({ ...e.where, message: e.message });

/** Problems are bad input: exit 2, in the envelope every --json prints. */
function printJson(report: ValidationReport, planned: number, out: (t: string) => void): number {
  const body = { files: report.files.length, prompt_files: planned, problems: report.problems.map(asJson), warnings: report.warnings.map(asJson) };
  return writeJsonEnvelope('validate', report.problems.length > 0 ? 2 : 0, body, out);
}

export default defineCommand<ValidateOptions>({
  name: 'validate',
  summary: 'check every prompt, template, chunk, variations, theme and preset file; report every problem',
  standalone: true,
  configure(cli) {
    cli
      .argument('[path...]', 'files or folders to check, from where you are (default: the folders of resolve.prompts, or this folder outside a project)')
      .addOption(cli.createOption('--format <format>', 'text, or json for scripts and editors (as --json)').choices(['text', 'json']).default('text'))
      .option('--json', 'print the files checked, problems and warnings as JSON')
      .addHelpText('after', examples('pipeline validate', 'pipeline validate data/prompts data/variations', 'pipeline validate portrait.prompt.yaml --format json'));
  },
  async run({ args, options }, ctx) {
    const params = resolveParams.parse({ resolve: (ctx.params as { resolve?: unknown }).resolve }).resolve;
    const inProject = existsSync(join(ctx.projectDir, 'pipeline.yaml'));
    // The run plans' prompt files are entries as much as resolve.prompts.
    const globs = [...params.prompts, ...(params.runs ?? []).flatMap((r) => r.prompts)];
    const entries = args.length === 0 && inProject ? await findPromptFiles(ctx.projectDir, globs) : [];
    const folders = args.length > 0 ? args.map((p) => resolve(p)) : inProject ? globs.map(globBase) : [ctx.projectDir];
    // Paths given: those and the files their prompts read; else whole folders, as the project has them.
    // Every theme a prompt can use is planned, so the configured theme (or mix) needs no pass of its own.
    const report = validateTemplates(entries, folders, { projectDir: ctx.projectDir, ...params, theme: null, readFolders: args.length === 0 });
    const planned = report.files.filter((f) => f.endsWith('.prompt.yaml')).length;
    if (options.format === 'json' || options.json) return printJson(report, planned, ctx.stdout);
    for (const warning of report.warnings) ctx.stderr(`warning: ${warning.format()}\n`);
    if (report.problems.length > 0) throw new InputErrors(report.problems);
    ctx.stdout(`ok: ${report.files.length} files checked, ${planned} prompt files planned\n`);
    return 0;
  },
});
