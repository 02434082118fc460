// Connecting a Mastodon account (platforms.md §11 "Auth"; docs methods/apps, methods/oauth). Every instance
// is its own authorization server: Crier registers an app once per instance (POST /api/v1/apps) and keeps
// its client id and secret, then runs the OAuth 2.0 code flow at <instance>/oauth/authorize and
// /oauth/token with PKCE S256 (Mastodon 4.3+; older servers ignore the extra parameters). Tokens never
// expire and there are no refresh tokens: a token lives until the user or the app revokes it.
import { err, ok, type Result } from '../../lib/result.js';
import type { AppCredentials, AuthCtx, OAuth2Auth, OAuthTokens } from '../auth-types.js';
import type { ConnectorError } from '../types.js';
import * as client from './client.js';
import { mapMastodonError } from './errors.js';

export type MastodonCredentials = OAuthTokens & {
  /** The account's id on its instance. */
  accountId: string;
  /** "@user@instance". */
  username: string;
  /** The instance's origin (absent for sandbox accounts, which live on the simulator). */
  instanceUrl?: string;
};

/**
 * `read` (verify_credentials, the account's statuses and their source for read-back, metrics later),
 * `write:statuses` and `write:media` (publishing). Granular write scopes: Crier never follows, blocks or
 * edits a profile.
 */
export const MASTODON_SCOPES = ['read', 'write:statuses', 'write:media'];

export const CLIENT_NAME = 'Crier';

const unreadable = (what: string): ConnectorError => ({ category: 'transient', code: 'PLATFORM_ERROR', message: `Mastodon answered ${what} without the expected fields`, retryable: true });

/** The label of an account's server in usernames and ids: its host, or "sandbox" on the simulator. */
export function instanceLabel(instanceUrl: string | undefined, sandbox: boolean): string {
  if (sandbox || !instanceUrl) return 'sandbox';
  return new URL(instanceUrl).host;
}

/** An account id is only unique on its instance: the external id names both. */
export const externalIdOf = (accountId: string, label: string) => `${accountId}@${label}`;

type Account = { id?: unknown; username?: unknown; acct?: unknown; display_name?: unknown };

export function accountFrom(body: unknown, label: string): { id: string; username: string; displayName: string } | undefined {
  const a = (body ?? {}) as Account;
  if ((typeof a.id !== 'string' && typeof a.id !== 'number') || typeof a.username !== 'string') return undefined;
  const username = `@${a.username}@${label}`;
  return { id: String(a.id), username, displayName: typeof a.display_name === 'string' && a.display_name ? a.display_name : a.username };
}

async function registerApp(ctx: Omit<AuthCtx, 'app'>, redirectUri: string): Promise<Result<AppCredentials, ConnectorError>> {
  const base = ctx.instanceUrl ?? ctx.baseUrl;
  // The app's website is this Crier's own address (where its callback lives), shown on the consent page.
  const website = URL.canParse(redirectUri) ? new URL(redirectUri).origin : undefined;
  const sent = await client.registerApp(base, { client_name: CLIENT_NAME, redirect_uris: [redirectUri], scopes: MASTODON_SCOPES.join(' '), website }, ctx.signal);
  if (!sent.ok) return sent;
  const res = sent.value;
  if (res.status !== 200) return err(mapMastodonError(res, ctx.clock.now(), 'the app registration'));
  const b = (res.body ?? {}) as { client_id?: unknown; client_secret?: unknown };
  if (typeof b.client_id !== 'string' || typeof b.client_secret !== 'string') return err(unreadable('the app registration'));
  return ok({ clientId: b.client_id, clientSecret: b.client_secret });
}

export const mastodonAuth: OAuth2Auth<MastodonCredentials> = {
  kind: 'oauth2',
  authorizeEndpoint: { origin: 'instance', path: '/oauth/authorize' },
  tokenEndpoint: { origin: 'instance', path: '/oauth/token' },
  revokeEndpoint: { origin: 'instance', path: '/oauth/revoke' },
  scopes: MASTODON_SCOPES,
  scopeSeparator: ' ',
  pkce: true,
  clientAuth: 'body',
  registerApp,
  async accounts(ctx, tokens) {
    const base = ctx.sandbox ? ctx.baseUrl : (ctx.instanceUrl ?? ctx.baseUrl);
    const sent = await client.verifyCredentials(base, tokens.accessToken, ctx.signal);
    if (!sent.ok) return sent;
    if (sent.value.status !== 200) return err(mapMastodonError(sent.value, ctx.clock.now(), 'verify_credentials'));
    const label = instanceLabel(ctx.instanceUrl, ctx.sandbox);
    const a = accountFrom(sent.value.body, label);
    if (!a) return err(unreadable('verify_credentials'));
    // No expiresAt and no refresh token, whatever the token answer said: Mastodon tokens do not expire.
    const credentials: MastodonCredentials = { accessToken: tokens.accessToken, accountId: a.id, username: a.username };
    if (tokens.scopes) credentials.scopes = tokens.scopes;
    if (!ctx.sandbox && ctx.instanceUrl) credentials.instanceUrl = ctx.instanceUrl;
    return ok([{ externalId: externalIdOf(a.id, label), username: a.username, displayName: a.displayName, kind: 'user', credentials }]);
  },
};
