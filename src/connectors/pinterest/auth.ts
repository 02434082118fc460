// Connecting a Pinterest account (platforms.md §8 "Auth"): the OAuth 2.0 code flow at
// https://www.pinterest.com/oauth/ (scopes joined by commas, no PKCE), the code exchanged at
// https://api.pinterest.com/v5/oauth/token with HTTP Basic client authentication. Access tokens last about
// 30 days; the refresh token has its own expiry (refresh_token_expires_in, about a year), and under
// "continuous refresh" every refresh answers a new one, which the generic client stores.
// One login is one Pinterest user (GET /v5/user_account); the board is chosen per post.
import { err, type Result } from '../../lib/result.js';
import type { AuthCtx, OAuth2Auth, OAuthTokens } from '../auth-types.js';
import { refreshTokens } from '../oauth/client.js';
import type { ConnectorError } from '../types.js';
import * as client from './client.js';
import { mapPinterestError } from './errors.js';
import { ok } from '../../lib/result.js';

export type PinterestCredentials = OAuthTokens & { userId: string; username: string };

export const PINTEREST_API_ORIGIN = 'https://api.pinterest.com';

/** Boards to choose from and read back (boards:read), pins (pins:read, pins:write), who the user is (user_accounts:read). */
export const PINTEREST_SCOPES = ['boards:read', 'pins:read', 'pins:write', 'user_accounts:read'];

type Account = { id?: unknown; username?: unknown; business_name?: unknown; account_type?: unknown };

/**
 * The standard refresh grant. Pinterest answers a refusal with its own `{code, message}` body rather than
 * RFC 6749's `error`, so the generic client sees no `invalid_grant`; Crier's request is well formed, so a
 * 400 or 401 to it means the refresh token expired or was revoked: the user must connect again.
 */
async function refresh(ctx: AuthCtx, credentials: PinterestCredentials): Promise<Result<PinterestCredentials, ConnectorError>> {
  const base = ctx.sandbox ? { sandboxBase: ctx.baseUrl } : {};
  const got = await refreshTokens(pinterestAuth, base, ctx.app, credentials, ctx.clock.now(), ctx.signal);
  if (got.ok || !['http_400', 'http_401'].includes(got.error.platformCode ?? '')) return got;
  return err({ ...got.error, category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false });
}

export const pinterestAuth: OAuth2Auth<PinterestCredentials> = {
  kind: 'oauth2',
  authorizeEndpoint: { origin: 'https://www.pinterest.com', path: '/oauth/' },
  tokenEndpoint: { origin: PINTEREST_API_ORIGIN, path: '/v5/oauth/token' },
  scopes: PINTEREST_SCOPES,
  scopeSeparator: ',',
  pkce: false,
  clientAuth: 'basic',

  async accounts(ctx, tokens) {
    const sent = await client.userAccount(ctx.baseUrl, tokens.accessToken, ctx.signal);
    if (!sent.ok) return sent;
    const res = sent.value;
    const a = (res.body ?? {}) as Account;
    if (res.status !== 200 || typeof a.username !== 'string' || !a.username) return err(mapPinterestError(res, ctx.clock.now()));
    // `id` is in newer answers of /v5/user_account; the username identifies the account otherwise.
    const id = typeof a.id === 'string' && a.id ? a.id : a.username;
    const { raw: _raw, ...stored } = tokens;
    const displayName = typeof a.business_name === 'string' && a.business_name ? a.business_name : a.username;
    return ok([{ externalId: id, username: a.username, displayName, kind: a.account_type === 'BUSINESS' ? 'business' : 'user', credentials: { ...stored, userId: id, username: a.username } }]);
  },
  refresh,
};
