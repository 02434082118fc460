// Publication transitions shared by the API and the worker. Lock order, everywhere: posts (by id), then
// their publications, so an API edit and a worker result never deadlock. Row locks are FOR NO KEY UPDATE:
// a plain FOR UPDATE would also conflict with the KEY SHARE locks that foreign-key checks take, so every
// open transaction inserting a publication would block (or, with SKIP LOCKED, hide) its post and account.
import { TERMINAL_POST, type PostStatus } from '../../domain/lifecycle.js';
import type { Queryable } from '../pool.js';
import { PUB_COLUMNS, type PublicationError, type PublicationRow } from './posts.js';
import { insertEvents, type NewEvent } from './events.js';


export async function lockPosts(q: Queryable, postIds: string[]): Promise<void> {
  if (postIds.length > 0) await q.query('SELECT 1 FROM posts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE', [postIds]);
}

export type PostTransition = { id: string; workspace_id: string; old_status: PostStatus; status: PostStatus };

/**
 * Re-derives the status of the given posts (caller holds their locks) and writes `post.completed` for
 * each post that just reached a terminal status (with how many publications ended how), in one statement
 * plus the event insert. `events`: collect the events there instead (the caller inserts them with its own,
 * one statement fewer). Returns the posts whose status changed.
 */
export async function refreshPostStatuses(q: Queryable, postIds: string[], events?: NewEvent[]): Promise<PostTransition[]> {
  if (postIds.length === 0) return [];
  const { rows } = await q.query<PostTransition & { summary: Record<string, number> | null }>(
    `WITH derived AS (
       SELECT p.id, p.status AS old_status,
              derive_post_status(coalesce((SELECT array_agg(x.status) FROM publications x WHERE x.post_id = p.id), '{}')) AS status
       FROM posts p WHERE p.id = ANY($1)
     ), changed AS (
       UPDATE posts p SET status = d.status, updated_at = now()
       FROM derived d WHERE p.id = d.id AND p.status <> d.status
       RETURNING p.id, p.workspace_id, d.old_status, p.status
     )
     SELECT c.*, CASE WHEN c.status = ANY($2) AND NOT c.old_status = ANY($2) THEN
              (SELECT jsonb_object_agg(s.status, s.n) FROM (SELECT status, count(*)::int AS n FROM publications WHERE post_id = c.id GROUP BY status) s)
            END AS summary
     FROM changed c`,
    [postIds, TERMINAL_POST],
  );
  const completed: NewEvent[] = rows
    .filter((r) => r.summary)
    .map((c) => ({ workspaceId: c.workspace_id, type: 'post.completed', data: { post_id: c.id, status: c.status, summary: c.summary } }));
  if (events) events.push(...completed);
  else await insertEvents(q, completed);
  return rows.map(({ summary: _s, ...t }) => t);
}

/** Cancels what has not started (or whose last attempt certainly did not reach the platform). */
export async function cancelWaitingPublications(q: Queryable, workspaceId: string, postId: string): Promise<PublicationRow[]> {
  const { rows } = await q.query<PublicationRow>(
    `UPDATE publications SET status = 'cancelled', next_attempt_at = NULL, finished_at = now(), updated_at = now()
     WHERE workspace_id = $1 AND post_id = $2
       AND (status IN ('draft', 'scheduled') OR (status = 'retrying' AND NOT needs_reconcile))
     RETURNING ${PUB_COLUMNS}`,
    [workspaceId, postId],
  );
  return rows;
}

/**
 * Ends the waiting publications of an account that can no longer publish. One whose last attempt may
 * have reached the platform becomes `unconfirmed` (it cannot be read back any more), the rest `failed`.
 */
export async function endWaitingPublicationsOfAccount(
  q: Queryable,
  workspaceId: string,
  accountId: string,
  error: PublicationError,
): Promise<PublicationRow[]> {
  const { rows: affected } = await q.query<{ post_id: string }>(
    `SELECT DISTINCT post_id FROM publications WHERE workspace_id = $1 AND account_id = $2 AND status IN ('scheduled', 'retrying')`,
    [workspaceId, accountId],
  );
  await lockPosts(q, affected.map((r) => r.post_id));
  const unknown: PublicationError = {
    code: 'OUTCOME_UNKNOWN',
    category: 'transient',
    message: `${error.message}; an earlier attempt may have published and can no longer be read back`,
    retryable: false,
  };
  const { rows } = await q.query<PublicationRow>(
    `UPDATE publications SET
       status = CASE WHEN needs_reconcile THEN 'unconfirmed' ELSE 'failed' END,
       error = CASE WHEN needs_reconcile THEN $4::jsonb ELSE $3::jsonb END,
       next_attempt_at = NULL, finished_at = now(), updated_at = now()
     WHERE workspace_id = $1 AND account_id = $2 AND status IN ('scheduled', 'retrying')
     RETURNING ${PUB_COLUMNS}`,
    [workspaceId, accountId, JSON.stringify(error), JSON.stringify(unknown)],
  );
  await insertEvents(q, rows.map((r) => publicationEvent(r)));
  await refreshPostStatuses(q, [...new Set(rows.map((r) => r.post_id))]);
  return rows;
}

/** The event a publication's terminal or retry transition emits. */
export function publicationEvent(p: PublicationRow): NewEvent {
  const type =
    p.status === 'published' ? 'publication.published'
    : p.status === 'retrying' ? 'publication.retrying'
    : p.status === 'processing' ? 'publication.processing'
    : p.status === 'unconfirmed' ? 'publication.unconfirmed'
    : 'publication.failed';
  return {
    workspaceId: p.workspace_id,
    type,
    data: {
      publication_id: p.id,
      post_id: p.post_id,
      account_id: p.account_id,
      platform: p.platform,
      status: p.status,
      attempts: p.attempts,
      platform_post_id: p.platform_post_id,
      url: p.platform_url,
      error: p.error,
      next_attempt_at: p.status === 'retrying' || p.status === 'processing' ? p.next_attempt_at : null,
      published_at: p.published_at,
    },
  };
}
