import type { PostStatus, PublicationStatus } from '../../domain/lifecycle.js';
import type { PostMediaItem } from '../../media/readiness.js';
import type { Queryable } from '../pool.js';

export type PostRow = {
  id: string;
  workspace_id: string;
  text: string;
  media: PostMediaItem[];
  options: Record<string, Record<string, unknown>>;
  status: PostStatus;
  scheduled_at: Date | null;
  timezone: string | null;
  queue_id: string | null;
  priority: string | null;
  queue_slot_at: Date | null;
  pinned: boolean;
  requires_approval: boolean;
  approval: { decision: 'approved' | 'rejected'; by: string; at: string; reason?: string } | null;
  created_at: Date;
  updated_at: Date;
};

export type PublicationRow = {
  id: string;
  workspace_id: string;
  post_id: string;
  account_id: string;
  platform: string;
  status: PublicationStatus;
  next_attempt_at: Date | null;
  scheduled_at: Date | null;
  attempts: number;
  needs_reconcile: boolean;
  /** Held (next_attempt_at NULL) until the post's media and this platform's renditions are ready. */
  waiting_for_media: boolean;
  platform_post_id: string | null;
  platform_url: string | null;
  error: PublicationError | null;
  published_at: Date | null;
  finished_at: Date | null;
  created_at: Date;
  updated_at: Date;
  /** Which route published it: 'direct', or '<provider>:<workspace|operator>'. */
  route: string | null;
};

export type PublicationError = {
  code: string;
  category: string;
  platform_code?: string | null;
  message: string;
  retryable: boolean;
};

export const PUB_COLUMNS = `id, workspace_id, post_id, account_id, platform, status, next_attempt_at, scheduled_at, attempts,
  needs_reconcile, waiting_for_media, platform_post_id, platform_url, error, published_at, finished_at, created_at, updated_at, route`;

export async function insertPost(
  q: Queryable,
  p: {
    id: string; workspaceId: string; text: string; media: PostMediaItem[]; options: object; status: PostStatus; scheduledAt: Date | null; timezone: string | null;
    queued?: { queueId: string; priority: string; jitterMs: number; pinned: boolean };
    requiresApproval?: boolean;
  },
): Promise<PostRow> {
  const { rows } = await q.query<PostRow>(
    `INSERT INTO posts (id, workspace_id, text, media, options, status, scheduled_at, timezone, queue_id, priority, jitter_ms, pinned, queue_slot_at, requires_approval)
     VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8, $9, $10, $11, $12, CASE WHEN $12 THEN $7::timestamptz END, $13) RETURNING *`,
    [p.id, p.workspaceId, p.text, JSON.stringify(p.media), JSON.stringify(p.options), p.status, p.scheduledAt, p.timezone,
      p.queued?.queueId ?? null, p.queued?.priority ?? null, p.queued?.jitterMs ?? 0, p.queued?.pinned ?? false, p.requiresApproval ?? false],
  );
  return rows[0]!;
}

export async function insertPublications(
  q: Queryable,
  pubs: { id: string; workspaceId: string; postId: string; accountId: string; platform: string; status: PublicationStatus; scheduledAt: Date | null }[],
): Promise<PublicationRow[]> {
  if (pubs.length === 0) return [];
  const { rows } = await q.query<PublicationRow>(
    `INSERT INTO publications (id, workspace_id, post_id, account_id, platform, status, scheduled_at, next_attempt_at)
     SELECT id, ws, post, acct, platform, status, at, CASE WHEN status = 'scheduled' THEN at END
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
       AS t(id, ws, post, acct, platform, status, at)
     RETURNING ${PUB_COLUMNS}`,
    [
      pubs.map((p) => p.id),
      pubs.map((p) => p.workspaceId),
      pubs.map((p) => p.postId),
      pubs.map((p) => p.accountId),
      pubs.map((p) => p.platform),
      pubs.map((p) => p.status),
      pubs.map((p) => p.scheduledAt),
    ],
  );
  return rows;
}

export async function getPost(q: Queryable, workspaceId: string, id: string, opts: { lock?: boolean } = {}): Promise<PostRow | undefined> {
  const { rows } = await q.query<PostRow>(
    `SELECT * FROM posts WHERE workspace_id = $1 AND id = $2${opts.lock ? ' FOR NO KEY UPDATE' : ''}`,
    [workspaceId, id],
  );
  return rows[0];
}

/** Publications of the given posts, in a stable order; `lock` takes row locks (post lock first, always). */
export async function getPublicationsOfPosts(q: Queryable, workspaceId: string, postIds: string[], opts: { lock?: boolean } = {}): Promise<PublicationRow[]> {
  const { rows } = await q.query<PublicationRow>(
    `SELECT ${PUB_COLUMNS} FROM publications WHERE workspace_id = $1 AND post_id = ANY($2) ORDER BY post_id, id${opts.lock ? ' FOR NO KEY UPDATE' : ''}`,
    [workspaceId, postIds],
  );
  return rows;
}

export type PostFilter = { status?: string; accountId?: string; from?: Date; to?: Date; before?: string; limit: number };

export async function listPosts(q: Queryable, workspaceId: string, f: PostFilter): Promise<PostRow[]> {
  const { rows } = await q.query<PostRow>(
    `SELECT * FROM posts p
     WHERE p.workspace_id = $1
       AND ($2::text IS NULL OR p.status = $2)
       AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM publications x WHERE x.post_id = p.id AND x.account_id = $3))
       AND ($4::timestamptz IS NULL OR p.scheduled_at >= $4)
       AND ($5::timestamptz IS NULL OR p.scheduled_at < $5)
       AND ($6::text IS NULL OR p.id < $6)
     ORDER BY p.id DESC LIMIT $7`,
    [workspaceId, f.status ?? null, f.accountId ?? null, f.from ?? null, f.to ?? null, f.before ?? null, f.limit],
  );
  return rows;
}

export async function updatePostContent(
  q: Queryable,
  workspaceId: string,
  id: string,
  c: { text: string; media: PostMediaItem[]; options: object; scheduledAt: Date | null; timezone: string | null },
): Promise<void> {
  await q.query(
    `UPDATE posts SET text = $3, media = $4, options = $5, scheduled_at = $6, timezone = $7, updated_at = now() WHERE workspace_id = $1 AND id = $2`,
    [workspaceId, id, c.text, JSON.stringify(c.media), JSON.stringify(c.options), c.scheduledAt, c.timezone],
  );
}

export async function deletePublications(q: Queryable, workspaceId: string, ids: string[]): Promise<void> {
  if (ids.length > 0) await q.query('DELETE FROM publications WHERE workspace_id = $1 AND id = ANY($2)', [workspaceId, ids]);
}

/** Sets not-started publications to `draft` (keeping `at` as the intended time) or `scheduled` at `at`. */
export async function setPublicationsSchedule(q: Queryable, ids: string[], status: 'draft' | 'scheduled' | 'pending_approval', at: Date | null): Promise<void> {
  if (ids.length === 0) return;
  await q.query(
    `UPDATE publications SET status = $2, scheduled_at = $3,
       next_attempt_at = CASE WHEN $2 = 'scheduled' AND NOT waiting_for_media THEN $3::timestamptz END, updated_at = now()
     WHERE id = ANY($1) AND status IN ('draft', 'scheduled', 'pending_approval')`,
    [ids, status, at],
  );
}
