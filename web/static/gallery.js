// The gallery: filters built from /api/facets, a page of thumbnails, a pager. Every
// change goes into the URL first and the page is drawn from the URL.
import { element, fixed, galleryQuery, get, navigate } from './api.js';

const SORTS = [['date', 'date made'], ['score', 'match score'], ['margin', 'margin (weakest axis)'], ['seed', 'seed'], ['uncertain', 'least certain first']];
const PAGE = 60;

function changeQuery(edit) {
  const params = galleryQuery();
  edit(params);
  params.delete('offset');
  navigate(params);
}

/** axis/value pairs in the URL, as a Set of `axis\u0000value`. */
function chosenPairs(params) {
  const axes = params.getAll('axis');
  const values = params.getAll('value');
  return new Set(axes.map((a, i) => `${a}\u0000${values[i]}`));
}

function togglePair(axis, value, on) {
  changeQuery((params) => {
    const pairs = [...chosenPairs(params)].filter((p) => p !== `${axis}\u0000${value}`);
    if (on) pairs.push(`${axis}\u0000${value}`);
    params.delete('axis');
    params.delete('value');
    for (const pair of pairs) {
      const [a, v] = pair.split('\u0000');
      params.append('axis', a);
      params.append('value', v);
    }
  });
}

function toggleList(name, value, on) {
  changeQuery((params) => {
    const kept = params.getAll(name).filter((v) => v !== value);
    params.delete(name);
    for (const v of on ? [...kept, value] : kept) params.append(name, v);
  });
}

const setOrDelete = (name, value) => changeQuery((params) => (value === '' || value === null ? params.delete(name) : params.set(name, value)));

function checkbox(label, checked, onchange, count, testId) {
  return element('label', { class: 'check' },
    element('input', { type: 'checkbox', checked, 'data-filter': testId, onchange: (e) => onchange(e.target.checked) }),
    element('span', {}, label), count === undefined ? null : element('small', {}, String(count)));
}

function sortControls(params) {
  const sort = params.get('sort') ?? 'date';
  return element('fieldset', {}, element('legend', {}, 'Sort'),
    element('select', { id: 'sort', onchange: (e) => setOrDelete('sort', e.target.value) },
      SORTS.map(([value, text]) => element('option', { value, selected: value === sort }, text))),
    element('select', { id: 'order', onchange: (e) => setOrDelete('order', e.target.value) },
      [['', 'default order'], ['desc', 'descending'], ['asc', 'ascending']].map(([value, text]) => element('option', { value, selected: (params.get('order') ?? '') === value }, text))));
}

function rangeControls(params, legend, low, high, attributes) {
  const input = (name, placeholder) => element('input', {
    ...attributes, id: name, placeholder, value: params.get(name) ?? undefined,
    onchange: (e) => setOrDelete(name, e.target.value),
  });
  return element('fieldset', {}, element('legend', {}, legend), element('div', { class: 'range' }, input(low, 'min'), '–', input(high, 'max')));
}

const scoreControls = (params) => rangeControls(params, 'Match score', 'min_score', 'max_score', { type: 'number', min: 0, max: 1, step: 0.05 });
const marginControls = (params) => rangeControls(params, 'Margin (weakest axis)', 'min_margin', 'max_margin', { type: 'number', min: -1, max: 1, step: 0.05 });

function dateControls(params, days) {
  const input = (name, label) => element('label', { class: 'date' }, element('span', {}, label), element('input', {
    type: 'date', id: name, value: params.get(name) ?? undefined, min: days?.first ?? undefined, max: days?.last ?? undefined,
    onchange: (e) => setOrDelete(name, e.target.value),
  }));
  return element('fieldset', {}, element('legend', {}, 'Date made'), input('from', 'from'), input('to', 'to'));
}

/** A facet people pick several values of (ORed): models, LoRAs, themes, tags. Hidden when there is nothing to pick. */
function listFacet(params, legend, name, values) {
  if (!values?.length) return null;
  const chosen = new Set(params.getAll(name));
  return element('fieldset', {}, element('legend', {}, legend),
    values.map((v) => checkbox(v.value, chosen.has(v.value), (on) => toggleList(name, v.value, on), v.n, `${name}:${v.value}`)));
}

function reviewControls(params) {
  const labelled = params.get('labelled') ?? '';
  return element('fieldset', {}, element('legend', {}, 'Review'),
    element('select', { id: 'labelled', onchange: (e) => setOrDelete('labelled', e.target.value) },
      [['', 'labelled or not'], ['false', 'unlabelled'], ['true', 'labelled']].map(([value, text]) => element('option', { value, selected: labelled === value }, text))),
    checkbox('favourites only', params.get('favourite') === 'true', (on) => setOrDelete('favourite', on ? 'true' : ''), undefined, 'favourite'),
    element('select', { id: 'flagged', onchange: (e) => setOrDelete('flagged', e.target.value) },
      [['', 'flagged or not'], ['true', 'flagged by the quality checks'], ['false', 'not flagged']].map(([value, text]) => element('option', { value, selected: (params.get('flagged') ?? '') === value }, text))));
}

export function renderFilters(container, facets) {
  const params = galleryQuery();
  const pairs = chosenPairs(params);
  const verdicts = new Set(params.getAll('verdict'));
  const sessions = new Set(params.getAll('session'));
  const controls = [
    sortControls(params),
    element('fieldset', {}, element('legend', {}, 'Verdict'),
      facets.verdicts.map((v) => checkbox(v.verdict, verdicts.has(v.verdict), (on) => toggleList('verdict', v.verdict, on), v.n, `verdict:${v.verdict}`))),
    scoreControls(params),
    marginControls(params),
    reviewControls(params),
    listFacet(params, 'Tags', 'tag', facets.tags),
    dateControls(params, facets.days),
    listFacet(params, 'Model', 'model', facets.models),
    listFacet(params, 'LoRA', 'lora', facets.loras),
    listFacet(params, 'Theme', 'theme', facets.themes),
    element('fieldset', {}, element('legend', {}, 'Session'),
      facets.sessions.map((s) => checkbox(s.session, sessions.has(s.session), (on) => toggleList('session', s.session, on), s.n, `session:${s.session}`))),
    ...facets.axes.map((a) => element('details', { class: 'axis', open: a.values.some((v) => pairs.has(`${a.axis}\u0000${v.value}`)) },
      element('summary', {}, a.axis),
      a.values.map((v) => checkbox(v.text ?? v.value, pairs.has(`${a.axis}\u0000${v.value}`), (on) => togglePair(a.axis, v.value, on), v.n, `${a.axis}=${v.value}`)))),
    element('button', { type: 'button', class: 'link', onclick: () => navigate(new URLSearchParams()) }, 'clear all filters'),
  ];
  container.replaceChildren(...controls.filter(Boolean));
}

function card(item, params) {
  const open = new URLSearchParams(params);
  open.set('image', item.image_id);
  const labelled = item.axes.some((a) => a.label !== null) || item.rejected;
  return element('a', { class: `card verdict-${item.verdict ?? 'none'}${item.rejected ? ' rejected' : ''}`, href: `/?${open}`, 'data-id': item.image_id,
    onclick: (e) => { e.preventDefault(); navigate(open); } },
  element('img', { src: item.thumb_url, alt: item.prompt, loading: 'lazy', width: 160, height: 160 }),
  element('div', { class: 'meta' },
    element('span', { class: 'badge' }, item.verdict ?? '?'),
    element('span', { title: 'match score' }, fixed(item.match_score)),
    params.get('sort') === 'margin' ? element('span', { class: 'margin', title: 'margin of the weakest axis' }, `m ${fixed(item.margin)}`) : null,
    item.favourite ? element('span', { class: 'fav', title: 'favourite' }, '★') : null,
    labelled ? element('span', { class: 'labelled', title: 'labelled by a person' }, '✓') : null),
  element('div', { class: 'session' }, item.session),
  item.tags.length ? element('div', { class: 'tags' }, item.tags.map((t) => element('span', { class: 'tag' }, t))) : null);
}

function pager(container, total, offset, limit) {
  const go = (to) => {
    const params = galleryQuery();
    if (to > 0) params.set('offset', String(to));
    else params.delete('offset');
    navigate(params);
  };
  container.replaceChildren(
    element('button', { type: 'button', id: 'prev-page', disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) }, '← previous'),
    element('span', {}, total ? `${offset + 1}–${Math.min(total, offset + limit)} of ${total}` : 'nothing'),
    element('button', { type: 'button', id: 'next-page', disabled: offset + limit >= total, onclick: () => go(offset + limit) }, 'next →'),
  );
  return go;
}

let pageKeys = null;

export async function renderGallery(root) {
  const params = galleryQuery();
  const offset = Number(params.get('offset') ?? 0);
  const limit = Number(params.get('limit') ?? PAGE);
  const started = performance.now();
  const page = await get(`/api/images?${params}`);
  root.querySelector('#summary').textContent = `${page.total} image${page.total === 1 ? '' : 's'} (${Math.round(performance.now() - started)} ms)`;
  root.querySelector('#summary').dataset.total = String(page.total);
  root.querySelector('#grid').replaceChildren(...page.items.map((item) => card(item, params)));
  const go = pager(root.querySelector('#pager'), page.total, offset, limit);
  pageKeys = { next: () => offset + limit < page.total && go(offset + limit), prev: () => offset > 0 && go(Math.max(0, offset - limit)) };
}

/** Cards in a row: those sharing the first card's top edge. */
function perRow(cards) {
  const top = cards[0]?.offsetTop;
  return Math.max(1, cards.filter((c) => c.offsetTop === top).length);
}

/** Arrow keys move the focus over the cards (Enter opens one); n and p turn pages. */
function moveFocus(key) {
  const cards = [...document.querySelectorAll('#grid .card')];
  if (!cards.length) return false;
  const at = cards.indexOf(document.activeElement);
  const step = { ArrowRight: 1, l: 1, ArrowLeft: -1, h: -1, ArrowDown: perRow(cards), ArrowUp: -perRow(cards) }[key];
  if (step === undefined) return false;
  const to = at < 0 ? 0 : Math.min(cards.length - 1, Math.max(0, at + step));
  cards[to].focus();
  return true;
}

export function galleryKey(event) {
  if (!pageKeys) return false;
  if (event.key === 'n') pageKeys.next();
  else if (event.key === 'p') pageKeys.prev();
  else return moveFocus(event.key);
  return true;
}
