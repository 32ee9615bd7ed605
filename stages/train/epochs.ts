// The files of one training run: sd-scripts with --save_every_n_epochs=N saves
// `<name>-<epoch, 6 digits>.safetensors` after every N-th epoch except the last, and
// `<name>.safetensors` at the end (library/train_util.py, EPOCH_FILE_NAME "{}-{:06d}").
// The benchmark tries each of them, so an over-trained final file need not be the one kept.
import { readdir } from 'node:fs/promises';

export interface SavedFile {
  /** the file's stem: the LoRA name A1111 and `<lora:NAME:W>` know it by */
  name: string;
  file: string;
  epoch: number;
  steps: number;
}

export function epochFileName(name: string, epoch: number): string {
  return `${name}-${String(epoch).padStart(6, '0')}`;
}

/** The epochs sd-scripts saves before the last: N, 2N, ... below `epochs`. */
export function savedEpochs(epochs: number, every: number | null): number[] {
  if (!every) return [];
  const out: number[] = [];
  for (let e = every; e < epochs; e += every) out.push(e);
  return out;
}

/** The per-epoch files sd-scripts left in its output folder, by epoch. */
export async function epochFilesIn(dir: string, name: string): Promise<{ name: string; epoch: number }[]> {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^(${escaped}-(\\d{6}))\\.safetensors$`);
  return (await readdir(dir))
    .flatMap((entry) => {
      const m = pattern.exec(entry);
      return m ? [{ name: m[1]!, epoch: Number(m[2]) }] : [];
    })
    .sort((a, b) => a.epoch - b.epoch);
}
