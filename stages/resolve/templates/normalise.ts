// sdgen's prompt clean-up, step by step as spec/templates.md lists it, so that the prompts
// we plan are the same strings sdgen would have sent.

export function normalisePrompt(text: string): string {
  let s = text.replace(/,(\s*,)+/g, ',');
  // [^\S\n] is whitespace within a line: these act per line, in one pass over the text.
  if (s.includes('\n')) s = s.replace(/^[^\S\n]*,?[^\S\n]*$/gm, '');
  s = s.replace(/^\s*,\s*/, '');
  // `\s*,\s*$` as a regex backtracks from every space: trim, then drop one trailing comma.
  s = s.trimEnd();
  if (s.endsWith(',')) s = s.slice(0, -1).trimEnd();
  s = s.replace(/\s+,/g, ',').replace(/,(?![\n ])/g, ', ').replace(/, {2,}/g, ', ');
  if (s.includes('\n')) s = s.replace(/^[^\S\n]+|[^\S\n]+$/gm, '').replace(/\n{3,}/g, '\n\n');
  return s.trim();
}

/** What the backend receives: newlines become `, `, then normalised again. */
export function flattenForApi(normalised: string): string {
  return normalised.includes('\n') ? normalisePrompt(normalised.replace(/\r?\n/g, ', ')) : normalised;
}
