// `pipeline prune`: move images a SQL predicate picks into the trash, and back. The
// record and file moves live in prune-record.ts, loaded only when the command runs.
import { join, relative } from 'node:path';
import { defineCommand, parseCommandArgs } from '../src/command.js';
import { InputError } from '../src/errors.js';

const prune = defineCommand({
  name: 'prune',
  summary: 'Move images a SQL predicate over quality/scores picks into data/trash (lists them unless --apply); --restore brings them back',
  usage: 'pipeline prune --where "<predicate>" [--apply] | pipeline prune --restore [--batch NAME]',
  async run(args, ctx) {
    const { values } = parseCommandArgs({
      args,
      options: { where: { type: 'string' }, apply: { type: 'boolean', default: false }, restore: { type: 'boolean', default: false }, batch: { type: 'string' } },
    });
    const { planPrune, applyPrune, restorePrune } = await import('./prune-record.js');
    const pruneCtx = { projectDir: ctx.projectDir, dataDir: ctx.dataDir, sql: ctx.sql };
    if (values.restore) {
      if (values.where !== undefined || values.apply) throw new InputError('expected --restore alone (with an optional --batch)', { field: '--restore' });
      const { restored, skipped } = await restorePrune(pruneCtx, values.batch);
      for (const { item, reason } of skipped) ctx.stderr(`kept in trash: ${item.file}: ${reason}\n`);
      ctx.stdout(`restored ${restored.length} image${restored.length === 1 ? '' : 's'}\n`);
      return 0;
    }
    if (values.where === undefined) throw new InputError('expected --where "<SQL predicate>" (e.g. "quality.blurred") or --restore', { field: '--where' });
    const candidates = await planPrune(pruneCtx, values.where);
    if (!values.apply) {
      for (const c of candidates) ctx.stdout(`${c.file}  ${c.image_id}\n`);
      ctx.stdout(`would move ${candidates.length} image${candidates.length === 1 ? '' : 's'} to ${relative(ctx.projectDir, join(ctx.dataDir, 'trash'))}/ (nothing moved; add --apply)\n`);
      return 0;
    }
    const record = await applyPrune(pruneCtx, values.where, candidates);
    const batchDir = relative(ctx.projectDir, join(ctx.dataDir, 'trash', record.batch));
    ctx.stdout(`moved ${record.items.length} image${record.items.length === 1 ? '' : 's'} to ${batchDir}/ (record: ${batchDir}/record.json); undo with: pipeline prune --restore --batch ${record.batch}\n`);
    return 0;
  },
});


export default [prune];
