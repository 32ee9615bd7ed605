// DEMO PART: the `simulated` trainer. It trains nothing; it writes a real .safetensors
// shaped like a kohya LoRA (small lora_down / lora_up / alpha tensors) with the ss_*
// metadata sd-scripts would write for the same dataset, so that everything downstream
// (validation, the synthetic backend, A1111's LoRA list) sees a genuine file. The
// metadata says it is a demo. Same dataset and settings give the same bytes.
import { createHash } from 'node:crypto';
import { precalculatedHashes, writeSafetensors, type TensorData } from '../adapters/safetensors.js';
import { countTrainImages, type DatasetSubset } from '../adapters/kohya-dataset.js';

export interface SimulatedLoraOptions {
  name: string;
  subsets: DatasetSubset[];
  /** seeds the tensor values, so another dataset gives another file */
  datasetHash: string;
  dim: number;
  alpha: number;
  learningRate: number;
  /** the steps done when this file was saved */
  steps: number;
  epochs: number;
  /** the epoch this file was saved at (sd-scripts' ss_epoch); default the last, the final file */
  epoch?: number;
  baseModel: string;
  resolution: number;
  /** written as sd-scripts' ss_base_model_version: sdxl_base_v1-0, else sd_v1 */
  sdxl?: boolean;
  /**
   * 0..1, default 0: how strongly this LoRA collapses diversity in the synthetic world (at
   * weight 1, that share of its renders ignore the seed and draw one picture per prompt),
   * so the benchmark's diversity guard has a failure to catch.
   */
  collapse?: number;
}

/** A few of the attention projections a real SD 1.x LoRA carries. */
const modules = [
  'lora_unet_down_blocks_0_attentions_0_proj_in',
  'lora_unet_mid_block_attentions_0_proj_out',
  'lora_te_text_model_encoder_layers_0_self_attn_q_proj',
];
const features = 8;

/** xorshift32 over the dataset hash: deterministic, not meant to be random-quality. */
function valuesFrom(seedHex: string, count: number, scale: number): Float32Array {
  let state = parseInt(seedHex.slice(0, 8), 16) >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = ((state / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

export function simulatedTensors(o: Pick<SimulatedLoraOptions, 'datasetHash' | 'dim' | 'alpha' | 'epoch' | 'epochs'>): Record<string, TensorData> {
  const tensors: Record<string, TensorData> = {};
  // An earlier epoch's file holds other weights than the final one, as a real run's do.
  const earlier = o.epoch !== undefined && o.epoch !== o.epochs ? `:epoch${o.epoch}` : '';
  modules.forEach((module, m) => {
    const seed = createHash('sha256').update(`${o.datasetHash}${earlier}:${m}`).digest('hex');
    tensors[`${module}.lora_down.weight`] = { dtype: 'F32', shape: [o.dim, features], data: valuesFrom(seed, o.dim * features, 0.1) };
    tensors[`${module}.lora_up.weight`] = { dtype: 'F32', shape: [features, o.dim], data: valuesFrom(seed.slice(8), features * o.dim, 0.01) };
    tensors[`${module}.alpha`] = { dtype: 'F32', shape: [], data: new Float32Array([o.alpha]) };
  });
  return tensors;
}

export function simulatedMetadata(o: SimulatedLoraOptions, tensors: Record<string, TensorData>): Record<string, string> {
  const training = trainingMetadata(o);
  // sd-scripts adds its two hashes, computed over the file with the ss_* keys only, then the rest.
  return {
    ...training,
    ...precalculatedHashes(tensors, training),
    ...(o.collapse ? { sdloop_collapse: String(o.collapse) } : {}),
    sdloop_demo: 'true',
    sdloop_trainer: 'simulated',
    sdloop_note: 'DEMO: written by the simulated trainer, not trained; only the synthetic backend gives it an effect',
  };
}

/** The ss_* keys sd-scripts' train_network.py writes for the same dataset and settings. */
function trainingMetadata(o: SimulatedLoraOptions): Record<string, string> {
  return {
    ss_output_name: o.name,
    ss_network_module: 'networks.lora',
    ss_network_dim: String(o.dim),
    ss_network_alpha: String(o.alpha),
    ss_learning_rate: String(o.learningRate),
    ss_num_train_images: String(countTrainImages(o.subsets)),
    ss_num_epochs: String(o.epochs),
    ss_epoch: String(o.epoch ?? o.epochs),
    ss_steps: String(o.steps),
    ss_resolution: `(${o.resolution}, ${o.resolution})`,
    ss_sd_model_name: o.baseModel,
    ss_base_model_version: o.sdxl ? 'sdxl_base_v1-0' : 'sd_v1',
    ss_tag_frequency: JSON.stringify(Object.fromEntries(o.subsets.map((s) => [s.dir, s.tags]))),
    ss_dataset_dirs: JSON.stringify(Object.fromEntries(o.subsets.map((s) => [s.dir, { n_repeats: s.repeats, img_count: s.images.length }]))),
  };
}

export async function writeSimulatedLora(path: string, o: SimulatedLoraOptions): Promise<void> {
  const tensors = simulatedTensors(o);
  await writeSafetensors(path, tensors, simulatedMetadata(o, tensors));
}
