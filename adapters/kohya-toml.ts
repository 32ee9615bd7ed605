// The sd-scripts `--dataset_config` TOML. sd-scripts validates it with voluptuous and
// rejects unknown keys, so only keys from its schema (library/config_util.py,
// ConfigSanitizer) are written; the lists below are that schema's, for DreamBooth-style
// subsets (folders of images with caption files).

/** Keys sd-scripts accepts under [general]. */
export const GENERAL_KEYS = new Set([
  'batch_size', 'bucket_no_upscale', 'bucket_reso_steps', 'enable_bucket', 'max_bucket_reso', 'min_bucket_reso',
  'resolution', 'network_multiplier', 'color_aug', 'face_crop_aug_range', 'flip_aug', 'num_repeats', 'random_crop',
  'shuffle_caption', 'keep_tokens', 'keep_tokens_separator', 'secondary_separator', 'enable_wildcard',
  'token_warmup_min', 'token_warmup_step', 'caption_prefix', 'caption_suffix', 'caption_extension', 'class_tokens',
  'cache_info', 'caption_dropout_every_n_epochs', 'caption_dropout_rate', 'caption_tag_dropout_rate',
]);

/** Keys sd-scripts accepts in a [[datasets]] table (besides `subsets`). */
export const DATASET_KEYS = GENERAL_KEYS;

/** Keys sd-scripts accepts in a DreamBooth [[datasets.subsets]] table. */
export const SUBSET_KEYS = new Set([
  ...[...GENERAL_KEYS].filter(
    (k) => !['batch_size', 'bucket_no_upscale', 'bucket_reso_steps', 'enable_bucket', 'max_bucket_reso', 'min_bucket_reso', 'resolution', 'network_multiplier'].includes(k),
  ),
  'image_dir',
  'is_reg',
]);

export interface DatasetToml {
  general: { shuffle_caption: boolean; caption_extension: string; keep_tokens: number; enable_bucket: boolean };
  /** resolution left out: sd-scripts then takes the trainer's --resolution (train.resolution) */
  dataset: { resolution?: number; batch_size: number };
  /** image_dir relative to the dataset folder */
  subsets: { image_dir: string; num_repeats: number }[];
}

type TomlValue = string | number | boolean | undefined;

/** TOML basic strings take JSON's escapes; numbers and booleans print alike. */
function tomlValue(value: TomlValue): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function assignments(table: Record<string, TomlValue>, allowed: Set<string>, indent = ''): string[] {
  return Object.entries(table).filter(([, value]) => value !== undefined).map(([key, value]) => {
    if (!allowed.has(key)) throw new Error(`sd-scripts rejects the dataset config key '${key}'`);
    return `${indent}${key} = ${tomlValue(value)}`;
  });
}

export function renderDatasetToml(config: DatasetToml): string {
  const lines = [
    '# sd-scripts --dataset_config, written by the sdloop dataset stage.',
    '# image_dir paths are relative: run sd-scripts with this folder as its working directory.',
    '[general]',
    ...assignments(config.general, GENERAL_KEYS),
    '',
    '[[datasets]]',
    ...assignments(config.dataset, DATASET_KEYS),
  ];
  for (const subset of config.subsets) lines.push('', '  [[datasets.subsets]]', ...assignments(subset, SUBSET_KEYS, '  '));
  return `${lines.join('\n')}\n`;
}
