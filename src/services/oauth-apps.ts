// Which platform app a connection or an account uses: the sandbox app on the simulators, a workspace's
// own app, the operator's configured app, or (Mastodon) the app Crier registered on that instance.
// Client secrets are stored encrypted like tokens.
import { SANDBOX_APP, type AppCredentials } from '../connectors/auth-types.js';
import { getConnector } from '../connectors/registry.js';
import type { AppContext } from '../context.js';
import type { Queryable } from '../db/pool.js';
import { ApiError } from '../http/errors.js';
import { openJson, sealJson } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';

export const appSecretAad = (appId: string) => `oauth_app:${appId}:client_secret`;

type AppRow = { id: string; client_id: string; client_secret: Buffer };

export type ResolvedApp = { app: AppCredentials; appId: string | null };

async function storedApp(q: Queryable, ctx: AppContext, where: { workspaceId: string | null; platform: string; instanceUrl: string | null }): Promise<ResolvedApp | undefined> {
  const { rows } = await q.query<AppRow>(
    `SELECT id, client_id, client_secret FROM oauth_apps
     WHERE workspace_id IS NOT DISTINCT FROM $1 AND platform = $2 AND instance_url IS NOT DISTINCT FROM $3`,
    [where.workspaceId, where.platform, where.instanceUrl],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { appId: row.id, app: { clientId: row.client_id, clientSecret: openJson<string>(ctx.keyRing, row.client_secret, appSecretAad(row.id)) } };
}

/** Saves (or replaces) an app; returns its id. */
export async function saveApp(
  q: Queryable,
  ctx: AppContext,
  a: { workspaceId: string | null; platform: string; instanceUrl: string | null; app: AppCredentials },
): Promise<string> {
  const existing = await q.query<{ id: string }>(
    `SELECT id FROM oauth_apps WHERE workspace_id IS NOT DISTINCT FROM $1 AND platform = $2 AND instance_url IS NOT DISTINCT FROM $3`,
    [a.workspaceId, a.platform, a.instanceUrl],
  );
  const id = existing.rows[0]?.id ?? newId('oauthApp');
  const secret = sealJson(ctx.keyRing, a.app.clientSecret, appSecretAad(id));
  await q.query(
    `INSERT INTO oauth_apps (id, workspace_id, platform, instance_url, client_id, client_secret) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, client_secret = excluded.client_secret, updated_at = now()`,
    [id, a.workspaceId, a.platform, a.instanceUrl, a.app.clientId, secret],
  );
  return id;
}

/** The app a new connection uses. `registerIfMissing` is called (outside any transaction) for per-instance platforms. */
export async function appForConnection(
  ctx: AppContext,
  c: { workspaceId: string; platform: string; sandbox: boolean; instanceUrl: string | null; redirectUri: string },
): Promise<ResolvedApp> {
  if (c.sandbox) return { app: SANDBOX_APP, appId: null };
  const own = await storedApp(ctx.db, ctx, { workspaceId: c.workspaceId, platform: c.platform, instanceUrl: c.instanceUrl });
  if (own) return own;
  const operator = ctx.config.apps[c.platform];
  if (operator) return { app: operator, appId: null };
  const auth = getConnector(c.platform)?.auth;
  if (auth?.kind === 'oauth2' && auth.registerApp && c.instanceUrl) {
    const known = await storedApp(ctx.db, ctx, { workspaceId: null, platform: c.platform, instanceUrl: c.instanceUrl });
    if (known) return known;
    const registered = await auth.registerApp(
      { baseUrl: c.instanceUrl, instanceUrl: c.instanceUrl, sandbox: false, clock: ctx.clock, log: ctx.log, signal: AbortSignal.timeout(15_000) },
      c.redirectUri,
    );
    if (!registered.ok) throw new ApiError('PLATFORM_UNAVAILABLE', `could not register Crier's app on ${c.instanceUrl}: ${registered.error.message}`);
    const appId = await saveApp(ctx.db, ctx, { workspaceId: null, platform: c.platform, instanceUrl: c.instanceUrl, app: registered.value });
    return { appId, app: registered.value };
  }
  const env = c.platform.toUpperCase();
  throw new ApiError('PLATFORM_APP_NOT_CONFIGURED', `no ${c.platform} app is configured: the operator sets CRIER_${env}_CLIENT_ID and CRIER_${env}_CLIENT_SECRET, or the workspace adds its own app (PUT /v1/apps/${c.platform})`);
}

/** The app an existing account refreshes with. */
export async function appForAccount(
  q: Queryable,
  ctx: AppContext,
  a: { platform: string; sandbox: boolean; app_id: string | null },
): Promise<AppCredentials | undefined> {
  if (a.sandbox) return SANDBOX_APP;
  if (a.app_id) {
    const { rows } = await q.query<AppRow>('SELECT id, client_id, client_secret FROM oauth_apps WHERE id = $1', [a.app_id]);
    const row = rows[0];
    if (row) return { clientId: row.client_id, clientSecret: openJson<string>(ctx.keyRing, row.client_secret, appSecretAad(row.id)) };
  }
  return ctx.config.apps[a.platform];
}
