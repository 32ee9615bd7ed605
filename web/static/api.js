// The JSON API, and the page's URL as the one place filter state lives (bookmarkable).

async function send(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error ?? `${response.status} ${response.statusText}`);
  return data;
}

export const get = (path) => send('GET', path);
export const post = (path, body) => send('POST', path, body);
export const patch = (path, body) => send('PATCH', path, body);

/** The gallery's query: everything in the URL but the open image and the view. */
export function galleryQuery(search = location.search) {
  const params = new URLSearchParams(search);
  params.delete('image');
  params.delete('view');
  return params;
}

export function navigate(params, { replace = false } = {}) {
  const text = params.toString();
  const url = text ? `/?${text}` : '/';
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  window.dispatchEvent(new Event('sdloop:navigate'));
}

export function say(text, kind = 'info') {
  const status = document.getElementById('status');
  status.textContent = text;
  status.dataset.kind = kind;
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    // through the CSSOM: the page's CSP refuses style attributes
    else if (key === 'style') Object.assign(node.style, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

export const percent = (x) => (x === null || x === undefined ? '–' : `${Math.round(x * 100)}%`);
export const fixed = (x) => (x === null || x === undefined ? '–' : Number(x).toFixed(2));
