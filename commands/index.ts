// The SD loop's commands beyond the engine's own; pipeline.yaml lists this module under `commands:`.
import type { Command } from '../src/command.js';
import plan from './plan.js';
import validate from './validate.js';
import themes from './themes.js';
import api from './api.js';
import pick from './pick.js';
import schema from './schema.js';
import label from './label.js';
import report from './report.js';
import prune from './prune.js';
import loop from './loop.js';
import serve from './serve.js';
import promoted from './promoted.js';

// Command<never>: each command declares its own option type, which no one shared type covers.
const commands: Command<never>[] = [plan, validate, themes, pick, api, schema, label, report, prune, loop, promoted, serve];
export default commands;
