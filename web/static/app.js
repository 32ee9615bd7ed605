// The review app's entry: draws the view the URL names (gallery, image, sessions) and
// routes keys to it. Plain ES modules served as they are: nothing to build.
import { element, fixed, get, patch, say } from './api.js';
import { galleryKey, renderFilters, renderGallery } from './gallery.js';
import { renderViewer, setViewerContext, viewerKey } from './viewer.js';

const $ = (id) => document.getElementById(id);
let facets = null;
let readOnly = false;

function sessionRow(s) {
  const rating = element('select', { 'aria-label': `rating of ${s.session}`, disabled: readOnly },
    ['', '1', '2', '3', '4', '5'].map((v) => element('option', { value: v, selected: String(s.rating ?? '') === v }, v ? '★'.repeat(Number(v)) : 'unrated')));
  const flags = element('input', { type: 'text', value: s.flags.join(', '), placeholder: 'flags, comma separated', disabled: readOnly });
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
  return element('tr', {},
    element('th', {}, element('a', { href: `/?session=${encodeURIComponent(s.session)}` }, s.session)),
    [s.planned, s.made, s.failed, s.blank].map((n) => element('td', { class: 'num' }, String(n))),
    element('td', { class: 'num' }, fixed(s.mean_match)),
    element('td', {}, rating), element('td', {}, flags), element('td', {}, note),
    element('td', {}, element('button', { type: 'button', disabled: readOnly, onclick: save }, 'save')));
}

async function renderSessions() {
  const sessions = await get('/api/sessions');
  $('sessions').replaceChildren(element('h2', {}, 'Sessions'), element('table', { class: 'sessions' },
    element('thead', {}, element('tr', {}, ['session', 'planned', 'made', 'failed', 'blank', 'mean match', 'rating', 'flags', 'note', ''].map((h) => element('th', {}, h)))),
    element('tbody', {}, sessions.map(sessionRow))));
}

function show(name) {
  for (const id of ['gallery', 'viewer', 'sessions']) $(id).hidden = id !== name;
  $('filters').hidden = name === 'sessions';
}

async function draw() {
  const params = new URLSearchParams(location.search);
  try {
    if (params.get('view') === 'sessions') {
      show('sessions');
      await renderSessions();
      return;
    }
    renderFilters($('filters'), facets);
    const image = params.get('image');
    show(image ? 'viewer' : 'gallery');
    if (image) await renderViewer(image);
    else await renderGallery($('gallery'));
  } catch (error) {
    say(error.message, 'error');
  }
}

function onKey(event) {
  if (event.target.closest?.('input, textarea, select') || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === '?') {
    $('help').showModal();
    return;
  }
  const handled = $('viewer').hidden ? !$('gallery').hidden && galleryKey(event) : viewerKey(event);
  if (handled) event.preventDefault();
}

async function start() {
  try {
    [facets, { read_only: readOnly }] = await Promise.all([get('/api/facets'), get('/api/config')]);
  } catch (error) {
    say(error.message, 'error');
    return;
  }
  setViewerContext({ facets, readOnly });
  if (readOnly) say('read-only');
  $('help-button').addEventListener('click', () => $('help').showModal());
  window.addEventListener('popstate', draw);
  window.addEventListener('sdloop:navigate', draw);
  document.addEventListener('keydown', onKey);
  await draw();
}

start();
