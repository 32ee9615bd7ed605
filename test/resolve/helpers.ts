// Fixture projects written into a fresh temp folder, and planning shortcuts.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { planPromptFile, type PlanOptions } from '../../stages/resolve/templates/plan.js';

/** Write `files` (relative path -> text) into a new temp project; returns its folder. */
export function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sdloop-resolve-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

export function plan(dir: string, file: string, options: Partial<PlanOptions> = {}) {
  return planPromptFile(join(dir, file), { projectDir: dir, ...options });
}

/** A prompt file text with the required blocks; `extra` is appended YAML. */
export function promptYaml(prompt: string, extra = '', generation = 'mode: combinatorial\n  seed: 1\n  seed_mode: progressive\n  max_images: 0'): string {
  return `version: "2.0"\nname: test\nprompt: ${JSON.stringify(prompt)}\ngeneration:\n  ${generation}\n${extra}`;
}
