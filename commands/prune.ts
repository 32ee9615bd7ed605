// `pipeline prune`: move images a SQL predicate picks into the trash, and back. The
// record and file moves live in prune-record.ts, loaded only when the command runs.
import { join, relative } from 'node:path';
import { defineCommand, examples } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { writeJsonEnvelope } from '../src/json-output.js';

interface PruneOptions {
  where?: string;
  apply?: boolean;
  restore?: boolean;
  batch?: string;
  json?: boolean;
}

export default defineCommand<PruneOptions>({
  name: 'prune',
  summary: 'move images a SQL predicate over quality/scores picks into data/trash (lists them unless --apply); --restore brings them back',
  configure(cli) {
    cli
      .option('--where <predicate>', 'SQL predicate over images, quality and scores picking the images')
      .option('--apply', 'move them (without it they are only listed)')
      .addOption(cli.createOption('--restore', 'move pruned images back where they were').conflicts(['where', 'apply']))
      .option('--batch <name>', 'with --restore: only this batch (a folder under data/trash)')
      .option('--json', 'print the images listed, moved or restored as JSON')
      .addHelpText('after', examples(
        'pipeline prune --where "quality.blurred"',
        'pipeline prune --where "quality.blank OR scores.p_target < 0.1" --apply',
        'pipeline prune --restore --batch 2026-11-01T12-00-00-000Z',
      ));
  },
  async run({ options }, ctx) {
    const { planPrune, applyPrune, restorePrune } = await import('./prune-record.js');
    const pruneCtx = { projectDir: ctx.projectDir, dataDir: ctx.dataDir, sql: ctx.sql };
    if (options.restore) {
      const { restored, skipped } = await restorePrune(pruneCtx, options.batch);
      if (options.json) return writeJsonEnvelope('prune', 0, { action: 'restore', restored, skipped }, ctx.stdout);
      for (const { item, reason } of skipped) ctx.stderr(`kept in trash: ${item.file}: ${reason}\n`);
      const rerun = restored.length ? '; the next `pipeline run` brings them back into the tables and the dataset' : '';
      ctx.stdout(`restored ${restored.length} image${restored.length === 1 ? '' : 's'}${rerun}\n`);
      return 0;
    }
    if (options.where === undefined) throw new InputError('expected --where "<SQL predicate>" (e.g. "quality.blurred") or --restore', { field: '--where' });
    // The predicate is SQL a person wrote: it is picked in the sandbox, which cannot read other files or write.
    const candidates = await planPrune({ ...pruneCtx, sql: ctx.query ?? ctx.sql }, options.where);
    const plural = (n: number) => `${n} image${n === 1 ? '' : 's'}`;
    const kept = candidates.filter((c) => c.imported).length;
    const keptNote = kept ? `; ${plural(kept)} imported: your files stay where they are` : '';
    if (options.json && !options.apply) return writeJsonEnvelope('prune', 0, { action: 'list', images: candidates }, ctx.stdout);
    if (!options.apply) {
      for (const c of candidates) ctx.stdout(`${c.file}  ${c.image_id}${c.imported ? '  (imported: not moved)' : ''}\n`);
      ctx.stdout(`would move ${plural(candidates.length - kept)} to ${relative(ctx.projectDir, join(ctx.dataDir, 'trash'))}/${keptNote} (nothing done; add --apply)\n`);
      return 0;
    }
    const record = await applyPrune(pruneCtx, options.where, candidates);
    const batchDir = relative(ctx.projectDir, join(ctx.dataDir, 'trash', record.batch));
    if (options.json) return writeJsonEnvelope('prune', 0, { action: 'apply', batch: record.batch, record: `${batchDir}/record.json`, images: record.items }, ctx.stdout);
    ctx.stdout(`moved ${plural(record.items.length - kept)} to ${batchDir}/${keptNote} (record: ${batchDir}/record.json); the next \`pipeline run\` leaves all ${record.items.length} out of the tables and the dataset; undo with: pipeline prune --restore --batch ${record.batch}\n`);
    return 0;
  },
});
