// Connecting Threads accounts against the simulator: an authorize URL built from the connector's OAuth2Auth
// data goes through the simulated consent screen, the code becomes a 1-hour token and at once a 60-day one
// (th_exchange_token), /me gives the one account; th_refresh_token renews only a long-lived, unexpired token
// at least 24 hours old, and each refusal is classified without disconnecting anyone wrongly.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_APP, type AuthCtx } from '../src/connectors/auth-types.js';
import { authorizeUrl, exchangeCode } from '../src/connectors/oauth/client.js';
import { THREADS_SCOPES, threadsAuth, type ThreadsCredentials } from '../src/connectors/threads/auth.js';
import { threadsConnector } from '../src/connectors/threads/connector.js';
import { isPending, type ConnectorCtx } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_CONFIG } from '../src/sandbox/threads/graph.js';

const silent = { info() {}, warn() {}, error() {} };
const REDIRECT = 'https://app.example.com/threads/callback';
const DAY = 86_400_000;
let sandbox: SandboxServer;
let base: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/threads`;
});
afterAll(async () => sandbox?.close());
beforeEach(() => {
  sandbox.threads.core.clearFaults();
  Object.assign(sandbox.threads.config, { ...DEFAULT_CONFIG, processingMs: { ...DEFAULT_CONFIG.processingMs } });
});

const authCtx = (app = SANDBOX_APP): AuthCtx => ({ baseUrl: base, app, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(10_000) });
const served = (operation: string) => sandbox.threads.core.log.filter((r) => r.operation === operation);

/** The browser part: the consent page is shown, the user picks a username and allows; returns the redirect. */
async function consent(url: string, username: string, decision = 'allow'): Promise<URL> {
  const page = await fetch(url);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<form method="post">');
  const form = new URLSearchParams(new URL(url).searchParams);
  form.set('username', username);
  form.set('decision', decision);
  const r = await fetch(url.split('?')[0]!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, redirect: 'manual' });
  expect(r.status).toBe(302);
  return new URL(r.headers.get('location')!);
}

async function connect(username: string): Promise<ThreadsCredentials> {
  const back = await consent(authorizeUrl(threadsAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 'st' }), username);
  const tokens = await exchangeCode(threadsAuth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri: REDIRECT }, new Date(), AbortSignal.timeout(5_000));
  if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
  const accounts = await threadsAuth.accounts(authCtx(), tokens.value);
  if (!accounts.ok) throw new Error(JSON.stringify(accounts.error));
  return accounts.value[0]!.credentials;
}

describe('connecting a Threads account', () => {
  it('sends the user to threads.net\'s authorize path with comma-separated scopes, and the code gives one account with a 60-day token', async () => {
    const url = authorizeUrl(threadsAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 'state-1' });
    expect(url.startsWith(`${base}/oauth/authorize?`)).toBe(true);
    const q = new URL(url).searchParams;
    expect(q.get('scope')).toBe('threads_basic,threads_content_publish,threads_manage_replies,threads_read_replies,threads_manage_insights');
    expect(q.get('response_type')).toBe('code');
    expect(q.get('code_challenge')).toBeNull();
    const real = authorizeUrl(threadsAuth, {}, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 's' });
    expect(real.startsWith('https://threads.net/oauth/authorize?')).toBe(true);

    const back = await consent(url, 'connect_me');
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe('state-1');
    const tokens = await exchangeCode(threadsAuth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri: REDIRECT }, new Date(), AbortSignal.timeout(5_000));
    if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
    expect(typeof tokens.value.raw['user_id']).toBe('number');
    expect(tokens.value.refreshToken).toBeUndefined();
    expect(Date.parse(tokens.value.expiresAt!) - Date.now()).toBeLessThanOrEqual(3_600_000);

    const accounts = await threadsAuth.accounts(authCtx(), tokens.value);
    if (!accounts.ok) throw new Error(JSON.stringify(accounts.error));
    expect(accounts.value).toEqual([
      expect.objectContaining({ externalId: String(tokens.value.raw['user_id']), username: 'connect_me', displayName: 'connect_me', kind: 'user' }),
    ]);
    const creds = accounts.value[0]!.credentials;
    expect(creds.accessToken).not.toBe(tokens.value.accessToken);
    expect(creds.refreshToken).toBeUndefined();
    expect(Date.parse(creds.expiresAt!) - Date.now()).toBeGreaterThan(59 * DAY);
    expect(creds).toMatchObject({ userId: String(tokens.value.raw['user_id']), username: 'connect_me', scopes: THREADS_SCOPES });
    expect(served('th_exchange_token').at(-1)?.status).toBe(200);

    // The long-lived token publishes.
    const ctx: ConnectorCtx<ThreadsCredentials> = { credentials: creds, saveCredentials: async () => {}, checkpoint: async () => {}, baseUrl: base, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(10_000) };
    const id = newId('publication');
    const r = await threadsConnector.publish(ctx, { publicationId: id, marker: id, text: 'connected', options: {}, media: [], checkpoint: null });
    expect(r.ok && !isPending(r.value)).toBe(true);

    // A code is single use.
    const replay = await exchangeCode(threadsAuth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri: REDIRECT }, new Date(), AbortSignal.timeout(5_000));
    expect(!replay.ok && replay.error).toMatchObject({ category: 'revoked', platformCode: 'invalid_grant' });
  });

  it('sends back a denial, and an unknown scope, to the redirect URI', async () => {
    const denied = await consent(authorizeUrl(threadsAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 'd' }), 'nope', 'deny');
    expect(denied.searchParams.get('error')).toBe('access_denied');
    const bad = new URL(authorizeUrl(threadsAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 'x' }));
    bad.searchParams.set('scope', 'threads_basic,instagram_basic');
    const r = await fetch(bad, { redirect: 'manual' });
    expect(new URL(r.headers.get('location')!).searchParams.get('error')).toBe('invalid_scope');
  });

  it('needs the app\'s secret for the long-lived exchange; a wrong one is the app\'s problem, not the account\'s', async () => {
    const back = await consent(authorizeUrl(threadsAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 'w' }), 'wrong_secret');
    const tokens = await exchangeCode(threadsAuth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri: REDIRECT }, new Date(), AbortSignal.timeout(5_000));
    if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
    const r = await threadsAuth.accounts(authCtx({ clientId: SANDBOX_APP.clientId, clientSecret: 'not-the-secret' }), tokens.value);
    expect(!r.ok && r.error).toMatchObject({ category: 'permanent', code: 'PLATFORM_ERROR', platformCode: '101' });
    // Exchanging a token that is already long-lived is refused too.
    const creds = await connect('twice_exchanged');
    const again = await fetch(`${base}/access_token?${new URLSearchParams({ grant_type: 'th_exchange_token', client_secret: SANDBOX_APP.clientSecret, access_token: creds.accessToken })}`);
    expect(again.status).toBe(400);
  });
});

describe('refreshing a Threads token (th_refresh_token)', () => {
  it('refuses a token under 24 hours old without taking it for a revocation', async () => {
    const creds = await connect('too_young');
    const r = await threadsAuth.refresh!(authCtx(), creds);
    expect(!r.ok && r.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', retryable: false });
    expect(served('th_refresh_token').at(-1)?.status).toBe(400);
  });

  it('renews an old enough long-lived token for another 60 days, and the new token works', async () => {
    const creds = await connect('old_enough');
    sandbox.threads.config.refreshMinAgeSec = 0;
    const r = await threadsAuth.refresh!(authCtx(), creds);
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.value.accessToken).not.toBe(creds.accessToken);
    expect(Date.parse(r.value.expiresAt!) - Date.now()).toBeGreaterThan(59 * DAY);
    expect(r.value).toMatchObject({ userId: creds.userId, username: 'old_enough' });
    const me = await fetch(`${base}/v1.0/me?fields=id,username&access_token=${encodeURIComponent(r.value.accessToken)}`);
    expect(await me.json()).toEqual({ id: creds.userId, username: 'old_enough' });
  });

  it('refuses to refresh a short-lived token, or a token Threads says expired or was revoked', async () => {
    sandbox.threads.config.refreshMinAgeSec = 0;
    const back = await consent(authorizeUrl(threadsAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri: REDIRECT, state: 's' }), 'short_lived');
    const tokens = await exchangeCode(threadsAuth, { sandboxBase: base }, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri: REDIRECT }, new Date(), AbortSignal.timeout(5_000));
    if (!tokens.ok) throw new Error('exchange failed');
    const short = await threadsAuth.refresh!(authCtx(), { accessToken: tokens.value.accessToken, userId: '1', username: 'short_lived' });
    expect(!short.ok && short.error).toMatchObject({ category: 'auth_expired', message: expect.stringContaining('long-lived') });

    const expired = await connect('expired_token');
    sandbox.threads.tokens.expire(expired.userId);
    const e = await threadsAuth.refresh!(authCtx(), expired);
    expect(!e.ok && e.error).toMatchObject({ category: 'auth_expired', platformCode: '190/463' });

    const revoked = await connect('revoked_token');
    sandbox.threads.tokens.revoke(revoked.userId);
    const v = await threadsAuth.refresh!(authCtx(), revoked);
    expect(!v.ok && v.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', platformCode: '190/460' });
  });

  it('does not even ask Threads when the stored expiry has passed', async () => {
    const creds = await connect('long_gone');
    const before = served('th_refresh_token').length;
    const r = await threadsAuth.refresh!(authCtx(), { ...creds, expiresAt: new Date(Date.now() - 1_000).toISOString() });
    expect(!r.ok && r.error).toMatchObject({ category: 'auth_expired', message: expect.stringContaining('connect the account again') });
    expect(served('th_refresh_token')).toHaveLength(before);
  });

  it('keeps a refresh that failed on the way as transient', async () => {
    const creds = await connect('flaky_refresh');
    sandbox.threads.core.addFault({ operation: 'th_refresh_token', fault: { kind: 'status', status: 503 } });
    const r = await threadsAuth.refresh!(authCtx(), creds);
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', retryable: true });
  });
});
