// `pipeline serve`: the local review web app (web/). It reads files only (through its own
// in-memory DuckDB), so it starts and answers while a `pipeline run` holds the state database.
import { defineCommand, parseCommandArgs } from '../src/command.js';
import { InputError } from '../src/errors.js';
import { startServer } from '../web/server.js';

const USAGE = 'pipeline serve [--port N] [--host H] [--token T] [--read-only]';

function parseOptions(args: string[]) {
  const { values } = parseCommandArgs({
    args,
    options: { port: { type: 'string', default: '8017' }, host: { type: 'string', default: '127.0.0.1' }, token: { type: 'string' }, 'read-only': { type: 'boolean', default: false } },
  }, USAGE);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InputError(`--port expects 0-65535 (0 picks a free port), got '${values.port}'`, { field: '--port' });
  return { port, host: values.host, token: values.token, readOnly: values['read-only'] };
}

const serveCommand = defineCommand({
  name: 'serve',
  summary: 'A local web app to review images: gallery, filters, keyboard labelling, sessions',
  usage: USAGE,
  reads: 'files',
  async run(args, ctx) {
    const options = parseOptions(args);
    const server = await startServer(ctx.projectDir, options).catch((error: Error) => {
      throw new InputError(error.message, { field: options.host === '127.0.0.1' ? '--port' : '--host' });
    });
    const link = options.token ? `${server.url}?token=${encodeURIComponent(options.token)}` : server.url;
    ctx.stdout(`${options.readOnly ? 'read-only; ' : ''}Ctrl-C stops the server\n${link}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return 0;
  },
});

export default [serveCommand];
