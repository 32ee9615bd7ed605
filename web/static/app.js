// The review app's entry: draws the view the URL names (gallery, image, sessions) and
// routes keys to it. Plain ES modules served as they are: nothing to build.
import { get, say } from './api.js';
import { galleryKey, renderFilters, renderGallery } from './gallery.js';
import { renderSessions } from './sessions.js';
import { renderViewer, setViewerContext, viewerKey } from './viewer.js';

const $ = (id) => document.getElementById(id);
let facets = null;
let readOnly = false;

function show(name) {
  for (const id of ['gallery', 'viewer', 'sessions']) $(id).hidden = id !== name;
  $('filters').hidden = name === 'sessions';
}

async function draw() {
  const params = new URLSearchParams(location.search);
  try {
    if (params.get('view') === 'sessions') {
      show('sessions');
      await renderSessions($('sessions'), { readOnly });
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
  // a new tag is a new choice in the gallery's tag filter
  window.addEventListener('sdloop:tags', async () => {
    facets = await get('/api/facets');
  });
  document.addEventListener('keydown', onKey);
  await draw();
}

start();
