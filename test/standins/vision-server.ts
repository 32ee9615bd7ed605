// A local stand-in for an OpenAI-compatible vision chat endpoint (POST /v1/chat/completions
// with an image_url data URL), answering yes/no questions from the synthetic world's ground
// truth: what each picture really shows, looked up by the PNG's content hash. It can answer
// with or without log-probabilities and inject the faults real servers show: 500s and
// requests that answer only after the client gave up.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { hashBytes } from '../../src/hash.js';

export type VisionFault = 'ok' | 'error500' | 'slow';

export interface VisionStandInOptions {
  /** PNG content hash -> the value texts the picture really shows */
  truth: Map<string, string[]>;
  /** answer with top_logprobs (as OpenAI and vLLM do when asked), or with the text only */
  logprobs?: boolean;
  /** how sure the stand-in is of each answer, as the probability of the token it says */
  confidence?: number;
  /** the fault the n-th request (0-based) meets */
  fault?: (n: number) => VisionFault;
  /** how long a 'slow' request waits before answering */
  slowMs?: number;
}

export interface VisionStandIn {
  url: string;
  /** chat requests received, faulty ones included */
  requests: number;
  /** the questions asked, in order */
  questions: string[];
  close(): Promise<void>;
}

const QUESTION = /^Does this image show (.+)\? Answer with one word, yes or no\.$/;

function answer(options: VisionStandInOptions, body: any): { status: number; json: unknown } {
  const parts: any[] = body?.messages?.[0]?.content ?? [];
  const url: string | undefined = parts.find((p) => p.type === 'image_url')?.image_url?.url;
  const text: string | undefined = parts.find((p) => p.type === 'text')?.text;
  const match = text ? QUESTION.exec(text) : null;
  if (!url?.startsWith('data:image/png;base64,') || !match) return { status: 400, json: { error: { message: 'expected a PNG data URL and a yes/no question' } } };
  const shown = options.truth.get(hashBytes(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64')));
  if (!shown) return { status: 400, json: { error: { message: 'an image this stand-in does not know' } } };
  const yes = shown.includes(match[1]);
  const p = options.confidence ?? 0.9;
  const said = yes ? 'Yes' : 'No';
  const other = yes ? 'No' : 'Yes';
  const logprobs = options.logprobs
    ? { content: [{ token: said, logprob: Math.log(p), top_logprobs: [{ token: said, logprob: Math.log(p) }, { token: other, logprob: Math.log(1 - p) }] }] }
    : null;
  return { status: 200, json: { id: 'chatcmpl-standin', object: 'chat.completion', model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: said }, logprobs, finish_reason: 'length' }] } };
}

export async function startVisionStandIn(options: VisionStandInOptions): Promise<VisionStandIn> {
  const sockets = new Set<Socket>();
  const state: VisionStandIn = { url: '', requests: 0, questions: [], close: async () => undefined };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return void res.writeHead(404).end();
    const n = state.requests++;
    const fault = options.fault?.(n) ?? 'ok';
    if (fault === 'error500') return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"CUDA out of memory"}}');
    if (fault === 'slow') await new Promise((r) => setTimeout(r, options.slowMs ?? 2000));
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    state.questions.push(body?.messages?.[0]?.content?.find((p: any) => p.type === 'text')?.text ?? '');
    const { status, json } = answer(options, body);
    if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
  });
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  state.close = () => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  });
  return state;
}
