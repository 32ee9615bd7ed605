// One image: the picture, its prompt and PNG info, each axis with what the models said
// and the person's label; prev/next walk the gallery's filtered set. Keyboard first.
import { element, fixed, galleryQuery, get, navigate, percent, post, say } from './api.js';
import { sameSeedStrip, valueSeedGrid } from './compare.js';
import { focusTagInput, tagEditor } from './tags.js';
import { zoneCrop, zoneName, zoneOutline } from './zone.js';

const view = { detail: null, axis: 0, picking: false, values: new Map(), texts: new Map(), readOnly: false };

export function setViewerContext({ facets, readOnly }) {
  view.values = new Map(facets.axes.map((a) => [a.axis, a.values.map((v) => v.value)]));
  view.texts = new Map(facets.axes.flatMap((a) => a.values.map((v) => [`${a.axis}\u0000${v.value}`, v.text ?? v.value])));
  view.readOnly = readOnly;
}

/** A value as a person reads it: sdgen's inline MD5 keys by their text. */
const textOf = (axis, value) => (value === null || value === undefined ? value : view.texts.get(`${axis}\u0000${value}`) ?? value);

function openImage(id) {
  const params = galleryQuery();
  params.set('image', id);
  navigate(params);
}

function axisRow(a, i) {
  const verdict = a.label === null ? '' : a.label === a.value ? 'ok' : `wrong: shows ${textOf(a.axis, a.label)}`;
  return element('tr', { class: `${i === view.axis ? 'selected' : ''} ${a.label === null ? '' : a.label === a.value ? 'ok' : 'wrong'}`, 'data-axis': a.axis,
    onclick: () => { view.axis = i; draw(); } },
  element('th', {}, a.axis), element('td', {}, a.value_text ?? a.value), element('td', { class: 'num' }, percent(a.p_target)),
  element('td', { class: 'num' }, fixed(a.margin)), element('td', {}, textOf(a.axis, a.top_value)),
  element('td', {}, textOf(a.axis, a.probe_value) ?? '–'), element('td', { class: 'num' }, percent(a.p_probe)),
  element('td', { class: 'zone', 'data-zone': a.zone?.name ?? a.zone?.kind }, zoneCrop(view.detail, a.zone), element('small', {}, zoneName(a.zone))),
  element('td', { class: 'label' }, verdict));
}

function picker() {
  const a = view.detail.axes[view.axis];
  const values = (view.values.get(a.axis) ?? []).filter((v) => v !== a.value);
  return element('div', { id: 'picker', class: 'picker' }, element('strong', {}, `${a.axis} shows instead:`),
    values.slice(0, 9).map((v, i) => element('button', { type: 'button', onclick: () => label({ axis: a.axis, verdict: 'wrong', value: v }) }, element('kbd', {}, String(i + 1)), ' ', textOf(a.axis, v))),
    element('small', {}, 'Esc cancels'));
}

function infoList(detail) {
  const png = Object.entries(detail.png_info ?? {});
  return element('dl', {},
    element('dt', {}, 'Prompt'), element('dd', { class: 'prompt' }, detail.prompt),
    detail.negative_prompt ? [element('dt', {}, 'Negative'), element('dd', { class: 'prompt' }, detail.negative_prompt)] : null,
    element('dt', {}, 'Seed'), element('dd', {}, String(detail.seed)),
    element('dt', {}, 'Model'), element('dd', {}, detail.model_name, detail.loras?.length ? ` + ${detail.loras.join(', ')}` : ''),
    element('dt', {}, 'File'), element('dd', {}, `${detail.session} / ${detail.filename}`),
    png.length ? [element('dt', {}, 'PNG info'), element('dd', {}, element('details', {}, element('summary', {}, png.map(([k]) => k).join(', ')),
      png.map(([k, v]) => element('pre', {}, `${k}: ${v}`))))] : null);
}

function draw() {
  const d = view.detail;
  const root = document.getElementById('viewer');
  const n = d.neighbours;
  const selected = d.axes[view.axis];
  root.replaceChildren(
    element('div', { class: 'picture' }, element('span', { class: 'frame' },
      element('img', { src: d.image_url, alt: d.prompt, id: 'full-image' }), zoneOutline(selected?.zone))),
    element('div', { class: 'panel' },
      element('div', { class: 'nav' },
        element('button', { type: 'button', id: 'back', onclick: back }, '← gallery'),
        element('button', { type: 'button', id: 'prev-image', disabled: !n?.prev, onclick: () => openImage(n.prev) }, '‹ prev'),
        element('span', { id: 'position' }, n ? `${n.position} / ${n.total}` : 'not in the filtered set'),
        element('button', { type: 'button', id: 'next-image', disabled: !n?.next, onclick: () => openImage(n.next) }, 'next ›')),
      element('h2', {}, element('span', { class: `badge verdict-${d.verdict}` }, d.verdict ?? '?'), ` match ${fixed(d.match_score)}`,
        d.favourite ? element('span', { class: 'fav' }, ' ★') : null, d.rejected ? element('span', { class: 'rejected-tag' }, ' rejected') : null),
      element('div', { class: 'table-scroll' }, element('table', { class: 'axes' },
        element('thead', {}, element('tr', {}, ['axis', 'asked', 'p_target', 'margin', 'zero-shot says', 'probe says', 'probe p(asked)', 'read from', 'your label'].map((h) => element('th', {}, h)))),
        element('tbody', {}, d.axes.map(axisRow)))),
      view.picking ? picker() : null,
      view.readOnly ? element('p', { class: 'hint' }, 'read-only: labels are off') : element('p', { class: 'hint' }, element('kbd', {}, 'o'), ' ok ', element('kbd', {}, 'w'), ' wrong ', element('kbd', {}, 'a'), ' all ok ', element('kbd', {}, 'x'), ' reject ', element('kbd', {}, 'f'), ' favourite ', element('kbd', {}, 't'), ' tag ', element('kbd', {}, '?'), ' help'),
      tagEditor(d, { readOnly: view.readOnly, reload: () => load(d.image_id) }),
      infoList(d),
      sameSeedStrip(d, openImage),
      element('div', { id: 'grid-slot' }, gridFor(d, selected))));
}

/** The grid of the selected axis; when it arrives only its slot is redrawn, so typing in the tag box goes on. */
function gridFor(d, selected) {
  if (!selected) return null;
  const redraw = () => {
    if (view.detail === d && d.axes[view.axis] === selected) document.getElementById('grid-slot')?.replaceChildren(gridFor(d, selected));
  };
  return valueSeedGrid(d, selected, openImage, redraw);
}

async function load(id) {
  const before = view.detail;
  view.detail = await get(`/api/images/${encodeURIComponent(id)}?${galleryQuery()}`);
  // A label can take the image out of the filtered set (the unlabelled review queue): keep walking from where it was.
  if (!view.detail.neighbours && before?.image_id === id) view.detail.neighbours = before.neighbours;
  view.axis = Math.min(view.axis, Math.max(0, view.detail.axes.length - 1));
  view.picking = false;
  draw();
}

async function label(body) {
  if (view.readOnly) return say('read-only: labels are off', 'error');
  try {
    const row = await post('/api/labels', { image_id: view.detail.image_id, ...body });
    say(row.reject ? 'rejected' : `labelled ${row.axis}=${textOf(row.axis, row.value)}`);
    await load(view.detail.image_id);
    if (!row.reject && view.axis < view.detail.axes.length - 1) view.axis++;
    draw();
  } catch (error) {
    say(error.message, 'error');
  }
}

async function allOk() {
  for (const a of view.detail.axes) await post('/api/labels', { image_id: view.detail.image_id, axis: a.axis, verdict: 'ok' });
  say(`all ${view.detail.axes.length} axes ok`);
  await load(view.detail.image_id);
}

async function toggleFavourite() {
  if (view.readOnly) return say('read-only', 'error');
  await post('/api/favourites', { image_id: view.detail.image_id, favourite: !view.detail.favourite });
  await load(view.detail.image_id);
  say(view.detail.favourite ? 'favourite' : 'not a favourite');
}

function back() {
  navigate(galleryQuery());
}

export const renderViewer = (id) => load(id);

export function viewerKey(event) {
  const d = view.detail;
  if (!d) return false;
  const axis = d.axes[view.axis];
  if (view.picking) {
    const values = (view.values.get(axis.axis) ?? []).filter((v) => v !== axis.value);
    const k = Number(event.key);
    if (event.key === 'Escape') { view.picking = false; draw(); } else if (k >= 1 && k <= values.length) label({ axis: axis.axis, verdict: 'wrong', value: values[k - 1] });
    return true;
  }
  const keys = {
    ArrowRight: () => d.neighbours?.next && openImage(d.neighbours.next),
    j: () => d.neighbours?.next && openImage(d.neighbours.next),
    ArrowLeft: () => d.neighbours?.prev && openImage(d.neighbours.prev),
    k: () => d.neighbours?.prev && openImage(d.neighbours.prev),
    ArrowDown: () => { view.axis = Math.min(d.axes.length - 1, view.axis + 1); draw(); },
    ArrowUp: () => { view.axis = Math.max(0, view.axis - 1); draw(); },
    o: () => axis && label({ axis: axis.axis, verdict: 'ok' }),
    w: () => { if (axis && !view.readOnly) { view.picking = true; draw(); } },
    a: () => !view.readOnly && allOk(),
    x: () => label({ verdict: 'reject' }),
    f: () => toggleFavourite(),
    t: () => focusTagInput(),
    Escape: back,
  };
  const action = keys[event.key];
  if (!action) return false;
  action();
  return true;
}
