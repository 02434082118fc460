// Accounts: connecting a sandbox account (backed by the platform's simulator) and disconnecting one.
import { getConnector } from '../connectors/registry.js';
import { getAccount, insertAccount, markDisconnected, type AccountRow } from '../db/queries/accounts.js';
import { insertEvents } from '../db/queries/events.js';
import { endWaitingPublicationsOfAccount } from '../db/queries/publications.js';
import type { Tx } from '../db/pool.js';
import type { AppContext } from '../context.js';
import { ApiError, notFound } from '../http/errors.js';
import { sealJson } from '../lib/crypto.js';
import type { OAuthTokens } from '../connectors/auth-types.js';
import { nextTokenCheck, renewable } from './account-tokens.js';
import { newId } from '../lib/ids.js';

/** Binds a credentials ciphertext to its account row (AAD), so it cannot be moved to another account. */
export const credentialsAad = (accountId: string) => `account:${accountId}:credentials`;

export type SandboxAccountInput = { platform: string; username: string };

/** Creates the account on the simulator first (a network call), so call this outside a transaction. */
export async function provisionSandboxAccount(ctx: AppContext, input: SandboxAccountInput) {
  if (!ctx.sandboxUrl) throw new ApiError('SANDBOX_DISABLED', 'sandbox accounts are switched off on this instance');
  const connector = getConnector(input.platform);
  if (!connector?.sandbox) throw new ApiError('PLATFORM_NOT_SUPPORTED', `no sandbox for platform "${input.platform}" yet`);
  try {
    return await connector.sandbox.createAccount(`${ctx.sandboxUrl}/${input.platform}`, input.username);
  } catch (error) {
    throw new ApiError('SANDBOX_UNAVAILABLE', (error as Error).message);
  }
}

export async function saveSandboxAccount(
  tx: Tx,
  ctx: AppContext,
  workspaceId: string,
  platform: string,
  created: Awaited<ReturnType<typeof provisionSandboxAccount>>,
): Promise<AccountRow> {
  const id = newId('account');
  const account = await insertAccount(tx, {
    id,
    workspaceId,
    platform,
    externalId: created.externalId,
    username: created.username,
    displayName: created.displayName,
    sandbox: true,
    credentials: sealJson(ctx.keyRing, created.credentials, credentialsAad(id)),
  });
  // Sandbox OAuth tokens expire like real ones: the token job renews them ahead of time too.
  const creds = created.credentials as Partial<OAuthTokens>;
  if (creds.expiresAt) {
    await tx.query('UPDATE accounts SET token_expires_at = $2, next_token_check_at = $3 WHERE id = $1', [id, creds.expiresAt, nextTokenCheck(creds, ctx.clock.now(), renewable(platform, creds))]);
  }
  await insertEvents(tx, [{ workspaceId, type: 'account.connected', data: { account_id: id, platform, username: account.username, sandbox: true } }]);
  return (await getAccount(tx, workspaceId, id))!;
}

export async function disconnectAccount(tx: Tx, workspaceId: string, accountId: string, reason: string): Promise<AccountRow> {
  const existing = await getAccount(tx, workspaceId, accountId);
  if (!existing) throw notFound('account');
  if (existing.status === 'disconnected') return existing;
  const account = (await markDisconnected(tx, workspaceId, accountId, reason))!;
  await endWaitingPublicationsOfAccount(tx, workspaceId, accountId, {
    code: 'ACCOUNT_DISCONNECTED',
    category: 'revoked',
    message: `the account was disconnected before this publication ran (${reason})`,
    retryable: false,
  });
  await insertEvents(tx, [{ workspaceId, type: 'account.disconnected', data: { account_id: accountId, platform: account.platform, reason } }]);
  return account;
}
