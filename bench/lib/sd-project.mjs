// The SD pipeline the pipeline and memory benches run: resolve -> generate (the synthetic
// demo renderer) -> catalog -> score (the demo CLIP), with generate's extra params given.
export function sdBenchPipelineYaml(generateExtra = '') {
  return `params:
  resolve: {prompts: [data/prompts/bench.prompt.yaml], count: 0}
  generate: {backend: synthetic, concurrency: 2${generateExtra}}
  score: {model: demo}
resources: {onnx: 1}
stages:
  resolve: {uses: resolve, params: [resolve], deps: [data/prompts, data/templates, data/variations]}
  generate: {uses: generate, params: [generate], inputs: {prompts: resolve.planned, axes: resolve.planned_axes, manifests: resolve.planned_manifests}}
  catalog: {uses: catalog, inputs: {rendered: generate.rendered, planned: resolve.planned, planned_axes: resolve.planned_axes}}
  score: {uses: score, params: [score], inputs: {images: catalog.images, prompts: catalog.prompts, axes: catalog.axes}}
`;
}
