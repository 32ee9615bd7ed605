// A small synthetic world for the classify/select/dataset tests: prompts that vary two
// axes, images whose rendered values sometimes differ from the asked ones, embeddings
// that encode what was rendered, and a noisy zero-shot scorer.
import { seededRandom } from '../../stages/classify/cross-validation.js';
import type { AxisAlternativesRow, EmbeddingRow, ImageRow, PromptRow, QualityRow, ScoreRow } from '../../schemas/tables.js';
import { axisAlternatives } from '../../stages/resolve/alternatives.js';
import type { StageContext } from '../../src/stage.js';

export const axes: Record<string, { keys: string[]; texts: string[] }> = {
  Hair: { keys: ['Bob', 'Long', 'Bald'], texts: ['bob cut, chin-length', 'long flowing hair', 'bald head'] },
  Colour: { keys: ['Red', 'Blue'], texts: ['red shirt', 'blue shirt'] },
};

/** The axes table of the world: one alternatives set per axis. */
export const axesRows: AxisAlternativesRow[] = Object.entries(axes).map(([axis, { keys, texts }]) => axisAlternatives(axis, keys, texts));

export interface World {
  prompts: PromptRow[];
  axes: AxisAlternativesRow[];
  images: ImageRow[];
  scores: ScoreRow[];
  embeddings: EmbeddingRow[];
  quality: QualityRow[];
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() + 1e-300)) * Math.cos(2 * Math.PI * random());
}

const DIM = 24;

export function makeWorld(n = 240, options: { failRate?: number; zeroShotNoise?: number; seed?: number } = {}): World {
  const random = seededRandom(options.seed ?? 1);
  const failRate = options.failRate ?? 0.2;
  const zeroShotNoise = options.zeroShotNoise ?? 0.3;
  const direction = new Map<string, number>();
  for (const [axis, { keys }] of Object.entries(axes)) for (const key of keys) direction.set(`${axis}=${key}`, direction.size);
  const world: World = { prompts: [], axes: axesRows, images: [], scores: [], embeddings: [], quality: [] };
  for (let i = 0; i < n; i++) {
    const prompt_id = `p${String(i).padStart(4, '0')}`;
    const image_id = `img${String(i).padStart(4, '0')}`;
    const variations: PromptRow['variations'] = {};
    const rendered: Record<string, string> = {};
    for (const [a, [axis, { keys, texts }]] of Object.entries(axes).entries()) {
      const key = keys[(i + a * 7 + Math.floor(i / 5)) % keys.length];
      variations[axis] = { key, value: texts[keys.indexOf(key)], text: texts[keys.indexOf(key)]!, alternatives: axesRows[a]!.alternatives };
      rendered[axis] = random() < failRate ? keys[(keys.indexOf(key) + 1) % keys.length] : key;
    }
    world.prompts.push({
      prompt_id, source: 'prompts/test.prompt.yaml', session: 's1', theme: null, style: null, idx: i,
      prompt: `a person, ${Object.values(variations).map((v) => v.value).join(', ')}`,
      api_prompt: '', negative_prompt: '', seed: i, variations, params: {}, manifest: {}, manifest_variations: '',
    });
    world.images.push({
      image_id, prompt_id, path: `/nowhere/${image_id}.png`, seed: i, width: 64, height: 64, backend: 'synthetic',
      endpoint: 'synthetic', model_name: 'demo', model_hash: 'demo', loras: [], gen_ms: 1, status: 'ok', error: null,
      rendered, session_dir: 'sessions/s1', filename: `${image_id}.png`,
    });
    const embedding = Array.from({ length: DIM }, () => 0.5 * gaussian(random) + 1);
    for (const [axis, key] of Object.entries(rendered)) embedding[direction.get(`${axis}=${key}`)!] += 2;
    world.embeddings.push({ image_id, model: 'demo-clip', embedding });
    for (const [axis, { keys }] of Object.entries(axes)) {
      const asked = variations[axis].key;
      const logits = keys.map((k) => (k === rendered[axis] ? 2 : 0) + zeroShotNoise * 4 * gaussian(random));
      const exp = logits.map((l) => Math.exp(l));
      const total = exp.reduce((s, e) => s + e, 0);
      const probs = exp.map((e) => e / total);
      const top = keys[probs.indexOf(Math.max(...probs))];
      const p_target = probs[keys.indexOf(asked)];
      world.scores.push({
        image_id, prompt_id, axis, value: asked, p_target, margin: p_target - Math.max(...probs.filter((_, j) => keys[j] !== asked)),
        rank: 1 + probs.filter((q) => q > p_target).length, matched: top === asked, top_value: top, method: 'softmax', model: 'demo-clip',
      });
    }
    world.quality.push({
      image_id, prompt_id, blank: false, uniform: false, black: false, blur: 100, blurred: false, phash: '0', duplicate_group: null,
      aesthetic: null, match_score: 0.5, verdict: 'success', flagged: false,
    });
  }
  return world;
}

/** A stand-in for ctx.sql on a state with no table `labels` left from older versions. */
export const stateWithoutLegacyLabels = (async (query: string) => {
  if (query.includes('information_schema')) return [];
  throw new Error(`unexpected query in test: ${query}`);
}) as StageContext['sql'];
