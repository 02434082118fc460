// Connecting LinkedIn accounts against the simulator's authorization server with LinkedIn's rules: the
// authorize URL built from the connector's OAuth2Auth data (no PKCE), the code exchanged with the client
// secret in the form body, 60-day access tokens, a refresh token only for approved apps (most get none),
// and accounts(): the member plus every page the member administers, each with the same token and its own
// author URN, each able to publish.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_APP, type TokenAnswer } from '../src/connectors/auth-types.js';
import { LINKEDIN_SCOPES, linkedinAuth, type LinkedInCredentials } from '../src/connectors/linkedin/auth.js';
import { linkedinConnector } from '../src/connectors/linkedin/connector.js';
import { authorizeUrl, exchangeCode, refreshTokens } from '../src/connectors/oauth/client.js';
import type { ConnectorCtx, PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { createLinkedInSimulator } from '../src/sandbox/linkedin/simulator.js';

const silent = { info() {}, warn() {}, error() {} };
const redirectUri = 'https://app.example/callback';
const DAY_MS = 86_400_000;
let sandbox: SandboxServer;
let base: string;
let plain: FastifyInstance; // a simulator whose app gets no refresh tokens, like most LinkedIn apps
let plainBase: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/linkedin`;
  plain = Fastify({ logger: false, forceCloseConnections: true });
  await plain.register(createLinkedInSimulator({ refreshTokens: false }).plugin, { prefix: '/linkedin' });
  plainBase = `${await plain.listen({ port: 0, host: '127.0.0.1' })}/linkedin`;
});
afterAll(async () => {
  await sandbox?.close();
  await plain?.close();
});

const authCtx = (baseUrl = base) => ({ baseUrl, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(5_000) });

/** The member's side of the consent page: posts the form it shows, answers where LinkedIn redirects to. */
async function consent(url: string, username: string): Promise<URL> {
  const u = new URL(url);
  const form = new URLSearchParams(u.searchParams);
  form.set('username', username);
  form.set('decision', 'allow');
  const r = await fetch(`${u.origin}${u.pathname}`, { method: 'POST', body: form, redirect: 'manual' });
  expect(r.status).toBe(302);
  return new URL(r.headers.get('location')!);
}

async function connect(username: string, opts: { scopes?: string[]; at?: string } = {}): Promise<TokenAnswer> {
  const auth = { ...linkedinAuth, scopes: opts.scopes ?? LINKEDIN_SCOPES };
  const where = { sandboxBase: opts.at ?? base };
  const back = await consent(authorizeUrl(auth, where, { app: SANDBOX_APP, redirectUri, state: 'st4te' }), username);
  const tokens = await exchangeCode(auth, where, SANDBOX_APP, { code: back.searchParams.get('code')!, redirectUri }, new Date(), AbortSignal.timeout(5_000));
  if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
  return tokens.value;
}

function ctxFor(credentials: LinkedInCredentials): ConnectorCtx<LinkedInCredentials> {
  return { credentials, saveCredentials: async () => {}, checkpoint: async () => {}, baseUrl: base, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(10_000) };
}
const draft = (text: string): PublicationDraft => {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options: {}, media: [], checkpoint: null };
};
const username = () => `li_${Math.random().toString(36).slice(2, 8)}`;

describe('connecting a LinkedIn account', () => {
  it('builds an authorize URL the simulator accepts: LinkedIn\'s path, space-separated scopes, no PKCE', async () => {
    const url = new URL(authorizeUrl(linkedinAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 'abc' }));
    expect(url.pathname).toBe('/linkedin/oauth/v2/authorization');
    expect(Object.fromEntries(url.searchParams)).toEqual({ response_type: 'code', client_id: SANDBOX_APP.clientId, redirect_uri: redirectUri, scope: LINKEDIN_SCOPES.join(' '), state: 'abc' });
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('w_organization_social');
    const back = await consent(url.toString(), username());
    expect(back.searchParams.get('state')).toBe('abc');
    expect(back.searchParams.get('code')).toBeTruthy();
  });

  it('exchanges the code for a 60-day token (with the secret in the body) and finds the member and the pages they administer', async () => {
    const name = username();
    const person = `urn:li:person:${sandbox.linkedin.oauth.user(name).id}`;
    const org = async (title: string, role: string) =>
      (await (await fetch(`${base}/_sim/organizations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: title, vanity_name: title.toLowerCase().replace(/ /g, '-'), roles: [{ person, role }] }) })).json()) as { id: string; urn: string };
    const admin = await org('Acme Widgets', 'ADMINISTRATOR');
    const analyst = await org('Watched Corp', 'ANALYST');
    const before = Date.now();
    const tokens = await connect(name);
    expect(Date.parse(tokens.expiresAt!) - before).toBeGreaterThanOrEqual(60 * DAY_MS - 5_000);
    expect(Date.parse(tokens.expiresAt!) - before).toBeLessThanOrEqual(60 * DAY_MS + 5_000);
    // LinkedIn lists the granted scopes comma-separated; they are stored as a list.
    expect(tokens.raw['scope']).toBe(LINKEDIN_SCOPES.join(','));
    expect(tokens.scopes).toEqual(LINKEDIN_SCOPES);
    expect(tokens.refreshToken).toBeTruthy(); // the sandbox app is one LinkedIn approved for refresh tokens
    expect(Date.parse(tokens.refreshExpiresAt!) - before).toBeGreaterThan(364 * DAY_MS);
    const found = await linkedinAuth.accounts(authCtx(), tokens);
    if (!found.ok) throw new Error(JSON.stringify(found.error));
    const own = [...sandbox.linkedin.organizations.values()].find((o) => o.vanityName === `${name.toLowerCase().replace(/_/g, '-')}-company`)!;
    const seen = found.value.map((a) => [a.kind, a.externalId, a.displayName]);
    expect(seen[0]).toEqual(['member', person, name]);
    expect(seen.slice(1).sort()).toEqual([
      ['organization', admin.urn, 'Acme Widgets'],
      ['organization', `urn:li:organization:${own.id}`, `${name} Company`],
    ].sort());
    expect(found.value.some((a) => a.externalId === analyst.urn)).toBe(false);
    expect(found.value.find((a) => a.externalId === admin.urn)!.username).toBe('acme-widgets');
    for (const a of found.value) {
      expect(a.credentials).toMatchObject({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: tokens.expiresAt, author: a.externalId });
      expect(a.credentials).not.toHaveProperty('raw');
      const r = await linkedinConnector.publish(ctxFor(a.credentials), draft(`hello from ${a.displayName} ${Math.random()}`));
      expect(r.ok, JSON.stringify(r)).toBe(true);
    }
  });

  it('yields only the member when the app was not granted the organization scopes', async () => {
    const tokens = await connect(username(), { scopes: ['openid', 'profile', 'w_member_social'] });
    const found = await linkedinAuth.accounts(authCtx(), tokens);
    expect(found.ok && found.value.map((a) => a.kind)).toEqual(['member']);
  });

  it('keeps the credentials of an app without refresh tokens to expiresAt alone, and refreshing them asks for a reconnect', async () => {
    const tokens = await connect(username(), { at: plainBase });
    expect(tokens.refreshToken).toBeUndefined();
    expect(tokens.raw['refresh_token_expires_in']).toBeUndefined();
    const found = await linkedinAuth.accounts(authCtx(plainBase), tokens);
    if (!found.ok) throw new Error(JSON.stringify(found.error));
    const creds = found.value[0]!.credentials;
    expect(Object.keys(creds).sort()).toEqual(['accessToken', 'author', 'expiresAt', 'scopes']);
    const r = await refreshTokens(linkedinAuth, { sandboxBase: plainBase }, SANDBOX_APP, creds, new Date(), AbortSignal.timeout(5_000));
    expect(!r.ok && r.error).toMatchObject({ category: 'auth_expired', retryable: false });
  });

  it('renews with the refresh grant: a new access token, the same refresh token, its 365 days not extended', async () => {
    const tokens = await connect(username());
    const { raw: _raw, ...stored } = tokens;
    const creds: LinkedInCredentials = { ...stored, author: 'urn:li:person:x' };
    await new Promise((r) => setTimeout(r, 1_100));
    const r = await refreshTokens(linkedinAuth, { sandboxBase: base }, SANDBOX_APP, creds, new Date(), AbortSignal.timeout(5_000));
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.value.accessToken).not.toBe(tokens.accessToken);
    expect(r.value).toMatchObject({ refreshToken: tokens.refreshToken, author: 'urn:li:person:x' });
    expect(Math.abs(Date.parse(r.value.refreshExpiresAt!) - Date.parse(tokens.refreshExpiresAt!))).toBeLessThan(2_000);
  });

  it('refuses a code used twice and a wrong client secret', async () => {
    const back = await consent(authorizeUrl(linkedinAuth, { sandboxBase: base }, { app: SANDBOX_APP, redirectUri, state: 's' }), username());
    const code = back.searchParams.get('code')!;
    const exchange = (app = SANDBOX_APP) => exchangeCode(linkedinAuth, { sandboxBase: base }, app, { code, redirectUri }, new Date(), AbortSignal.timeout(5_000));
    const wrong = await exchange({ ...SANDBOX_APP, clientSecret: 'nope' });
    expect(!wrong.ok && wrong.error).toMatchObject({ category: 'permanent', platformCode: 'invalid_client' });
    expect((await exchange()).ok).toBe(true);
    const again = await exchange();
    expect(!again.ok && again.error).toMatchObject({ category: 'revoked', platformCode: 'invalid_grant' });
  });
});
