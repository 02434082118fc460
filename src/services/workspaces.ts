// Workspaces and their API keys (operator calls), and the operator key itself.
import { countLiveOperatorKeys, findLiveKeyByHash, insertApiKey, revokeOperatorKeys, type ApiKeyRow } from '../db/queries/api-keys.js';
import type { Queryable } from '../db/pool.js';
import { OPERATOR_KEY_PREFIX, WORKSPACE_KEY_PREFIX, displayHint, generateKeySecret, hashKey } from '../lib/api-keys.js';
import { newId } from '../lib/ids.js';
import { normalizeScopes } from '../http/auth.js';

export async function createWorkspaceKey(q: Queryable, workspaceId: string, name: string, scopes: string[]): Promise<{ key: ApiKeyRow; secret: string }> {
  const secret = generateKeySecret(WORKSPACE_KEY_PREFIX);
  const key = await insertApiKey(q, {
    id: newId('apiKey'),
    workspaceId,
    name,
    hash: hashKey(secret),
    displayHint: displayHint(secret),
    scopes: normalizeScopes(scopes),
  });
  return { key, secret };
}

/**
 * Makes sure an operator key exists. With CRIER_ADMIN_KEY set, that key is registered (idempotently)
 * and any other operator key revoked.
 * Otherwise, on the first start only, a key is generated and returned so the caller can print it once.
 */
export async function ensureOperatorKey(q: Queryable, fromEnv: string | undefined): Promise<{ generated?: string }> {
  if (fromEnv) {
    // The configured key is the only operator key: changing CRIER_ADMIN_KEY retires the previous one.
    const existing = await findLiveKeyByHash(q, hashKey(fromEnv));
    const key = existing ?? (await insertApiKey(q, { id: newId('apiKey'), workspaceId: null, name: 'CRIER_ADMIN_KEY', hash: hashKey(fromEnv), displayHint: `…${fromEnv.slice(-4)}`, scopes: [] }));
    if (key.workspace_id !== null) throw new Error('CRIER_ADMIN_KEY equals a workspace API key; choose another value');
    await revokeOperatorKeys(q, key.id);
    return {};
  }
  if ((await countLiveOperatorKeys(q)) > 0) return {};
  return { generated: await issueOperatorKey(q) };
}

/** A new operator key; `rotate` revokes the others (the `crier admin-key --rotate` command). */
export async function issueOperatorKey(q: Queryable, rotate = false): Promise<string> {
  const secret = generateKeySecret(OPERATOR_KEY_PREFIX);
  const key = await insertApiKey(q, { id: newId('apiKey'), workspaceId: null, name: 'operator', hash: hashKey(secret), displayHint: displayHint(secret), scopes: [] });
  if (rotate) await revokeOperatorKeys(q, key.id);
  return secret;
}
