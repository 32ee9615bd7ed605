// `pipeline label`: human verdicts on images, appended to the journal `labels` (also while
// a run holds the state). The classify stage reads them (they win over zero-shot labels;
// a reject drops the image), and their content is part of its fingerprint, so the next
// run retrains.
import { readFile } from 'node:fs/promises';
import { defineCommand, examples, type CommandContext } from '../src/command.js';
import { InputError, InputErrors } from '../src/errors.js';
import { writeJsonEnvelope } from '../src/json-output.js';
import { parseLabelCsv, type NewLabel } from './label-csv.js';
import { labelsJournal } from '../stages/classify/human-labels.js';

const USAGE = 'pipeline label <image_id> <axis>=<value>... | pipeline label <image_id> --reject | pipeline label --csv FILE';

/** Labels from `<image_id> <axis>=<value>...` or `<image_id> --reject`. */
export function labelsFromArgs(positionals: string[], reject: boolean): NewLabel[] {
  const [imageId, ...pairs] = positionals;
  if (!imageId) throw new InputError(`expected an image id; usage: ${USAGE}`, { field: 'image_id' });
  if (reject) {
    if (pairs.length) throw new InputError('expected either --reject or <axis>=<value> pairs, not both', { field: 'reject' });
    return [{ image_id: imageId, axis: null, value: null, reject: true }];
  }
  if (!pairs.length) throw new InputError(`expected <axis>=<value> or --reject after the image id; usage: ${USAGE}`, { field: 'axis' });
  return pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) {
      throw new InputError(`expected <axis>=<value> (for example Hair=BobCut), got '${pair}'`, { field: 'axis' });
    }
    return { image_id: imageId, axis: pair.slice(0, eq), value: pair.slice(eq + 1), reject: false };
  });
}

async function viewExists(ctx: CommandContext, name: string): Promise<boolean> {
  const rows = await ctx.sql(`select table_name from information_schema.tables where table_name = $name`, { name });
  return rows.length > 0;
}

/**
 * Ids of images and of benchmark pictures (benchmark_images): labels on the latter give
 * the benchmark people's verdicts to measure its scorer against (Cohen's kappa).
 * Null when neither table exists yet: nothing to check against.
 */
async function knownImages(ctx: CommandContext): Promise<Set<string> | null> {
  const tables = [];
  for (const name of ['images', 'benchmark_images']) if (await viewExists(ctx, name)) tables.push(name);
  if (!tables.length) return null;
  const query = tables.map((t) => `select distinct image_id from ${t}`).join(' union ');
  return new Set((await ctx.sql<{ image_id: string }>(query)).map((r) => r.image_id));
}

/** Unknown images and axes are typos: report them all, where they were written. */
async function checkAgainstState(labels: NewLabel[], ctx: CommandContext): Promise<void> {
  const errors: InputError[] = [];
  const where = (l: NewLabel, field: string) => ({ file: l.file, line: l.line, field });
  const known = await knownImages(ctx);
  if (known) {
    for (const l of labels) {
      if (!known.has(l.image_id)) errors.push(new InputError(`expected the id of an image (generated, imported or a benchmark picture), got '${l.image_id}'`, where(l, 'image_id')));
    }
  }
  if (await viewExists(ctx, 'scores')) {
    const axes = (await ctx.sql<{ axis: string }>('select distinct axis from scores order by axis')).map((r) => r.axis);
    for (const l of labels) {
      if (l.axis !== null && !axes.includes(l.axis)) {
        errors.push(new InputError(`expected a scored axis (${axes.join(', ')}), got '${l.axis}'`, where(l, 'axis')));
      }
    }
  }
  if (await viewExists(ctx, 'axes')) {
    const values = await axisValues(ctx);
    for (const l of labels) {
      const known = l.axis === null ? undefined : values.get(l.axis);
      if (known && l.value !== null && !known.keys.has(l.value) && !known.texts.has(l.value)) {
        errors.push(new InputError(`expected a value of ${l.axis} (${[...known.keys].join(', ')}) or its text, got '${l.value}'`, where(l, 'value')));
      }
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length) throw new InputErrors(errors);
}

/** axis -> its variation keys and their texts, over every alternatives set of table axes. */
async function axisValues(ctx: CommandContext): Promise<Map<string, { keys: Set<string>; texts: Set<string> }>> {
  const out = new Map<string, { keys: Set<string>; texts: Set<string> }>();
  for (const { axis, keys, texts } of await ctx.sql<{ axis: string; keys: string[]; texts: string[] }>('select axis, keys, texts from axes')) {
    const entry = out.get(axis) ?? { keys: new Set<string>(), texts: new Set<string>() };
    for (const k of keys) entry.keys.add(k);
    for (const t of texts) entry.texts.add(t);
    out.set(axis, entry);
  }
  return out;
}

/** The last verdict on an (image, axis) in one batch wins; rows keep their first position. */
function lastWins(labels: NewLabel[]): NewLabel[] {
  const byKey = new Map<string, NewLabel>();
  for (const l of labels) byKey.set(`${l.image_id}\u0000${l.reject ? '\u0001reject' : l.axis}`, l);
  return [...byKey.values()];
}

export async function recordLabels(labels: NewLabel[], ctx: CommandContext, now = new Date()): Promise<number> {
  await checkAgainstState(labels, ctx);
  const created_at = now.toISOString();
  const rows = lastWins(labels).map(({ image_id, axis, value, reject }) => ({ image_id, axis, value, reject, created_at }));
  // one append, so a batch is recorded whole or not at all
  await labelsJournal(ctx.dataDir).append(rows);
  return rows.length;
}

export default defineCommand<{ reject?: boolean; csv?: string; json?: boolean }>({
  name: 'label',
  summary: 'record human labels (they win over model labels) or rejects; classify retrains on them',
  reads: 'files',
  configure(cli) {
    cli
      .usage('<image_id> <axis>=<value>... | <image_id> --reject | --csv FILE')
      .argument('[image_id]', 'the image to label')
      .argument('[axis=value...]', 'the variation value the image shows, per axis')
      .option('--reject', 'reject the image: classify leaves it out')
      .option('--csv <file>', 'record every label of a CSV file (header: image_id, axis, value, reject)')
      .option('--json', 'print how many labels were recorded as JSON')
      .addHelpText('after', examples('pipeline label 3f2a9c Hair=BobCut Colour=Red', 'pipeline label 3f2a9c --reject', 'pipeline label --csv labels.csv'));
  },
  async run({ args, options }, ctx) {
    let labels: NewLabel[];
    if (options.csv !== undefined) {
      const file = options.csv;
      if (args.length || options.reject) throw new InputError(`expected either --csv FILE or an image id, not both; usage: ${USAGE}`, { field: 'csv' });
      const text = await readFile(file, 'utf8').catch((error: Error) => {
        throw new InputError(`expected a readable CSV file: ${error.message}`, { file });
      });
      labels = parseLabelCsv(text, file);
    } else {
      labels = labelsFromArgs(args, options.reject ?? false);
    }
    const count = await recordLabels(labels, ctx);
    const rejects = labels.filter((l) => l.reject).length;
    if (options.json) return writeJsonEnvelope('label', 0, { recorded: count, rejects }, ctx.stdout);
    ctx.stdout(`recorded ${count} label${count === 1 ? '' : 's'}${rejects ? ` (${rejects} reject${rejects === 1 ? '' : 's'})` : ''}; \`pipeline run classify\` retrains on them\n`);
    return 0;
  },
});
