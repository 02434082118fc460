// The generic OAuth 2.0 client (RFC 6749 code flow, RFC 7636 PKCE, RFC 7009 revocation) every OAuth
// connector shares; a platform contributes only data (OAuth2Auth). Proven against a real authorization
// server (oidc-provider) in test/oauth.client.test.ts, not only against our simulators.
// Error rule (design.md): only a definitive answer about the grant (invalid_grant, unauthorized_client
// for this token) means the account lost access; a broken app configuration (invalid_client) is the
// operator's problem and must not disconnect anyone; network trouble and 5xx are retried later.
import { createHash, randomBytes } from 'node:crypto';
import { err, ok, type Result } from '../../lib/result.js';
import type { AppCredentials, OAuth2Auth, OAuthEndpoint, OAuthTokens, TokenAnswer } from '../auth-types.js';
import { request, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

/** Where an endpoint is for this connection: the real origin, the sandbox simulator, or a Mastodon instance. */
export type EndpointBase = { sandboxBase?: string; instanceUrl?: string };

export function endpointUrl(ep: OAuthEndpoint, base: EndpointBase): string {
  const origin = base.sandboxBase ?? (ep.origin === 'instance' ? base.instanceUrl : ep.origin);
  if (!origin) throw new Error('this platform needs an instance URL');
  return `${origin.replace(/\/$/, '')}${ep.path}`;
}

export function newPkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url'); // 64 characters, within RFC 7636's 43–128
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(
  auth: OAuth2Auth<OAuthTokens>,
  base: EndpointBase,
  p: { app: AppCredentials; redirectUri: string; state: string; codeChallenge?: string },
): string {
  const url = new URL(endpointUrl(auth.authorizeEndpoint, base));
  const q = url.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', p.app.clientId);
  q.set('redirect_uri', p.redirectUri);
  q.set('scope', auth.scopes.join(auth.scopeSeparator));
  q.set('state', p.state);
  if (auth.pkce && p.codeChallenge) {
    q.set('code_challenge', p.codeChallenge);
    q.set('code_challenge_method', 'S256');
  }
  for (const [k, v] of Object.entries(auth.extraAuthorizeParams ?? {})) q.set(k, v);
  return url.toString();
}

/** Client authentication (RFC 6749 §2.3.1): HTTP Basic with each part form-encoded, or both in the body. */
function authenticate(auth: OAuth2Auth<OAuthTokens>, app: AppCredentials, form: URLSearchParams): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (auth.clientAuth === 'basic') {
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    headers['authorization'] = `Basic ${Buffer.from(`${enc(app.clientId)}:${enc(app.clientSecret)}`).toString('base64')}`;
  } else {
    form.set('client_id', app.clientId);
    form.set('client_secret', app.clientSecret);
  }
  return headers;
}

type Grant =
  | { grant_type: 'authorization_code'; code: string; redirect_uri: string; code_verifier?: string }
  | { grant_type: 'refresh_token'; refresh_token: string };

async function tokenRequest(
  auth: OAuth2Auth<OAuthTokens>,
  url: string,
  app: AppCredentials,
  grant: Grant,
  now: Date,
  signal: AbortSignal,
): Promise<Result<TokenAnswer, ConnectorError>> {
  const form = new URLSearchParams(Object.entries(grant).filter(([, v]) => v !== undefined) as [string, string][]);
  const headers = authenticate(auth, app, form);
  // Not sideEffect: a lost answer to a code exchange cannot be replayed anyway (codes are single use),
  // and a lost refresh answer is reported as transient so the refresh is tried again.
  const sent = await request(url, { method: 'POST', headers, body: form.toString(), signal });
  if (!sent.ok) return sent;
  const res = sent.value;
  if (res.status === 200 && typeof (res.body as { access_token?: unknown })?.access_token === 'string') {
    return ok(parseTokenAnswer(res.body as Record<string, unknown>, now));
  }
  return err(tokenError(res, grant.grant_type));
}

export function parseTokenAnswer(body: Record<string, unknown>, now: Date): TokenAnswer {
  const at = (secs: unknown) => (typeof secs === 'number' && secs > 0 ? new Date(now.getTime() + secs * 1000).toISOString() : undefined);
  const scope = typeof body['scope'] === 'string' ? body['scope'].split(/[\s,]+/).filter(Boolean) : undefined;
  const answer: TokenAnswer = { accessToken: body['access_token'] as string, raw: body };
  if (typeof body['refresh_token'] === 'string' && body['refresh_token']) answer.refreshToken = body['refresh_token'];
  const expiresAt = at(body['expires_in']);
  if (expiresAt) answer.expiresAt = expiresAt;
  const refreshExpiresAt = at(body['refresh_token_expires_in']);
  if (refreshExpiresAt) answer.refreshExpiresAt = refreshExpiresAt;
  if (scope) answer.scopes = scope;
  return answer;
}

/** Classifies a token endpoint's refusal. */
export function tokenError(res: HttpResponse, grantType: string): ConnectorError {
  const body = (res.body ?? {}) as { error?: unknown; error_description?: unknown };
  const name = typeof body.error === 'string' ? body.error : `http_${res.status}`;
  const detail = typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
  const message = `the token endpoint refused the ${grantType.replace('_', ' ')} (${name}${detail})`;
  if (res.status === 429) {
    const after = Number(res.headers.get('retry-after'));
    return { category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', platformCode: name, message, retryable: true, retryAfterMs: Number.isFinite(after) && after > 0 ? after * 1000 : 60_000 };
  }
  if (res.status >= 500) return { category: 'transient', code: 'PLATFORM_UNAVAILABLE', platformCode: name, message, retryable: true };
  // RFC 6749 §5.2: the grant (code or refresh token) is invalid, expired or revoked. Which of the three
  // is not said (a real server answers the same for all), and need not be: the user must reconnect.
  if (name === 'invalid_grant') return { category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', platformCode: name, message, retryable: false };
  return { category: 'permanent', code: 'PLATFORM_ERROR', platformCode: name, message, retryable: false };
}

export function exchangeCode(
  auth: OAuth2Auth<OAuthTokens>,
  base: EndpointBase,
  app: AppCredentials,
  p: { code: string; redirectUri: string; codeVerifier?: string },
  now: Date,
  signal: AbortSignal,
): Promise<Result<TokenAnswer, ConnectorError>> {
  return tokenRequest(auth, endpointUrl(auth.tokenEndpoint, base), app, { grant_type: 'authorization_code', code: p.code, redirect_uri: p.redirectUri, code_verifier: auth.pkce ? p.codeVerifier : undefined }, now, signal);
}

/**
 * The standard refresh_token grant. The answer replaces the stored tokens, except that a missing refresh
 * token keeps the old one (servers that do not rotate may omit it; a stored token is never lost).
 */
export async function refreshTokens<C extends OAuthTokens>(
  auth: OAuth2Auth<OAuthTokens>,
  base: EndpointBase,
  app: AppCredentials,
  credentials: C,
  now: Date,
  signal: AbortSignal,
): Promise<Result<C, ConnectorError>> {
  if (!credentials.refreshToken) {
    return err({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', message: 'this account has no refresh token; reconnect it', retryable: false });
  }
  const got = await tokenRequest(auth, endpointUrl(auth.tokenEndpoint, base), app, { grant_type: 'refresh_token', refresh_token: credentials.refreshToken }, now, signal);
  if (!got.ok) return got;
  return ok(mergeTokens(credentials, got.value));
}

/** New tokens over old credentials; never replaces a stored refresh token (or its expiry) with nothing. */
export function mergeTokens<C extends OAuthTokens>(old: C, fresh: OAuthTokens): C {
  const { raw: _raw, ...tokens } = fresh as TokenAnswer;
  const next: C = { ...old, accessToken: tokens.accessToken };
  if (tokens.refreshToken) {
    next.refreshToken = tokens.refreshToken;
    if (tokens.refreshExpiresAt) next.refreshExpiresAt = tokens.refreshExpiresAt;
  }
  if (tokens.expiresAt) next.expiresAt = tokens.expiresAt;
  else delete next.expiresAt;
  if (tokens.scopes) next.scopes = tokens.scopes;
  return next;
}

/** RFC 7009: best effort; a revocation that fails is logged by the caller, never blocks a disconnect. */
export async function revokeToken(
  auth: OAuth2Auth<OAuthTokens>,
  base: EndpointBase,
  app: AppCredentials,
  token: string,
  hint: 'access_token' | 'refresh_token',
  signal: AbortSignal,
): Promise<Result<void, ConnectorError>> {
  if (!auth.revokeEndpoint) return ok(undefined);
  const form = new URLSearchParams({ token, token_type_hint: hint });
  const headers = authenticate(auth, app, form);
  const sent = await request(endpointUrl(auth.revokeEndpoint, base), { method: 'POST', headers, body: form.toString(), signal });
  if (!sent.ok) return sent;
  if (sent.value.status === 200) return ok(undefined);
  return err(tokenError(sent.value, 'revocation'));
}
