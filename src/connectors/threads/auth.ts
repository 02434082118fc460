// Connecting a Threads account (platforms.md §5 "Auth"): the OAuth 2.0 code flow on threads.net (scopes
// joined by commas, the client secret in the form body, no PKCE), then Threads' own steps: the 1-hour token
// is exchanged at once for a 60-day one (th_exchange_token), and that token renews itself
// (th_refresh_token) once it is at least 24 hours old and before it expires. There is no refresh token: an
// expired token can only be replaced by connecting again.
import { err, ok, type Result } from '../../lib/result.js';
import type { AuthCtx, OAuth2Auth, OAuthTokens } from '../auth-types.js';
import type { ConnectorError } from '../types.js';
import * as client from './client.js';
import { mapGraphError } from './errors.js';

export type ThreadsCredentials = OAuthTokens & {
  /** The Threads user id (also the account's external id). */
  userId: string;
  username: string;
  /** When this access token was issued: Threads refreshes a token only once it is 24 hours old. */
  issuedAt?: string;
};

/**
 * Publishing, replies (thread chains and `reply_to` are replies: threads_manage_replies), reading the
 * account's replies back (threads_read_replies) and metrics later (threads_manage_insights).
 */
export const THREADS_SCOPES = ['threads_basic', 'threads_content_publish', 'threads_manage_replies', 'threads_read_replies', 'threads_manage_insights'];

type TokenBody = { access_token?: unknown; expires_in?: unknown };

function tokenFrom(body: unknown, now: Date): { accessToken: string; expiresAt?: string } | undefined {
  const b = (body ?? {}) as TokenBody;
  if (typeof b.access_token !== 'string' || !b.access_token) return undefined;
  const secs = typeof b.expires_in === 'number' ? b.expires_in : Number(b.expires_in);
  return { accessToken: b.access_token, expiresAt: Number.isFinite(secs) && secs > 0 ? new Date(now.getTime() + secs * 1000).toISOString() : undefined };
}

const unreadable = (what: string): ConnectorError => ({ category: 'transient', code: 'PLATFORM_ERROR', message: `Threads answered the ${what} without an access token`, retryable: true });

async function refresh(ctx: AuthCtx, credentials: ThreadsCredentials): Promise<Result<ThreadsCredentials, ConnectorError>> {
  const now = ctx.clock.now();
  if (credentials.expiresAt && Date.parse(credentials.expiresAt) <= now.getTime()) {
    return err({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', message: `the Threads access token expired on ${credentials.expiresAt}; an expired token cannot be refreshed, connect the account again`, retryable: false });
  }
  // Not checked here: the 24-hour minimum age. Threads decides (a refusal is not a revocation), and a token
  // Threads refused for another reason is better reported by Threads itself.
  const sent = await client.refreshToken(ctx.baseUrl, credentials.accessToken, ctx.signal);
  if (!sent.ok) return sent;
  const res = sent.value;
  if (res.status !== 200) {
    const e = mapGraphError(res, now);
    // A refusal that is neither about the token (190: expired or revoked) nor passing (5xx, throttling), such
    // as a token under 24 hours old: this token cannot be renewed, which is an expiry, never a revocation.
    if (e.category === 'invalid_content' || e.category === 'permanent') {
      return err({ ...e, category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', message: `Threads refused to refresh the access token: ${e.message}` });
    }
    return err(e);
  }
  const token = tokenFrom(res.body, now);
  if (!token) return err(unreadable('refresh'));
  const next: ThreadsCredentials = { ...credentials, accessToken: token.accessToken, issuedAt: now.toISOString() };
  if (token.expiresAt) next.expiresAt = token.expiresAt;
  return ok(next);
}

export const threadsAuth: OAuth2Auth<ThreadsCredentials> = {
  kind: 'oauth2',
  authorizeEndpoint: { origin: 'https://threads.net', path: '/oauth/authorize' },
  tokenEndpoint: { origin: 'https://graph.threads.net', path: '/oauth/access_token' },
  scopes: THREADS_SCOPES,
  scopeSeparator: ',',
  pkce: false,
  clientAuth: 'body',
  renewsAccessToken: true,
  async accounts(ctx, tokens) {
    const now = ctx.clock.now();
    // The code gives a 1-hour token; a scheduler needs the 60-day one, so it is exchanged straight away.
    const exchanged = await client.exchangeToken(ctx.baseUrl, ctx.app.clientSecret, tokens.accessToken, ctx.signal);
    if (!exchanged.ok) return exchanged;
    if (exchanged.value.status !== 200) return err(mapGraphError(exchanged.value, now));
    const long = tokenFrom(exchanged.value.body, now);
    if (!long) return err(unreadable('long-lived token exchange'));
    const profile = await client.me(ctx.baseUrl, long.accessToken, ctx.signal);
    if (!profile.ok) return profile;
    if (profile.value.status !== 200) return err(mapGraphError(profile.value, now));
    const p = profile.value.body as { id?: string; username?: string; name?: string };
    if (!p.id || !p.username) return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Threads answered /me without an id or username', retryable: true });
    const credentials: ThreadsCredentials = { accessToken: long.accessToken, userId: String(p.id), username: p.username, issuedAt: now.toISOString() };
    if (long.expiresAt) credentials.expiresAt = long.expiresAt;
    if (tokens.scopes) credentials.scopes = tokens.scopes;
    return ok([{ externalId: String(p.id), username: p.username, displayName: p.name || p.username, kind: 'user', credentials }]);
  },
  refresh,
};
