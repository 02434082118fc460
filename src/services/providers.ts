// Aggregator providers as a workspace sees them: its API keys (encrypted like tokens, in its failover
// order), the accounts connected on each provider (imported as Crier accounts with route
// 'provider:<name>'), the provider's connect page, and the routes a publication tries (the workspace's
// keys, then the operator's). Accounts are imported with the workspace's own key only: an operator key
// serves many workspaces, so the accounts it lists are not any one workspace's to take.
import type { AppContext } from '../context.js';
import type { PlatformId } from '../connectors/types.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import { insertEvents } from '../db/queries/events.js';
import { ApiError } from '../http/errors.js';
import { openJson, sealJson } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';
import { PROVIDER_CLIENTS, type ProviderCredentials } from '../providers/connector.js';
import { PROVIDERS, PROVIDER_TITLES, type ProviderAccount, type ProviderCall, type ProviderName, type ProviderRoute } from '../providers/types.js';
import { request } from '../connectors/http.js';
import { credentialsAad } from './accounts.js';

export const providerKeyAad = (id: string) => `provider_key:${id}:api_key`;

export type ProviderKeyRow = { id: string; workspace_id: string; provider: ProviderName; position: number; sandbox: boolean; api_key: Buffer; key_hint: string; created_at: Date; updated_at: Date };

export function providerKeyView(k: ProviderKeyRow) {
  return { provider: k.provider, position: k.position, sandbox: k.sandbox, key_hint: k.key_hint, created_at: k.created_at.toISOString(), updated_at: k.updated_at.toISOString() };
}

export async function listProviderKeys(q: Queryable, workspaceId: string): Promise<ProviderKeyRow[]> {
  const { rows } = await q.query<ProviderKeyRow>('SELECT * FROM provider_keys WHERE workspace_id = $1 ORDER BY position, provider', [workspaceId]);
  return rows;
}

function baseUrlOf(ctx: AppContext, provider: ProviderName, sandbox: boolean): string {
  if (!sandbox) return ctx.config.providers[provider].baseUrl;
  if (!ctx.sandboxUrl) throw new ApiError('PLATFORM_NOT_SUPPORTED', 'sandbox mode is off on this instance (CRIER_SANDBOX=false)');
  return `${ctx.sandboxUrl}/${provider}/${provider === 'late' ? 'api/v1' : 'v1'}`;
}

/** The routes a publication of this workspace tries, in order: its keys by position, then the operator's. */
export async function providerRoutes(ctx: AppContext, workspaceId: string): Promise<ProviderRoute[]> {
  const own = (await listProviderKeys(ctx.db, workspaceId)).map((k): ProviderRoute => ({
    provider: k.provider,
    source: 'workspace',
    baseUrl: baseUrlOf(ctx, k.provider, k.sandbox),
    apiKey: openJson<string>(ctx.keyRing, k.api_key, providerKeyAad(k.id)),
  }));
  const operator = PROVIDERS.flatMap((p): ProviderRoute[] => {
    const key = ctx.config.providers[p].operatorKey;
    return key ? [{ provider: p, source: 'operator', baseUrl: ctx.config.providers[p].baseUrl, apiKey: key }] : [];
  });
  return [...own, ...operator];
}

/**
 * Saves the workspace's key for a provider. `sandbox: true` makes a key on the provider's simulator
 * instead (no account needed), whose connect page adds sandbox social accounts.
 */
export async function saveProviderKey(ctx: AppContext, workspaceId: string, provider: ProviderName, input: { api_key?: string; sandbox?: boolean; position?: number }) {
  if (!!input.api_key === !!input.sandbox) throw new ApiError('VALIDATION_FAILED', 'give either api_key (a key of your provider account) or sandbox: true', [{ field: 'body', message: 'exactly one of api_key and sandbox' }]);
  let apiKey = input.api_key;
  if (input.sandbox) {
    const made = await request(`${baseUrlOf(ctx, provider, true).replace(/\/(api\/)?v1$/, '')}/_sim/keys`, { method: 'POST', json: {}, signal: AbortSignal.timeout(10_000) });
    if (!made.ok || made.value.status !== 201) throw new ApiError('PLATFORM_UNAVAILABLE', `the ${PROVIDER_TITLES[provider]} simulator did not make a key`);
    apiKey = (made.value.body as { api_key: string }).api_key;
  }
  return withTransaction(ctx.db, async (tx) => {
    const keys = await tx.query<{ id: string; provider: string; position: number }>('SELECT id, provider, position FROM provider_keys WHERE workspace_id = $1 FOR UPDATE', [workspaceId]);
    const existing = keys.rows.find((k) => k.provider === provider);
    const position = input.position ?? existing?.position ?? Math.max(0, ...keys.rows.map((k) => k.position)) + 1;
    const id = existing?.id ?? newId('providerKey');
    const sealed = sealJson(ctx.keyRing, apiKey!, providerKeyAad(id));
    const { rows } = await tx.query<ProviderKeyRow>(
      `INSERT INTO provider_keys (id, workspace_id, provider, position, sandbox, api_key, key_hint) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (workspace_id, provider) DO UPDATE SET position = EXCLUDED.position, sandbox = EXCLUDED.sandbox, api_key = EXCLUDED.api_key, key_hint = EXCLUDED.key_hint, updated_at = now()
       RETURNING *`,
      [id, workspaceId, provider, position, !!input.sandbox, sealed, apiKey!.slice(-4)],
    );
    return { key: rows[0]!, created: !existing };
  });
}

export async function deleteProviderKey(ctx: AppContext, workspaceId: string, provider: ProviderName): Promise<void> {
  const { rowCount } = await ctx.db.query('DELETE FROM provider_keys WHERE workspace_id = $1 AND provider = $2', [workspaceId, provider]);
  if (rowCount === 0) throw new ApiError('NOT_FOUND', `no ${PROVIDER_TITLES[provider]} key in this workspace`);
}

async function workspaceRoute(ctx: AppContext, workspaceId: string, provider: ProviderName): Promise<{ route: ProviderRoute; sandbox: boolean }> {
  const key = (await listProviderKeys(ctx.db, workspaceId)).find((k) => k.provider === provider);
  if (!key) throw new ApiError('NOT_FOUND', `no ${PROVIDER_TITLES[provider]} key in this workspace: add one with PUT /v1/providers/${provider}`);
  return { sandbox: key.sandbox, route: { provider, source: 'workspace', baseUrl: baseUrlOf(ctx, provider, key.sandbox), apiKey: openJson<string>(ctx.keyRing, key.api_key, providerKeyAad(key.id)) } };
}

const call = (ctx: AppContext, route: ProviderRoute): ProviderCall => ({ route, signal: AbortSignal.timeout(20_000), clock: ctx.clock, log: ctx.log });

function unavailable(provider: ProviderName, e: { message: string }): never {
  throw new ApiError('PLATFORM_UNAVAILABLE', `${PROVIDER_TITLES[provider]}: ${e.message}`);
}

export async function providerConnectUrl(ctx: AppContext, workspaceId: string, provider: ProviderName, platform: PlatformId, redirectUrl: string): Promise<string> {
  const { route } = await workspaceRoute(ctx, workspaceId, provider);
  const url = await PROVIDER_CLIENTS[provider].connectUrl(call(ctx, route), platform, redirectUrl);
  return url.ok ? url.value : unavailable(provider, url.error);
}

/**
 * Imports the accounts the provider lists as this workspace's accounts (route 'provider:<name>'), updating
 * ones seen before; an imported account the provider no longer lists needs reconnecting there.
 */
export async function syncProviderAccounts(ctx: AppContext, workspaceId: string, provider: ProviderName): Promise<string[]> {
  const { route, sandbox } = await workspaceRoute(ctx, workspaceId, provider);
  const listed = await PROVIDER_CLIENTS[provider].listAccounts(call(ctx, route));
  if (!listed.ok) unavailable(provider, listed.error);
  const accounts = listed.value;
  return withTransaction(ctx.db, async (tx) => {
    const ids: string[] = [];
    for (const a of accounts) ids.push(await upsertProviderAccount(tx, ctx, workspaceId, provider, sandbox, a));
    const gone = await tx.query<{ id: string; platform: string; username: string }>(
      `UPDATE accounts SET status = 'reconnect_required', status_reason = $3, updated_at = now()
       WHERE workspace_id = $1 AND route = $2 AND status = 'connected' AND NOT (id = ANY($4)) RETURNING id, platform, username`,
      [workspaceId, `provider:${provider}`, `${PROVIDER_TITLES[provider]} no longer lists this account: connect it there again`, ids],
    );
    await insertEvents(tx, gone.rows.map((g) => ({ workspaceId, type: 'account.reconnect_required', data: { account_id: g.id, platform: g.platform, username: g.username, reason: `not listed by ${PROVIDER_TITLES[provider]}` } })));
    return ids;
  });
}

async function upsertProviderAccount(tx: Queryable, ctx: AppContext, workspaceId: string, provider: ProviderName, sandbox: boolean, a: ProviderAccount): Promise<string> {
  // The provider's id, prefixed: the same social account may also be connected directly, under its platform id.
  const externalId = `${provider}:${a.id}`;
  const found = await tx.query<{ id: string }>(`SELECT id FROM accounts WHERE workspace_id = $1 AND platform = $2 AND external_id = $3 AND status <> 'disconnected'`, [workspaceId, a.platform, externalId]);
  const id = found.rows[0]?.id ?? newId('account');
  const creds: ProviderCredentials = { provider, accountId: a.id, platform: a.platform, username: a.username, ...(a.profileId ? { profileId: a.profileId } : {}) };
  const sealed = sealJson(ctx.keyRing, creds, credentialsAad(id));
  if (found.rows[0]) {
    await tx.query(`UPDATE accounts SET credentials = $2, username = $3, status = 'connected', status_reason = NULL, updated_at = now() WHERE id = $1`, [id, sealed, a.username]);
  } else {
    await tx.query(
      `INSERT INTO accounts (id, workspace_id, platform, external_id, username, display_name, sandbox, credentials, kind, route) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, 'provider_account', $8)`,
      [id, workspaceId, a.platform, externalId, a.username, sandbox, sealed, `provider:${provider}`],
    );
    await insertEvents(tx, [{ workspaceId, type: 'account.connected', data: { account_id: id, platform: a.platform, username: a.username, kind: 'provider_account', sandbox, reconnected: false, route: `provider:${provider}` } }]);
  }
  return id;
}
