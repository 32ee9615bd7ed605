// The SD loop's commands beyond the engine's own; pipeline.yaml lists this module under `commands:`.
import type { Command } from '../src/command.js';

const modules = await Promise.all([
  import('./plan.js'),
  import('./label.js'),
  import('./loop.js'),
  import('./report.js'),
  import('./serve.js'),
]);

const commands: Command[] = modules.flatMap((m) => m.default as Command[]);
export default commands;
