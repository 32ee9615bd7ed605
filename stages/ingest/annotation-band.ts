// sdgen's `output.annotations` draws the variation values into the image: a black box
// at 180/255 opacity (every channel darkened to at most 75), `margin` pixels from one
// corner, holding `Key: value` lines in white text with `padding` pixels of bare box
// around them. Pillow then re-saves the file as RGBA and keeps no text chunks. An image
// no manifest flags is looked for that box: each one re-saved like that, and of those
// that still carry A1111's `parameters` in RGB (an annotator that kept the text), one per
// folder unless it shows the box (see FolderAnnotations).
import sharp from 'sharp';
import type { PngHead } from '../../adapters/png-text.js';

/** The darkest the box's fill can be told from; sdgen's fill leaves at most 75. */
const darkest = 80;
/** How far from a corner the box may start (sdgen's default margin is 20). */
const reach = 96;

interface Pixels {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/** The pixel at (u, v) counted from one corner inward, as [max channel, min channel]. */
type CornerView = (u: number, v: number) => [number, number];

function cornerView(p: Pixels, right: boolean, bottom: boolean): CornerView {
  return (u, v) => {
    const x = right ? p.width - 1 - u : u;
    const y = bottom ? p.height - 1 - v : v;
    const i = (y * p.width + x) * p.channels;
    const [r, g, b] = [p.data[i]!, p.data[i + 1]!, p.data[i + 2]!];
    return [Math.max(r, g, b), Math.min(r, g, b)];
  };
}

interface Box {
  u0: number;
  v0: number;
  u1: number;
  v1: number;
}

/** The dark run from (u, v) along one axis, stopping at the limit. */
function runLength(at: CornerView, u: number, v: number, du: number, dv: number, limit: number): number {
  let n = 0;
  while (n < limit && at(u + du * n, v + dv * n)[0] <= darkest) n++;
  return n;
}

/** The box whose near corner the diagonal meets at step k, if the dark there has a box's straight edges. */
function boxAt(at: CornerView, k: number, width: number, height: number): Box | undefined {
  let [u0, v0] = [k, k];
  while (u0 > 0 && at(u0 - 1, k)[0] <= darkest) u0--;
  while (v0 > 0 && at(u0, v0 - 1)[0] <= darkest) v0--;
  // Along the padding next to the near edges there is no text: the run is the box's extent.
  const w = runLength(at, u0, v0 + 2, 1, 0, width - u0);
  const h = runLength(at, u0 + 2, v0, 0, 1, height - v0);
  if (w < 30 || h < 20 || w > width * 0.9 || h > height * 0.6) return undefined;
  return { u0, v0, u1: u0 + w - 1, v1: v0 + h - 1 };
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

/** White text inside, darkened picture along the far edges: what sdgen's box looks like and a dark corner does not. */
function looksLikeTextBox(at: CornerView, box: Box, width: number, height: number): boolean {
  const { u0, v0, u1, v1 } = box;
  let bright = 0;
  let area = 0;
  for (let v = v0 + 3; v <= v1 - 3; v++) {
    for (let u = u0 + 3; u <= u1 - 3; u++) {
      area++;
      if (at(u, v)[1] >= 160) bright++;
    }
  }
  if (bright < area * 0.01 || bright > area * 0.5) return false;
  const inside: number[] = [];
  const outside: number[] = [];
  for (let u = u0; u <= u1; u++) {
    inside.push(at(u, v1)[0]);
    if (v1 + 2 < height) outside.push(at(u, v1 + 2)[0]);
  }
  for (let v = v0; v <= v1; v++) {
    inside.push(at(u1, v)[0]);
    if (u1 + 2 < width) outside.push(at(u1 + 2, v)[0]);
  }
  // 180/255 black leaves 30% of the picture: the edge is a step down of about 3x.
  return outside.length > 0 && mean(outside) >= 1.8 * mean(inside) + 8;
}

function hasCornerBox(p: Pixels, right: boolean, bottom: boolean): boolean {
  const at = cornerView(p, right, bottom);
  const steps = Math.min(reach, Math.floor(p.width / 3), Math.floor(p.height / 3));
  for (let k = 0; k < steps; k++) {
    // Only where the diagonal steps into the dark: the near corner of a box it crosses.
    if (at(k, k)[0] > darkest || (k > 0 && at(k - 1, k - 1)[0] <= darkest)) continue;
    const box = boxAt(at, k, p.width, p.height);
    if (box && looksLikeTextBox(at, box, p.width, p.height)) return true;
  }
  return false;
}

/** Whether the PNG shows sdgen's annotation box in one of its four corners. */
export async function hasAnnotationBox(png: Buffer): Promise<boolean> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  if (info.channels < 3) return false;
  const pixels = { data, width: info.width, height: info.height, channels: info.channels };
  return [false, true].some((right) => [true, false].some((bottom) => hasCornerBox(pixels, right, bottom)));
}

/**
 * Which images of one folder, read in name order, are looked at. One that lost A1111's
 * text or gained alpha may have been re-saved by the annotator: each is. One that kept
 * both is the common case, and decoding it costs many times what hashing it does: sdgen
 * annotates a whole session or none of it (`output.annotations` belongs to the prompt
 * file), so the folder's first such image is looked at, and the others only if it shows
 * the box.
 */
export class FolderAnnotations {
  /** what the first image that kept its text in RGB showed */
  private keptTextBoxed?: boolean;

  async annotated(head: PngHead, png: Buffer): Promise<boolean> {
    const resaved = head.texts.parameters === undefined || head.colorType === 4 || head.colorType === 6;
    if (resaved) return hasAnnotationBox(png);
    if (this.keptTextBoxed === false) return false;
    const boxed = await hasAnnotationBox(png);
    this.keptTextBoxed ??= boxed;
    return boxed;
  }
}
