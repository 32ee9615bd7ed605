// Tags in the image view: free text, shown as chips; `t` focuses the box, Enter adds what
// it holds (commas separate several), × takes one off. They go to the journal `tags`.
import { element, post, say } from './api.js';

async function setTag(imageId, tag, on) {
  await post('/api/tags', { image_id: imageId, tag, on });
  window.dispatchEvent(new Event('sdloop:tags'));
}

/** The tags row; `reload` redraws the image once a tag was added or removed. */
export function tagEditor(detail, { readOnly, reload }) {
  const change = async (tags, on) => {
    try {
      for (const tag of tags) await setTag(detail.image_id, tag, on);
      say(`${on ? 'tagged' : 'untagged'} ${tags.join(', ')}`);
      await reload();
    } catch (error) {
      say(error.message, 'error');
    }
  };
  const input = element('input', {
    type: 'text', id: 'tag-input', placeholder: readOnly ? 'read-only' : 'add tags (t), Enter saves', disabled: readOnly, autocomplete: 'off',
    onkeydown: (e) => {
      if (e.key === 'Escape') e.target.blur();
      if (e.key !== 'Enter') return;
      e.preventDefault();
      const tags = e.target.value.split(',').map((t) => t.trim()).filter(Boolean);
      if (tags.length) change(tags, true);
    },
  });
  return element('div', { class: 'tag-editor' }, element('strong', {}, 'Tags'),
    detail.tags.map((tag) => element('span', { class: 'tag', 'data-tag': tag }, tag,
      readOnly ? null : element('button', { type: 'button', class: 'untag', title: `remove ${tag}`, onclick: () => change([tag], false) }, '×'))),
    input);
}

export function focusTagInput() {
  const input = document.getElementById('tag-input');
  if (!input || input.disabled) return false;
  input.focus();
  return true;
}
