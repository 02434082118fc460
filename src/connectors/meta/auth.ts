// Connecting Facebook Pages and the Instagram accounts behind them (platforms.md §3 "Auth", §4 "With
// Facebook Login"): Facebook Login's code flow (dialog on www.facebook.com, scopes joined by commas, the
// app secret in the body, no PKCE), then Meta's own step: the short-lived user token (hours) is exchanged
// at once for a long-lived one (fb_exchange_token, about 60 days), and the Pages are listed with a Page
// token each (GET /me/accounts). A Page token derived from a long-lived user token does not expire by time
// (it ends with a password change, a lost role or the app's removal), so Page accounts carry no expiresAt
// and there is no refresh token. Both platforms share this login; each turns the Page list into its own
// accounts (Pages for Facebook, their linked Instagram professional accounts for Instagram).
import { err, ok, type Result } from '../../lib/result.js';
import type { AuthCtx, ConnectableAccount, OAuth2Auth, OAuthTokens } from '../auth-types.js';
import { request, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';
import { mapGraphError } from './errors.js';
import { GRAPH_ORIGIN, GRAPH_VERSION, graphGet, graphUrl, type MetaCredentials } from './graph.js';

/** A Page as /me/accounts lists it. */
export type PageListing = {
  id: string;
  name: string;
  username?: string;
  access_token?: string;
  /** What the person may do on the Page; publishing needs CREATE_CONTENT. */
  tasks?: string[];
  instagram_business_account?: { id: string; username?: string; name?: string };
};

export type MetaLogin = {
  userId: string;
  userToken: string;
  userTokenExpiresAt?: string;
  /** Permissions the person granted (Facebook Login lets them untick some). */
  granted: string[];
  pages: PageListing[];
};

const PAGE_FIELDS = 'id,name,username,access_token,tasks,instagram_business_account{id,username,name}';
const MAX_PAGES_OF_PAGES = 10;

const unreadable = (what: string): ConnectorError => ({ category: 'transient', code: 'PLATFORM_ERROR', message: `Facebook answered the ${what} without what Crier needs`, retryable: true });

async function getJson<T>(res: Promise<Result<HttpResponse, ConnectorError>>, now: Date, platform: string): Promise<Result<T, ConnectorError>> {
  const r = await res;
  if (!r.ok) return r;
  if (r.value.status !== 200) return err(mapGraphError(r.value, now, platform));
  return ok((r.value.body ?? {}) as T);
}

/** Short-lived user token → long-lived one (GET /oauth/access_token?grant_type=fb_exchange_token, the app secret in the query as Meta documents it). */
async function longLived(ctx: AuthCtx, shortLived: string, platform: string): Promise<Result<{ token: string; expiresAt?: string }, ConnectorError>> {
  const now = ctx.clock.now();
  const q = new URLSearchParams({ grant_type: 'fb_exchange_token', client_id: ctx.app.clientId, client_secret: ctx.app.clientSecret, fb_exchange_token: shortLived });
  const body = await getJson<{ access_token?: unknown; expires_in?: unknown }>(request(`${graphUrl(ctx.baseUrl, '/oauth/access_token')}?${q}`, { signal: ctx.signal }), now, platform);
  if (!body.ok) return body;
  if (typeof body.value.access_token !== 'string' || !body.value.access_token) return err(unreadable('long-lived token exchange'));
  const secs = Number(body.value.expires_in);
  return ok({ token: body.value.access_token, expiresAt: Number.isFinite(secs) && secs > 0 ? new Date(now.getTime() + secs * 1000).toISOString() : undefined });
}

/** The long-lived login: who, what they granted, and their Pages (following Graph's paging on the same host). */
export async function metaLogin(ctx: AuthCtx, tokens: OAuthTokens, platform: string): Promise<Result<MetaLogin, ConnectorError>> {
  const now = ctx.clock.now();
  const long = await longLived(ctx, tokens.accessToken, platform);
  if (!long.ok) return long;
  const token = long.value.token;
  const me = await getJson<{ id?: unknown }>(graphGet(ctx.baseUrl, '/me', { fields: 'id,name' }, token, ctx.signal), now, platform);
  if (!me.ok) return me;
  if (typeof me.value.id !== 'string' && typeof me.value.id !== 'number') return err(unreadable('/me request'));
  const perms = await getJson<{ data?: { permission?: string; status?: string }[] }>(graphGet(ctx.baseUrl, '/me/permissions', {}, token, ctx.signal), now, platform);
  if (!perms.ok) return perms;
  const granted = (perms.value.data ?? []).filter((p) => p.status === 'granted' && p.permission).map((p) => p.permission!);
  const pages: PageListing[] = [];
  let next: string | undefined = `${graphUrl(ctx.baseUrl, '/me/accounts')}?${new URLSearchParams({ fields: PAGE_FIELDS, limit: '100' })}`;
  const origin = new URL(ctx.baseUrl).origin;
  for (let i = 0; next && i < MAX_PAGES_OF_PAGES; i++) {
    const page: Result<{ data?: PageListing[]; paging?: { next?: string } }, ConnectorError> = await getJson(request(next, { headers: { authorization: `Bearer ${token}` }, signal: ctx.signal }), now, platform);
    if (!page.ok) return page;
    pages.push(...(page.value.data ?? []).map((p) => ({ ...p, id: String(p.id) })));
    // The token goes only to Graph itself, never to a host a `next` link might name.
    const link: string | undefined = page.value.paging?.next;
    next = link && new URL(link).origin === origin ? link : undefined;
  }
  return ok({ userId: String(me.value.id), userToken: token, userTokenExpiresAt: long.value.expiresAt, granted, pages });
}

/** Renews a Page token from the stored long-lived user token (GET /{page-id}?fields=access_token). */
async function refresh<C extends MetaCredentials>(ctx: AuthCtx, credentials: C, platform: string): Promise<Result<C, ConnectorError>> {
  const now = ctx.clock.now();
  const reconnect = (why: string): ConnectorError => ({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', message: `${platform}: ${why}; connect the account again`, retryable: false });
  if (!credentials.userToken) return err(reconnect('the Page token was refused and there is no user token to derive a new one from'));
  if (credentials.userTokenExpiresAt && Date.parse(credentials.userTokenExpiresAt) <= now.getTime()) {
    return err(reconnect(`the Facebook login expired on ${credentials.userTokenExpiresAt}`));
  }
  const page = await getJson<{ access_token?: unknown }>(graphGet(ctx.baseUrl, `/${credentials.pageId}`, { fields: 'access_token' }, credentials.userToken, ctx.signal), now, platform);
  if (!page.ok) return page;
  if (typeof page.value.access_token !== 'string' || !page.value.access_token) {
    return err(reconnect('the Facebook user no longer gets a token for this Page (their role on it may be gone)'));
  }
  return ok({ ...credentials, accessToken: page.value.access_token });
}

/**
 * The OAuth2Auth of a Meta platform: the same Facebook Login with the platform's scopes, and `pick` turning
 * the login into that platform's accounts.
 */
export function metaAuth<C extends MetaCredentials & OAuthTokens>(
  platform: string,
  scopes: string[],
  pick: (login: MetaLogin) => Result<ConnectableAccount<C>[], ConnectorError>,
): OAuth2Auth<C> {
  return {
    kind: 'oauth2',
    authorizeEndpoint: { origin: 'https://www.facebook.com', path: `/${GRAPH_VERSION}/dialog/oauth` },
    tokenEndpoint: { origin: GRAPH_ORIGIN, path: `/${GRAPH_VERSION}/oauth/access_token` },
    scopes,
    scopeSeparator: ',',
    pkce: false,
    clientAuth: 'body',
    async accounts(ctx, tokens) {
      const login = await metaLogin(ctx, tokens, platform);
      if (!login.ok) return login;
      return pick(login.value);
    },
    refresh: (ctx, credentials) => refresh(ctx, credentials, platform),
  };
}

/** Permissions asked for but not granted: the accounts would fail later, so the connection says it now. */
export function missingPermissions(login: MetaLogin, needed: string[], platform: string): ConnectorError | undefined {
  const missing = needed.filter((p) => !login.granted.includes(p));
  if (missing.length === 0) return undefined;
  return { category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', platformCode: 'permissions', message: `${platform}: the permissions ${missing.join(', ')} were not granted; connect again and allow them`, retryable: false };
}
