// `parameters.adetailer` and `parameters.controlnet` as sdgen builds them: preset files
// loaded and overridden, then per image the `alwayson_scripts` A1111 expects, with the
// ADetailer prompts' placeholders filled from the image's own values and ControlNet
// images named by file (the A1111 adapter base64-encodes them when it sends).
import { readFileSync } from 'node:fs';
import {
  adetailerParameter, controlnetParameter, detectorDefaults, unitDefaults,
  type ControlnetUnitFields, type Detector,
} from '../../../schemas/presets.js';
import { InputError } from '../../../src/errors.js';
import { hashBytes } from '../../../src/hash.js';
import { errorAt, oneOrMany, type FieldPath, type YamlFile } from '../../../src/yaml-file.js';
import type { z } from 'zod';
import type { TemplateLoader } from './loader.js';

/** Where a ControlNet unit's image comes from. */
export type ImageRef =
  | { kind: 'data'; data: string }
  | { kind: 'file'; path: string }
  /** `image: {Pose}`: the image is the value of the variations Pose, per image */
  | { kind: 'variation'; name: string };

export interface Unit {
  fields: Omit<typeof unitDefaults, 'image'> & { model: string };
  image: ImageRef | null;
}

export interface Presets {
  detectors: Detector[];
  units: Unit[];
  /** the placeholders ad_prompt / ad_negative_prompt / images use */
  placeholders: Set<string>;
  /** ControlNet image file -> content hash, for this plan: the images are inputs like the YAML files */
  images: Map<string, string>;
}

/** A file reference sent to A1111 as base64 by the adapter; the hash makes it part of the image's identity. */
export interface ImageFile {
  file: string;
  sha256: string;
}

const PLACEHOLDER = /\{([\p{L}\p{N}_]+)(?::([\p{L}\p{N}_]+))?\}/gu;

/** sdgen's test for image data already encoded (data URI, or a PNG/JPEG/GIF base64 header). */
function isBase64Image(value: string): boolean {
  return value.startsWith('data:') || /^(iVBORw|\/9j\/|R0lGOD)/.test(value);
}

/** The keys whose value is not undefined (zod's optional fields). */
function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Validate the value at `field` of `file`; each issue is located at its own line. */
function parseAt<S extends z.ZodType>(file: YamlFile, field: FieldPath, schema: S): z.infer<S> {
  let value: unknown = file.data;
  for (const key of field) value = (value as Record<string | number, unknown>)[key];
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw oneOrMany(result.error.issues.map((issue) => {
    const at = [...field, ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
    return errorAt(file, at, issue.message);
  }));
}

function loadDetector(loader: TemplateLoader, path: string, declaredIn: YamlFile, field: (string | number)[]): Detector {
  const { data } = loader.adetailer(loader.resolvePath(path, declaredIn, field));
  return { ...detectorDefaults, ...defined(data.detector) } as Detector;
}

function detectorsOf(loader: TemplateLoader, file: YamlFile): Detector[] {
  const value = parseAt(file, ['parameters', 'adetailer'], adetailerParameter);
  const items = Array.isArray(value) ? value : [value];
  return items.map((item, i) => {
    const field = Array.isArray(value) ? ['parameters', 'adetailer', i] : ['parameters', 'adetailer'];
    if (typeof item === 'string') return loadDetector(loader, item, file, field);
    const detector = loadDetector(loader, item.import, file, [...field, 'import']);
    return { ...detector, ...defined(item.override ?? {}) } as Detector;
  });
}

function imageRef(image: ControlnetUnitFields['image'], loader: TemplateLoader, declaredIn: YamlFile, field: (string | number)[]): ImageRef | null {
  if (image === null || image === undefined) return null;
  // `image: {Pose}` reads as the mapping {Pose: null} in YAML; "{Pose}" quoted is the same.
  const names = typeof image === 'string' ? [...image.matchAll(/^\{([\p{L}\p{N}_]+)\}$/gu)].map((m) => m[1]!) : Object.keys(image);
  if (names.length === 1) return { kind: 'variation', name: names[0]! };
  if (typeof image !== 'string' || names.length > 1) throw errorAt(declaredIn, field, 'image: give one file, base64 data or one {Name} of image variations');
  if (isBase64Image(image)) return { kind: 'data', data: image };
  return { kind: 'file', path: loader.resolvePath(image, declaredIn, field) };
}

function unitOf(fields: ControlnetUnitFields, loader: TemplateLoader, declaredIn: YamlFile, field: (string | number)[]): Unit {
  const { image, ...rest } = fields;
  const { image: _unset, ...defaults } = unitDefaults;
  return { fields: { ...defaults, ...defined(rest), model: fields.model }, image: imageRef(image, loader, declaredIn, [...field, 'image']) };
}

function unitsOfFile(loader: TemplateLoader, path: string, declaredIn: YamlFile, field: (string | number)[]): Unit[] {
  const { file, data } = loader.controlnet(loader.resolvePath(path, declaredIn, field));
  return data.units.map((u, i) => unitOf(u, loader, file, ['units', i]));
}

function unitsOf(loader: TemplateLoader, file: YamlFile): Unit[] {
  const field = ['parameters', 'controlnet'];
  const value = parseAt(file, field, controlnetParameter);
  if (typeof value === 'string') return unitsOfFile(loader, value, file, field);
  if (!Array.isArray(value)) return [unitOf(value, loader, file, field)];
  const units = value.flatMap((item, i) => (typeof item === 'string' ? unitsOfFile(loader, item, file, [...field, i]) : []));
  // sdgen applies the first mapping in the list to the first unit and ignores any later one.
  const at = value.findIndex((item) => typeof item !== 'string');
  if (at >= 0 && units.length > 0) {
    const { image, ...rest } = value[at] as Partial<ControlnetUnitFields>;
    const first = units[0]!;
    units[0] = {
      fields: { ...first.fields, ...defined(rest) },
      image: image !== undefined ? imageRef(image, loader, file, [...field, at, 'image']) : first.image,
    };
  }
  return units;
}

function placeholdersIn(detectors: Detector[], units: Unit[]): Set<string> {
  const names = new Set<string>();
  for (const d of detectors) for (const text of [d.ad_prompt, d.ad_negative_prompt]) for (const m of text.matchAll(PLACEHOLDER)) names.add(m[1]!);
  for (const u of units) if (u.image?.kind === 'variation') names.add(u.image.name);
  return names;
}

/**
 * The presets the prompt's parameters name, or null when there are none. `declaredIn`
 * names the file that set each parameter: preset paths are relative to it.
 */
export function loadPresets(loader: TemplateLoader, declaredIn: (key: string) => YamlFile | undefined): Presets | null {
  const adFile = declaredIn('adetailer');
  const cnFile = declaredIn('controlnet');
  if (!adFile && !cnFile) return null;
  const detectors = adFile ? detectorsOf(loader, adFile) : [];
  const units = cnFile ? unitsOf(loader, cnFile) : [];
  return { detectors, units, placeholders: placeholdersIn(detectors, units), images: new Map() };
}

/** Per image: the text of `{Name}` / `{Name:part}`, and the image file of `{Name}` image variations. */
export interface ImageValues {
  text(name: string, part: string | null): string;
  imageFile(name: string): string;
}

function fill(text: string, values: ImageValues): string {
  return text.replace(PLACEHOLDER, (_, name: string, part?: string) => values.text(name, part ?? null));
}

/** ADetailer's API form: sdgen's `ad_mask_k_largest` is the extension's `ad_mask_k`. */
function detectorArgs(detector: Detector, values: ImageValues): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(detector)) args[key === 'ad_mask_k_largest' ? 'ad_mask_k' : key] = value;
  args.ad_prompt = fill(detector.ad_prompt, values);
  args.ad_negative_prompt = fill(detector.ad_negative_prompt, values);
  return args;
}

/** Each image is read once per plan, and a new plan reads it again (it may have changed). */
function imageFile(presets: Presets, path: string): ImageFile {
  let sha256 = presets.images.get(path);
  if (sha256 === undefined) {
    try {
      sha256 = hashBytes(readFileSync(path));
    } catch {
      throw new InputError('ControlNet image not found', { file: path });
    }
    presets.images.set(path, sha256);
  }
  return { file: path, sha256 };
}

/** ControlNet's API form of one unit, as sdgen's to_api_dict orders it (`guess_mode` is sent as `guessmode`). */
function unitArgs(presets: Presets, unit: Unit, values: ImageValues): Record<string, unknown> {
  const { fields: f, image } = unit;
  const sent = image === null ? null : image.kind === 'data' ? image.data : imageFile(presets, image.kind === 'file' ? image.path : values.imageFile(image.name));
  return {
    enabled: true, module: f.module, model: f.model, weight: f.weight, image: sent, resize_mode: f.resize_mode,
    low_vram: f.low_vram, processor_res: f.processor_res, threshold_a: f.threshold_a, threshold_b: f.threshold_b,
    guidance_start: f.guidance_start, guidance_end: f.guidance_end, control_mode: f.control_mode,
    pixel_perfect: f.pixel_perfect, guessmode: f.guess_mode,
  };
}

/** The `alwayson_scripts` entries for one image. */
export function scriptsFor(presets: Presets, values: ImageValues): Record<string, unknown> {
  const scripts: Record<string, unknown> = {};
  if (presets.detectors.length) scripts.ADetailer = { args: [true, false, ...presets.detectors.map((d) => detectorArgs(d, values))] };
  if (presets.units.length) scripts.controlnet = { args: presets.units.map((u) => unitArgs(presets, u, values)) };
  return scripts;
}

/** What sdgen's manifest records under api_params: the detectors and units as configured. */
export function presetsForManifest(presets: Presets): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (presets.detectors.length) out.adetailer = { enabled: true, detectors: presets.detectors };
  if (presets.units.length) {
    out.controlnet = { units: presets.units.map((u) => ({ ...u.fields, image: u.image?.kind === 'file' ? u.image.path : u.image?.kind === 'variation' ? `{${u.image.name}}` : u.image ? '<base64>' : null })) };
  }
  return out;
}
