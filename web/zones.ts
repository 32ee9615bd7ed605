// Which region of the image CLIP read per axis. The score stage records it in scores.method
// ('full', 'zone:<name>', 'vqa', 'blank'); the zone's box is in the score params the current
// scores were made with, which pipeline.lock keeps beside the scores table. Reading it from
// there (not from pipeline.yaml) names the box that was used even after the params changed.
import { z } from 'zod';
import { readLockFile } from '../src/lockfile.js';
import type { ProjectFiles } from '../src/file-context.js';
import { zone } from '../stages/score/params.js';

export type Zone = z.infer<typeof zone>;

const scoreZones = z.object({ score: z.object({ zones: z.record(z.string(), zone).default({}) }) });

/** The zones of the params the stage that wrote `scores` last ran with; {} when none are known. */
export function scoredZones(project: ProjectFiles): Record<string, Zone> {
  const entry = Object.values(readLockFile(project.paths.lock).stages).find((e) => e.outs.scores?.kind === 'table');
  const parsed = scoreZones.safeParse(entry?.params ?? {});
  return parsed.success ? parsed.data.score.zones : {};
}

export interface ZoneView {
  /** what was read: the whole image, a named zone, a VQA model's answer or nothing (a blank frame) */
  kind: 'full' | 'zone' | 'vqa' | 'blank';
  name: string | null;
  /** [x0, y0, x1, y1] as fractions of the image; the whole image unless a zone was read */
  box: [number, number, number, number];
}

const whole: [number, number, number, number] = [0, 0, 1, 1];

export function zoneOf(method: string | null, zones: Record<string, Zone>): ZoneView {
  if (method?.startsWith('zone:')) {
    const name = method.slice('zone:'.length);
    return { kind: 'zone', name, box: zones[name]?.box ?? whole };
  }
  if (method === 'vqa' || method === 'blank') return { kind: method, name: null, box: whole };
  return { kind: 'full', name: null, box: whole };
}
