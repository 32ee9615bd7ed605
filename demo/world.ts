// The demo world: how the synthetic backend makes a variation value visible in a picture,
// and what the demo "CLIP" model computes to read it back. DEMO PART: this stands in for
// a real diffusion model and a real CLIP on a machine that has neither. Both sides import
// these definitions, so a change here changes what is drawn and what is read together.
import { CLIP_VOCAB_SIZE, EOT_ID, SOT_ID, encodeClip } from '../adapters/clip-tokenizer.js';

/** Width of a demo embedding: 16 cells x 3 colour channels. */
export const DEMO_DIM = 48;
/** The code grid is DEMO_GRID x DEMO_GRID cells over the centre square. */
export const DEMO_GRID = 16;
/** Grey level of an unpainted cell (code 0). */
export const DEMO_GREY = 128;
/**
 * Pixel units per code unit. Components of a unit-length 48-d code have a standard
 * deviation of about 0.14, so this spreads them over roughly +-100 around grey and
 * clamps only the rare component beyond +-0.53.
 */
export const DEMO_CODE_SCALE = 240;

/** splitmix32: a well-mixed 32-bit hash; the tokens' vectors must never change. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A uniform in (0, 1], never 0 so that the logarithm below stays finite. */
function uniform(seed: number): number {
  return (mix32(seed) + 1) / 4294967296;
}

/** Pseudo-random standard Gaussian vector of a token id; zero for CLIP's specials and 0. */
export function tokenVector(id: number): Float32Array {
  const v = new Float32Array(DEMO_DIM);
  if (id === 0 || id === SOT_ID || id === EOT_ID) return v;
  const base = mix32(id * 0x27d4eb2d);
  for (let i = 0; i < DEMO_DIM; i += 2) {
    const u1 = uniform(base ^ mix32(i));
    const u2 = uniform(base ^ mix32(i + 1) ^ 0x5bd1e995);
    const r = Math.sqrt(-2 * Math.log(u1));
    v[i] = r * Math.cos(2 * Math.PI * u2);
    v[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return v;
}

/** The [49408, 48] table the demo text model gathers from, row-major. */
export function tokenTable(): Float32Array {
  const table = new Float32Array(CLIP_VOCAB_SIZE * DEMO_DIM);
  for (let id = 0; id < CLIP_VOCAB_SIZE; id++) table.set(tokenVector(id), id * DEMO_DIM);
  return table;
}

/** Sum of the token vectors: exactly what the demo text model outputs for these ids. */
export function textCode(ids: number[]): Float32Array {
  const sum = new Float32Array(DEMO_DIM);
  for (const id of ids) {
    const v = tokenVector(id);
    for (let i = 0; i < DEMO_DIM; i++) sum[i] += v[i];
  }
  return sum;
}

export function l2normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return norm > 0 ? v.map((x) => x / norm) : v;
}

/** The code a value's text is drawn with: its CLIP tokens' textCode, unit length. */
export async function valueCode(text: string): Promise<Float32Array> {
  return l2normalize(textCode(await encodeClip(text)));
}

/** Grid row of an axis: its index among the sorted axis names, mod DEMO_GRID. */
export function axisRow(axis: string, axes: string[]): number {
  const sorted = [...new Set(axes)].sort();
  const index = sorted.indexOf(axis);
  if (index < 0) throw new Error(`axis ${axis} is not among the axes ${sorted.join(', ')}`);
  return index % DEMO_GRID;
}

/** The centred square that CLIP preprocessing (shortest edge, centre crop) sees. */
export function centreSquare(width: number, height: number): { x0: number; y0: number; size: number } {
  const size = Math.min(width, height);
  return { x0: Math.floor((width - size) / 2), y0: Math.floor((height - size) / 2), size };
}

/** Pixel extent [start, end) of grid cell `index` along a side of `size` pixels. */
export function cellSpan(index: number, size: number): [number, number] {
  return [Math.floor((index * size) / DEMO_GRID), Math.floor(((index + 1) * size) / DEMO_GRID)];
}

/** The 8-bit level a code component is painted with. */
export function codeLevel(component: number): number {
  return Math.min(255, Math.max(0, DEMO_GREY + Math.round(DEMO_CODE_SCALE * component)));
}

/**
 * Paint one grid row of the centre square: cell c carries code[3c..3c+2] in its R, G, B.
 * `rgb` is packed 3 bytes per pixel, row-major. Leaves every other pixel untouched; the
 * caller fills the centre square with DEMO_GREY first so unpainted rows read as zero.
 */
export function paintCode(rgb: Uint8Array, width: number, height: number, row: number, code: Float32Array): void {
  if (code.length !== DEMO_DIM) throw new Error(`expected a code of ${DEMO_DIM} numbers, got ${code.length}`);
  if (rgb.length < width * height * 3) throw new Error(`expected ${width * height * 3} RGB bytes, got ${rgb.length}`);
  const { x0, y0, size } = centreSquare(width, height);
  const [top, bottom] = cellSpan(row, size);
  for (let c = 0; c < DEMO_GRID; c++) {
    const [left, right] = cellSpan(c, size);
    const levels = [codeLevel(code[3 * c]), codeLevel(code[3 * c + 1]), codeLevel(code[3 * c + 2])];
    for (let y = y0 + top; y < y0 + bottom; y++) {
      let p = (y * width + x0 + left) * 3;
      for (let x = left; x < right; x++, p += 3) {
        rgb[p] = levels[0];
        rgb[p + 1] = levels[1];
        rgb[p + 2] = levels[2];
      }
    }
  }
}

/** Fill the centre square with grey: the blank canvas of the code grid. */
export function fillCentreGrey(rgb: Uint8Array, width: number, height: number): void {
  const { x0, y0, size } = centreSquare(width, height);
  for (let y = y0; y < y0 + size; y++) rgb.fill(DEMO_GREY, (y * width + x0) * 3, (y * width + x0 + size) * 3);
}

/** A whole code grid: grey centre square, then each axis' code in its row. */
export function paintGrid(rgb: Uint8Array, width: number, height: number, rows: { row: number; code: Float32Array }[]): void {
  fillCentreGrey(rgb, width, height);
  for (const { row, code } of rows) paintCode(rgb, width, height, row, code);
}
