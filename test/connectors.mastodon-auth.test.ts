// Connecting Mastodon accounts against the simulated instance: Crier registers its app on the instance
// (POST /api/v1/apps), the authorize URL built from the OAuth2Auth data (origin: the instance) goes through
// the consent screen with PKCE S256, the code becomes a token that never expires, verify_credentials gives
// the one account; the app's redirect URIs and scopes bind the flow, and a revoked token is lost access.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppCredentials, AuthCtx } from '../src/connectors/auth-types.js';
import { MASTODON_SCOPES, mastodonAuth, type MastodonCredentials } from '../src/connectors/mastodon/auth.js';
import { mastodonConnector } from '../src/connectors/mastodon/connector.js';
import { authorizeUrl, exchangeCode, newPkce, revokeToken } from '../src/connectors/oauth/client.js';
import { isPending, type ConnectorCtx } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { silentLog } from './support/contract.js';

const REDIRECT = 'https://crier.example.com/v1/connections/callback';
let sandbox: SandboxServer;
let instance: string; // the simulated instance, addressed as a real one would be (instance_url)

beforeAll(async () => {
  sandbox = await startSandboxServer();
  instance = `${sandbox.url}/mastodon`;
});
afterAll(async () => sandbox?.close());
beforeEach(() => sandbox.mastodon.core.clearFaults());

const authCtx = (app: AppCredentials, baseUrl = instance): AuthCtx => ({ baseUrl, instanceUrl: instance, app, sandbox: false, clock: systemClock, log: silentLog, signal: AbortSignal.timeout(10_000) });
const where = () => ({ instanceUrl: instance });

async function register(): Promise<AppCredentials> {
  const r = await mastodonAuth.registerApp!({ baseUrl: instance, instanceUrl: instance, sandbox: false, clock: systemClock, log: silentLog, signal: AbortSignal.timeout(10_000) }, REDIRECT);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

/** The browser part: the consent page, a username, allow or deny; returns where the instance sent the user. */
async function consent(url: string, username: string, decision = 'allow'): Promise<URL> {
  const page = await fetch(url, { redirect: 'manual' });
  expect(page.status, await page.clone().text()).toBe(200);
  const form = new URLSearchParams(new URL(url).searchParams);
  form.set('username', username);
  form.set('decision', decision);
  const r = await fetch(url.split('?')[0]!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, redirect: 'manual' });
  expect(r.status).toBe(302);
  return new URL(r.headers.get('location')!);
}

async function signIn(app: AppCredentials, username: string) {
  const pkce = newPkce();
  const back = await consent(authorizeUrl(mastodonAuth, where(), { app, redirectUri: REDIRECT, state: 's', codeChallenge: pkce.challenge }), username);
  const tokens = await exchangeCode(mastodonAuth, where(), app, { code: back.searchParams.get('code')!, redirectUri: REDIRECT, codeVerifier: pkce.verifier }, new Date(), AbortSignal.timeout(5_000));
  if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
  return tokens.value;
}

describe('connecting a Mastodon account', () => {
  it('registers Crier on the instance, signs in with PKCE, and gives one account with a token that never expires', async () => {
    const app = await register();
    expect(sandbox.mastodon.apps.get(app.clientId)).toEqual({ name: 'Crier', website: 'https://crier.example.com', scopes: MASTODON_SCOPES, redirectUris: [REDIRECT] });

    const pkce = newPkce();
    const url = authorizeUrl(mastodonAuth, where(), { app, redirectUri: REDIRECT, state: 'state-1', codeChallenge: pkce.challenge });
    expect(url.startsWith(`${instance}/oauth/authorize?`)).toBe(true);
    const q = new URL(url).searchParams;
    expect([q.get('scope'), q.get('code_challenge_method'), q.get('client_id')]).toEqual(['read write:statuses write:media', 'S256', app.clientId]);
    const back = await consent(url, 'ada');
    expect([back.origin + back.pathname, back.searchParams.get('state')]).toEqual([REDIRECT, 'state-1']);

    // Without the verifier the code is refused (the challenge binds it); the code then is spent.
    const code = back.searchParams.get('code')!;
    const noVerifier = await exchangeCode({ ...mastodonAuth, pkce: false }, where(), app, { code, redirectUri: REDIRECT }, new Date(), AbortSignal.timeout(5_000));
    expect(!noVerifier.ok && noVerifier.error).toMatchObject({ platformCode: 'invalid_grant' });
    const tokens = await signIn(app, 'ada');
    expect(tokens.raw).toMatchObject({ token_type: 'Bearer', scope: 'read write:statuses write:media', created_at: expect.any(Number) });
    expect(tokens.raw['expires_in']).toBeUndefined();
    expect([tokens.expiresAt, tokens.refreshToken]).toEqual([undefined, undefined]);

    // verify_credentials names the account; its calls go to its own instance, whatever base the worker passes.
    const accounts = await mastodonAuth.accounts(authCtx(app, 'http://127.0.0.1:9'), tokens);
    if (!accounts.ok) throw new Error(JSON.stringify(accounts.error));
    const host = new URL(instance).host;
    const [acct] = accounts.value;
    expect(acct).toMatchObject({ username: `@ada@${host}`, displayName: 'ada', kind: 'user' });
    expect(acct!.externalId).toBe(`${acct!.credentials.accountId}@${host}`);
    expect(acct!.credentials).toEqual({ accessToken: tokens.accessToken, accountId: acct!.credentials.accountId, username: `@ada@${host}`, scopes: MASTODON_SCOPES, instanceUrl: instance });

    const ctx: ConnectorCtx<MastodonCredentials> = { credentials: acct!.credentials, saveCredentials: async () => {}, checkpoint: async () => {}, baseUrl: 'http://127.0.0.1:9', sandbox: false, clock: systemClock, log: silentLog, signal: AbortSignal.timeout(10_000) };
    const id = newId('publication');
    const r = await mastodonConnector.publish(ctx, { publicationId: id, marker: id, text: 'connected to my own instance', options: {}, media: [], checkpoint: null });
    expect(r.ok && !isPending(r.value)).toBe(true);
    expect([...sandbox.mastodon.statuses.values()].find((s) => s.text === 'connected to my own instance')).toMatchObject({ accountId: acct!.credentials.accountId, application: 'Crier' });
  });

  it("holds the flow to the app's registration: its redirect URIs and its scopes", async () => {
    const app = await register();
    const wrongRedirect = authorizeUrl(mastodonAuth, where(), { app, redirectUri: 'https://evil.example.com/cb', state: 'x', codeChallenge: newPkce().challenge });
    const page = await fetch(wrongRedirect, { redirect: 'manual' });
    expect(page.status).toBe(400);
    expect(await page.text()).toMatch(/redirect_uri is not registered/);

    // An app registered for `read` alone cannot be granted write scopes.
    const narrow = await fetch(`${instance}/api/v1/apps`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ client_name: 'Reader', redirect_uris: [REDIRECT] }) });
    const reader = (await narrow.json()) as { client_id: string; client_secret: string; scopes: string[] };
    expect(reader.scopes).toEqual(['read']);
    const asked = await fetch(authorizeUrl(mastodonAuth, where(), { app: { clientId: reader.client_id, clientSecret: reader.client_secret }, redirectUri: REDIRECT, state: 'y' }), { redirect: 'manual' });
    expect(asked.status).toBe(302);
    expect(Object.fromEntries(new URL(asked.headers.get('location')!).searchParams)).toMatchObject({ error: 'invalid_scope', state: 'y' });

    const denied = await consent(authorizeUrl(mastodonAuth, where(), { app, redirectUri: REDIRECT, state: 'd', codeChallenge: newPkce().challenge }), 'nope', 'deny');
    expect(denied.searchParams.get('error')).toBe('access_denied');
  });

  it("refuses an app registration the instance rejects, as the app's problem rather than the account's", async () => {
    const r = await mastodonAuth.registerApp!({ baseUrl: instance, instanceUrl: instance, sandbox: false, clock: systemClock, log: silentLog, signal: AbortSignal.timeout(5_000) }, 'not a uri');
    expect(!r.ok && r.error).toMatchObject({ retryable: false, message: expect.stringMatching(/Redirect URI must be an absolute URI/) });
    expect(['revoked', 'auth_expired']).not.toContain(!r.ok && r.error.category);
    sandbox.mastodon.core.addFault({ operation: 'apps.create', fault: { kind: 'status', status: 503 } });
    const down = await mastodonAuth.registerApp!({ baseUrl: instance, instanceUrl: instance, sandbox: false, clock: systemClock, log: silentLog, signal: AbortSignal.timeout(5_000) }, REDIRECT);
    expect(!down.ok && down.error).toMatchObject({ category: 'transient', retryable: true });
  });

  it('loses access when the token is revoked, and reads a token without `read` as one to reconnect', async () => {
    const app = await register();
    const tokens = await signIn(app, 'grace');
    const accounts = await mastodonAuth.accounts(authCtx(app), tokens);
    if (!accounts.ok) throw new Error(JSON.stringify(accounts.error));
    expect((await revokeToken(mastodonAuth, where(), app, tokens.accessToken, 'access_token', AbortSignal.timeout(5_000))).ok).toBe(true);
    const after = await mastodonAuth.accounts(authCtx(app), tokens);
    expect(!after.ok && after.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED' });
    const ctx: ConnectorCtx<MastodonCredentials> = { credentials: accounts.value[0]!.credentials, saveCredentials: async () => {}, checkpoint: async () => {}, baseUrl: instance, sandbox: false, clock: systemClock, log: silentLog, signal: AbortSignal.timeout(10_000) };
    const id = newId('publication');
    const r = await mastodonConnector.publish(ctx, { publicationId: id, marker: id, text: 'after revocation', options: {}, media: [], checkpoint: null });
    expect(!r.ok && r.error).toMatchObject({ category: 'revoked', retryable: false });

    const writer = await fetch(`${instance}/_sim/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'write_only', scopes: ['write:statuses'] }) });
    const token = ((await writer.json()) as { access_token: string }).access_token;
    const noRead = await mastodonAuth.accounts(authCtx(app), { accessToken: token, raw: {} });
    expect(!noRead.ok && noRead.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED' });
  });
});
