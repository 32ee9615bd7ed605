// The stage graph as text, Mermaid or Graphviz dot.
import type { Graph } from './graph.js';

function edges(graph: Graph): [from: string, to: string, label: string][] {
  const result: [string, string, string][] = [];
  for (const name of graph.order) {
    const node = graph.nodes.get(name)!;
    for (const up of [...node.upstream].sort()) {
      const labels = node.inputs.filter((e) => e.stage === up).map((e) => e.output);
      result.push([up, name, labels.join(', ')]);
    }
  }
  return result;
}

export function renderDag(graph: Graph, format: 'text' | 'mermaid' | 'dot'): string {
  const all = edges(graph);
  if (format === 'mermaid') {
    return ['flowchart LR', ...graph.order.map((n) => `  ${n}[${n}]`), ...all.map(([a, b, l]) => `  ${a} -->${l ? `|${l}|` : ''} ${b}`)].join('\n') + '\n';
  }
  if (format === 'dot') {
    return ['digraph pipeline {', '  rankdir=LR;', ...graph.order.map((n) => `  "${n}";`), ...all.map(([a, b, l]) => `  "${a}" -> "${b}"${l ? ` [label="${l}"]` : ''};`), '}'].join('\n') + '\n';
  }
  return (
    graph.order
      .map((name) => {
        const node = graph.nodes.get(name)!;
        const kind = node.loaded ? `uses ${node.config.uses}${node.loaded.module.kind === 'map' ? ' (map)' : ''}` : `cmd`;
        const outs = Object.keys(node.outputs).join(', ') || '-';
        const from = node.inputs.map((e) => `${e.stage}.${e.output}`);
        for (const up of node.upstream) if (!node.inputs.some((e) => e.stage === up)) from.push(up);
        return `${name}  [${kind}]  -> ${outs}${from.length ? `  <- ${from.join(', ')}` : ''}`;
      })
      .join('\n') + '\n'
  );
}

/** The stages for `dag --json`: how each is defined, what it outputs and where its inputs come from. */
export function dagJson(graph: Graph): Record<string, unknown>[] {
  return graph.order.map((name) => {
    const node = graph.nodes.get(name)!;
    return {
      name,
      kind: node.loaded ? node.loaded.module.kind : 'cmd',
      uses: node.config.uses ?? null,
      outputs: Object.keys(node.outputs),
      inputs: node.inputs.map((e) => ({ name: e.local, stage: e.stage, output: e.output })),
      upstream: [...node.upstream].sort(),
    };
  });
}
