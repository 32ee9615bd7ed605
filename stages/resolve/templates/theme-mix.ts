// Several themes in one plan (`resolve.theme: [cyberpunk, fantasy]` or weights
// `cyberpunk:50,fantasy:30`): every image takes all its values from one theme, the
// themes share the images in proportion to their weights, and each image keeps its
// theme in its row (so it lands in that theme's session folder, as sdgen names them).
import { InputError } from '../../../src/errors.js';
import { planPromptFile, type FilePlan, type PlanOptions } from './plan.js';
import { distinctAlternatives } from '../alternatives.js';

export interface ThemeShare {
  name: string;
  weight: number;
}

export type ThemeSpec = string | string[] | Record<string, number> | null | undefined;

function share(item: string): ThemeShare {
  const m = /^\s*([^:]+?)\s*(?::\s*(\S+))?\s*$/.exec(item);
  const weight = m?.[2] === undefined ? 1 : Number(m[2]);
  if (!m || !Number.isFinite(weight) || weight <= 0) throw new InputError(`theme "${item}": expected NAME or NAME:WEIGHT with a weight > 0`, { field: 'theme' });
  return { name: m[1]!, weight };
}

/** `a`, `a,b`, `a:50,b:30`, a list of those, or {a: 50, b: 30}; null for no theme. */
export function parseThemes(spec: ThemeSpec): ThemeShare[] | null {
  if (spec === null || spec === undefined || spec === '') return null;
  const shares = typeof spec === 'string' ? spec.split(',').map(share)
    : Array.isArray(spec) ? spec.flatMap((s) => s.split(',')).map(share)
      : Object.entries(spec).map(([name, weight]) => share(`${name}:${weight}`));
  const names = shares.map((s) => s.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new InputError(`theme ${twice} is named twice`, { field: 'theme' });
  return shares;
}

/**
 * The theme of each of n images: smooth weighted round-robin, so every prefix of the
 * plan is split as the weights say (50:30 gives 5 of every 8 images to the first).
 */
export function assignThemes(shares: ThemeShare[], n: number): number[] {
  const total = shares.reduce((sum, s) => sum + s.weight, 0);
  const current = shares.map(() => 0);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    shares.forEach((s, t) => {
      current[t]! += s.weight;
      if (current[t]! > current[best]!) best = t;
    });
    current[best]! -= total;
    out.push(best);
  }
  return out;
}

/** Each theme's manifest says how many images it got and what the mix was. */
function mixedManifest(manifest: Record<string, unknown>, count: number, themes: ThemeShare[]): Record<string, unknown> {
  const params = (manifest.generation_params ?? {}) as Record<string, unknown>;
  return { ...manifest, generation_params: { ...params, num_images: count }, theme_mix: themes.map((t) => `${t.name}:${t.weight}`).join(',') };
}

/**
 * Plan the file once per theme; image i of n takes the row at the same place in its
 * theme's plan (so each theme covers the combinations evenly, not just the first ones),
 * numbered within its theme's session.
 */
export function planWithThemes(path: string, options: Omit<PlanOptions, 'theme'>, themes: ThemeShare[] | null): FilePlan {
  if (!themes || themes.length === 1) return planPromptFile(path, { ...options, theme: themes?.[0]?.name ?? null });
  const plans = themes.map((t) => planPromptFile(path, { ...options, theme: t.name }));
  const n = Math.max(...plans.map((p) => p.rows.length));
  const seen = new Set<string>();
  const picked = assignThemes(themes, n).flatMap((t, i) => {
    const rows = plans[t]!.rows;
    const row = rows[Math.floor((i * rows.length) / n)]!;
    // A theme with fewer combinations than n would repeat one; an image is planned once.
    if (seen.has(row.prompt_id)) return [];
    seen.add(row.prompt_id);
    return [{ t, row }];
  });
  const counts = themes.map((_, t) => picked.filter((p) => p.t === t).length);
  const manifests = plans.map((p, t) => (p.rows[0] ? mixedManifest(p.rows[0].manifest, counts[t]!, themes) : {}));
  const perTheme = themes.map(() => 0);
  return {
    rows: picked.map(({ t, row }) => ({ ...row, idx: perTheme[t]!++, manifest: manifests[t]! })),
    axes: distinctAlternatives(plans.flatMap((p) => p.axes)),
    manifests: plans.flatMap((p) => p.manifests),
    files: [...new Set(plans.flatMap((p) => p.files))],
    warnings: [...new Set(plans.flatMap((p) => p.warnings))],
  };
}
