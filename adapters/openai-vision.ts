// A yes/no question about an image to an OpenAI-compatible chat completions endpoint
// (OpenAI, vLLM, llama.cpp server, Ollama's /v1): the image as a base64 data URL in an
// `image_url` content part, one answer token asked for, with its top log-probabilities
// when the server gives them. P(yes) comes from those; without them, from the answer text.

export interface VisionEndpoint {
  /** base URL up to and including /v1, e.g. http://127.0.0.1:8000/v1 */
  endpoint: string;
  model: string;
  timeoutMs: number;
  /** further tries after a timeout, a refused connection or a 5xx */
  retries: number;
  backoffMs?: number;
  apiKey?: string;
}

export interface YesNo {
  p_yes: number;
  /** where p_yes came from */
  source: 'logprobs' | 'text';
}

/** The server never answered well: unreachable, timing out or failing after every retry, or refusing the request. */
export class VisionEndpointError extends Error {
  constructor(endpoint: string, detail: string) {
    super(`the vision endpoint ${endpoint} did not answer: ${detail}`);
    this.name = 'VisionEndpointError';
  }
}

interface TopLogprob {
  token: string;
  logprob: number;
}

interface ChatResponse {
  choices?: { message?: { content?: string | null }; logprobs?: { content?: { top_logprobs?: TopLogprob[] }[] | null } | null }[];
}

export function pngDataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

export function chatRequest(model: string, question: string, png: Uint8Array) {
  return {
    model,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: pngDataUrl(png) } },
          { type: 'text', text: `${question} Answer with one word, yes or no.` },
        ],
      },
    ],
    max_tokens: 1,
    temperature: 0,
    logprobs: true,
    top_logprobs: 10,
  };
}

const word = (token: string) => token.trim().toLowerCase().replace(/[.!,]$/, '');

/**
 * P(yes) among yes and no: the probability mass of the first token's yes-like and no-like
 * alternatives, renormalised; from the text (1, 0, or 0.5 for neither) when no log-probabilities came.
 */
export function readYesNo(response: ChatResponse): YesNo {
  const choice = response.choices?.[0];
  const top = choice?.logprobs?.content?.[0]?.top_logprobs;
  if (top && top.length > 0) {
    let yes = 0;
    let no = 0;
    for (const t of top) {
      if (word(t.token) === 'yes') yes += Math.exp(t.logprob);
      else if (word(t.token) === 'no') no += Math.exp(t.logprob);
    }
    if (yes + no > 0) return { p_yes: yes / (yes + no), source: 'logprobs' };
  }
  const answer = word(choice?.message?.content ?? '').split(/\s+/)[0];
  return { p_yes: answer === 'yes' ? 1 : answer === 'no' ? 0 : 0.5, source: 'text' };
}

class Retryable extends Error {}

async function postOnce(ep: VisionEndpoint, body: unknown, signal?: AbortSignal): Promise<ChatResponse> {
  const timeout = AbortSignal.timeout(ep.timeoutMs);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (ep.apiKey) headers.authorization = `Bearer ${ep.apiKey}`;
  let res: Response;
  try {
    res = await fetch(`${ep.endpoint.replace(/\/+$/, '')}/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, a bad port, DNS).
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Retryable(timeout.aborted ? `no answer within ${ep.timeoutMs} ms` : (cause?.code ?? cause?.message ?? (err as Error).message));
  }
  const text = await res.text();
  if (res.status >= 500 || res.status === 429) throw new Retryable(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  // A 4xx will fail the same way on every try: a wrong model name, a server without vision.
  if (!res.ok) throw new VisionEndpointError(ep.endpoint, `HTTP ${res.status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text) as ChatResponse;
  } catch {
    throw new VisionEndpointError(ep.endpoint, `expected a JSON chat completion, got: ${text.slice(0, 200)}`);
  }
}

/** Asks one question, retrying what can succeed on retry with doubling backoff. */
export async function askYesNo(ep: VisionEndpoint, question: string, png: Uint8Array, signal?: AbortSignal): Promise<YesNo> {
  const body = chatRequest(ep.model, question, png);
  let last = '';
  for (let attempt = 0; attempt <= ep.retries; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, (ep.backoffMs ?? 200) * 2 ** (attempt - 1)));
    try {
      return readYesNo(await postOnce(ep, body, signal));
    } catch (err) {
      if (!(err instanceof Retryable)) throw err;
      last = err.message;
    }
  }
  throw new VisionEndpointError(ep.endpoint, `${last} (after ${ep.retries + 1} tries)`);
}
