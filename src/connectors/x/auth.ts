// Connecting an X account: OAuth 2.0 Authorization Code with PKCE (S256), Crier as a confidential client
// (HTTP Basic at the token endpoint), platforms.md §1 "Auth". Access tokens live 2 hours; a refresh token
// comes only with `offline.access`, is single-use and rotates, so every refresh stores the new one before
// the access token is used (src/services/account-tokens.ts does that under the account's row lock).
import { err, ok, type Result } from '../../lib/result.js';
import type { AuthCtx, OAuth2Auth, OAuthTokens } from '../auth-types.js';
import { refreshTokens } from '../oauth/client.js';
import type { ConnectorError } from '../types.js';
import * as client from './client.js';
import { mapXError } from './errors.js';

/** What an X account keeps: its tokens, and who it is (read-back lists this user's posts; URLs name them). */
export type XCredentials = OAuthTokens & { userId: string; username: string };

export const X_API_ORIGIN = 'https://api.x.com';

/** Publish (tweet.write), read back (tweet.read, users.read), upload media (media.write), stay connected (offline.access). */
export const X_SCOPES = ['tweet.read', 'tweet.write', 'users.read', 'offline.access', 'media.write'];

type Me = { data?: { id?: string; username?: string; name?: string } };

export const xAuth: OAuth2Auth<XCredentials> = {
  kind: 'oauth2',
  authorizeEndpoint: { origin: 'https://x.com', path: '/i/oauth2/authorize' },
  tokenEndpoint: { origin: X_API_ORIGIN, path: '/2/oauth2/token' },
  revokeEndpoint: { origin: X_API_ORIGIN, path: '/2/oauth2/revoke' },
  scopes: X_SCOPES,
  scopeSeparator: ' ',
  pkce: true,
  clientAuth: 'basic',

  /** One login is one X user: GET /2/users/me names it. */
  async accounts(ctx, tokens) {
    const sent = await client.me(ctx.baseUrl, tokens.accessToken, ctx.signal);
    if (!sent.ok) return sent;
    const res = sent.value;
    const user = (res.body as Me | undefined)?.data;
    if (res.status !== 200 || !user?.id || !user.username) return err(mapXError(res, ctx.clock.now(), 'read'));
    const { raw: _raw, ...stored } = tokens;
    return ok([{ externalId: user.id, username: user.username, displayName: user.name ?? user.username, kind: 'user', credentials: { ...stored, userId: user.id, username: user.username } }]);
  },

  /**
   * The standard refresh grant, with X's own way of saying a refresh token is spent: a used, revoked or
   * expired one is refused with 400 `invalid_request` ("Value passed for the token was invalid."), not
   * RFC 6749's `invalid_grant`. Crier's request is well formed, so that answer means the grant is gone and
   * the user must connect again.
   */
  async refresh(ctx: AuthCtx, credentials: XCredentials): Promise<Result<XCredentials, ConnectorError>> {
    const base = ctx.sandbox ? { sandboxBase: ctx.baseUrl } : {};
    const got = await refreshTokens(xAuth, base, ctx.app, credentials, ctx.clock.now(), ctx.signal);
    if (got.ok || got.error.platformCode !== 'invalid_request') return got;
    return err({ ...got.error, category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false });
  },
};
