// Connecting a Pinterest account against the simulated authorization server: the authorize URL built from
// the connector's OAuth2Auth data is accepted (comma-joined scopes, no PKCE), the code exchange uses HTTP
// Basic (a body secret is refused), accounts() names the user from GET /v5/user_account, and the refresh
// grant rotates the refresh token with its own expiry; a spent one revokes the account.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_APP } from '../src/connectors/auth-types.js';
import { pinterestAuth, PINTEREST_SCOPES } from '../src/connectors/pinterest/auth.js';
import { authorizeUrl, exchangeCode } from '../src/connectors/oauth/client.js';
import { systemClock } from '../src/lib/clock.js';
import { createPinterestSimulator, type PinterestSimulator } from '../src/sandbox/pinterest/simulator.js';

const silent = { info() {}, warn() {}, error() {} };
let sim: PinterestSimulator;
let app: FastifyInstance;
let base: string;
const redirectUri = 'https://crier.example.com/v1/connections/callback';

beforeAll(async () => {
  sim = createPinterestSimulator();
  app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(sim.plugin, { prefix: '/pinterest' });
  base = `${await app.listen({ port: 0, host: '127.0.0.1' })}/pinterest`;
});
afterAll(async () => app?.close());

const authCtx = () => ({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(5_000) });

/** The user's browser: opens the authorize URL, then allows as `username`; returns the redirect's query. */
async function consent(url: string, username: string): Promise<URLSearchParams> {
  const page = await fetch(url);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('boards:read, pins:read, pins:write, user_accounts:read');
  const form = new URLSearchParams(new URL(url).searchParams);
  form.set('username', username);
  form.set('decision', 'allow');
  const r = await fetch(url.split('?')[0]!, { method: 'POST', body: form, redirect: 'manual' });
  expect(r.status).toBe(302);
  return new URL(r.headers.get('location')!).searchParams;
}

describe('Pinterest OAuth', () => {
  it('authorize URL → consent → code exchange (Basic) → the user account', async () => {
    const url = authorizeUrl(pinterestAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 'st8' });
    const u = new URL(url);
    expect(u.pathname).toBe('/pinterest/oauth/');
    expect(u.searchParams.get('scope')).toBe('boards:read,pins:read,pins:write,user_accounts:read');
    expect(u.searchParams.get('code_challenge')).toBeNull();
    expect(authorizeUrl(pinterestAuth, {}, { app: SANDBOX_APP, redirectUri, state: 's' }).startsWith('https://www.pinterest.com/oauth/?')).toBe(true);
    const back = await consent(url, 'pin_fan');
    expect(back.get('state')).toBe('st8');
    const tokens = await exchangeCode(pinterestAuth, { sandboxBase: base }, SANDBOX_APP, { code: back.get('code')!, redirectUri }, new Date(), AbortSignal.timeout(5_000));
    if (!tokens.ok) throw new Error(tokens.error.message);
    expect(tokens.value).toMatchObject({ refreshToken: expect.any(String), refreshExpiresAt: expect.any(String), scopes: PINTEREST_SCOPES });
    expect(Date.parse(tokens.value.expiresAt!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(Date.parse(tokens.value.refreshExpiresAt!) - Date.now()).toBeGreaterThan(364 * 86_400_000);
    const accounts = await pinterestAuth.accounts(authCtx(), tokens.value);
    if (!accounts.ok) throw new Error(accounts.error.message);
    const user = sim.oauth.users.get([...sim.oauth.users.keys()].find((k) => sim.oauth.users.get(k)!.username === 'pin_fan')!)!;
    expect(accounts.value).toEqual([{ externalId: user.id, username: 'pin_fan', displayName: 'pin_fan', kind: 'user', credentials: expect.objectContaining({ userId: user.id, username: 'pin_fan', accessToken: tokens.value.accessToken }) }]);
    expect((accounts.value[0]!.credentials as unknown as Record<string, unknown>)['raw']).toBeUndefined();
  });

  it('the token endpoint takes the client only by HTTP Basic, and a code once', async () => {
    const url = authorizeUrl(pinterestAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 's' });
    const code = (await consent(url, 'basic_only')).get('code')!;
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: SANDBOX_APP.clientId, client_secret: SANDBOX_APP.clientSecret });
    const inBody = await fetch(`${base}/v5/oauth/token`, { method: 'POST', body });
    expect(inBody.status).toBe(401);
    const ok = await exchangeCode(pinterestAuth, { sandboxBase: base }, SANDBOX_APP, { code, redirectUri }, new Date(), AbortSignal.timeout(5_000));
    expect(ok.ok).toBe(true);
    const again = await exchangeCode(pinterestAuth, { sandboxBase: base }, SANDBOX_APP, { code, redirectUri }, new Date(), AbortSignal.timeout(5_000));
    expect(!again.ok && again.error).toMatchObject({ category: 'revoked', platformCode: 'invalid_grant' });
  });

  it('refresh rotates the refresh token ("continuous refresh"); the spent one is refused and revokes', async () => {
    const url = authorizeUrl(pinterestAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 's' });
    const code = (await consent(url, 'refresher')).get('code')!;
    const tokens = await exchangeCode(pinterestAuth, { sandboxBase: base }, SANDBOX_APP, { code, redirectUri }, new Date(), AbortSignal.timeout(5_000));
    if (!tokens.ok) throw new Error(tokens.error.message);
    const accounts = await pinterestAuth.accounts(authCtx(), tokens.value);
    if (!accounts.ok) throw new Error(accounts.error.message);
    const creds = accounts.value[0]!.credentials;
    const renewed = await pinterestAuth.refresh!(authCtx(), creds);
    if (!renewed.ok) throw new Error(renewed.error.message);
    expect(renewed.value.refreshToken).not.toBe(creds.refreshToken);
    expect(renewed.value).toMatchObject({ userId: creds.userId, username: 'refresher', refreshExpiresAt: expect.any(String) });
    const replay = await pinterestAuth.refresh!(authCtx(), creds);
    expect(!replay.ok && replay.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false });
  });

  it('a token without user_accounts:read cannot name the account (403, reconnect)', async () => {
    const user = sim.oauth.user('narrow');
    const t = await sim.oauth.issue(user, ['boards:read', 'pins:write']);
    const r = await pinterestAuth.accounts(authCtx(), { accessToken: t['access_token'] as string, raw: t });
    expect(!r.ok && r.error).toMatchObject({ category: 'auth_expired', message: expect.stringMatching(/user_accounts:read/) });
  });
});
