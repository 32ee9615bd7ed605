// Rows through Arrow IPC come back as they went: typed columns for numbers, bigints,
// strings, booleans and number lists; JSON for nested values and keys some rows lack.
import { describe, expect, it } from 'vitest';
import { decodeRows, encodeRows } from '../../src/arrow-rows.js';

describe('arrow rows', () => {
  it('round-trips every kind of column, absent keys and nulls included', () => {
    const rows = [
      { id: 'a', n: 1.5, big: 7n, ok: true, embedding: [0.1, -2, 3e-8], nested: { k: ['x'] }, maybe: null, sometimes: 1 },
      { id: 'b', n: -0, big: 9007199254740993n, ok: false, embedding: [], nested: { k: [] }, maybe: null },
    ];
    const encoded = encodeRows(rows);
    expect(encoded.json.sort()).toEqual(['maybe', 'nested', 'sometimes']);
    expect(decodeRows(JSON.parse(JSON.stringify(encoded)))).toEqual(rows);
  });

  it('carries no rows as no rows', () => {
    expect(decodeRows(encodeRows([]))).toEqual([]);
  });
});
