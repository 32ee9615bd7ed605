// The text cleaning OpenAI's CLIP tokenizer does before BPE (simple_tokenizer.py:
// `whitespace_clean(basic_clean(text)).lower()`, basic_clean being ftfy.fix_text, then
// html.unescape twice). The ftfy fixers that change prompts are reproduced here with
// ftfy's own tables: curly quotes, Latin ligatures, fullwidth and halfwidth forms, control
// characters, HTML entities. ftfy's mojibake repair (fix_encoding) is not: it guesses
// at a wrong decoding, and a prompt typed into a UI has none.

// ftfy's SINGLE_QUOTE_RE and DOUBLE_QUOTE_RE.
const SINGLE_QUOTES = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTES = /[\u201c-\u201f]/g;

// ftfy's LIGATURES: Latin ones only; full NFKC would also rewrite superscripts and the like, which ftfy keeps.
const LIGATURES: Record<string, string> = {
  'Ĳ': 'IJ', 'ĳ': 'ij', 'ŉ': 'ʼn', 'Ǳ': 'DZ', 'ǲ': 'Dz', 'ǳ': 'dz', 'Ǆ': 'DŽ', 'ǅ': 'Dž', 'ǆ': 'dž',
  'Ǉ': 'LJ', 'ǈ': 'Lj', 'ǉ': 'lj', 'Ǌ': 'NJ', 'ǋ': 'Nj', 'ǌ': 'nj',
  'ﬀ': 'ff', 'ﬁ': 'fi', 'ﬂ': 'fl', 'ﬃ': 'ffi', 'ﬄ': 'ffl', 'ﬅ': 'ſt', 'ﬆ': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');

/** ftfy's WIDTH_MAP: U+FF01..U+FFEF to their NFKC forms, and the ideographic space to a space. */
const WIDTH_MAP: Map<string, string> = (() => {
  const map = new Map<string, string>([['\u3000', ' ']]);
  for (let cp = 0xff01; cp < 0xfff0; cp++) {
    const ch = String.fromCodePoint(cp);
    const alt = ch.normalize('NFKC');
    if (alt !== ch) map.set(ch, alt);
  }
  return map;
})();
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;

// ftfy's CONTROL_CHARS (remove_control_chars): C0 controls but tab/newline/CR/FF,
// DEL, deprecated format characters, the BOM, interlinear annotation, musical and tag characters.
const CONTROL_RE = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\u206a-\u206f\ufeff\ufff9-\ufffc\u{1d173}-\u{1d17a}\u{e0000}-\u{e007f}]/gu;

// The named entities prompts carry; others stay as typed. Python's html.unescape accepts
// the first five without their semicolon too (HTML5's legacy entities).
const ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', nbsp: '\u00a0', apos: "'",
  copy: '©', reg: '®', trade: '™', hellip: '…', mdash: '—', ndash: '–', middot: '·', deg: '°', times: '×',
  lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«', raquo: '»',
};
const LEGACY = new Set(['amp', 'lt', 'gt', 'quot', 'nbsp', 'copy', 'reg', 'deg', 'times', 'middot', 'laquo', 'raquo']);
const ENTITY_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;?)/g;

function numericEntity(code: number): string {
  // html.unescape turns invalid code points into U+FFFD; NUL likewise.
  if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd';
  return String.fromCodePoint(code);
}

/** One pass of Python's html.unescape over the entities above and every numeric one. */
export function unescapeHtml(text: string): string {
  return text.replace(ENTITY_RE, (whole, body: string) => {
    if (body.startsWith('#')) {
      const digits = body.replace(/;$/, '').slice(1);
      const code = digits[0] === 'x' || digits[0] === 'X' ? parseInt(digits.slice(1), 16) : parseInt(digits, 10);
      return numericEntity(code);
    }
    const terminated = body.endsWith(';');
    const name = terminated ? body.slice(0, -1) : body;
    if (terminated && name in ENTITIES) return ENTITIES[name];
    // Without a semicolon, the longest legacy name at the start counts, as in Python.
    for (let n = name.length; n > 0 && !terminated; n--) {
      if (LEGACY.has(name.slice(0, n))) return ENTITIES[name.slice(0, n)] + body.slice(n);
    }
    return whole;
  });
}

/** The part of ftfy.fix_text (default config) that applies to typed prompts. */
export function fixText(text: string): string {
  // ftfy's unescape_html="auto" leaves text holding a "<" alone: it may be real HTML.
  let out = text.includes('<') ? text : unescapeHtml(text);
  out = out.replace(CONTROL_RE, '');
  out = out.replace(LIGATURE_RE, (ch) => LIGATURES[ch]);
  out = out.replace(WIDTH_RE, (ch) => WIDTH_MAP.get(ch) ?? ch);
  out = out.replace(SINGLE_QUOTES, "'").replace(DOUBLE_QUOTES, '"');
  out = out.replace(/\r\n|[\r\u2028\u2029\u0085]/g, '\n');
  return out.normalize('NFC');
}

/** simple_tokenizer.py's cleaning: ftfy, html.unescape twice, whitespace collapsed, lower-cased. */
export function cleanClipText(text: string): string {
  const basic = unescapeHtml(unescapeHtml(fixText(text))).trim();
  return basic.replace(/\s+/gu, ' ').trim().toLowerCase();
}
