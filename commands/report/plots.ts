// The HTML report's plots as Vega-Lite specs rendered to SVG in Node (vega's headless
// View with renderer 'none'), so the report needs no browser to make and no script
// or network to show.
import type { Row } from '../../src/stage.js';

type VegaLiteSpec = Record<string, unknown>;

const schema = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Spec -> standalone <svg> markup. Vega is imported lazily: `pipeline status` loads this module. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const vega = await import('vega');
  const { compile } = await import('vega-lite');
  const view = new vega.View(vega.parse(compile(spec as never).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** Success rate per axis and value, with the Wilson interval as a bar across it. */
export function successSpec(rows: Row[], label: (axis: string, key: string) => string = (_axis, key) => key): VegaLiteSpec {
  const values = rows.map((r) => ({
    label: `${r.axis}: ${label(String(r.axis), String(r.value))}`,
    axis: r.axis,
    rate: num(r.success_rate),
    lo: num(r.ci_low),
    hi: num(r.ci_high),
    images: `n=${num(r.n)}`,
  }));
  const y = { field: 'label', type: 'nominal', sort: null, title: null };
  return {
    $schema: schema,
    title: 'Success rate by variation value (95% Wilson interval)',
    data: { values },
    width: 480,
    height: { step: 20 },
    layer: [
      {
        mark: { type: 'bar', opacity: 0.6 },
        encoding: {
          y,
          x: { field: 'rate', type: 'quantitative', scale: { domain: [0, 1] }, title: 'success rate' },
          color: { field: 'axis', type: 'nominal', legend: null, scale: { scheme: 'category20' } },
        },
      },
      { mark: { type: 'rule', strokeWidth: 2 }, encoding: { y, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } } },
      { mark: { type: 'text', align: 'left', dx: 4 }, encoding: { y, x: { field: 'hi', type: 'quantitative' }, text: { field: 'images', type: 'nominal' } } },
    ],
  };
}

/** Histogram of the scorer's probability for the asked-for value, per axis, split by matched. */
export function scoreDistributionSpec(bins: Row[]): VegaLiteSpec {
  const values = bins.map((b) => ({ axis: b.axis, start: num(b.bin_start), end: num(b.bin_end), matched: b.matched ? 'matched' : 'not matched', images: num(b.n) }));
  return {
    $schema: schema,
    title: 'Distribution of p_target (probability of the asked-for value)',
    data: { values },
    facet: { field: 'axis', type: 'nominal', title: null },
    columns: 3,
    spec: {
      width: 220,
      height: 120,
      mark: 'bar',
      encoding: {
        x: { field: 'start', type: 'quantitative', scale: { domain: [0, 1] }, title: 'p_target' },
        x2: { field: 'end' },
        y: { field: 'images', type: 'quantitative', stack: 'zero', title: 'scores' },
        color: { field: 'matched', type: 'nominal', scale: { domain: ['matched', 'not matched'], range: ['#4c9a5b', '#c8553d'] } },
      },
    },
  };
}

/** Adherence before and after each loop round, with the verdict as the point shape. */
export function loopSpec(rounds: Row[]): VegaLiteSpec {
  const values = rounds.flatMap((r) => [
    { round: num(r.round), series: 'before (baseline)', adherence: num(r.adherence_before), verdict: r.verdict },
    { round: num(r.round), series: 'after (with LoRA)', adherence: num(r.adherence_after), verdict: r.verdict },
  ]);
  return {
    $schema: schema,
    title: 'The loop over rounds: benchmark adherence',
    data: { values: values.filter((v) => v.adherence !== null) },
    width: 480,
    height: 220,
    encoding: {
      x: { field: 'round', type: 'ordinal', title: 'round', axis: { labelAngle: 0 } },
      y: { field: 'adherence', type: 'quantitative', scale: { zero: false }, title: 'adherence' },
      color: { field: 'series', type: 'nominal', title: null },
    },
    layer: [{ mark: 'line' }, { mark: { type: 'point', filled: true, size: 70 }, encoding: { shape: { field: 'verdict', type: 'nominal' } } }],
  };
}

/** The bins scoreDistributionSpec plots, computed in DuckDB so a million scores stay a few rows. */
export const scoreBinsSql = `
SELECT axis, matched,
       least(floor(p_target * 20), 19) / 20 AS bin_start,
       (least(floor(p_target * 20), 19) + 1) / 20 AS bin_end,
       count(*)::INTEGER AS n
FROM scores
GROUP BY ALL
ORDER BY axis, bin_start, matched`;
