// `pipeline themes list|show|check|new` (sdgen's `theme` commands): which themes there
// are, what one holds, how it covers a template, and a new one scaffolded from a template.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { defineCommand, examples } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { formatRows } from '../src/format.js';
import { writeJsonEnvelope } from '../src/json-output.js';
import { TemplateLoader } from '../stages/resolve/templates/loader.js';
import { scaffoldTheme } from '../stages/resolve/templates/theme-scaffold.js';
import {
  checkTheme, readTheme, templateChain, themeFilesUnder, themesOfChain, type ThemeInfo,
} from '../stages/resolve/templates/theme-info.js';

type ThemesOptions = {
  template?: string;
  compact?: boolean;
  tag?: string;
  style: string;
  from?: string;
  json?: boolean;
};

const actions = ['list', 'show', 'check', 'new'] as const;

/** The themes a template reaches, or every theme.yaml under the project (sdgen: configs_dir/themes). */
function findThemes(projectDir: string, template: string | undefined): ThemeInfo[] {
  if (template) {
    const loader = new TemplateLoader(dirname(resolve(template)));
    return [...themesOfChain(loader, templateChain(loader, template)).values()].map((p) => readTheme(loader, p));
  }
  return themeFilesUnder(projectDir).map((p) => readTheme(new TemplateLoader(dirname(p)), p));
}

function themeNamed(projectDir: string, name: string, template: string | undefined): ThemeInfo {
  const all = findThemes(projectDir, template);
  const found = all.find((t) => t.name === name);
  if (!found) throw new InputError(`unknown theme "${name}"; available themes: ${all.map((t) => t.name).join(', ') || '(none)'}`, { field: 'name' });
  return found;
}

function list(projectDir: string, options: ThemesOptions, out: (t: string) => void): number {
  const themes = findThemes(projectDir, options.template).filter((t) => !options.tag || t.tags.includes(options.tag));
  if (options.json) return writeJsonEnvelope('themes', 0, { action: 'list', themes }, out);
  if (options.compact) out(themes.map((t) => `${t.name}\n`).join(''));
  else {
    out(formatRows(themes.map((t) => ({
      name: t.name, styles: ['default', ...t.styles].join(', '), tags: t.tags.join(', '), description: t.description, path: relative(process.cwd(), t.path),
    })), 'table'));
  }
  return 0;
}

function show(theme: ThemeInfo, json: boolean, out: (t: string) => void): number {
  if (json) return writeJsonEnvelope('themes', 0, { action: 'show', theme }, out);
  out(`${theme.name}\n  path: ${theme.path}\n  description: ${theme.description || '-'}\n  tags: ${theme.tags.join(', ') || '-'}\n  styles: ${['default', ...theme.styles].join(', ')}\n`);
  out(formatRows(Object.entries(theme.imports).map(([placeholder, file]) => ({ placeholder, file })), 'table'));
  return 0;
}

function check(template: string, themeName: string, style: string, json: boolean, out: (t: string) => void): number {
  const loader = new TemplateLoader(dirname(resolve(template)));
  const chain = templateChain(loader, template);
  const path = themesOfChain(loader, chain).get(themeName);
  if (!path) throw themeMissing(themeName, [...themesOfChain(loader, chain).keys()]);
  const coverage = checkTheme(chain, readTheme(loader, path), style);
  const missing = coverage.filter(([, s]) => s === 'missing').map(([p]) => p);
  if (json) return writeJsonEnvelope('themes', missing.length ? 1 : 0, { action: 'check', coverage: coverage.map(([placeholder, status]) => ({ placeholder, status })), missing }, out);
  out(formatRows(coverage.map(([placeholder, status]) => ({ placeholder, status })), 'table'));
  const count = (s: string) => coverage.filter(([, c]) => c === s).length;
  out(missing.length ? `missing: ${missing.join(', ')} (no import in the theme or the template)\n` : `ok: ${count('provided')} provided, ${count('removed')} removed, ${count('fallback')} from the template\n`);
  return missing.length ? 1 : 0;
}

const themeMissing = (name: string, known: string[]) => new InputError(`unknown theme "${name}"; available themes: ${known.join(', ') || '(none)'}`, { field: 'theme' });

function scaffold(name: string, options: ThemesOptions, out: (t: string) => void): number {
  if (!options.template) throw new InputError('themes new needs --template (the template whose placeholders the theme fills)', { field: '--template' });
  const loader = new TemplateLoader(dirname(resolve(options.template)));
  const { files } = scaffoldTheme(loader, templateChain(loader, options.template), name, options.from ?? null);
  if (existsSync(files[0]!.path)) throw new InputError(`theme ${name} exists (${files[0]!.path}); nothing written`, { field: 'name' });
  // Never overwrite: a theme someone already edited is theirs.
  const kept = files.filter((file) => existsSync(file.path)).map((file) => file.path);
  for (const file of files.filter((f) => !kept.includes(f.path))) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.text, { flag: 'wx' });
  }
  if (options.json) return writeJsonEnvelope('themes', 0, { action: 'new', written: files.map((f) => f.path).filter((p) => !kept.includes(p)), kept }, out);
  for (const { path } of files) out(kept.includes(path) ? `kept ${path} (exists)\n` : `wrote ${path}\n`);
  return 0;
}

export default defineCommand<ThemesOptions>({
  name: 'themes',
  summary: 'list, show, check and scaffold themes',
  standalone: true,
  configure(cli) {
    cli
      .addArgument(cli.createArgument('<action>', 'list | show NAME | check TEMPLATE THEME | new NAME').choices(actions))
      .argument('[names...]', 'the theme name, or the template and theme for check')
      .option('--template <file>', 'list: the themes this template reaches; new: the template to scaffold for')
      .option('--compact', 'list: names only, one per line')
      .option('--tag <tag>', 'list: only themes tagged so (theme.yaml tags:)')
      .option('--style <style>', 'check: the style to check', 'default')
      .option('--from <theme>', 'new: start from this theme\'s values instead of the template\'s')
      .option('--json', 'print the answer (themes, one theme, the coverage, the files written) as JSON')
      .addHelpText('after', examples(
        'pipeline themes list --template data/templates/character.template.yaml',
        'pipeline themes show cyberpunk',
        'pipeline themes check data/templates/character.template.yaml fantasy --style cartoon',
        'pipeline themes new noir --template data/templates/character.template.yaml --from cyberpunk',
      ));
  },
  async run({ args: [action, ...names], options }, ctx) {
    const need = (n: number, usage: string) => {
      if (names.length !== n) throw new InputError(`usage: pipeline themes ${usage}`, { field: 'arguments' });
    };
    switch (action) {
      case 'list':
        need(0, 'list [--template T] [--compact] [--tag X]');
        return list(ctx.projectDir, options, ctx.stdout);
      case 'show':
        need(1, 'show NAME [--template T]');
        return show(themeNamed(ctx.projectDir, names[0]!, options.template), Boolean(options.json), ctx.stdout);
      case 'check':
        need(2, 'check TEMPLATE THEME [--style S]');
        return check(names[0]!, names[1]!, options.style, Boolean(options.json), ctx.stdout);
      default:
        need(1, 'new NAME --template T [--from THEME]');
        return scaffold(names[0]!, options, ctx.stdout);
    }
  },
});
