// The token lifecycle of connected accounts (design.md rule 4): saving what a connection produced, refreshing
// ahead of expiry (and on demand when a platform says a token expired), and asking for a reconnect well
// before a token that cannot be refreshed runs out. A transient refresh failure is retried with backoff;
// only a definitive refusal (invalid_grant, revocation) disconnects. A refresh happens under the account's
// row lock and is committed before the new access token is used, so a single-use rotating refresh token
// (X) is never spent twice nor lost.
import type { ConnectableAccount, OAuthTokens } from '../connectors/auth-types.js';
import { refreshTokens, type EndpointBase } from '../connectors/oauth/client.js';
import { PLATFORM_BASE_URLS, getConnector } from '../connectors/registry.js';
import type { ConnectorError } from '../connectors/types.js';
import type { AppContext } from '../context.js';
import { withTransaction, type Queryable, type Tx } from '../db/pool.js';
import { insertEvents } from '../db/queries/events.js';
import type { AccountRow } from '../db/queries/accounts.js';
import { openJson, sealJson } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';
import { err, ok, type Result } from '../lib/result.js';
import { credentialsAad, disconnectAccount } from './accounts.js';
import { appForAccount } from './oauth-apps.js';

const DAY = 86_400_000;
/** Tokens that cannot be refreshed: the workspace hears this long before they expire. */
export const RECONNECT_WARNING_MS = 7 * DAY;
const MIN_LEAD_MS = 5 * 60_000;

/** Whether Crier can renew these credentials itself (a refresh token, or a platform that renews its access token). */
export function renewable(platform: string, creds: Partial<OAuthTokens>): boolean {
  const auth = getConnector(platform)?.auth;
  return auth?.kind === 'oauth2' && (!!creds.refreshToken || (auth.renewsAccessToken === true && !!auth.refresh));
}

/** When the token job should next look at these credentials (null: never; they do not expire). */
export function nextTokenCheck(creds: Partial<OAuthTokens>, now: Date, canRenew: boolean, warned = false): Date | null {
  if (!creds.expiresAt) return null;
  const expires = Date.parse(creds.expiresAt);
  if (canRenew) {
    // Refresh once 80% of the remaining life is used, but never later than five minutes before expiry.
    const lead = Math.max(MIN_LEAD_MS, (expires - now.getTime()) * 0.2);
    return new Date(Math.max(now.getTime(), expires - lead));
  }
  return new Date(warned ? expires : Math.max(now.getTime(), expires - RECONNECT_WARNING_MS));
}

type SaveInput = {
  workspaceId: string;
  platform: string;
  sandbox: boolean;
  appId: string | null;
  instanceUrl: string | null;
  candidate: ConnectableAccount<unknown>;
};

/**
 * Creates the account, or updates the live one with the same platform identity (a reconnect). A reconnect
 * whose answer has no refresh token keeps the stored one rather than replacing it with nothing.
 */
export async function saveConnectedAccount(tx: Tx, ctx: AppContext, s: SaveInput): Promise<{ id: string; reconnected: boolean }> {
  const { rows } = await tx.query<{ id: string; credentials: Buffer | null }>(
    `SELECT id, credentials FROM accounts WHERE workspace_id = $1 AND platform = $2 AND external_id = $3 AND status <> 'disconnected' FOR NO KEY UPDATE`,
    [s.workspaceId, s.platform, s.candidate.externalId],
  );
  const existing = rows[0];
  const id = existing?.id ?? newId('account');
  let creds = s.candidate.credentials as Partial<OAuthTokens> & Record<string, unknown>;
  if (existing?.credentials) {
    const old = openJson<Partial<OAuthTokens>>(ctx.keyRing, existing.credentials, credentialsAad(id));
    if (old.refreshToken && !creds.refreshToken) creds = { ...creds, refreshToken: old.refreshToken, ...(old.refreshExpiresAt ? { refreshExpiresAt: old.refreshExpiresAt } : {}) };
  }
  const sealed = sealJson(ctx.keyRing, creds, credentialsAad(id));
  const expiresAt = creds.expiresAt ?? null;
  const check = nextTokenCheck(creds, ctx.clock.now(), renewable(s.platform, creds));
  const c = s.candidate;
  if (existing) {
    await tx.query(
      `UPDATE accounts SET credentials = $2, status = 'connected', status_reason = NULL, username = $3, display_name = $4, kind = $5,
         app_id = $6, instance_url = $7, token_expires_at = $8, next_token_check_at = $9, token_failures = 0, reconnect_warned_at = NULL, updated_at = now()
       WHERE id = $1`,
      [id, sealed, c.username, c.displayName, c.kind, s.appId, s.instanceUrl, expiresAt, check],
    );
  } else {
    await tx.query(
      `INSERT INTO accounts (id, workspace_id, platform, external_id, username, display_name, sandbox, credentials, kind, app_id, instance_url, token_expires_at, next_token_check_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [id, s.workspaceId, s.platform, c.externalId, c.username, c.displayName, s.sandbox, sealed, c.kind, s.appId, s.instanceUrl, expiresAt, check],
    );
  }
  await insertEvents(tx, [{ workspaceId: s.workspaceId, type: 'account.connected', data: { account_id: id, platform: s.platform, username: c.username, kind: c.kind, sandbox: s.sandbox, reconnected: !!existing } }]);
  return { id, reconnected: !!existing };
}

type LockedAccount = Pick<AccountRow, 'id' | 'workspace_id' | 'platform' | 'sandbox' | 'status'> & { app_id: string | null; instance_url: string | null; credentials: Buffer | null; token_failures: number };

/** Where a connection's or account's API and OAuth endpoints are. */
export function endpointBaseFor(ctx: AppContext, a: { platform: string; sandbox: boolean; instance_url?: string | null }): { base: EndpointBase; apiUrl: string | undefined } {
  if (a.sandbox) {
    const sandboxBase = ctx.sandboxUrl ? `${ctx.sandboxUrl}/${a.platform}` : undefined;
    return { base: { sandboxBase }, apiUrl: sandboxBase };
  }
  return { base: { instanceUrl: a.instance_url ?? undefined }, apiUrl: a.instance_url ?? PLATFORM_BASE_URLS[a.platform as keyof typeof PLATFORM_BASE_URLS] };
}

/**
 * Refreshes an account's credentials under its row lock. `seen` is the access token the caller holds:
 * when the stored one differs, another worker refreshed meanwhile and its result is returned unchanged.
 */
export async function refreshAccount(ctx: AppContext, accountId: string, seen?: string): Promise<Result<OAuthTokens, ConnectorError>> {
  const outcome = await withTransaction(ctx.db, async (tx) => {
    const { rows } = await tx.query<LockedAccount>(
      `SELECT id, workspace_id, platform, sandbox, status, app_id, instance_url, credentials, token_failures FROM accounts WHERE id = $1 FOR NO KEY UPDATE`,
      [accountId],
    );
    const a = rows[0];
    if (!a || a.status !== 'connected' || !a.credentials) {
      return err<ConnectorError>({ category: 'revoked', code: 'ACCOUNT_DISCONNECTED', message: 'the account is no longer connected', retryable: false });
    }
    const creds = openJson<OAuthTokens>(ctx.keyRing, a.credentials, credentialsAad(a.id));
    if (seen !== undefined && creds.accessToken !== seen) return ok(creds);
    const fresh = await renew(ctx, tx, a, creds);
    if (!fresh.ok) return fresh;
    await tx.query(
      `UPDATE accounts SET credentials = $2, token_expires_at = $3, next_token_check_at = $4, token_failures = 0, updated_at = now() WHERE id = $1`,
      [a.id, sealJson(ctx.keyRing, fresh.value, credentialsAad(a.id)), fresh.value.expiresAt ?? null, nextTokenCheck(fresh.value, ctx.clock.now(), renewable(a.platform, fresh.value))],
    );
    return fresh;
  });
  return outcome;
}

async function renew(ctx: AppContext, q: Queryable, a: LockedAccount, creds: OAuthTokens): Promise<Result<OAuthTokens, ConnectorError>> {
  const auth = getConnector(a.platform)?.auth;
  if (!auth || auth.kind !== 'oauth2') return err({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', message: 'this account cannot renew its credentials here; reconnect it', retryable: false });
  const app = await appForAccount(q, ctx, a);
  if (!app) return err({ category: 'permanent', code: 'PLATFORM_ERROR', message: `no ${a.platform} app is configured to refresh this account with`, retryable: true });
  const { base, apiUrl } = endpointBaseFor(ctx, a);
  const signal = AbortSignal.timeout(ctx.config.worker.publishTimeoutMs);
  if (auth.refresh) {
    return auth.refresh({ baseUrl: apiUrl ?? '', instanceUrl: a.instance_url ?? undefined, app, sandbox: a.sandbox, clock: ctx.clock, log: ctx.log, signal }, creds);
  }
  return refreshTokens(auth, base, app, creds, ctx.clock.now(), signal);
}

/**
 * The token job: accounts whose check time came (refresh ahead of expiry, reconnect warnings, expiry of
 * tokens that cannot be refreshed). Runs in the worker; returns how many accounts it looked at.
 */
export async function runTokenChecks(ctx: AppContext, limit = 20): Promise<number> {
  const { rows } = await ctx.db.query<{ id: string; workspace_id: string; platform: string; credentials: Buffer | null; token_expires_at: Date | null; reconnect_warned_at: Date | null; token_failures: number }>(
    `SELECT id, workspace_id, platform, credentials, token_expires_at, reconnect_warned_at, token_failures FROM accounts
     WHERE status = 'connected' AND next_token_check_at <= now() ORDER BY next_token_check_at LIMIT $1`,
    [limit],
  );
  const now = ctx.clock.now();
  for (const a of rows) {
    if (!a.credentials) continue;
    const creds = openJson<OAuthTokens>(ctx.keyRing, a.credentials, credentialsAad(a.id));
    if (renewable(a.platform, creds)) {
      const r = await refreshAccount(ctx, a.id, creds.accessToken);
      if (!r.ok) await refreshFailed(ctx, a, r.error);
      continue;
    }
    await withTransaction(ctx.db, async (tx) => {
      const expires = a.token_expires_at;
      if (expires && expires.getTime() <= now.getTime()) {
        const reason = `the ${a.platform} access token expired on ${expires.toISOString()} and this platform gives no refresh token; reconnect the account`;
        const { rowCount } = await tx.query(`UPDATE accounts SET status = 'reconnect_required', status_reason = $2, next_token_check_at = NULL, updated_at = now() WHERE id = $1 AND status = 'connected'`, [a.id, reason]);
        if (rowCount) await insertEvents(tx, [{ workspaceId: a.workspace_id, type: 'account.reconnect_required', data: { account_id: a.id, platform: a.platform, reason, expires_at: expires.toISOString() } }]);
        return;
      }
      if (!a.reconnect_warned_at && expires) {
        // Still working: the account stays connected, and the workspace is told to reconnect before it stops.
        await insertEvents(tx, [{ workspaceId: a.workspace_id, type: 'account.reconnect_required', data: { account_id: a.id, platform: a.platform, reason: `the access token expires on ${expires.toISOString()} and cannot be refreshed; reconnect before then`, expires_at: expires.toISOString() } }]);
      }
      await tx.query(`UPDATE accounts SET reconnect_warned_at = coalesce(reconnect_warned_at, now()), next_token_check_at = $2, updated_at = now() WHERE id = $1`, [a.id, expires]);
    });
  }
  return rows.length;
}

async function refreshFailed(ctx: AppContext, a: { id: string; workspace_id: string; token_failures: number }, e: ConnectorError): Promise<void> {
  if (e.category === 'revoked') {
    await withTransaction(ctx.db, (tx) => disconnectAccount(tx, a.workspace_id, a.id, `the platform refused to refresh the access token (${e.platformCode ?? e.code}): ${e.message}`));
    return;
  }
  // Anything else (network, 5xx, rate limit, a misconfigured app) is retried with backoff; the account stays.
  const failures = a.token_failures + 1;
  const delay = Math.min(60_000 * 2 ** Math.min(failures - 1, 6), 3_600_000) + (e.retryAfterMs ?? 0);
  await ctx.db.query(`UPDATE accounts SET token_failures = $2, next_token_check_at = now() + make_interval(secs => $3::double precision / 1000), updated_at = now() WHERE id = $1`, [a.id, failures, delay]);
  ctx.log.warn({ account_id: a.id, failures, code: e.code, platform_code: e.platformCode }, 'token refresh failed; will retry');
}
