// Who may talk to the review app. Bound to loopback it trusts the machine's user but not
// other web pages that user visits: Host must name this server (DNS rebinding), and
// writes must come from its own pages (Origin / Sec-Fetch-Site, JSON bodies only).
// With a token every request carries it, as a bearer header or as the cookie that a
// `?token=` link sets. --read-only refuses every write.
import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

export interface Access {
  host: string;
  token?: string;
  readOnly: boolean;
}

export const TOKEN_COOKIE = 'sdloop_token';
const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const isLoopback = (host: string) => loopbackHosts.has(host);

/** Refuse to expose the app beyond this machine without a token or read-only. */
export function checkBind(access: Access): void {
  if (!isLoopback(access.host) && !access.token && !access.readOnly) {
    throw new Error(`serving on ${access.host} lets other machines write labels: pass --token T (or --read-only)`);
  }
}

function sameSecret(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const [a, b] = [Buffer.from(given), Buffer.from(token)];
  return a.length === b.length && timingSafeEqual(a, b);
}

const hostName = (hostHeader: string) => hostHeader.replace(/:\d+$/, '');

export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.header('Content-Security-Policy', "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Frame-Options', 'DENY');
  };
}

/** Loopback without a token: only requests addressed to this machine by name (a rebinding page names its own host). */
export function hostCheck(access: Access): MiddlewareHandler {
  return async (c, next) => {
    if (access.token || !isLoopback(access.host)) return next();
    if (!isLoopback(hostName(c.req.header('host') ?? ''))) return c.json({ error: 'unexpected Host header' }, 403);
    return next();
  };
}

export function tokenCheck(access: Access): MiddlewareHandler {
  return async (c, next) => {
    const token = access.token;
    if (!token) return next();
    const fromLink = c.req.query('token');
    if (fromLink !== undefined && c.req.method === 'GET' && sameSecret(fromLink, token)) {
      setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      const url = new URL(c.req.url);
      url.searchParams.delete('token');
      return c.redirect(`${url.pathname}${url.search}`, 302);
    }
    const bearer = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
    if (sameSecret(bearer, token) || sameSecret(getCookie(c, TOKEN_COOKIE), token)) return next();
    return c.json({ error: 'a token is needed: open the link serve printed, or send Authorization: Bearer <token>' }, 401);
  };
}

export function writeCheck(access: Access): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    if (access.readOnly) return c.json({ error: 'this server is read-only (--read-only)' }, 403);
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin') return c.json({ error: 'cross-site writes are refused' }, 403);
    const origin = c.req.header('origin');
    if (origin !== undefined && origin !== `${new URL(c.req.url).protocol}//${c.req.header('host')}`) {
      return c.json({ error: 'cross-origin writes are refused' }, 403);
    }
    if (!(c.req.header('content-type') ?? '').startsWith('application/json')) return c.json({ error: 'expected a JSON body' }, 415);
    return next();
  };
}
