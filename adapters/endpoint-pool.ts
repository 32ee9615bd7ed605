// Several servers as one: each kept busy up to its own concurrency, a failing one taken
// out for a cool-down that doubles while it keeps failing, and failed tasks retried with
// backoff, on another endpoint when one is free. Tasks start in submission order.

export interface PoolOptions {
  endpoints: string[];
  /** requests in flight per endpoint */
  concurrency: number;
  /** extra attempts after the first, for failures `isRetryable` accepts */
  retries: number;
  /** wait before attempt k+1: backoffMs * 2^k (doubling), capped at 30 s */
  backoffMs?: number;
  /** first time out of service for an endpoint that failed; doubles per failure, capped at 60 s */
  cooldownMs?: number;
  isRetryable(error: unknown): boolean;
  /** does this failure say the endpoint itself is unwell (not just this request)? */
  isEndpointFault?(error: unknown): boolean;
  onRetry?(endpoint: string, attempt: number, error: unknown): void;
}

export interface PoolResult<R> {
  value: R;
  endpoint: string;
  attempts: number;
}

export class PoolTaskError extends Error {
  constructor(
    readonly cause: unknown,
    readonly endpoint: string,
    readonly attempts: number,
  ) {
    super(`${(cause as Error)?.message ?? String(cause)} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`);
    this.name = 'PoolTaskError';
  }
}

interface Endpoint {
  url: string;
  active: number;
  failures: number;
  downUntil: number;
}

interface Waiting {
  task: (endpoint: string) => Promise<unknown>;
  attempts: number;
  notBefore: number;
  resolve(result: PoolResult<unknown>): void;
  reject(error: unknown): void;
}

export interface EndpointPool {
  run<R>(task: (endpoint: string) => Promise<R>): Promise<PoolResult<R>>;
  /** per endpoint: requests in flight, consecutive failures, whether it is out of service now */
  health(): { url: string; active: number; failures: number; out: boolean }[];
  close(): void;
}

export function createEndpointPool(options: PoolOptions): EndpointPool {
  if (options.endpoints.length === 0) throw new Error('endpoint pool needs at least one endpoint');
  const backoffMs = options.backoffMs ?? 500;
  const cooldownMs = options.cooldownMs ?? 2_000;
  const endpoints: Endpoint[] = options.endpoints.map((url) => ({ url, active: 0, failures: 0, downUntil: 0 }));
  const waiting: Waiting[] = [];
  let timer: NodeJS.Timeout | null = null;
  let timerAt = Infinity;
  let closed = false;

  function pickEndpoint(now: number): Endpoint | undefined {
    let best: Endpoint | undefined;
    for (const e of endpoints) {
      if (e.downUntil > now || e.active >= options.concurrency) continue;
      if (!best || e.active < best.active) best = e;
    }
    return best;
  }

  function schedule(at: number) {
    if (closed || (timer && timerAt <= at)) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = null;
      timerAt = Infinity;
      pump();
    }, Math.max(0, at - Date.now()));
  }

  function pump() {
    const now = Date.now();
    let wakeAt = Infinity;
    for (let i = 0; i < waiting.length; ) {
      const item = waiting[i]!;
      if (item.notBefore > now) {
        wakeAt = Math.min(wakeAt, item.notBefore);
        i++;
        continue;
      }
      const endpoint = pickEndpoint(now);
      if (!endpoint) break;
      waiting.splice(i, 1);
      start(item, endpoint);
    }
    if (waiting.length) {
      const downs = endpoints.filter((e) => e.downUntil > now).map((e) => e.downUntil);
      if (downs.length === endpoints.length || wakeAt < Infinity) schedule(Math.min(wakeAt, ...downs));
    }
  }

  function start(item: Waiting, endpoint: Endpoint) {
    endpoint.active++;
    item.attempts++;
    item.task(endpoint.url).then(
      (value) => {
        endpoint.active--;
        endpoint.failures = 0;
        item.resolve({ value, endpoint: endpoint.url, attempts: item.attempts });
        pump();
      },
      (error) => {
        endpoint.active--;
        onFailure(item, endpoint, error);
        pump();
      },
    );
  }

  function onFailure(item: Waiting, endpoint: Endpoint, error: unknown) {
    const retryable = options.isRetryable(error);
    if (retryable) {
      endpoint.failures++;
      const endpointFault = options.isEndpointFault?.(error) ?? true;
      if (endpointFault || endpoint.failures >= 3) {
        endpoint.downUntil = Date.now() + Math.min(60_000, cooldownMs * 2 ** (endpoint.failures - 1));
      }
    }
    if (!retryable || item.attempts > options.retries || closed) {
      item.reject(new PoolTaskError(error, endpoint.url, item.attempts));
      return;
    }
    options.onRetry?.(endpoint.url, item.attempts, error);
    item.notBefore = Date.now() + Math.min(30_000, backoffMs * 2 ** (item.attempts - 1));
    waiting.unshift(item);
  }

  return {
    run<R>(task: (endpoint: string) => Promise<R>) {
      return new Promise<PoolResult<R>>((resolve, reject) => {
        if (closed) return reject(new Error('endpoint pool is closed'));
        waiting.push({ task, attempts: 0, notBefore: 0, resolve: resolve as Waiting['resolve'], reject });
        pump();
      });
    },
    health() {
      const now = Date.now();
      return endpoints.map((e) => ({ url: e.url, active: e.active, failures: e.failures, out: e.downUntil > now }));
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const item of waiting.splice(0)) item.reject(new Error('endpoint pool closed'));
    },
  };
}
