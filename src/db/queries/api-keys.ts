import type { Queryable } from '../pool.js';

export type ApiKeyRow = {
  id: string;
  workspace_id: string | null;
  name: string;
  display_hint: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
};

const COLUMNS = 'id, workspace_id, name, display_hint, scopes, created_at, last_used_at, revoked_at';

export async function insertApiKey(
  q: Queryable,
  key: { id: string; workspaceId: string | null; name: string; hash: Buffer; displayHint: string; scopes: string[] },
): Promise<ApiKeyRow> {
  const { rows } = await q.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, workspace_id, name, key_hash, display_hint, scopes) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [key.id, key.workspaceId, key.name, key.hash, key.displayHint, key.scopes],
  );
  return rows[0]!;
}

/** The live key with this hash, or undefined when unknown or revoked. */
export async function findLiveKeyByHash(q: Queryable, hash: Buffer): Promise<ApiKeyRow | undefined> {
  const { rows } = await q.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, [hash]);
  return rows[0];
}

export async function listWorkspaceKeys(q: Queryable, workspaceId: string): Promise<ApiKeyRow[]> {
  const { rows } = await q.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE workspace_id = $1 ORDER BY created_at, id`, [workspaceId]);
  return rows;
}

export async function revokeWorkspaceKey(q: Queryable, workspaceId: string, keyId: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await q.query<ApiKeyRow>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND workspace_id = $2 RETURNING ${COLUMNS}`,
    [keyId, workspaceId],
  );
  return rows[0];
}

export async function countLiveOperatorKeys(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: number }>('SELECT count(*) AS n FROM api_keys WHERE workspace_id IS NULL AND revoked_at IS NULL');
  return rows[0]!.n;
}

export async function revokeOperatorKeys(q: Queryable, exceptId?: string): Promise<void> {
  await q.query('UPDATE api_keys SET revoked_at = now() WHERE workspace_id IS NULL AND revoked_at IS NULL AND id IS DISTINCT FROM $1', [exceptId ?? null]);
}

export async function touchKey(q: Queryable, id: string): Promise<void> {
  await q.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]);
}
