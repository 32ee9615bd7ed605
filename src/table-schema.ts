// A table's zod row schema decides its Parquet column types, so every table has one
// declared shape: strings, numbers (int -> BIGINT), booleans, number lists -> FLOAT[],
// string lists -> VARCHAR[], anything structured -> JSON.
import type { z } from 'zod';

type AnySchema = z.ZodType & { _zod: { def: Record<string, any> }; isInt?: boolean };

function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (;;) {
    const def = s._zod.def;
    if (['nullable', 'optional', 'default', 'readonly', 'catch', 'prefault'].includes(def.type)) s = def.innerType;
    else if (def.type === 'pipe') s = def.in;
    else return s;
  }
}

export function duckdbTypeOf(schema: z.ZodType): string {
  const s = unwrap(schema as AnySchema);
  switch (s._zod.def.type) {
    case 'string':
    case 'enum':
    case 'literal':
      return 'VARCHAR';
    case 'number':
      return s.isInt ? 'BIGINT' : 'DOUBLE';
    case 'int':
    case 'bigint':
      return 'BIGINT';
    case 'boolean':
      return 'BOOLEAN';
    case 'array': {
      const element = duckdbTypeOf(s._zod.def.element);
      if (element === 'DOUBLE') return 'FLOAT[]';
      if (element === 'VARCHAR' || element === 'BIGINT' || element === 'BOOLEAN') return `${element}[]`;
      return 'JSON';
    }
    default:
      return 'JSON';
  }
}

export type ColumnTypes = [name: string, type: string][];

export function columnsOf(schema: z.ZodObject<z.ZodRawShape>): ColumnTypes {
  return Object.entries(schema.shape).map(([name, s]) => [name, duckdbTypeOf(s as z.ZodType)]);
}

/** Columns of a cmd-less table with no schema: inferred from the first row's JS values. */
export function columnsFromRow(row: Record<string, unknown>): ColumnTypes {
  return Object.entries(row).map(([name, v]) => {
    if (typeof v === 'string') return [name, 'VARCHAR'];
    if (typeof v === 'number') return [name, Number.isInteger(v) ? 'BIGINT' : 'DOUBLE'];
    if (typeof v === 'boolean') return [name, 'BOOLEAN'];
    return [name, 'JSON'];
  });
}
