// `pipeline api <list>`: what the A1111 server offers (sdgen's `api` commands), asked of
// the first of generate.endpoints or --endpoint, so names in prompt files can be checked.
import { defineCommand, examples } from '../src/command.js';
import { formatRows, outputFormats, type OutputFormat } from '../src/format.js';
import { writeJsonEnvelope } from '../src/json-output.js';
import { listFromServer, listKinds, type ListKind } from '../adapters/a1111-lists.js';

type ApiOptions = {
  endpoint?: string;
  format: OutputFormat;
  json?: boolean;
};

/** --endpoint, else the project's first generate.endpoints, else A1111's default address. */
function endpointOf(options: ApiOptions, params: Record<string, unknown>): string {
  const endpoints = (params.generate as { endpoints?: unknown } | undefined)?.endpoints;
  return options.endpoint ?? (Array.isArray(endpoints) && typeof endpoints[0] === 'string' ? endpoints[0] : 'http://127.0.0.1:7860');
}

export default defineCommand<ApiOptions>({
  name: 'api',
  summary: "list the A1111 server's samplers, schedulers, models, upscalers, LoRAs, ADetailer and ControlNet models",
  standalone: true,
  configure(cli) {
    cli
      .addArgument(cli.createArgument('<list>', 'what to list').choices(listKinds))
      .option('--endpoint <url>', 'the server (default: the first of generate.endpoints)')
      .addOption(cli.createOption('--format <format>', 'how to print the list').choices(outputFormats).default('table'))
      .option('--json', 'print the list in the JSON envelope every command prints with --json')
      .addHelpText('after', examples('pipeline api samplers', 'pipeline api models --endpoint http://gpu-box:7860', 'pipeline api adetailer-models --format json'));
  },
  async run({ args: [kind], options }, ctx) {
    const rows = await listFromServer(endpointOf(options, ctx.params), kind as ListKind);
    if (options.json) return writeJsonEnvelope('api', 0, { list: kind, rows }, ctx.stdout);
    ctx.stdout(formatRows(rows, options.format));
    return 0;
  },
});
