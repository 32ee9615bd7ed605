// A project is the folder holding pipeline.yaml: its config, params (with --set), the
// stage modules it uses and the graph they form. Loading it validates everything and
// writes nothing.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError, pathFromHere, shownPath, type InputErrorWhere } from './errors.js';
import { pipelineConfigSchema, type PipelineConfig } from '../schemas/pipeline.js';
import { readYaml, parseWith, positionOf, fieldName, type YamlFile } from './yaml-file.js';
import { applyOverrides, parseStageParams, selectParams, type ParamTree } from './params.js';
import { isGlobPattern, walkFolder } from './glob.js';
import { isInside, requireInside } from './inside.js';
import { loadStageModule, loadCommandModule, type LoadedStage } from './modules.js';
import { buildGraph, normalisePath, producedPaths, type Graph, type Locate } from './graph.js';
import type { Command } from './command.js';
import { projectPaths, type ProjectPaths } from './project-dir.js';

export interface Project {
  dir: string;
  file: string;
  dataDir: string;
  config: PipelineConfig;
  params: ParamTree;
  graph: Graph;
  /** file:line:col of a pipeline.yaml field, for messages */
  locate: Locate;
  paths: ProjectPaths;
}

export async function readConfig(dir: string): Promise<{ parsed: YamlFile; config: PipelineConfig }> {
  const file = join(dir, 'pipeline.yaml');
  if (!existsSync(file)) throw new InputError(`no pipeline.yaml in ${pathFromHere(dir)} (run inside a project folder or one below it, or pass -C DIR)`, { file });
  const parsed = readYaml(file);
  return { parsed, config: parseWith(parsed, pipelineConfigSchema) };
}

/** A param --set gave is wrong on the command line, not at its line of pipeline.yaml. */
function setArgument(path: (string | number)[], overrides: Record<string, unknown>): InputErrorWhere | undefined {
  if (path[0] !== 'params') return undefined;
  const dotted = path.slice(1).join('.');
  const given = Object.keys(overrides).find((key) => dotted === key || dotted.startsWith(`${key}.`) || key.startsWith(`${dotted}.`));
  return given === undefined ? undefined : { field: `--set ${given}=${JSON.stringify(overrides[given])}` };
}

export async function loadProject(dirArg: string, overrides: Record<string, unknown> = {}): Promise<Project> {
  const dir = resolve(dirArg);
  const { parsed, config } = await readConfig(dir);
  const stages: Record<string, { config: PipelineConfig['stages'][string]; loaded?: LoadedStage }> = {};
  for (const [name, stage] of Object.entries(config.stages)) {
    const where = { file: parsed.path, ...positionOf(parsed, ['stages', name, 'uses']), field: `stages.${name}.uses` };
    stages[name] = { config: stage, loaded: stage.uses ? await loadStageModule(stage.uses, dir, where) : undefined };
  }
  const locate = (path: (string | number)[]) => setArgument(path, overrides) ?? { file: parsed.path, ...positionOf(parsed, path), field: fieldName(path) };
  const graph = buildGraph(stages, locate);
  const { dataDir, paths } = projectPaths(dir);
  const project: Project = { dir, file: parsed.path, dataDir, config, params: applyOverrides(config.params, overrides), graph, paths, locate };
  checkBeforeWriting(project);
  return project;
}

/** Problems found here exit 2 before the state database or any output exists. */
function checkBeforeWriting(project: Project): void {
  const produced = producedPaths(project.graph);
  for (const node of project.graph.nodes.values()) {
    if (node.loaded) parseStageParams(project.locate, node.name, node.loaded.module, selectParams(project.params, node.config.params));
    for (const [i, out] of node.config.outs.entries()) requireInside(project.dir, out, 'out', project.locate(['stages', node.name, 'outs', i]));
    for (const [i, dep] of node.config.deps.entries()) {
      if (isGlobPattern(dep) || produced.has(normalisePath(dep)) || existsSync(join(project.dir, dep))) continue;
      throw new InputError(`dep "${dep}" does not exist and no stage produces it`, project.locate(['stages', node.name, 'deps', i]));
    }
  }
}

/**
 * The stages' own checks of the files their params name (prompt files, templates), for
 * the stages a command acts on: bad input found here exits 2 before the state is opened.
 */
export async function checkStageInputs(project: Project, stages: string[]): Promise<void> {
  for (const name of stages) {
    const node = project.graph.nodes.get(name);
    if (node) checkDepFolders(project, node.config.deps);
    const module = node?.loaded?.module;
    if (!node || !module?.check) continue;
    const params = parseStageParams(project.locate, name, module, selectParams(project.params, node.config.params));
    await module.check(params, project.dir).catch((error: unknown) => {
      throw located(project, error);
    });
  }
}

/**
 * Dep folders inside the project, walked for symlink loops and links out of the project
 * (only links are stat'ed, so this costs a readdir per folder).
 */
function checkDepFolders(project: Project, deps: string[]): void {
  for (const dep of deps) {
    const abs = resolve(project.dir, dep);
    if (isGlobPattern(dep) || !isInside(project.dir, abs) || !statSync(abs, { throwIfNoEntry: false })?.isDirectory()) continue;
    walkFolder(abs, { within: project.dir });
  }
}

/** A check that names a param (`params.benchmark.axes`) but no line: its place in pipeline.yaml. */
function located(project: Project, error: unknown): unknown {
  if (!(error instanceof InputError) || error.where.line !== undefined || !error.where.field?.startsWith('params.')) return error;
  return new InputError(error.message, project.locate(error.where.field.split('.')));
}

/** Only the config is needed: a command's --help works while a stage module is broken. */
export async function loadCommands(project: Pick<Project, 'dir' | 'file' | 'config'>): Promise<Command[]> {
  const commands: Command[] = [];
  for (const [i, ref] of project.config.commands.entries()) {
    commands.push(...(await loadCommandModule(ref, project.dir, { file: project.file, field: `commands[${i}]` })));
  }
  return commands;
}

/**
 * A path as tables, memo and pipeline.lock store it: relative to the project when inside
 * it, so a moved project folder is the same project; a user's file outside stays absolute.
 */
export function storedPath(projectDir: string, path: string): string {
  // The same form messages show a path in: one rule for what counts as inside.
  return shownPath(projectDir, path);
}
