// How a person reads a variation value: its key, except for sdgen's inline values, whose
// keys are MD5 prefixes (`f1fb4c14`) and whose text is the only name they have. The
// catalog's variation_values table says which is which.
import type { Sql } from '../../src/stage.js';

export type ValueLabel = (axis: string, key: string) => string;

export async function valueLabels(sql: Sql, existing: Set<string>): Promise<ValueLabel> {
  if (!existing.has('variation_values')) return (_axis, key) => key;
  const rows = await sql<{ axis: string; key: string; text: string }>('SELECT axis, key, text FROM variation_values WHERE inline');
  const texts = new Map(rows.map((r) => [`${r.axis}\u0000${r.key}`, r.text]));
  return (axis, key) => texts.get(`${axis}\u0000${key}`) ?? key;
}
