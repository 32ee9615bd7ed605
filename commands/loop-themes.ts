// loop.per_theme (or `pipeline loop --per-theme`): a LoRA per sdgen theme instead of one
// for all. Each theme gets a round of its own: select keeps that theme's images only,
// train names the LoRA after the theme, and benchmark renders its fixed plan as that
// theme's prompts; a winner is promoted for that theme, so generate puts it into that
// theme's prompts alone and the other themes' images keep their identity.
import type { CommandContext } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { slug } from './loop-targeted.js';
import type { LoopSettings } from './loop-settings.js';

const THEMES = 'SELECT DISTINCT theme FROM prompts WHERE theme IS NOT NULL ORDER BY theme';

/** A merged checkpoint serves every theme, and a targeted round already names its one value. */
export function checkPerTheme(settings: LoopSettings, targeted: boolean): void {
  if (settings.promote === 'merge') {
    throw new InputError('expected loop.promote stack with loop.per_theme: a checkpoint merged from one theme\'s LoRA would render every theme', { file: 'pipeline.yaml', field: 'params.loop.per_theme' });
  }
  if (targeted) throw new InputError('expected either --targeted or a per-theme loop (--per-theme, loop.per_theme), not both', { field: '--per-theme' });
}

/** The themes the planned prompts use, running up to catalog first when there is no prompts table yet. */
export async function roundThemes(ctx: CommandContext): Promise<string[]> {
  let rows = await ctx.sql<{ theme: string }>(THEMES).catch(() => null);
  if (!rows) {
    const summary = await ctx.run({ targets: ['catalog'], set: {} });
    if (!summary.ok) throw new Error(`a per-theme loop needs the planned prompts, and running up to catalog failed (exit ${summary.exitCode})`);
    rows = await ctx.sql<{ theme: string }>(THEMES);
  }
  if (!rows.length) {
    throw new InputError('expected prompts with a theme for a per-theme loop: set resolve.theme (e.g. [cyberpunk, fantasy]) on prompt files whose template declares themes', { file: 'pipeline.yaml', field: 'params.resolve.theme' });
  }
  return rows.map((r) => r.theme);
}

/** What a theme's round sets: the images it learns from, the LoRA's name and the prompts it is judged on. */
export function themeOverrides(ctx: CommandContext, theme: string): Record<string, unknown> {
  const prefix = ((ctx.params.train ?? {}) as { name_prefix?: string }).name_prefix ?? 'sdloop';
  return { 'select.theme': theme, 'train.name_prefix': `${prefix}-theme-${slug(theme)}`, 'benchmark.theme': theme };
}
