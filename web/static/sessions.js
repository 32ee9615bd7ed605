// The Sessions page: each session's counts, mean match, verdict and status beside the
// person's rating, flags and note. Sorting (click a column) and filters live in the URL
// (view=sessions&sort=..&verdict=..), so a view of the sessions can be bookmarked too.
import { element, fixed, get, navigate, patch, say } from './api.js';

const COLUMNS = [['session', 'session'], ['planned', 'planned'], ['made', 'made'], ['failed', 'failed'], ['blank', 'blank'], ['flagged', 'flagged'],
  ['mean_match', 'mean match'], ['verdict', 'verdict'], ['status', 'status'], ['rating', 'rating']];
const FILTERS = ['name', 'verdict', 'status', 'flag', 'min_rating'];

function sessionParams() {
  const params = new URLSearchParams(location.search);
  params.delete('view');
  return params;
}

function go(edit) {
  const params = sessionParams();
  edit(params);
  params.set('view', 'sessions');
  navigate(params, { replace: true });
}

const setOrDelete = (name, value) => go((p) => (value === '' ? p.delete(name) : p.set(name, value)));

function sessionRow(s, readOnly) {
  const rating = element('select', { 'aria-label': `rating of ${s.session}`, disabled: readOnly },
    ['', '1', '2', '3', '4', '5'].map((v) => element('option', { value: v, selected: String(s.rating ?? '') === v }, v ? '★'.repeat(Number(v)) : 'unrated')));
  const flags = element('input', { type: 'text', value: s.flags.join(', '), placeholder: 'favourite, test, complete…', disabled: readOnly });
  const note = element('textarea', { rows: 1, placeholder: 'note', disabled: readOnly }, s.note);
  const save = async () => {
    try {
      await patch(`/api/sessions/${encodeURIComponent(s.session)}`, {
        rating: rating.value === '' ? null : Number(rating.value),
        flags: flags.value.split(',').map((f) => f.trim()).filter(Boolean),
        note: note.value,
      });
      say(`saved ${s.session}`);
    } catch (error) {
      say(error.message, 'error');
    }
  };
  return element('tr', { 'data-session': s.session },
    element('th', {}, element('a', { href: `/?session=${encodeURIComponent(s.session)}` }, s.session)),
    [s.planned, s.made, s.failed, s.blank, s.flagged].map((n) => element('td', { class: 'num' }, String(n))),
    element('td', { class: 'num' }, fixed(s.mean_match)),
    element('td', {}, element('span', { class: `verdict-word ${s.verdict ?? ''}` }, s.verdict ?? '–')),
    element('td', {}, s.status ?? '–'),
    element('td', {}, rating), element('td', {}, flags), element('td', {}, note),
    element('td', {}, element('button', { type: 'button', disabled: readOnly, onclick: save }, 'save')));
}

function choice(id, label, current, options) {
  return element('label', {}, element('span', {}, label), element('select', { id, onchange: (e) => setOrDelete(id, e.target.value) },
    options.map(([value, text]) => element('option', { value, selected: current === value }, text))));
}

/** Filters over every session there is (the unfiltered list gives the choices). */
function filterBar(params, all) {
  const distinct = (values) => [...new Set(values)].sort();
  const statuses = distinct(all.flatMap((s) => (s.status ? s.status.split(', ') : [])));
  const flags = distinct(all.flatMap((s) => s.flags));
  return element('div', { class: 'session-filters' },
    element('label', {}, element('span', {}, 'name'), element('input', { type: 'search', id: 'name', value: params.get('name') ?? undefined, placeholder: 'part of the name',
      onchange: (e) => setOrDelete('name', e.target.value.trim()) })),
    choice('verdict', 'verdict', params.get('verdict') ?? '', [['', 'any'], ['complete', 'complete'], ['review', 'review']]),
    choice('status', 'status', params.get('status') ?? '', [['', 'any'], ...statuses.map((s) => [s, s])]),
    choice('flag', 'flag', params.get('flag') ?? '', [['', 'any'], ...flags.map((f) => [f, f])]),
    choice('min_rating', 'rating', params.get('min_rating') ?? '', [['', 'any'], ...['1', '2', '3', '4', '5'].map((r) => [r, `${'★'.repeat(Number(r))} or more`])]),
    FILTERS.some((f) => params.has(f)) ? element('button', { type: 'button', class: 'link', onclick: () => go((p) => FILTERS.forEach((f) => p.delete(f))) }, 'clear filters') : null);
}

function header(params) {
  const sort = params.get('sort') ?? 'session';
  const order = params.get('order');
  const sortBy = (key) => go((p) => {
    // a second click on the sorted column turns the order round
    if (sort === key) p.set('order', order === 'asc' ? 'desc' : 'asc');
    else p.delete('order');
    p.set('sort', key);
  });
  return element('tr', {}, COLUMNS.map(([key, text]) => element('th', { class: `sortable${sort === key ? ' sorted' : ''}`, 'data-sort': key },
    element('button', { type: 'button', class: 'link', onclick: () => sortBy(key) }, text, sort === key ? (order === 'asc' || (!order && ['session', 'verdict', 'status'].includes(key)) ? ' ▲' : ' ▼') : ''))),
  ['flags', 'note', ''].map((h) => element('th', {}, h)));
}

export async function renderSessions(root, { readOnly }) {
  const params = sessionParams();
  const [sessions, all] = await Promise.all([get(`/api/sessions?${params}`), get('/api/sessions')]);
  root.replaceChildren(element('h2', {}, 'Sessions'), filterBar(params, all),
    element('p', { id: 'session-count', class: 'hint', 'data-count': sessions.length }, `${sessions.length} of ${all.length} sessions`),
    element('table', { class: 'sessions' }, element('thead', {}, header(params)), element('tbody', {}, sessions.map((s) => sessionRow(s, readOnly)))));
}
