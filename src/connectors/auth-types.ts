// How a connector connects accounts: kept apart from publishing (design.md, "Connectors"). A platform
// describes its OAuth 2.0 endpoints and rules as data, plus one function that turns a fresh token set into
// the publishable accounts behind the login (a member, its Pages, the Instagram accounts behind them…).
// The generic OAuth client (src/connectors/oauth/) does the protocol: authorize URL, state, PKCE, code
// exchange, refresh with rotation, revocation. Tokens never leave the server unencrypted.
import type { Clock } from '../lib/clock.js';
import type { Result } from '../lib/result.js';
import type { ConnectorError, Logger } from './types.js';

/**
 * A real endpoint: origin + path. In sandbox mode the origin becomes `<sandbox url>/<platform>` and the
 * path stays the same, so a simulator serves the platform's real paths (e.g. `/i/oauth2/authorize`).
 * Mastodon's origin is the user's instance, so `origin` may be `'instance'`.
 */
export type OAuthEndpoint = { origin: string | 'instance'; path: string };

/** An operator's (or a workspace's own) app registered with the platform. */
export type AppCredentials = { clientId: string; clientSecret: string };

/** What an OAuth connector keeps per account. Instants are ISO 8601 UTC strings. */
export type OAuthTokens = {
  accessToken: string;
  /** Absent when the platform gives none (LinkedIn for most apps, Meta): the account must reconnect before `expiresAt`. */
  refreshToken?: string;
  /** Absent = does not expire (Facebook Page tokens) or unknown. */
  expiresAt?: string;
  refreshExpiresAt?: string;
  scopes?: string[];
};

/** The token endpoint's answer, parsed (standard fields), with the raw body for platform extras (user_id…). */
export type TokenAnswer = OAuthTokens & { raw: Record<string, unknown> };

export type AuthCtx = {
  /** Base of API calls for this connection: the platform's API origin, or `<sandbox url>/<platform>`. */
  baseUrl: string;
  /** Mastodon: the instance's origin (also `baseUrl`). */
  instanceUrl?: string;
  app: AppCredentials;
  sandbox: boolean;
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
};

/** One publishable account a login can reach; the workspace chooses which to connect. */
export type ConnectableAccount<C> = {
  externalId: string;
  username: string;
  displayName: string;
  /** What it is, shown while choosing: 'member', 'organization', 'page', 'instagram_business', 'user'… */
  kind: string;
  credentials: C;
};

export type OAuth2Auth<C extends OAuthTokens> = {
  kind: 'oauth2';
  authorizeEndpoint: OAuthEndpoint;
  tokenEndpoint: OAuthEndpoint;
  revokeEndpoint?: OAuthEndpoint;
  /** The scopes Crier asks for (enough to publish, read back and read metrics; no more). */
  scopes: string[];
  /** How the scope parameter joins scopes: ' ' (RFC 6749) or ',' (Meta, Threads, TikTok). */
  scopeSeparator: ' ' | ',';
  /** PKCE S256 (X requires it). */
  pkce: boolean;
  /** Client authentication at the token endpoint: HTTP Basic, or client_id/client_secret in the form body. */
  clientAuth: 'basic' | 'body';
  /** Extra authorize parameters some platforms need (e.g. `response_type` variants, `prompt`). */
  extraAuthorizeParams?: Record<string, string>;
  /**
   * After the code exchange: any follow-up exchange (Meta's long-lived token), then the accounts this login
   * can publish to, each with the credentials it publishes with (Page tokens for Pages…).
   */
  accounts(ctx: AuthCtx, tokens: TokenAnswer): Promise<Result<ConnectableAccount<C>[], ConnectorError>>;
  /**
   * Renews an account's credentials. Absent = the standard refresh_token grant at `tokenEndpoint` (done by
   * the generic client, which keeps the old refresh token when the answer carries none). A platform with
   * its own renewal (Threads `th_refresh_token`, Instagram `ig_refresh_token`) implements it here.
   * Errors: `revoked` (definitive: invalid_grant, revoked app) disconnects the account; anything else
   * is retried later.
   */
  refresh?(ctx: AuthCtx, credentials: C): Promise<Result<C, ConnectorError>>;
  /**
   * The platform renews a long-lived access token with the token itself (Threads `th_refresh_token`,
   * Instagram `ig_refresh_token`): there is no refresh token, yet `refresh` works until the token expires,
   * so Crier renews it ahead of expiry instead of asking for a reconnect.
   */
  renewsAccessToken?: boolean;
  /**
   * Mastodon-style per-instance app registration (`POST /api/v1/apps`): returns the app to use for
   * `instanceUrl`; Crier stores it encrypted and reuses it.
   */
  registerApp?(ctx: Omit<AuthCtx, 'app'>, redirectUri: string): Promise<Result<AppCredentials, ConnectorError>>;
};

/** Bluesky-style login with an identifier and an app password (no redirect). */
export type PasswordAuth<C> = {
  kind: 'password';
  login(ctx: Omit<AuthCtx, 'app'>, identifier: string, password: string): Promise<Result<ConnectableAccount<C>, ConnectorError>>;
};

export type ConnectorAuth<C> = OAuth2Auth<C extends OAuthTokens ? C : OAuthTokens> | PasswordAuth<C>;

/** The fixed app every simulator accepts in sandbox mode (not a secret: sandbox accounts are not real). */
export const SANDBOX_APP: AppCredentials = { clientId: 'crier-sandbox', clientSecret: 'crier-sandbox-secret' };
