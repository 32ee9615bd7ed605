// Comparisons in the image view: the other renders of the same seed, and the value x seed
// grid of the selected axis (rows: its values, columns: seeds of the session), built from
// what was already rendered; a combination nobody rendered is an empty cell.
import { element, fixed, get } from './api.js';

export function sameSeedStrip(detail, open) {
  if (!detail.same_seed?.length) return null;
  return element('div', { class: 'same-seed' }, element('h3', {}, `Same seed (${detail.seed})`),
    element('div', { class: 'strip' }, detail.same_seed.map((s) => element('a', { href: '#', class: `verdict-${s.verdict}`, title: s.prompt, 'data-id': s.image_id, onclick: (e) => { e.preventDefault(); open(s.image_id); } },
      element('img', { src: s.thumb_url, alt: s.prompt, width: 96, height: 96 }), element('span', { class: 'badge' }, s.verdict ?? '?')))));
}

/** (image, axis) -> { grid, waiting }: fetched once; everyone who asked while it loaded is called back. */
const grids = new Map();

export function gridOf(id, axis, redraw) {
  const key = `${id}\u0000${axis}`;
  let entry = grids.get(key);
  if (!entry) {
    entry = { grid: null, waiting: [] };
    grids.set(key, entry);
    const done = (grid) => {
      entry.grid = grid;
      for (const callback of entry.waiting.splice(0)) callback();
    };
    get(`/api/images/${encodeURIComponent(id)}/grid?axis=${encodeURIComponent(axis)}`).then(done, (error) => done({ error: error.message }));
  }
  if (!entry.grid) entry.waiting.push(redraw);
  return entry.grid;
}

function cell(c, detail, open) {
  if (!c) return element('td', { class: 'empty', title: 'not rendered' }, '·');
  const here = c.image_id === detail.image_id;
  return element('td', { class: `verdict-${c.verdict ?? 'none'}${here ? ' here' : ''}` },
    element('a', { href: '#', 'data-id': c.image_id, title: `match ${fixed(c.match_score)}${c.renders > 1 ? `, 1 of ${c.renders} renders` : ''}`, onclick: (e) => { e.preventDefault(); open(c.image_id); } },
      element('img', { src: c.thumb_url, alt: '', width: 72, height: 72, loading: 'lazy' }),
      element('span', { class: 'badge' }, c.verdict ?? '?')));
}

export function valueSeedGrid(detail, axis, open, redraw) {
  const grid = gridOf(detail.image_id, axis.axis, redraw);
  const title = element('h3', {}, `${axis.axis} × seed`, element('small', {}, ' rows: values, columns: seeds of this session'));
  if (!grid) return element('div', { class: 'grid-compare' }, title, element('p', { class: 'hint' }, 'loading…'));
  if (grid.error) return element('div', { class: 'grid-compare' }, title, element('p', { class: 'hint' }, grid.error));
  return element('div', { class: 'grid-compare', id: 'value-seed-grid', 'data-axis': axis.axis }, title,
    element('table', {},
      element('thead', {}, element('tr', {}, element('th', {}, ''), grid.seeds.map((s) => element('th', { class: s === detail.seed ? 'here' : '' }, String(s))))),
      element('tbody', {}, grid.values.map((value, r) => element('tr', { class: value === axis.value ? 'asked' : '', 'data-value': value },
        element('th', {}, value), grid.cells[r].map((c) => cell(c, detail, open)))))));
}
