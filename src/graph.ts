// The DAG: stages, the edges their inputs and deps imply, and a topological order.
// Every structural problem is bad input, reported before anything runs.
import { InputError, type InputErrorWhere } from './errors.js';
import type { StageConfig } from '../schemas/pipeline.js';
import type { LoadedStage } from './modules.js';
import type { OutputDecl } from './stage.js';

export interface InputEdge {
  local: string;
  stage: string;
  output: string;
}

export interface StageNode {
  name: string;
  config: StageConfig;
  loaded?: LoadedStage;
  inputs: InputEdge[];
  outputs: Record<string, OutputDecl>;
  upstream: Set<string>;
}

export interface Graph {
  nodes: Map<string, StageNode>;
  order: string[];
}

function inputEdges(config: StageConfig): InputEdge[] {
  const entries: [string, string][] = Array.isArray(config.inputs)
    ? config.inputs.map((ref) => [ref.split('.')[1]!, ref])
    : Object.entries(config.inputs);
  return entries.map(([local, ref]) => {
    const [stage, output] = ref.split('.') as [string, string];
    return { local, stage, output };
  });
}

/** cmd stage outs are path outputs named by their path. */
function cmdOutputs(config: StageConfig): Record<string, OutputDecl> {
  return Object.fromEntries(config.outs.map((out) => [out, { kind: 'path' as const }]));
}

/** A project-relative path as written in deps/outs, without ./ or a trailing slash. */
export const normalisePath = (p: string) => p.replace(/^\.\//, '').replace(/\/+$/, '');

/** Every path a cmd stage declares as an out. */
export function producedPaths(graph: Graph): Set<string> {
  return new Set([...graph.nodes.values()].flatMap((n) => n.config.outs.map(normalisePath)));
}

/** Where a field of pipeline.yaml is, for error messages: file, line, column and the field path. */
export type Locate = (path: (string | number)[]) => InputErrorWhere;

export function buildGraph(stages: Record<string, { config: StageConfig; loaded?: LoadedStage }>, locate: Locate): Graph {
  const nodes = new Map<string, StageNode>();
  for (const [name, { config, loaded }] of Object.entries(stages)) {
    nodes.set(name, {
      name,
      config,
      loaded,
      inputs: inputEdges(config),
      outputs: loaded ? loaded.module.outputs : cmdOutputs(config),
      upstream: new Set(),
    });
  }
  const tableOwners = new Map<string, string>();
  const outPaths = new Map<string, string>();
  for (const node of nodes.values()) {
    for (const [output, decl] of Object.entries(node.outputs)) {
      if (decl.kind === 'table') {
        const other = tableOwners.get(output);
        if (other) throw new InputError(`table "${output}" is produced by both ${other} and ${node.name}: table names must be unique`, locate(['stages', node.name]));
        tableOwners.set(output, node.name);
      }
    }
    for (const out of node.config.outs) outPaths.set(normalisePath(out), node.name);
  }
  for (const node of nodes.values()) {
    for (const edge of node.inputs) {
      const where = locate(['stages', node.name, 'inputs', ...(Array.isArray(node.config.inputs) ? [] : [edge.local])]);
      const producer = nodes.get(edge.stage);
      if (!producer) throw new InputError(`unknown stage "${edge.stage}" (stages: ${[...nodes.keys()].join(', ')})`, where);
      if (!(edge.output in producer.outputs)) {
        throw new InputError(`stage ${edge.stage} has no output "${edge.output}" (it has: ${Object.keys(producer.outputs).join(', ') || 'none'})`, where);
      }
      node.upstream.add(edge.stage);
    }
    for (const dep of node.config.deps) {
      const d = normalisePath(dep);
      for (const [out, owner] of outPaths) {
        if (owner !== node.name && (d === out || d.startsWith(`${out}/`) || out.startsWith(`${d}/`))) node.upstream.add(owner);
      }
    }
  }
  return { nodes, order: topologicalOrder(nodes, locate) };
}

function topologicalOrder(nodes: Map<string, StageNode>, locate: Locate): string[] {
  const order: string[] = [];
  const mark = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]) => {
    if (mark.get(name) === 'done') return;
    if (mark.get(name) === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new InputError(`the stages form a cycle: ${cycle.join(' -> ')}`, locate(['stages', cycle[0]!]));
    }
    mark.set(name, 'visiting');
    for (const up of [...nodes.get(name)!.upstream].sort()) visit(up, [...path, name]);
    mark.set(name, 'done');
    order.push(name);
  };
  for (const name of nodes.keys()) visit(name, []);
  return order;
}

/** The targets and everything upstream of them, in run order; all stages when none given. */
export function selectStages(graph: Graph, targets: string[]): string[] {
  if (targets.length === 0) return graph.order;
  const wanted = new Set<string>();
  const add = (name: string) => {
    if (wanted.has(name)) return;
    wanted.add(name);
    for (const up of graph.nodes.get(name)!.upstream) add(up);
  };
  for (const target of targets) {
    if (!graph.nodes.has(target)) {
      throw new InputError(`unknown stage "${target}" (stages: ${graph.order.join(', ')})`, { field: 'stage' });
    }
    add(target);
  }
  return graph.order.filter((name) => wanted.has(name));
}

export function downstreamOf(graph: Graph, name: string): string[] {
  return graph.order.filter((n) => n !== name && isUpstream(graph, name, n));
}

function isUpstream(graph: Graph, up: string, node: string): boolean {
  const ups = graph.nodes.get(node)!.upstream;
  return ups.has(up) || [...ups].some((u) => isUpstream(graph, up, u));
}
