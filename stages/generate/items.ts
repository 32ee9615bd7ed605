// generate's items: the planned prompt rows, as the table holds them, with what many rows
// share held once. Read back one object per row, a file's manifest snapshot and params and
// every chosen value would be copied 100,000 times (about 4 KB a row); here each distinct
// one is parsed once, so a row costs little more than its own prompt texts.
import { StageFailure } from '../../src/errors.js';
import type { StageContext } from '../../src/stage.js';
import { columnsOf } from '../../src/table-schema.js';
import { promptRow, type ChosenVariation, type PromptRow } from '../../schemas/tables.js';

const columns = columnsOf(promptRow);
// JSON columns come as their text, the key to what was parsed already; columns keep the
// table's order, so a row has the keys (and key order) of one read whole.
const query = `SELECT ${columns.map(([name, type]) => (type === 'JSON' ? `"${name}"::VARCHAR AS "${name}"` : `"${name}"`)).join(', ')} FROM read_parquet($prompts)`;

/** One parsed value per distinct text. */
function interner<T>(): (text: string) => T {
  const parsed = new Map<string, T>();
  return (text) => {
    let value = parsed.get(text);
    if (value === undefined) parsed.set(text, (value = JSON.parse(text) as T));
    return value;
  };
}

export async function plannedItems(ctx: StageContext): Promise<PromptRow[]> {
  const input = ctx.inputs.prompts;
  if (input?.kind !== 'table') throw new StageFailure(ctx.stage, 'expected a table input named prompts in pipeline.yaml');
  const params = interner<PromptRow['params']>();
  const manifests = interner<PromptRow['manifest']>();
  /** a chosen value by its alternatives, key and value as written */
  const chosen = new Map<string, ChosenVariation>();
  const items: PromptRow[] = [];
  for await (const chunk of ctx.sqlChunks<Record<string, unknown>>(query, { prompts: input.path })) {
    for (const row of chunk) {
      const variations = JSON.parse(row.variations as string) as PromptRow['variations'];
      for (const [axis, value] of Object.entries(variations)) {
        const id = `${value.alternatives}\u0000${value.key}\u0000${JSON.stringify(value.value)}`;
        const known = chosen.get(id);
        if (known) variations[axis] = known;
        else chosen.set(id, value);
      }
      row.variations = variations;
      row.params = params(row.params as string);
      row.manifest = manifests(row.manifest as string);
      items.push(row as PromptRow);
    }
  }
  return items;
}
