// Connecting a Reddit account: OAuth 2.0 code flow for a "web app" (platforms.md §10 "Auth"). The authorize
// page is on www.reddit.com and asks for `duration=permanent`, without which Reddit gives no refresh token
// (the user would have to sign in again every hour). The token endpoint takes the app by HTTP Basic; access
// tokens live an hour (the answer's expires_in is used), and the standard refresh grant renews them (done by
// the generic OAuth client, which keeps the refresh token when the answer carries none). No PKCE.
import { err, ok } from '../../lib/result.js';
import type { OAuth2Auth, OAuthTokens } from '../auth-types.js';
import * as client from './client.js';
import { mapRedditHttp } from './errors.js';

/** What a Reddit account keeps: its tokens and who it is (read-back lists this user's submissions). */
export type RedditCredentials = OAuthTokens & { userId: string; username: string };

export const REDDIT_API_ORIGIN = 'https://oauth.reddit.com';
const REDDIT_WWW = 'https://www.reddit.com';

/**
 * identity: who the account is (/api/v1/me); submit: post and upload media; read: a subreddit's settings
 * and post requirements; flair: its post flairs; history: the account's own submissions
 * (/user/{name}/submitted), which is how Crier reads back a post whose answer was lost or had no id.
 */
export const REDDIT_SCOPES = ['identity', 'submit', 'read', 'flair', 'history'];

type Me = { id?: string; name?: string; subreddit?: { title?: string } | null };

export const redditAuth: OAuth2Auth<RedditCredentials> = {
  kind: 'oauth2',
  authorizeEndpoint: { origin: REDDIT_WWW, path: '/api/v1/authorize' },
  tokenEndpoint: { origin: REDDIT_WWW, path: '/api/v1/access_token' },
  revokeEndpoint: { origin: REDDIT_WWW, path: '/api/v1/revoke_token' },
  scopes: REDDIT_SCOPES,
  scopeSeparator: ' ',
  pkce: false,
  clientAuth: 'basic',
  extraAuthorizeParams: { duration: 'permanent' },

  /** One login is one Reddit user: GET /api/v1/me names it. */
  async accounts(ctx, tokens) {
    const sent = await client.me(ctx.baseUrl, tokens.accessToken, ctx.signal);
    if (!sent.ok) return sent;
    const res = sent.value;
    const user = res.body as Me | undefined;
    if (res.status !== 200 || !user?.id || !user.name) return err(mapRedditHttp(res, ctx.clock.now(), 'the account lookup (/api/v1/me)'));
    const { raw: _raw, ...stored } = tokens;
    const displayName = user.subreddit?.title || user.name;
    return ok([{ externalId: user.id, username: user.name, displayName, kind: 'user', credentials: { ...stored, userId: user.id, username: user.name } }]);
  },
};
