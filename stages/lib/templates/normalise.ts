// sdgen's prompt clean-up, step by step as spec/templates.md lists it, so that the prompts
// we plan are the same strings sdgen would have sent.

export function normalisePrompt(text: string): string {
  let s = text.replace(/,(\s*,)+/g, ',');
  if (s.includes('\n')) s = s.split('\n').map((line) => (/^\s*,?\s*$/.test(line) ? '' : line)).join('\n');
  s = s.replace(/^\s*,\s*/, '');
  // `\s*,\s*$` as a regex backtracks from every space: trim, then drop one trailing comma.
  s = s.trimEnd();
  if (s.endsWith(',')) s = s.slice(0, -1).trimEnd();
  s = s.replace(/\s+,/g, ',').replace(/,(?![\n ])/g, ', ').replace(/, {2,}/g, ', ');
  if (s.includes('\n')) s = s.split('\n').map((line) => line.trim()).join('\n').replace(/\n{3,}/g, '\n\n');
  return s.trim();
}

/** What the backend receives: newlines become `, `, then normalised again. */
export function flattenForApi(normalised: string): string {
  return normalised.includes('\n') ? normalisePrompt(normalised.replace(/\r?\n/g, ', ')) : normalised;
}
