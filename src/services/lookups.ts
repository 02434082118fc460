// Read-only questions to a platform on behalf of one account, before a post is written: which Pinterest
// board, what TikTok allows this creator, what a subreddit requires (connector.lookups). They run with the
// account's tokens like a publication would (refreshed once on an expired token), outside the worker.
import type { AppContext } from '../context.js';
import type { OAuthTokens } from '../connectors/auth-types.js';
import { getConnector } from '../connectors/registry.js';
import type { ConnectorCtx } from '../connectors/types.js';
import { ApiError } from '../http/errors.js';
import { openJson, sealJson } from '../lib/crypto.js';
import { credentialsAad } from './accounts.js';
import { endpointBaseFor, refreshAccount } from './account-tokens.js';

type LookupAccount = { id: string; workspace_id: string; platform: string; sandbox: boolean; status: string; route: string; instance_url: string | null; credentials: Buffer | null };

export async function runLookup(ctx: AppContext, workspaceId: string, accountId: string, name: string, query: Record<string, string>): Promise<unknown> {
  const { rows } = await ctx.db.query<LookupAccount>(
    'SELECT id, workspace_id, platform, sandbox, status, route, instance_url, credentials FROM accounts WHERE workspace_id = $1 AND id = $2',
    [workspaceId, accountId],
  );
  const account = rows[0];
  if (!account) throw new ApiError('NOT_FOUND', 'account not found');
  const connector = getConnector(account.platform);
  const lookup = account.route === 'direct' ? connector?.lookups?.[name] : undefined;
  if (!connector || !lookup) {
    const known = account.route === 'direct' ? Object.keys(connector?.lookups ?? {}) : [];
    throw new ApiError('NOT_FOUND', `no lookup "${name}" for ${account.platform}${account.route === 'direct' ? '' : ' accounts connected through a provider'}${known.length ? ` (there is: ${known.join(', ')})` : ''}`);
  }
  const unknown = Object.keys(query).filter((k) => !(lookup.params ?? {})[k]);
  if (unknown.length) throw new ApiError('VALIDATION_FAILED', `unknown query parameter ${unknown.join(', ')}`, unknown.map((k) => ({ field: `querystring.${k}`, message: 'unknown parameter' })));
  if (account.status !== 'connected' || !account.credentials) throw new ApiError('ACCOUNT_NOT_CONNECTED', `the account is ${account.status}`);
  const { apiUrl } = endpointBaseFor(ctx, account);
  if (!apiUrl) throw new ApiError('PLATFORM_NOT_SUPPORTED', 'this instance cannot reach the platform of this account (sandbox mode off?)');
  const cctx: ConnectorCtx<unknown> = {
    credentials: openJson(ctx.keyRing, account.credentials, credentialsAad(account.id)),
    saveCredentials: async (next) => {
      await ctx.db.query('UPDATE accounts SET credentials = $2, updated_at = now() WHERE id = $1', [account.id, sealJson(ctx.keyRing, next, credentialsAad(account.id))]);
    },
    refresh: connector.auth?.kind === 'oauth2'
      ? async () => {
          const r = await refreshAccount(ctx, account.id, (cctx.credentials as OAuthTokens).accessToken);
          if (r.ok) cctx.credentials = r.value;
          return r;
        }
      : undefined,
    checkpoint: async () => {
      throw new Error('a lookup has nothing to checkpoint');
    },
    baseUrl: apiUrl,
    sandbox: account.sandbox,
    clock: ctx.clock,
    log: ctx.log.child({ account_id: account.id, lookup: name }),
    signal: AbortSignal.timeout(20_000),
  };
  const got = await lookup.run(cctx, query);
  if (got.ok) return got.value;
  const e = got.error;
  if (e.category === 'invalid_content' || (e.category === 'permanent' && e.platformCode)) throw new ApiError('LOOKUP_REFUSED', `${account.platform}: ${e.message}`);
  if (e.category === 'auth_expired' || e.category === 'revoked') throw new ApiError('ACCOUNT_NOT_CONNECTED', `${account.platform} refused the account's credentials: ${e.message}`);
  throw new ApiError('PLATFORM_UNAVAILABLE', `${account.platform}: ${e.message}`);
}
