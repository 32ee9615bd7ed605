// The manifest is written in pieces so that a 100,000-image session's text never exists
// whole: the pieces must make exactly the bytes JSON.stringify with two-space indentation
// (and a final newline) makes, which sdgen's tools and the kept copies are compared on.
import { expect, it } from 'vitest';
import { manifestPieces } from '../../stages/generate/session-restore.js';

const text = (manifest: object) => [...manifestPieces(manifest)].join('');
const expected = (manifest: object) => `${JSON.stringify(manifest, null, 2)}\n`;

it('makes the bytes JSON.stringify makes, for any number of images and nested values', () => {
  const image = (i: number) => ({ filename: `bench_${String(i).padStart(6, '0')}.png`, seed: i, prompt: `a "quoted"\nline ${i}`, variations: { Hair: { key: `h${i % 3}`, value: { main: 'red', extra: [1, null] } } }, empty: {}, list: [] });
  const shapes: object[] = [
    {},
    { images: [] },
    { snapshot: { version: '2.0', nested: { deep: [1, { a: 'b' }], none: null } }, images: [], status: 'ongoing' },
    { snapshot: { version: '2.0' }, images: [image(0)], status: 'completed' },
    { snapshot: { version: '2.0', skipped: undefined }, images: Array.from({ length: 1234 }, (_, i) => image(i)), status: 'aborted', after: [1, 2] },
    { images: 'not a list', status: 'ongoing' },
  ];
  for (const manifest of shapes) expect(text(manifest)).toBe(expected(manifest));
});

it('makes a long images list in pieces of a few hundred entries', () => {
  const pieces = [...manifestPieces({ images: Array.from({ length: 2000 }, (_, i) => ({ i })) })];
  expect(pieces.length).toBeGreaterThan(4);
  expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(30_000);
});
