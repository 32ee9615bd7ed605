// Rows as Arrow IPC, for batches and results that travel through a queue: numbers,
// strings and number lists (embeddings) as typed columns, so 512 floats an image are
// 4 KB of doubles rather than JSON text. Anything else (nested records, a column some
// rows lack) goes as a JSON text column, which keeps it exactly, absent keys included.
import { Bool, Float64, Int64, List, Field, Table, Utf8, tableFromIPC, tableToIPC, vectorFromArray, type DataType, type Vector } from 'apache-arrow';
import type { Row } from './stage.js';

/** What travels: base64 of the IPC stream, which columns hold JSON, and the row count (an empty table has no columns). */
export interface EncodedRows {
  ipc: string;
  json: string[];
  count: number;
}

type ColumnKind = 'float' | 'bigint' | 'string' | 'bool' | 'floats' | 'json';

function kindOf(values: unknown[]): ColumnKind {
  const present = values.filter((v) => v !== null);
  // undefined marks a row without the key: only JSON tells absent from null.
  if (values.includes(undefined)) return 'json';
  const all = (test: (v: unknown) => boolean) => present.every(test);
  if (present.length === 0) return 'json';
  if (all((v) => typeof v === 'number')) return 'float';
  if (all((v) => typeof v === 'bigint')) return 'bigint';
  if (all((v) => typeof v === 'string')) return 'string';
  if (all((v) => typeof v === 'boolean')) return 'bool';
  if (all((v) => Array.isArray(v) && v.every((x) => typeof x === 'number'))) return 'floats';
  return 'json';
}

const arrowTypes: Record<Exclude<ColumnKind, 'json'>, () => DataType> = {
  float: () => new Float64(),
  bigint: () => new Int64(),
  string: () => new Utf8(),
  bool: () => new Bool(),
  floats: () => new List(new Field('item', new Float64(), false)),
};

function columnNames(rows: Row[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) names.add(key);
  return [...names];
}

export function encodeRows(rows: Row[]): EncodedRows {
  const json: string[] = [];
  const columns: Record<string, Vector> = {};
  for (const name of columnNames(rows)) {
    const values = rows.map((row) => row[name]);
    const kind = kindOf(values);
    if (kind === 'json') {
      json.push(name);
      columns[name] = vectorFromArray(values.map((v) => (v === undefined ? null : JSON.stringify(v))), new Utf8());
    } else {
      columns[name] = vectorFromArray(values, arrowTypes[kind]());
    }
  }
  const ipc = rows.length === 0 ? '' : Buffer.from(tableToIPC(new Table(columns), 'stream')).toString('base64');
  return { ipc, json, count: rows.length };
}

function plainValue(value: unknown): unknown {
  // A list cell comes back as a vector over a Float64Array.
  if (value && typeof value === 'object' && 'toArray' in value) return Array.from((value as Vector).toArray() as ArrayLike<number>);
  return value;
}

export function decodeRows(encoded: EncodedRows): Row[] {
  if (encoded.count === 0) return [];
  const table = tableFromIPC(Buffer.from(encoded.ipc, 'base64'));
  const jsonColumns = new Set(encoded.json);
  const columns = table.schema.fields.map((f) => ({ name: f.name, vector: table.getChild(f.name)!, json: jsonColumns.has(f.name) }));
  const rows: Row[] = [];
  for (let i = 0; i < encoded.count; i++) {
    const row: Row = {};
    for (const { name, vector, json } of columns) {
      const value = vector.get(i);
      if (!json) row[name] = plainValue(value);
      else if (value !== null) row[name] = JSON.parse(value as string);
    }
    rows.push(row);
  }
  return rows;
}
