// `pipeline validate`: every prompt, template, chunk, variations and theme file checked
// in one pass, each problem reported with file, line and field. Touches no state.
import { resolve } from 'node:path';
import { defineCommand, examples } from '../src/command.js';
import { InputErrors } from '../src/errors.js';
import { resolveParams } from '../stages/resolve/index.js';
import { findPromptFiles } from '../stages/resolve/templates/discover.js';
import { globBase, validateTemplates } from '../stages/resolve/templates/validate.js';

export default defineCommand({
  name: 'validate',
  summary: 'check every prompt, template, chunk, variations and theme file; report every problem',
  configure(cli) {
    cli
      .argument('[path...]', 'files or folders to check (default: the folders of resolve.prompts)')
      .addHelpText('after', examples('pipeline validate', 'pipeline validate data/prompts data/variations'));
  },
  async run({ args }, ctx) {
    const options = resolveParams.parse({ resolve: (ctx.params as { resolve?: unknown }).resolve }).resolve;
    const entries = await findPromptFiles(ctx.projectDir, options.prompts);
    const folders = args.length > 0 ? args.map((p) => resolve(p)) : options.prompts.map(globBase);
    const report = validateTemplates(entries, folders, { projectDir: ctx.projectDir, ...options });
    for (const warning of report.warnings) ctx.stderr(`warning: ${warning.format()}\n`);
    if (report.problems.length > 0) throw new InputErrors(report.problems);
    ctx.stdout(`ok: ${report.files.length} files checked, ${entries.length} prompt files planned\n`);
    return 0;
  },
});
