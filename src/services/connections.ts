// Connections: an OAuth flow in progress that ends by creating or refreshing accounts. Start returns the
// platform's authorize URL with a single-use, expiring state bound to the workspace and the connection
// (and PKCE where the platform uses it); the callback exchanges the code, asks the connector which accounts
// the login reaches, and either connects the only one or lets the workspace choose. Password platforms
// (Bluesky app passwords) complete at once. Network calls run outside transactions.
import { randomBytes } from 'node:crypto';
import type { ConnectableAccount } from '../connectors/auth-types.js';
import { authorizeUrl, exchangeCode, newPkce } from '../connectors/oauth/client.js';
import { getConnector } from '../connectors/registry.js';
import type { ConnectorError } from '../connectors/types.js';
import type { AppContext } from '../context.js';
import { withTransaction } from '../db/pool.js';
import { ApiError } from '../http/errors.js';
import { openJson, sealJson } from '../lib/crypto.js';
import { sha256 } from '../lib/hash.js';
import { newId } from '../lib/ids.js';
import { endpointBaseFor, saveConnectedAccount } from './account-tokens.js';
import { appForAccount, appForConnection } from './oauth-apps.js';

/** How long a user has to finish the platform's consent screen, and then to choose accounts. */
const FLOW_TTL_MS = 30 * 60_000;
export const secretsAad = (id: string) => `connection:${id}:secrets`;

export type ConnectionRow = {
  id: string;
  workspace_id: string;
  platform: string;
  sandbox: boolean;
  status: 'pending' | 'exchanging' | 'choosing' | 'completed' | 'failed';
  redirect_url: string;
  instance_url: string | null;
  app_id: string | null;
  candidates: { external_id: string; username: string; display_name: string; kind: string }[] | null;
  account_ids: string[];
  error: { code: string; message: string } | null;
  expires_at: Date;
  created_at: Date;
  updated_at: Date;
};
const COLUMNS = 'id, workspace_id, platform, sandbox, status, redirect_url, instance_url, app_id, candidates, account_ids, error, expires_at, created_at, updated_at';

export type StartInput = { platform: string; redirectUrl: string; sandbox: boolean; instanceUrl?: string; identifier?: string; password?: string };

export function callbackUrl(ctx: AppContext): string {
  const base = ctx.config.publicUrl ?? ctx.apiUrl;
  if (!base) throw new ApiError('SERVICE_UNAVAILABLE', 'the API URL is not known yet');
  return `${base.replace(/\/$/, '')}/v1/connections/callback`;
}

export async function startConnection(ctx: AppContext, workspaceId: string, input: StartInput): Promise<{ connection: ConnectionRow; authorizeUrl: string | null }> {
  const auth = getConnector(input.platform)?.auth;
  if (!auth) throw new ApiError('PLATFORM_NOT_SUPPORTED', `accounts of ${input.platform} cannot connect yet`);
  if (input.sandbox && !ctx.sandboxUrl) throw new ApiError('SANDBOX_DISABLED', 'sandbox connections are switched off on this instance');
  const instanceUrl = input.sandbox ? null : normalizeInstance(input.platform, input.instanceUrl);
  const id = newId('connection');
  const state = randomBytes(32).toString('base64url');
  const expiresAt = new Date(ctx.clock.now().getTime() + FLOW_TTL_MS);
  const where = endpointBaseFor(ctx, { platform: input.platform, sandbox: input.sandbox, instance_url: instanceUrl });

  if (auth.kind === 'password') {
    if (!input.identifier || !input.password) throw new ApiError('VALIDATION_FAILED', `${input.platform} connects with "identifier" and "password" (an app password)`);
    const login = await auth.login({ baseUrl: where.apiUrl!, instanceUrl: instanceUrl ?? undefined, sandbox: input.sandbox, clock: ctx.clock, log: ctx.log, signal: AbortSignal.timeout(15_000) }, input.identifier, input.password);
    if (!login.ok) throw loginError(input.platform, login.error);
    const connection = await withTransaction(ctx.db, async (tx) => {
      const saved = await saveConnectedAccount(tx, ctx, { workspaceId, platform: input.platform, sandbox: input.sandbox, appId: null, instanceUrl, candidate: login.value });
      const { rows } = await tx.query<ConnectionRow>(
        `INSERT INTO connections (id, workspace_id, platform, sandbox, status, state_hash, redirect_url, instance_url, candidates, account_ids, expires_at)
         VALUES ($1, $2, $3, $4, 'completed', $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
        [id, workspaceId, input.platform, input.sandbox, sha256(state), input.redirectUrl, instanceUrl, JSON.stringify([publicCandidate(login.value)]), [saved.id], expiresAt],
      );
      return rows[0]!;
    });
    return { connection, authorizeUrl: null };
  }

  const redirectUri = callbackUrl(ctx);
  const { app, appId } = await appForConnection(ctx, { workspaceId, platform: input.platform, sandbox: input.sandbox, instanceUrl, redirectUri });
  const pkce = auth.pkce ? newPkce() : undefined;
  const url = authorizeUrl(auth, where.base, { app, redirectUri, state, codeChallenge: pkce?.challenge });
  const { rows } = await ctx.db.query<ConnectionRow>(
    `INSERT INTO connections (id, workspace_id, platform, sandbox, status, state_hash, redirect_url, instance_url, app_id, secrets, expires_at)
     VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [id, workspaceId, input.platform, input.sandbox, sha256(state), input.redirectUrl, instanceUrl, appId, sealJson(ctx.keyRing, { codeVerifier: pkce?.verifier ?? null, redirectUri }, secretsAad(id)), expiresAt],
  );
  return { connection: rows[0]!, authorizeUrl: url };
}

function normalizeInstance(platform: string, raw: string | undefined): string | null {
  const auth = getConnector(platform)?.auth;
  const needsInstance = auth?.kind === 'oauth2' && auth.authorizeEndpoint.origin === 'instance';
  if (!needsInstance) return null;
  if (!raw) throw new ApiError('INSTANCE_URL_INVALID', `${platform} needs "instance_url", e.g. https://mastodon.social`);
  let u: URL;
  try {
    u = new URL(/^https?:\/\//.test(raw) ? raw : `https://${raw}`);
  } catch {
    throw new ApiError('INSTANCE_URL_INVALID', `"${raw}" is not a URL`);
  }
  if (u.protocol !== 'https:') throw new ApiError('INSTANCE_URL_INVALID', 'the instance must be served over https');
  return u.origin;
}

function loginError(platform: string, e: ConnectorError): ApiError {
  if (e.category === 'transient' || e.category === 'rate_limited') return new ApiError('PLATFORM_UNAVAILABLE', `${platform} could not be reached to sign in: ${e.message}`);
  return new ApiError('PLATFORM_LOGIN_FAILED', `${platform} refused the sign-in: ${e.message}`);
}

const publicCandidate = (c: ConnectableAccount<unknown>) => ({ external_id: c.externalId, username: c.username, display_name: c.displayName, kind: c.kind });

export type CallbackResult = { redirectTo: string };

/** The platform sent the user back. Always ends with a redirect to the workspace's redirect_url, except for an unknown state. */
export async function completeCallback(ctx: AppContext, q: { state?: string; code?: string; error?: string; error_description?: string }): Promise<CallbackResult> {
  if (!q.state) throw new ApiError('CONNECTION_STATE_INVALID', 'the callback has no state');
  // Single use: only one request moves a pending connection on.
  const { rows } = await ctx.db.query<ConnectionRow & { secrets: Buffer }>(
    `UPDATE connections SET status = 'exchanging', updated_at = now()
     WHERE state_hash = $1 AND status = 'pending' AND expires_at > now() RETURNING ${COLUMNS}, secrets`,
    [sha256(q.state)],
  );
  const c = rows[0];
  if (!c) throw new ApiError('CONNECTION_STATE_INVALID', 'this sign-in link is unknown, expired or was already used; start the connection again');
  const fail = async (code: string, message: string): Promise<CallbackResult> => {
    await ctx.db.query(`UPDATE connections SET status = 'failed', error = $2, secrets = NULL, updated_at = now() WHERE id = $1`, [c.id, JSON.stringify({ code, message })]);
    return { redirectTo: backTo(c, 'failed', code) };
  };
  if (q.error || !q.code) return fail(q.error === 'access_denied' ? 'ACCESS_DENIED' : 'PLATFORM_REFUSED', q.error_description ?? q.error ?? 'the platform sent no code');
  const auth = getConnector(c.platform)!.auth!;
  if (auth.kind !== 'oauth2') return fail('PLATFORM_REFUSED', 'this platform does not use OAuth');
  const secrets = openJson<{ codeVerifier: string | null; redirectUri: string }>(ctx.keyRing, c.secrets, secretsAad(c.id));
  const app = await appForAccount(ctx.db, ctx, { platform: c.platform, sandbox: c.sandbox, app_id: c.app_id });
  if (!app) return fail('PLATFORM_APP_NOT_CONFIGURED', `no ${c.platform} app is configured any more`);
  const where = endpointBaseFor(ctx, c);
  const signal = AbortSignal.timeout(30_000);
  const tokens = await exchangeCode(auth, where.base, app, { code: q.code, redirectUri: secrets.redirectUri, codeVerifier: secrets.codeVerifier ?? undefined }, ctx.clock.now(), signal);
  if (!tokens.ok) return fail('TOKEN_EXCHANGE_FAILED', tokens.error.message);
  const found = await auth.accounts({ baseUrl: where.apiUrl ?? '', instanceUrl: c.instance_url ?? undefined, app, sandbox: c.sandbox, clock: ctx.clock, log: ctx.log, signal }, tokens.value);
  if (!found.ok) return fail('ACCOUNTS_UNAVAILABLE', found.error.message);
  if (found.value.length === 0) return fail('NO_ACCOUNTS', `this ${c.platform} login has no account Crier can publish to (check the granted permissions)`);
  const candidates = found.value as ConnectableAccount<unknown>[];
  await withTransaction(ctx.db, async (tx) => {
    if (candidates.length === 1) {
      const saved = await saveConnectedAccount(tx, ctx, { workspaceId: c.workspace_id, platform: c.platform, sandbox: c.sandbox, appId: c.app_id, instanceUrl: c.instance_url, candidate: candidates[0]! });
      await tx.query(`UPDATE connections SET status = 'completed', candidates = $2, account_ids = $3, secrets = NULL, updated_at = now() WHERE id = $1`, [c.id, JSON.stringify(candidates.map(publicCandidate)), [saved.id]]);
      c.status = 'completed';
    } else {
      // Several Pages or organizations: the workspace chooses; their credentials wait encrypted until then.
      await tx.query(
        `UPDATE connections SET status = 'choosing', candidates = $2, secrets = $3, expires_at = $4, updated_at = now() WHERE id = $1`,
        [c.id, JSON.stringify(candidates.map(publicCandidate)), sealJson(ctx.keyRing, candidates, secretsAad(c.id)), new Date(ctx.clock.now().getTime() + FLOW_TTL_MS)],
      );
      c.status = 'choosing';
    }
  });
  return { redirectTo: backTo(c, c.status) };
}

function backTo(c: ConnectionRow, status: string, error?: string): string {
  const u = new URL(c.redirect_url);
  u.searchParams.set('connection_id', c.id);
  u.searchParams.set('status', status);
  if (error) u.searchParams.set('error', error);
  return u.toString();
}

export async function getConnection(ctx: AppContext, workspaceId: string, id: string): Promise<ConnectionRow | undefined> {
  const { rows } = await ctx.db.query<ConnectionRow>(`SELECT ${COLUMNS} FROM connections WHERE workspace_id = $1 AND id = $2`, [workspaceId, id]);
  return rows[0];
}

/** Connects the chosen candidates of a connection that is choosing. */
export async function chooseAccounts(ctx: AppContext, workspaceId: string, id: string, externalIds: string[]): Promise<ConnectionRow> {
  return withTransaction(ctx.db, async (tx) => {
    const { rows } = await tx.query<ConnectionRow & { secrets: Buffer | null }>(`SELECT ${COLUMNS}, secrets FROM connections WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, [workspaceId, id]);
    const c = rows[0];
    if (!c) throw new ApiError('NOT_FOUND', 'no such connection');
    if (c.status !== 'choosing' || !c.secrets) throw new ApiError('CONNECTION_NOT_CHOOSING', `this connection is ${c.status}; accounts are chosen only while it is "choosing"`);
    if (c.expires_at.getTime() <= ctx.clock.now().getTime()) throw new ApiError('CONNECTION_NOT_CHOOSING', 'this connection expired; start it again');
    const candidates = openJson<ConnectableAccount<unknown>[]>(ctx.keyRing, c.secrets, secretsAad(c.id));
    const unknown = externalIds.filter((e) => !candidates.some((k) => k.externalId === e));
    if (unknown.length > 0) throw new ApiError('VALIDATION_FAILED', `not among this connection's accounts: ${unknown.join(', ')}`);
    const ids: string[] = [];
    for (const candidate of candidates.filter((k) => externalIds.includes(k.externalId))) {
      ids.push((await saveConnectedAccount(tx, ctx, { workspaceId, platform: c.platform, sandbox: c.sandbox, appId: c.app_id, instanceUrl: c.instance_url, candidate })).id);
    }
    const { rows: done } = await tx.query<ConnectionRow>(
      `UPDATE connections SET status = 'completed', account_ids = $2, secrets = NULL, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
      [c.id, ids],
    );
    return done[0]!;
  });
}
