import { afterEach, describe, expect, it } from 'vitest';
import { askYesNo, chatRequest, readYesNo, VisionEndpointError, type VisionEndpoint } from '../../adapters/openai-vision.js';
import { hashBytes } from '../../src/hash.js';
import { startVisionStandIn, type VisionFault, type VisionStandIn } from '../standins/vision-server.js';

const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
const truth = new Map([[hashBytes(png), ['red hair']]]);
let server: VisionStandIn | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const endpoint = (url: string, over: Partial<VisionEndpoint> = {}): VisionEndpoint => ({ endpoint: url, model: 'standin-vl', timeoutMs: 500, retries: 2, backoffMs: 10, ...over });
const start = (logprobs: boolean, fault?: (n: number) => VisionFault) => startVisionStandIn({ truth, logprobs, fault, slowMs: 1500 }).then((s) => (server = s));

describe('OpenAI-compatible vision chat', () => {
  it('sends the image as a PNG data URL beside the question and asks for log-probabilities', () => {
    const body = chatRequest('m', 'Does this image show red hair?', png);
    expect(body.messages[0].content[0]).toEqual({ type: 'image_url', image_url: { url: `data:image/png;base64,${Buffer.from(png).toString('base64')}` } });
    expect(body).toMatchObject({ model: 'm', max_tokens: 1, temperature: 0, logprobs: true });
  });

  it("reads P(yes) from the first token's yes and no alternatives, else from the text", () => {
    const top = [{ token: ' Yes', logprob: Math.log(0.6) }, { token: 'no', logprob: Math.log(0.2) }, { token: 'maybe', logprob: Math.log(0.2) }];
    expect(readYesNo({ choices: [{ message: { content: 'Yes' }, logprobs: { content: [{ top_logprobs: top }] } }] }).p_yes).toBeCloseTo(0.75, 10);
    expect(readYesNo({ choices: [{ message: { content: 'No.' } }] })).toEqual({ p_yes: 0, source: 'text' });
    expect(readYesNo({ choices: [{ message: { content: 'yes' }, logprobs: null }] })).toEqual({ p_yes: 1, source: 'text' });
    expect(readYesNo({ choices: [{ message: { content: 'Perhaps' } }] })).toEqual({ p_yes: 0.5, source: 'text' });
  });

  it('asks the stand-in, with and without log-probabilities', async () => {
    await start(true);
    expect(await askYesNo(endpoint(server!.url), 'Does this image show red hair?', png)).toEqual({ p_yes: expect.closeTo(0.9, 10), source: 'logprobs' });
    expect((await askYesNo(endpoint(server!.url), 'Does this image show blonde hair?', png)).p_yes).toBeCloseTo(0.1, 10);
    await server!.close();
    await start(false);
    expect(await askYesNo(endpoint(server!.url), 'Does this image show red hair?', png)).toEqual({ p_yes: 1, source: 'text' });
  });

  it('retries 500s and answers that come after the timeout, then answers', async () => {
    await start(true, (n) => (n === 0 ? 'error500' : n === 1 ? 'slow' : 'ok'));
    const got = await askYesNo(endpoint(server!.url), 'Does this image show red hair?', png);
    expect(got.source).toBe('logprobs');
    expect(server!.requests).toBe(3);
  });

  it('is a clear error when every try fails, when nothing listens, and at once on a 4xx', async () => {
    await start(true, () => 'error500');
    await expect(askYesNo(endpoint(server!.url), 'Does this image show red hair?', png)).rejects.toThrow(
      /^the vision endpoint http:\/\/127\.0\.0\.1:\d+\/v1 did not answer: HTTP 500: .*CUDA out of memory.* \(after 3 tries\)$/,
    );
    const url = server!.url;
    await server!.close();
    server = undefined;
    await expect(askYesNo(endpoint(url, { retries: 1 }), 'q', png)).rejects.toThrow(/did not answer: ECONNREFUSED \(after 2 tries\)/);
    await start(true);
    const unknown = askYesNo(endpoint(server!.url), 'Does this image show red hair?', Uint8Array.from([1, 2]));
    await expect(unknown).rejects.toBeInstanceOf(VisionEndpointError);
    expect(server!.requests).toBe(1);
  });
});
