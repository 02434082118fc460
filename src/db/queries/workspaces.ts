import type { Queryable } from '../pool.js';

export type WorkspaceRow = { id: string; name: string; requires_approval: boolean; created_at: Date; updated_at: Date };

export async function insertWorkspace(q: Queryable, id: string, name: string, requiresApproval = false): Promise<WorkspaceRow> {
  const { rows } = await q.query<WorkspaceRow>('INSERT INTO workspaces (id, name, requires_approval) VALUES ($1, $2, $3) RETURNING *', [id, name, requiresApproval]);
  return rows[0]!;
}

export async function getWorkspace(q: Queryable, id: string): Promise<WorkspaceRow | undefined> {
  const { rows } = await q.query<WorkspaceRow>('SELECT * FROM workspaces WHERE id = $1', [id]);
  return rows[0];
}

export async function listWorkspaces(q: Queryable, opts: { after?: string; limit: number }): Promise<WorkspaceRow[]> {
  const { rows } = await q.query<WorkspaceRow>(
    'SELECT * FROM workspaces WHERE ($1::text IS NULL OR id < $1) ORDER BY id DESC LIMIT $2',
    [opts.after ?? null, opts.limit],
  );
  return rows;
}
