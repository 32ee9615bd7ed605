// One HTTP request to an A1111 server, bounded the way a client of a server it does not
// control must be: a deadline over the whole exchange (headers and body), a cap on the
// body counted while it streams in (a runaway server never makes us hold gigabytes), and
// no redirects (a redirect would carry the prompt body to another host). Each failure
// says what kind it is, which decides whether trying again can help.

/** Why a request failed. */
export type FailureKind = 'connection' | 'timeout' | 'server' | 'request' | 'response';

export class A1111Error extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly endpoint: string,
  ) {
    super(message);
    this.name = 'A1111Error';
  }
  /** Connection errors, timeouts and 5xx can succeed on retry; a 4xx or a bad response cannot. */
  get retryable(): boolean {
    return this.kind === 'connection' || this.kind === 'timeout' || this.kind === 'server';
  }
}

export interface RequestLimits {
  /** for the whole exchange, body included */
  timeoutMs: number;
  /** the most body bytes accepted; default 64 MiB */
  maxBytes?: number;
}

export const defaultMaxResponseBytes = 64 * 1024 * 1024;

const megabytes = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB`;

/** A timeout reads as a timeout, a reset as a lost connection, whichever phase it hit. */
function transportError(error: unknown, endpoint: string, path: string, timeoutMs: number, answered: boolean): A1111Error {
  const e = error as Error & { cause?: { code?: string } };
  if (e.name === 'TimeoutError' || (e.name === 'AbortError' && (e.cause as Error | undefined)?.name === 'TimeoutError')) {
    return new A1111Error(`A1111 at ${endpoint} did not answer ${path} within ${timeoutMs / 1000} s`, 'timeout', endpoint);
  }
  const what = answered ? 'connection lost mid-answer' : 'cannot connect';
  return new A1111Error(`${endpoint}${path}: ${what} (${e.cause?.code ?? e.message})`, 'connection', endpoint);
}

/** The body, counted chunk by chunk; the stream is cancelled as soon as it passes the cap. */
async function readCapped(response: Response, endpoint: string, path: string, maxBytes: number): Promise<Buffer> {
  const tooLarge = (bytes: string) =>
    new A1111Error(`${endpoint}${path}: the response is ${bytes}, over the ${megabytes(maxBytes)} limit (generate.max_response_mb)`, 'response', endpoint);
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(megabytes(declared));
  }
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`more than ${megabytes(maxBytes)}`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

function httpError(status: number, text: string, endpoint: string, path: string): A1111Error {
  let detail = text.slice(0, 300);
  try {
    const body = JSON.parse(text) as { error?: string; detail?: unknown };
    detail = [body.error, typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail)].filter(Boolean).join(': ');
  } catch {
    // not JSON: the start of the text is the detail
  }
  return new A1111Error(`${endpoint}${path}: HTTP ${status} ${detail}`, status >= 500 ? 'server' : 'request', endpoint);
}

/** One call, its JSON answer parsed; every way it can fail is an A1111Error. */
export async function request(endpoint: string, path: string, init: RequestInit, limits: RequestLimits): Promise<unknown> {
  const maxBytes = limits.maxBytes ?? defaultMaxResponseBytes;
  let text: string;
  let answered = false;
  try {
    const response = await fetch(new URL(path, endpoint), { ...init, redirect: 'manual', signal: AbortSignal.timeout(limits.timeoutMs) });
    answered = true;
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => {});
      const location = response.headers.get('location') ?? '(no location)';
      throw new A1111Error(
        `${endpoint}${path}: HTTP ${response.status} redirect to ${location}; redirects are not followed (the request carries the prompt), so point the endpoint at the server itself`,
        'request', endpoint,
      );
    }
    text = (await readCapped(response, endpoint, path, maxBytes)).toString('utf8');
    if (!response.ok) throw httpError(response.status, text, endpoint, path);
  } catch (error) {
    if (error instanceof A1111Error) throw error;
    throw transportError(error, endpoint, path, limits.timeoutMs, answered);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new A1111Error(`${endpoint}${path}: expected a JSON response, got ${JSON.stringify(text.slice(0, 80))}`, 'response', endpoint);
  }
}
