// A small builder for ONNX graphs, encoded with onnx-proto: enough to write the demo CLIP
// and a ViT-shaped benchmark model from the project's own code, with no Python export.
import { writeFileAtomic } from '../src/atomic.js';

export const OPSET = 17;
const IR_VERSION = 8;

type Attr = number | number[] | string;

export interface GraphBuilder {
  /** A float32 (or int64) constant stored in the model file. */
  init(name: string, dims: number[], data: Float32Array | BigInt64Array): string;
  node(opType: string, inputs: string[], attrs?: Record<string, Attr>, outputName?: string): string;
  input(name: string, elemType: ElemType, dims: (number | string)[]): void;
  output(name: string, valueOf: string, dims: (number | string)[], elemType?: ElemType): void;
  /** Encode the finished model; docString and metadata label what it is. */
  encode(doc: string, metadata?: Record<string, string>): Promise<Uint8Array>;
}

const ELEM = { float32: 1, int64: 7, float16: 10 } as const;
export type ElemType = keyof typeof ELEM;

function attribute(name: string, value: Attr) {
  // AttributeType: FLOAT 1, INT 2, STRING 3, INTS 7.
  if (typeof value === 'string') return { name, type: 3, s: Buffer.from(value) };
  if (Array.isArray(value)) return { name, type: 7, ints: value };
  return Number.isInteger(value) ? { name, type: 2, i: value } : { name, type: 1, f: value };
}

function shapeOf(dims: (number | string)[]) {
  return { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
}

export function createGraph(graphName: string): GraphBuilder {
  const initializer: object[] = [];
  const nodes: object[] = [];
  const inputs: object[] = [];
  const outputs: object[] = [];
  let counter = 0;
  return {
    init(name, dims, data) {
      const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      initializer.push({ name, dims, dataType: data instanceof Float32Array ? 1 : 7, rawData });
      return name;
    },
    node(opType, nodeInputs, attrs = {}, outputName) {
      const out = outputName ?? `${opType.toLowerCase()}_${counter++}`;
      nodes.push({
        opType,
        name: `${opType}_${counter++}`,
        input: nodeInputs,
        output: [out],
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      });
      return out;
    },
    input(name, elemType, dims) {
      inputs.push({ name, type: { tensorType: { elemType: ELEM[elemType], shape: shapeOf(dims) } } });
    },
    output(name, valueOf, dims, elemType = 'float32') {
      if (valueOf !== name) nodes.push({ opType: 'Identity', name: `out_${name}`, input: [valueOf], output: [name] });
      outputs.push({ name, type: { tensorType: { elemType: ELEM[elemType], shape: shapeOf(dims) } } });
    },
    async encode(doc, metadata = {}) {
      const { onnx } = (await import('onnx-proto')).default;
      const model = {
        irVersion: IR_VERSION,
        producerName: 'sdloop',
        docString: doc,
        opsetImport: [{ domain: '', version: OPSET }],
        metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
        graph: { name: graphName, node: nodes, initializer, input: inputs, output: outputs },
      };
      return onnx.ModelProto.encode(model).finish();
    },
  };
}

export async function writeModel(path: string, graph: GraphBuilder, doc: string, metadata?: Record<string, string>) {
  await writeFileAtomic(path, await graph.encode(doc, metadata));
}
