// Approving and rejecting posts that wait in pending_approval. An approved post publishes at its time or
// slot (at once if that passed while it waited); a rejected one goes back to draft with the reason (and
// leaves its queue). Reviewer links let someone without an API key decide once, before the link expires.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DUE_CHANNEL } from '../context.js';
import { insertEvents } from '../db/queries/events.js';
import { getPost, getPublicationsOfPosts, type PostRow, type PublicationRow } from '../db/queries/posts.js';
import { refreshPostStatuses } from '../db/queries/publications.js';
import type { Queryable, Tx } from '../db/pool.js';
import { ApiError, notFound } from '../http/errors.js';
import { newId } from '../lib/ids.js';
import { lockQueueOfPost, reslot } from './queues.js';

export type Decision = { decision: 'approved' | 'rejected'; by: string; reason?: string };

export async function decide(tx: Tx, workspaceId: string, postId: string, d: Decision, now: Date, wakeWithinMs: number): Promise<{ post: PostRow; publications: PublicationRow[] }> {
  const queueId = await lockQueueOfPost(tx, workspaceId, postId);
  const post = await getPost(tx, workspaceId, postId, { lock: true });
  if (!post) throw notFound('post');
  const pubs = await getPublicationsOfPosts(tx, workspaceId, [postId], { lock: true });
  const waiting = pubs.filter((p) => p.status === 'pending_approval');
  if (waiting.length === 0) throw new ApiError('POST_NOT_PENDING_APPROVAL', `this post is ${post.status}; only a post awaiting approval can be approved or rejected`);
  const ids = waiting.map((p) => p.id);
  if (d.decision === 'approved') {
    await tx.query(
      `UPDATE publications SET status = 'scheduled', next_attempt_at = CASE WHEN waiting_for_media THEN NULL ELSE greatest(scheduled_at, $2) END, updated_at = now()
       WHERE id = ANY($1)`,
      [ids, now],
    );
  } else {
    await tx.query(`UPDATE publications SET status = 'draft', next_attempt_at = NULL, updated_at = now() WHERE id = ANY($1)`, [ids]);
    // Drafts are not queued: a rejected post leaves its queue and the posts after it close up.
    if (queueId) await tx.query('UPDATE posts SET queue_id = NULL, queue_slot_at = NULL, pinned = false WHERE id = $1', [postId]);
  }
  const approval = { decision: d.decision, by: d.by, at: now.toISOString(), ...(d.reason ? { reason: d.reason } : {}) };
  await tx.query('UPDATE posts SET approval = $2, updated_at = now() WHERE id = $1', [postId, JSON.stringify(approval)]);
  if (queueId && d.decision === 'rejected') await reslot(tx, workspaceId, queueId, now, wakeWithinMs);
  await refreshPostStatuses(tx, [postId]);
  await insertEvents(tx, [{ workspaceId, type: d.decision === 'approved' ? 'post.approved' : 'post.rejected', data: { post_id: postId, by: d.by, reason: d.reason ?? null } }]);
  const after = await getPublicationsOfPosts(tx, workspaceId, [postId]);
  if (after.some((p) => p.status === 'scheduled' && p.next_attempt_at && p.next_attempt_at.getTime() - now.getTime() <= wakeWithinMs)) await tx.query(`SELECT pg_notify('${DUE_CHANNEL}', '')`);
  return { post: (await getPost(tx, workspaceId, postId))!, publications: after };
}

// Reviewer links: `<id>.<secret>`; only a hash of the secret is stored.
const hashSecret = (secret: string) => createHash('sha256').update(secret).digest();

export async function createReviewLink(q: Queryable, workspaceId: string, postId: string, ttlHours: number, now: Date): Promise<{ id: string; token: string; expiresAt: Date }> {
  const post = await getPost(q, workspaceId, postId);
  if (!post) throw notFound('post');
  const id = newId('reviewLink');
  const secret = randomBytes(24).toString('base64url');
  const expiresAt = new Date(now.getTime() + ttlHours * 3600_000);
  await q.query('INSERT INTO review_links (id, workspace_id, post_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)', [id, workspaceId, postId, hashSecret(secret), expiresAt]);
  return { id, token: `${id}.${secret}`, expiresAt };
}

export type ReviewLinkRow = { id: string; workspace_id: string; post_id: string; token_hash: Buffer; expires_at: Date; used_at: Date | null; decision: string | null };

/** The link a token names, if the token is genuine; `problem` says why it cannot be used (expired, used). */
export async function openReviewLink(q: Queryable, token: string, now: Date, lock = false): Promise<{ link: ReviewLinkRow; problem?: 'expired' | 'used' }> {
  const [id, secret] = token.split('.');
  const forged = new ApiError('REVIEW_LINK_INVALID', 'this review link is not valid');
  if (!id || !secret) throw forged;
  const { rows } = await q.query<ReviewLinkRow>(`SELECT * FROM review_links WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  const link = rows[0];
  if (!link) throw forged;
  const given = hashSecret(secret);
  if (given.length !== link.token_hash.length || !timingSafeEqual(given, link.token_hash)) throw forged;
  if (link.used_at) return { link, problem: 'used' };
  if (link.expires_at.getTime() <= now.getTime()) return { link, problem: 'expired' };
  return { link };
}

export async function decideByLink(tx: Tx, token: string, decision: 'approved' | 'rejected', reason: string | undefined, now: Date, wakeWithinMs: number) {
  const { link, problem } = await openReviewLink(tx, token, now, true);
  if (problem === 'used') throw new ApiError('REVIEW_LINK_USED', `this review link was already used (${link.decision})`);
  if (problem === 'expired') throw new ApiError('REVIEW_LINK_EXPIRED', 'this review link has expired; ask for a new one');
  const result = await decide(tx, link.workspace_id, link.post_id, { decision, by: `review_link:${link.id}`, reason }, now, wakeWithinMs);
  await tx.query('UPDATE review_links SET used_at = now(), decision = $2 WHERE id = $1', [link.id, decision]);
  return result;
}
