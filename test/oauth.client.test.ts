// The generic OAuth 2.0 client against a real authorization server (oidc-provider): authorize URL with
// state and PKCE, code exchange, refresh with rotation, revocation, and how each refusal is classified.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuth2Auth, OAuthTokens } from '../src/connectors/auth-types.js';
import { authorizeUrl, exchangeCode, mergeTokens, newPkce, refreshTokens, revokeToken, type EndpointBase } from '../src/connectors/oauth/client.js';
import { err, ok } from '../src/lib/result.js';
import { CLIENT, REDIRECT_URI, startOidcServer, type OidcServer } from './support/oidc.js';

let oidc: OidcServer;
let auth: OAuth2Auth<OAuthTokens>;
const base: EndpointBase = {};
const signal = () => AbortSignal.timeout(5_000);

beforeAll(async () => {
  oidc = await startOidcServer();
  auth = {
    kind: 'oauth2',
    authorizeEndpoint: { origin: oidc.issuer, path: '/auth' },
    tokenEndpoint: { origin: oidc.issuer, path: '/token' },
    revokeEndpoint: { origin: oidc.issuer, path: '/token/revocation' },
    scopes: ['openid', 'offline_access', 'posts.write'],
    scopeSeparator: ' ',
    pkce: true,
    clientAuth: 'basic',
    accounts: async () => ok([]),
  };
});
afterAll(async () => oidc?.close());

/** Runs the browser part of the flow and returns the code and the verifier it needs. */
async function authorizeOnce() {
  const pkce = newPkce();
  const state = `st_${Math.random().toString(36).slice(2)}`;
  const url = authorizeUrl(auth, base, { app: CLIENT, redirectUri: REDIRECT_URI, state, codeChallenge: pkce.challenge });
  const back = await oidc.authorize(url);
  expect(back.searchParams.get('state')).toBe(state);
  return { code: back.searchParams.get('code')!, verifier: pkce.verifier };
}

async function connect() {
  const { code, verifier } = await authorizeOnce();
  const tokens = await exchangeCode(auth, base, CLIENT, { code, redirectUri: REDIRECT_URI, codeVerifier: verifier }, new Date(), signal());
  if (!tokens.ok) throw new Error(JSON.stringify(tokens.error));
  return tokens.value;
}

describe('generic OAuth 2.0 client against oidc-provider', () => {
  it('builds an authorize URL the server accepts, and exchanges the code (PKCE S256) for tokens with expiry', async () => {
    const before = Date.now();
    const t = await connect();
    expect(t.accessToken).toMatch(/\S{20,}/);
    expect(t.refreshToken).toMatch(/\S{20,}/);
    const expiresAt = Date.parse(t.expiresAt!);
    expect(expiresAt).toBeGreaterThan(before);
    expect(t.scopes).toEqual(expect.arrayContaining(['openid', 'posts.write']));
  });

  it('refuses an exchange without the PKCE verifier, and a replayed code, as a definitive invalid_grant', async () => {
    const { code, verifier } = await authorizeOnce();
    const noVerifier = await exchangeCode({ ...auth, pkce: false }, base, CLIENT, { code, redirectUri: REDIRECT_URI }, new Date(), signal());
    expect(noVerifier).toMatchObject(err({ category: 'revoked', platformCode: 'invalid_grant', retryable: false }));

    const second = await authorizeOnce();
    const first = await exchangeCode(auth, base, CLIENT, { code: second.code, redirectUri: REDIRECT_URI, codeVerifier: second.verifier }, new Date(), signal());
    expect(first.ok).toBe(true);
    const replay = await exchangeCode(auth, base, CLIENT, { code: second.code, redirectUri: REDIRECT_URI, codeVerifier: second.verifier }, new Date(), signal());
    expect(replay).toMatchObject(err({ category: 'revoked', platformCode: 'invalid_grant' }));
    void verifier;
  });

  it('rotates the refresh token, and a reused old one is refused and ends the family', async () => {
    const t = await connect();
    const first = await refreshTokens(auth, base, CLIENT, t, new Date(), signal());
    if (!first.ok) throw new Error(JSON.stringify(first.error));
    expect(first.value.refreshToken).not.toBe(t.refreshToken);
    expect(first.value.accessToken).not.toBe(t.accessToken);

    const reused = await refreshTokens(auth, base, CLIENT, t, new Date(), signal());
    expect(reused).toMatchObject(err({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', platformCode: 'invalid_grant', retryable: false }));
    // The server now treats the rotated token as stolen too.
    const after = await refreshTokens(auth, base, CLIENT, first.value, new Date(), signal());
    expect(after).toMatchObject(err({ category: 'revoked', platformCode: 'invalid_grant' }));
  });

  it('classifies a wrong client secret as the operator app problem it is, not as the account losing access', async () => {
    const t = await connect();
    const r = await refreshTokens(auth, base, { ...CLIENT, clientSecret: 'wrong-secret-wrong-secret-wrong-secret' }, t, new Date(), signal());
    expect(r).toMatchObject(err({ category: 'permanent', platformCode: 'invalid_client' }));
    // The real secret still works: nothing was spent by the refused attempt.
    expect((await refreshTokens(auth, base, CLIENT, t, new Date(), signal())).ok).toBe(true);
  });

  it('revokes a refresh token so it can no longer be used', async () => {
    const t = await connect();
    expect(await revokeToken(auth, base, CLIENT, t.refreshToken!, 'refresh_token', signal())).toEqual(ok(undefined));
    expect(await refreshTokens(auth, base, CLIENT, t, new Date(), signal())).toMatchObject(err({ category: 'revoked' }));
  });

  it('authenticates with client_secret_post too', async () => {
    const post = await startOidcServer({ clientAuth: 'client_secret_post' });
    try {
      const a = { ...auth, clientAuth: 'body' as const, authorizeEndpoint: { origin: post.issuer, path: '/auth' }, tokenEndpoint: { origin: post.issuer, path: '/token' } };
      const pkce = newPkce();
      const back = await post.authorize(authorizeUrl(a, base, { app: CLIENT, redirectUri: REDIRECT_URI, state: 's', codeChallenge: pkce.challenge }));
      const t = await exchangeCode(a, base, CLIENT, { code: back.searchParams.get('code')!, redirectUri: REDIRECT_URI, codeVerifier: pkce.verifier }, new Date(), signal());
      if (!t.ok) throw new Error(JSON.stringify(t.error));
      const refreshed = await refreshTokens(a, base, CLIENT, t.value, new Date(), signal());
      expect(refreshed.ok).toBe(true);
      const wrong = await refreshTokens(a, base, { ...CLIENT, clientSecret: 'not-the-secret-not-the-secret-not-the-secret' }, refreshed.ok ? refreshed.value : t.value, new Date(), signal());
      expect(wrong).toMatchObject(err({ category: 'permanent', platformCode: 'invalid_client' }));
    } finally {
      await post.close();
    }
  });

  it('reports an unreachable server as transient and never sent', async () => {
    const down = { ...auth, tokenEndpoint: { origin: 'http://127.0.0.1:9', path: '/token' } };
    const r = await refreshTokens(down, base, CLIENT, { accessToken: 'a', refreshToken: 'r' }, new Date(), signal());
    expect(r).toMatchObject(err({ category: 'transient', code: 'PLATFORM_UNREACHABLE', retryable: true }));
  });

  it('keeps the stored refresh token when an answer carries none, and never stores an empty one', () => {
    const old = { accessToken: 'a1', refreshToken: 'r1', expiresAt: '2026-01-01T00:00:00.000Z', extra: 'kept' };
    expect(mergeTokens(old, { accessToken: 'a2', expiresAt: '2026-02-01T00:00:00.000Z' })).toEqual({ accessToken: 'a2', refreshToken: 'r1', expiresAt: '2026-02-01T00:00:00.000Z', extra: 'kept' });
    expect(mergeTokens(old, { accessToken: 'a3', refreshToken: '' }).refreshToken).toBe('r1');
    expect(mergeTokens(old, { accessToken: 'a4', refreshToken: 'r2' }).refreshToken).toBe('r2');
  });
});
