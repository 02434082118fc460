// The Graph API calls Facebook Pages and Instagram (with Facebook Login) share (platforms.md §3, §4): one
// versioned base (graph.facebook.com/v24.0), form-encoded POSTs, and the access token in an
// `Authorization: Bearer` header rather than the `access_token` parameter Meta's examples use, so tokens
// never end up in URLs (and in whatever logs URLs). Each call returns the raw response; a Session renews an
// expired token once (ctx.refresh) and turns a non-200 answer into a classified error.
import { err, ok, type Result } from '../../lib/result.js';
import { request, type HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError } from '../types.js';
import { isRenewableTokenError, mapGraphError } from './errors.js';

type Call = Promise<Result<HttpResponse, ConnectorError>>;

/** The Graph API version Crier speaks (Meta keeps each version for about two years). */
export const GRAPH_VERSION = 'v24.0';
export const GRAPH_ORIGIN = 'https://graph.facebook.com';
/** Where a relative permalink (Graph gives "/reel/123" for some videos) lives. */
export const FACEBOOK_WEB = 'https://www.facebook.com';

const root = (baseUrl: string) => baseUrl.replace(/\/$/, '');
export const graphUrl = (baseUrl: string, path: string) => `${root(baseUrl)}/${GRAPH_VERSION}${path}`;

const defined = (params: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string>;

export function graphGet(baseUrl: string, path: string, params: Record<string, string | undefined>, token: string, signal: AbortSignal): Call {
  const q = new URLSearchParams(defined(params)).toString();
  return request(`${graphUrl(baseUrl, path)}${q ? `?${q}` : ''}`, { headers: { authorization: `Bearer ${token}` }, signal });
}

/** A POST with form fields; `sideEffect` marks the calls that make something visible (never repeated blindly). */
export function graphPost(baseUrl: string, path: string, params: Record<string, string | undefined>, token: string, signal: AbortSignal, sideEffect = false): Call {
  return request(graphUrl(baseUrl, path), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(defined(params)).toString(),
    signal,
    sideEffect,
  });
}

/** What every Meta account keeps: the token it publishes with (a Page token) and what renews it. */
export type MetaCredentials = {
  accessToken: string;
  expiresAt?: string;
  scopes?: string[];
  /** The Facebook Page (or the Page an Instagram account is linked to). */
  pageId: string;
  /**
   * The long-lived user token the Page token was derived from (60 days). Page tokens do not expire by
   * time, so this is only used to derive a fresh Page token when Meta says the stored one expired.
   */
  userToken?: string;
  userTokenExpiresAt?: string;
};

/** Calls with the account's token; when Graph says the token expired, renews it once (ctx.refresh) and calls again. */
export type Session<C extends MetaCredentials> = { ctx: ConnectorCtx<C>; refreshed: boolean; platform: string };

export const session = <C extends MetaCredentials>(ctx: ConnectorCtx<C>, platform: string): Session<C> => ({ ctx, refreshed: false, platform });

export async function call<C extends MetaCredentials>(s: Session<C>, fn: (token: string) => Call): Call {
  const first = await fn(s.ctx.credentials.accessToken);
  if (!first.ok || !isRenewableTokenError(first.value) || s.refreshed || !s.ctx.refresh) return first;
  s.refreshed = true;
  const renewed = await s.ctx.refresh();
  if (!renewed.ok) return renewed;
  return fn(renewed.value.accessToken);
}

/** A 200 answer's body, or the classified error. */
export async function json<T, C extends MetaCredentials = MetaCredentials>(s: Session<C>, fn: (token: string) => Call): Promise<Result<T, ConnectorError>> {
  const r = await call(s, fn);
  if (!r.ok) return r;
  if (r.value.status !== 200) return err(mapGraphError(r.value, s.ctx.clock.now(), s.platform));
  return ok((r.value.body ?? {}) as T);
}

/** Graph writes "2024-07-05T12:34:56+0000"; Date.parse wants a colon in the offset. */
export const parseGraphTime = (t: string | undefined): number => (t ? Date.parse(t.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')) : Number.NaN);

/** A permalink as Graph gives it (absolute, or a path on facebook.com) made absolute. */
export const absolutePermalink = (link: string) => (link.startsWith('/') ? `${FACEBOOK_WEB}${link}` : link);

export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** Meta fetches media itself; without a public URL there is nothing it can fetch. */
export function mediaUrlMissing(platform: string): ConnectorError {
  return {
    category: 'media_error',
    code: 'MEDIA_FAILED',
    message: `${platform} fetches media from a public URL and this Crier has none for the file: set CRIER_PUBLIC_URL or store media in S3`,
    retryable: false,
  };
}
