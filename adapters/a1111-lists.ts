// What an A1111 server offers, as its API lists it: samplers, schedulers, checkpoints,
// upscalers, LoRAs, and the ADetailer and ControlNet extensions' models; and the check
// that a request names a sampler, scheduler and upscaler the server has, with the
// closest name when it does not.
import { A1111Error, request } from './a1111-http.js';

export const listKinds = ['samplers', 'schedulers', 'models', 'upscalers', 'loras', 'adetailer-models', 'controlnet-models'] as const;
export type ListKind = (typeof listKinds)[number];

type Json = Record<string, unknown>;
const get = (endpoint: string, path: string, timeoutMs: number) => request(endpoint, path, {}, { timeoutMs });

/** One row per entry, with the columns worth showing; an extension's list missing says which extension. */
export async function listFromServer(endpoint: string, kind: ListKind, timeoutMs = 10_000): Promise<Json[]> {
  try {
    return await listOf(endpoint, kind, timeoutMs);
  } catch (error) {
    const extension = kind === 'adetailer-models' ? 'ADetailer' : kind === 'controlnet-models' ? 'ControlNet' : null;
    if (!extension || !(error instanceof A1111Error) || error.kind !== 'request') throw error;
    throw new A1111Error(`${error.message} (is the ${extension} extension installed on ${endpoint}?)`, error.kind, endpoint);
  }
}

async function listOf(endpoint: string, kind: ListKind, timeoutMs: number): Promise<Json[]> {
  switch (kind) {
    case 'samplers':
      return ((await get(endpoint, '/sdapi/v1/samplers', timeoutMs)) as Json[]).map((s) => ({ name: s.name, aliases: ((s.aliases as string[]) ?? []).join(', ') }));
    case 'schedulers':
      return ((await get(endpoint, '/sdapi/v1/schedulers', timeoutMs)) as Json[]).map((s) => ({ name: s.name, label: s.label }));
    case 'models':
      return ((await get(endpoint, '/sdapi/v1/sd-models', timeoutMs)) as Json[]).map((m) => ({ title: m.title, model_name: m.model_name, hash: m.hash }));
    case 'upscalers':
      return ((await get(endpoint, '/sdapi/v1/upscalers', timeoutMs)) as Json[]).map((u) => ({ name: u.name, scale: u.scale }));
    case 'loras':
      return ((await get(endpoint, '/sdapi/v1/loras', timeoutMs)) as Json[]).map((l) => ({ name: l.name, alias: l.alias, path: l.path }));
    case 'adetailer-models':
      return (((await get(endpoint, '/adetailer/v1/ad_model', timeoutMs)) as Json).ad_model as string[]).map((name) => ({ name }));
    case 'controlnet-models': {
      const models = ((await get(endpoint, '/controlnet/model_list', timeoutMs)) as Json).model_list as string[];
      const modules = ((await get(endpoint, '/controlnet/module_list', timeoutMs)) as Json).module_list as string[];
      return [...models.map((name) => ({ kind: 'model', name })), ...modules.map((name) => ({ kind: 'module', name }))];
    }
  }
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The known name nearest to `wanted`, ignoring case. */
export function closest(wanted: string, known: string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = distance(wanted.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** Per payload field, the names the server accepts; null where the server cannot say (an older WebUI). */
export type ServerNames = Record<'sampler_name' | 'scheduler' | 'hr_upscaler', Set<string> | null>;

async function namesOr404(endpoint: string, path: string, fields: string[], timeoutMs: number): Promise<Set<string> | null> {
  try {
    const items = await get(endpoint, path, timeoutMs);
    const list = Array.isArray(items) ? (items as Json[]) : [];
    return new Set(list.flatMap((i) => [...fields.map((f) => String(i[f] ?? '')), ...((i.aliases as string[] | undefined) ?? [])]).filter(Boolean));
  } catch (error) {
    if (error instanceof A1111Error && error.kind === 'request') return null;
    throw error;
  }
}

/**
 * Samplers also by their pre-1.9 names with the schedule in them (`DPM++ 2M Karras`, sdgen's
 * default), which A1111 still splits itself; upscalers with the latent modes hires fix takes.
 */
export async function serverNames(endpoint: string, timeoutMs = 10_000): Promise<ServerNames> {
  const samplers = await namesOr404(endpoint, '/sdapi/v1/samplers', ['name'], timeoutMs);
  const schedulers = await namesOr404(endpoint, '/sdapi/v1/schedulers', ['name', 'label'], timeoutMs);
  const labels = schedulers && (await namesOr404(endpoint, '/sdapi/v1/schedulers', ['label'], timeoutMs));
  const upscalers = await namesOr404(endpoint, '/sdapi/v1/upscalers', ['name'], timeoutMs);
  const latent = upscalers && (await namesOr404(endpoint, '/sdapi/v1/latent-upscale-modes', ['name'], timeoutMs));
  const combined = samplers && labels ? [...samplers].flatMap((s) => [...labels].map((k) => `${s} ${k}`)) : [];
  return {
    sampler_name: samplers && new Set([...samplers, ...combined]),
    scheduler: schedulers,
    hr_upscaler: upscalers && new Set([...upscalers, ...(latent ?? [])]),
  };
}

/** Why the server would refuse this request's sampler, scheduler or upscaler, naming the closest it has; null if it would not. */
export function unknownName(payload: Json, known: ServerNames, endpoint: string): string | null {
  for (const field of ['sampler_name', 'scheduler', 'hr_upscaler'] as const) {
    const value = payload[field];
    const set = known[field];
    if (typeof value !== 'string' || !set || set.has(value)) continue;
    const near = closest(value, [...set]);
    return `${field} "${value}" is not on ${endpoint}${near ? `; the closest it has is "${near}"` : ''} (pipeline api ${field === 'sampler_name' ? 'samplers' : field === 'scheduler' ? 'schedulers' : 'upscalers'} lists them)`;
  }
  return null;
}
