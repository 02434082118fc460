import type { Queryable } from '../pool.js';

export type WorkspaceRow = { id: string; name: string; created_at: Date; updated_at: Date };

export async function insertWorkspace(q: Queryable, id: string, name: string): Promise<WorkspaceRow> {
  const { rows } = await q.query<WorkspaceRow>('INSERT INTO workspaces (id, name) VALUES ($1, $2) RETURNING *', [id, name]);
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
