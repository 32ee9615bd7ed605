// `pipeline serve`: the local review web app (web/). It reads files only (through its own
// in-memory DuckDB), so it starts and answers while a `pipeline run` holds the state database.
import { InvalidArgumentError } from 'commander';
import { defineCommand, examples } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { startServer } from '../web/server.js';
import { writeJsonEnvelopeLine } from '../src/json-output.js';

interface ServeOptions {
  port: number;
  host: string;
  token?: string;
  readOnly?: boolean;
  json?: boolean;
}

function portNumber(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('expected 0-65535 (0 picks a free port)');
  return port;
}

export default defineCommand<ServeOptions>({
  name: 'serve',
  summary: 'a local web app to review images: gallery, filters, keyboard labelling, sessions',
  reads: 'files',
  configure(cli) {
    cli
      .option('--port <n>', 'the port to listen on (0 picks a free one)', portNumber, 8017)
      .option('--host <host>', 'the address to bind; anything but loopback needs --token or --read-only', '127.0.0.1')
      .option('--token <token>', 'require this token on every request (header, or the cookie the printed link sets)')
      .option('--read-only', 'refuse every write (labels, favourites, session notes)')
      .option('--json', 'print one JSON line once listening (url, port, host, link, read_only); the rest goes to stderr')
      .addHelpText('after', examples('pipeline serve', 'pipeline serve --port 0', 'pipeline serve --port 0 --json', 'pipeline serve --host 0.0.0.0 --token "$(openssl rand -hex 16)"'));
  },
  async run({ options }, ctx) {
    const settings = { port: options.port, host: options.host, token: options.token, readOnly: options.readOnly ?? false };
    const server = await startServer(ctx.projectDir, settings).catch((error: Error) => {
      throw new InputError(error.message, { field: settings.host === '127.0.0.1' ? '--port' : '--host' });
    });
    const link = settings.token ? `${server.url}?token=${encodeURIComponent(settings.token)}` : server.url;
    if (options.json) {
      const port = Number(new URL(server.url).port);
      writeJsonEnvelopeLine('serve', 0, { url: server.url, port, host: settings.host, link, read_only: settings.readOnly, token_required: Boolean(settings.token) }, ctx.stdout);
      ctx.stderr(`${settings.readOnly ? 'read-only; ' : ''}Ctrl-C stops the server\n`);
    } else {
      ctx.stdout(`${settings.readOnly ? 'read-only; ' : ''}Ctrl-C stops the server\n${link}\n`);
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return 0;
  },
});
