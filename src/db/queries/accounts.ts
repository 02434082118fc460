import type { Queryable } from '../pool.js';

export type AccountRow = {
  id: string;
  workspace_id: string;
  platform: string;
  external_id: string;
  username: string;
  display_name: string | null;
  sandbox: boolean;
  status: 'connected' | 'reconnect_required' | 'disconnected';
  status_reason: string | null;
  blocked_until: Date | null;
  max_concurrency: number;
  created_at: Date;
  updated_at: Date;
  disconnected_at: Date | null;
  kind: string | null;
  token_expires_at: Date | null;
  /** 'direct' or 'provider:<name>'. */
  route: string;
};

// Credentials are never selected with the account: only the worker reads them, by their own query.
const COLUMNS = `id, workspace_id, platform, external_id, username, display_name, sandbox, status, status_reason,
  blocked_until, max_concurrency, created_at, updated_at, disconnected_at, kind, token_expires_at, route`;

export async function insertAccount(
  q: Queryable,
  a: { id: string; workspaceId: string; platform: string; externalId: string; username: string; displayName: string | null; sandbox: boolean; credentials: Buffer },
): Promise<AccountRow> {
  const { rows } = await q.query<AccountRow>(
    `INSERT INTO accounts (id, workspace_id, platform, external_id, username, display_name, sandbox, credentials)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [a.id, a.workspaceId, a.platform, a.externalId, a.username, a.displayName, a.sandbox, a.credentials],
  );
  return rows[0]!;
}

export async function getAccount(q: Queryable, workspaceId: string, id: string): Promise<AccountRow | undefined> {
  const { rows } = await q.query<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE workspace_id = $1 AND id = $2`, [workspaceId, id]);
  return rows[0];
}

export async function getAccountsByIds(q: Queryable, workspaceId: string, ids: string[]): Promise<AccountRow[]> {
  const { rows } = await q.query<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE workspace_id = $1 AND id = ANY($2)`, [workspaceId, ids]);
  return rows;
}

export async function listAccounts(
  q: Queryable,
  workspaceId: string,
  opts: { platform?: string; status?: string; after?: string; limit: number },
): Promise<AccountRow[]> {
  const { rows } = await q.query<AccountRow>(
    `SELECT ${COLUMNS} FROM accounts
     WHERE workspace_id = $1 AND ($2::text IS NULL OR platform = $2) AND ($3::text IS NULL OR status = $3)
       AND ($4::text IS NULL OR id < $4)
     ORDER BY id DESC LIMIT $5`,
    [workspaceId, opts.platform ?? null, opts.status ?? null, opts.after ?? null, opts.limit],
  );
  return rows;
}

/** Marks the account disconnected and forgets its credentials; returns undefined when not found. */
export async function markDisconnected(q: Queryable, workspaceId: string, id: string, reason: string): Promise<AccountRow | undefined> {
  const { rows } = await q.query<AccountRow>(
    `UPDATE accounts SET status = 'disconnected', status_reason = $3, credentials = NULL,
       disconnected_at = coalesce(disconnected_at, now()), updated_at = now()
     WHERE workspace_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [workspaceId, id, reason],
  );
  return rows[0];
}
