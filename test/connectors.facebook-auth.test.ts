// Connecting Facebook Pages against the Graph simulator: an authorize URL built from the connector's
// OAuth2Auth data (Facebook's versioned dialog, comma-separated scopes) goes through the simulated consent
// screen; the code becomes a short-lived user token, at once exchanged for a long-lived one
// (fb_exchange_token), and /me/accounts gives the Pages with their own tokens. Also what the simulator
// enforces about tokens: user vs Page tokens, permissions, Page tasks, expiry, versioned paths.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_APP, type AuthCtx } from '../src/connectors/auth-types.js';
import { FACEBOOK_SCOPES, facebookAuth, type FacebookCredentials } from '../src/connectors/facebook/auth.js';
import { facebookConnector } from '../src/connectors/facebook/connector.js';
import { authorizeUrl, exchangeCode } from '../src/connectors/oauth/client.js';
import { isPending } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { freshConfig } from '../src/sandbox/meta/graph.js';
import { metaCtx, metaDraft, silent } from './support/meta.js';

const REDIRECT = 'https://app.example.com/facebook/callback';
/** A response's JSON body (untyped: the tests look into Graph's answers). */
const j = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
let sandbox: SandboxServer;
let base: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/facebook`;
});
afterAll(async () => sandbox?.close());
beforeEach(() => {
  sandbox.meta.core.clearFaults();
  Object.assign(sandbox.meta.config, freshConfig());
});

const authCtx = (): AuthCtx => ({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(10_000) });
const graph = (path: string, token: string, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) } });

/** The browser part: the consent page, a username, "allow"; returns where the browser is sent back. */
async function consent(url: string, username: string): Promise<URL> {
  const page = await fetch(url);
  expect(page.status).toBe(200);
  const form = new URLSearchParams(new URL(url).searchParams);
  form.set('username', username);
  form.set('decision', 'allow');
  const r = await fetch(url.split('?')[0]!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, redirect: 'manual' });
  expect(r.status).toBe(302);
  return new URL(r.headers.get('location')!);
}

async function login(username: string, scopes?: string[]) {
  let url = authorizeUrl(facebookAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 'st' });
  if (scopes) {
    const u = new URL(url);
    u.searchParams.set('scope', scopes.join(','));
    url = u.toString();
  }
  const back = await consent(url, username);
  const tokens = await exchangeCode(facebookAuth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri: REDIRECT }, new Date(), AbortSignal.timeout(5_000));
  if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
  return tokens.value;
}

describe('connecting Facebook Pages', () => {
  it('sends the user to Facebook\'s versioned login dialog, exchanges the code for a long-lived login, and lists the Pages with their tokens', async () => {
    const url = authorizeUrl(facebookAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 'state-1' });
    expect(url.startsWith(`${base}/v24.0/dialog/oauth?`)).toBe(true);
    expect(new URL(url).searchParams.get('scope')).toBe(FACEBOOK_SCOPES.join(','));
    expect(new URL(url).searchParams.get('code_challenge')).toBeNull();
    expect(authorizeUrl(facebookAuth, {}, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 's' }).startsWith('https://www.facebook.com/v24.0/dialog/oauth?')).toBe(true);

    const back = await consent(url, 'page_owner');
    expect(back.searchParams.get('state')).toBe('state-1');
    const tokens = await exchangeCode(facebookAuth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri: REDIRECT }, new Date(), AbortSignal.timeout(5_000));
    if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
    // A short-lived user token (hours): no scheduler could live with it.
    expect(Date.parse(tokens.value.expiresAt!) - Date.now()).toBeLessThanOrEqual(7_200_000);
    const exchanges = sandbox.meta.core.log.filter((r) => r.operation === 'oauth.token').length;
    const accounts = await facebookAuth.accounts(authCtx(), tokens.value);
    if (!accounts.ok) throw new Error(JSON.stringify(accounts.error));
    expect(sandbox.meta.core.log.filter((r) => r.operation === 'oauth.token').length).toBe(exchanges + 1); // fb_exchange_token
    expect(accounts.value).toEqual([expect.objectContaining({ username: expect.any(String), displayName: 'page_owner Page', kind: 'page' })]);
    const c = accounts.value[0]!.credentials;
    expect(c.pageId).toBe(accounts.value[0]!.externalId);
    // A Page token derived from a long-lived login does not expire; the login itself lasts about 60 days.
    expect(c.expiresAt).toBeUndefined();
    expect(Date.parse(c.userTokenExpiresAt!) - Date.now()).toBeGreaterThan(59 * 86_400_000);
    expect(c.scopes).toEqual(expect.arrayContaining(['pages_manage_posts', 'pages_read_engagement', 'pages_show_list']));
    const r = await facebookConnector.publish(metaCtx(base, c).ctx, metaDraft(metaCtx(base, c), 'posted with a connected Page'));
    expect(r.ok && !isPending(r.value)).toBe(true);
  });

  it('offers only the Pages the person can publish to, following Graph\'s paging', async () => {
    const tokens = await login('many_pages');
    const userId = [...sandbox.meta.tokens.oauth.users.values()].find((u) => u.username === 'many_pages')!.id;
    // The first listing makes the sandbox user's own Page; then more are added, one only for analysing.
    expect((await facebookAuth.accounts(authCtx(), tokens)).ok).toBe(true);
    const add = (name: string, tasks?: string[]) => fetch(`${base}/_sim/pages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: userId, name, tasks }) });
    for (const [name, tasks] of [['Second Page', undefined], ['Analysed Page', ['ANALYZE']], ['Third Page', ['CREATE_CONTENT', 'MODERATE']]] as const) expect((await add(name, tasks as string[] | undefined)).status).toBe(201);
    const accounts = await facebookAuth.accounts(authCtx(), await login('many_pages'));
    if (!accounts.ok) throw new Error(JSON.stringify(accounts.error));
    expect(accounts.value.map((a) => a.displayName).sort()).toEqual(['Second Page', 'Third Page', 'many_pages Page']);
    // Graph pages its answer: a `next` link on the same host leads to the rest.
    const long = accounts.value[0]!.credentials.userToken!;
    const first = await j(graph('/v24.0/me/accounts?fields=id,name&limit=2', long));
    expect(first.data).toHaveLength(2);
    const next = new URL(first.paging.next);
    expect(next.origin + next.pathname).toBe(`${base}/v24.0/me/accounts`);
    const rest = await j(fetch(first.paging.next, { headers: { authorization: `Bearer ${long}` } }));
    expect(rest.data).toHaveLength(2);
    expect(rest.paging.next).toBeUndefined();
  });

  it('says which permissions were not granted instead of offering Pages that cannot publish', async () => {
    const tokens = await login('stingy_user', ['pages_show_list', 'pages_read_engagement']);
    const accounts = await facebookAuth.accounts(authCtx(), tokens);
    expect(!accounts.ok && accounts.error).toMatchObject({ category: 'revoked', message: expect.stringMatching(/pages_manage_posts/) });
  });

  it('renews a Page token from the long-lived login, and asks for a reconnect once the login or the role is gone', async () => {
    const accounts = await facebookAuth.accounts(authCtx(), await login('renewer'));
    if (!accounts.ok) throw new Error(JSON.stringify(accounts.error));
    const c = accounts.value[0]!.credentials;
    const renewed = await facebookAuth.refresh!(authCtx(), c);
    expect(renewed.ok && renewed.value.accessToken).not.toBe(c.accessToken);
    expect(renewed.ok && renewed.value.pageId).toBe(c.pageId);
    const expired = await facebookAuth.refresh!(authCtx(), { ...c, userTokenExpiresAt: new Date(Date.now() - 1).toISOString() });
    expect(!expired.ok && expired.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED' });
    const none = await facebookAuth.refresh!(authCtx(), { ...c, userToken: undefined });
    expect(!none.ok && none.error.category).toBe('auth_expired');
    sandbox.meta.pages.get(c.pageId)!.roles.clear();
    const noRole = await facebookAuth.refresh!(authCtx(), c);
    expect(!noRole.ok && noRole.error).toMatchObject({ category: 'auth_expired', message: expect.stringMatching(/role/) });
  });
});

describe('what the Graph simulator enforces about tokens and paths', () => {
  async function sandboxAccount(body: Record<string, unknown> = {}) {
    const res = await fetch(`${base}/_sim/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `g${Math.random().toString(36).slice(2, 10)}`, ...body }) });
    return (await j(res)) as { user_id: string; user_access_token: string; page_id: string; page_access_token: string };
  }

  it('takes only the Page\'s own token, with the CREATE_CONTENT task, to post on it', async () => {
    const a = await sandboxAccount();
    const b = await sandboxAccount();
    const post = (token: string, pageId = a.page_id) => graph(`/v24.0/${pageId}/feed`, token, { method: 'POST', body: 'message=hi' });
    const byUser = await post(a.user_access_token);
    expect([byUser.status, (await j(byUser)).error.code]).toEqual([403, 200]);
    const otherPage = await post(b.page_access_token);
    expect([otherPage.status, (await j(otherPage)).error.code]).toEqual([403, 200]);
    const analyst = await sandboxAccount({ tasks: ['ANALYZE'] });
    const byAnalyst = await post(analyst.page_access_token, analyst.page_id);
    expect((await j(byAnalyst)).error.message).toMatch(/CREATE_CONTENT/);
    expect((await post(a.page_access_token)).status).toBe(200);
    const byParam = await fetch(`${base}/v24.0/${a.page_id}/feed`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `message=by+param&access_token=${a.page_access_token}` });
    expect(byParam.status).toBe(200);
    const none = await fetch(`${base}/v24.0/${a.page_id}/feed`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'message=x' });
    expect((await j(none)).error.code).toBe(104);
  });

  it('reads versions as Graph does, and refuses unknown fields', async () => {
    const a = await sandboxAccount();
    expect((await graph('/v20.0/me?fields=id,name', a.user_access_token)).status).toBe(200); // older: upgraded
    const future = await graph('/v27.0/me', a.user_access_token);
    expect([future.status, (await j(future)).error.code]).toEqual([400, 2500]);
    const unknown = await graph(`/v24.0/${a.page_id}?fields=id,favourite_colour`, a.user_access_token);
    expect((await j(unknown)).error.message).toMatch(/nonexisting field \(favourite_colour\)/);
    const nested = await j(graph(`/v24.0/${a.page_id}?fields=id,instagram_business_account{id,username}`, a.user_access_token));
    expect(Object.keys(nested.instagram_business_account).sort()).toEqual(['id', 'username']);
  });

  it('expires Page tokens derived from a short-lived login with it, and not those from a long-lived one', async () => {
    const short = await login('short_lived');
    const listed = await j(graph('/v24.0/me/accounts?fields=id,access_token', short.accessToken));
    const check = await sandbox.meta.tokens.check(listed.data[0].access_token);
    expect(check.ok && check.auth.exp).toBeGreaterThan(Date.now() / 1000);
    const a = await sandboxAccount();
    const long = await sandbox.meta.tokens.check(a.page_access_token);
    expect(long.ok && long.auth.exp).toBeUndefined();
    const ctx = metaCtx<FacebookCredentials>(base, { accessToken: a.page_access_token, pageId: a.page_id });
    const noList = await sandboxAccount({ scopes: ['pages_manage_posts'] });
    const denied = await graph('/v24.0/me/accounts', noList.user_access_token);
    expect([denied.status, (await j(denied)).error.code]).toEqual([403, 10]);
    expect((await facebookConnector.publish(ctx.ctx, metaDraft(ctx, 'long-lived Page token'))).ok).toBe(true);
  });
});
