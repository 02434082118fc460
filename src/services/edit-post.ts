// Changes to a post that has not started publishing: PATCH (content, targets, time), publish now,
// (re)schedule. Each locks the post, then its publications, and refuses once any attempt has started.
import { DUE_CHANNEL } from '../context.js';
import { insertEvents } from '../db/queries/events.js';
import {
  deletePublications,
  getPost,
  getPublicationsOfPosts,
  insertPublications,
  setPublicationsSchedule,
  updatePostContent,
  type PostRow,
  type PublicationRow,
} from '../db/queries/posts.js';
import { refreshPostStatuses } from '../db/queries/publications.js';
import type { Tx } from '../db/pool.js';
import { ApiError, notFound } from '../http/errors.js';
import { newId } from '../lib/ids.js';
import { checkTimezone, resolveScheduledAt } from './schedule-time.js';
import { applyMediaPlans, resolvePostMedia, type MediaInput, type PostMediaOptions } from './post-media.js';
import { lockQueueOfPost, reslot } from './queues.js';
import { loadTargetAccounts, validateContent } from './validate-post.js';

type Loaded = { post: PostRow; publications: PublicationRow[] };

async function loadForEdit(tx: Tx, workspaceId: string, postId: string): Promise<Loaded> {
  const post = await getPost(tx, workspaceId, postId, { lock: true });
  if (!post) throw notFound('post');
  const publications = await getPublicationsOfPosts(tx, workspaceId, [postId], { lock: true });
  const started = publications.filter((p) => p.attempts > 0 || !['draft', 'pending_approval', 'scheduled', 'failed', 'cancelled'].includes(p.status));
  if (started.length > 0) {
    throw new ApiError(
      'POST_NOT_EDITABLE',
      'part of this post has started publishing; it can no longer be changed',
      started.map((p) => ({ publication_id: p.id, status: p.status, message: `publication is ${p.status}` })),
    );
  }
  return { post, publications };
}

async function finish(tx: Tx, workspaceId: string, postId: string, eventType: string, extra: Record<string, unknown>, now: Date, wakeWithinMs: number): Promise<Loaded> {
  await refreshPostStatuses(tx, [postId]);
  const post = (await getPost(tx, workspaceId, postId))!;
  const publications = await getPublicationsOfPosts(tx, workspaceId, [postId]);
  await insertEvents(tx, [{ workspaceId, type: eventType, data: { post_id: postId, status: post.status, scheduled_at: post.scheduled_at?.toISOString() ?? null, ...extra } }]);
  const dueSoon = publications.some((p) => p.status === 'scheduled' && p.next_attempt_at && p.next_attempt_at.getTime() - now.getTime() <= wakeWithinMs);
  if (dueSoon) await tx.query(`SELECT pg_notify('${DUE_CHANNEL}', '')`);
  return { post, publications };
}

export type UpdatePostInput = {
  text?: string;
  account_ids?: string[];
  options?: Record<string, Record<string, unknown>>;
  scheduled_at?: string | null;
  timezone?: string | null;
  media?: MediaInput[];
};

export async function updatePost(
  tx: Tx,
  workspaceId: string,
  postId: string,
  input: UpdatePostInput,
  now: Date,
  opts: PostMediaOptions,
): Promise<Loaded> {
  const { wakeWithinMs } = opts;
  const queueId = await lockQueueOfPost(tx, workspaceId, postId);
  const { post, publications } = await loadForEdit(tx, workspaceId, postId);
  const waiting = publications.filter((p) => p.status === 'draft' || p.status === 'scheduled' || p.status === 'pending_approval');
  // Cancelled and failed are final: a post with nothing left waiting is history, not something to revive.
  if (waiting.length === 0) throw new ApiError('POST_NOT_EDITABLE', 'this post has nothing left to publish (its publications are cancelled or failed)');
  const isScheduled = waiting.some((p) => p.status === 'scheduled' || p.status === 'pending_approval');
  const pending = waiting.some((p) => p.status === 'pending_approval');

  const content = { text: input.text ?? post.text, options: input.options ?? post.options };
  if (input.account_ids && new Set(input.account_ids).size !== input.account_ids.length) {
    throw new ApiError('VALIDATION_FAILED', 'account_ids lists an account twice', [{ field: 'body.account_ids', message: 'duplicate ids' }]);
  }
  // Without new targets, only the accounts still waiting to publish must accept the content.
  const accounts = await loadTargetAccounts(tx, workspaceId, input.account_ids ?? waiting.map((p) => p.account_id));
  const mediaInput = input.media ?? post.media.map((m) => ({ id: m.media_id, alt_text: m.alt_text ?? undefined, adapt: m.adapt, pad: m.pad }));
  const media = await resolvePostMedia(tx, workspaceId, mediaInput, opts.urlPolicy);
  validateContent(content, accounts, media.kinds);

  let at = post.scheduled_at;
  const timezone = input.timezone === undefined ? post.timezone : checkTimezone(input.timezone ?? undefined);
  if (input.scheduled_at === null && !queueId) {
    if (isScheduled) throw new ApiError('VALIDATION_FAILED', 'a scheduled post needs a time; to stop it use DELETE /v1/posts/{id}', [{ field: 'body.scheduled_at', message: 'cannot be null while scheduled' }]);
    at = null;
  } else if (input.scheduled_at === null) {
    at = post.scheduled_at; // unpinned: the queue gives it a slot below
  } else if (input.scheduled_at !== undefined) {
    at = resolveScheduledAt(input.scheduled_at, timezone ?? undefined, now);
  }
  await updatePostContent(tx, workspaceId, postId, { text: content.text, media: media.items, options: content.options, scheduledAt: at, timezone });

  const status = pending ? 'pending_approval' : isScheduled ? 'scheduled' : 'draft';
  if (input.account_ids) {
    const keep = new Set(input.account_ids);
    await deletePublications(tx, workspaceId, publications.filter((p) => !keep.has(p.account_id)).map((p) => p.id));
    const existing = new Set(publications.map((p) => p.account_id));
    await insertPublications(
      tx,
      accounts
        .filter((a) => !existing.has(a.id))
        .map((a) => ({ id: newId('publication'), workspaceId, postId, accountId: a.id, platform: a.platform, status, scheduledAt: at })),
    );
  }
  if (input.scheduled_at !== undefined) {
    const current = await getPublicationsOfPosts(tx, workspaceId, [postId]);
    await setPublicationsSchedule(tx, current.map((p) => p.id), status, at);
  }
  if (queueId) {
    // A queued post given a time of its own is pinned to it; null unpins it back into the queue's order.
    if (input.scheduled_at !== undefined) await tx.query('UPDATE posts SET pinned = $2, queue_slot_at = $3 WHERE id = $1', [postId, at !== null, at]);
    await reslot(tx, workspaceId, queueId, now, wakeWithinMs);
  }
  await applyMediaPlans(tx, { id: postId, workspace_id: workspaceId, media: media.items }, 'request', opts.publicUrls);
  return finish(tx, workspaceId, postId, 'post.updated', {}, now, wakeWithinMs);
}

/** Publish now (`at` = now) or (re)schedule a draft or scheduled post. */
export async function schedulePost(
  tx: Tx,
  workspaceId: string,
  postId: string,
  when: { now: true } | { scheduled_at: string; timezone?: string },
  now: Date,
  opts: PostMediaOptions,
): Promise<Loaded> {
  const queueId = await lockQueueOfPost(tx, workspaceId, postId);
  const { post, publications } = await loadForEdit(tx, workspaceId, postId);
  const waiting = publications.filter((p) => p.status === 'draft' || p.status === 'scheduled' || p.status === 'pending_approval');
  if (waiting.length === 0) {
    throw new ApiError('POST_NOT_EDITABLE', 'this post has nothing left to publish (its publications are cancelled or failed)');
  }
  await loadTargetAccounts(tx, workspaceId, waiting.map((p) => p.account_id));
  // A post that needs approval waits for it; an approval given earlier does not cover a new release.
  const status = post.requires_approval ? 'pending_approval' : 'scheduled';
  const at = 'now' in when ? now : resolveScheduledAt(when.scheduled_at, when.timezone, now);
  const timezone = 'now' in when ? null : checkTimezone(when.timezone);
  await tx.query('UPDATE posts SET scheduled_at = $3, timezone = coalesce($4, timezone), updated_at = now() WHERE workspace_id = $1 AND id = $2', [workspaceId, postId, at, timezone]);
  await setPublicationsSchedule(tx, waiting.map((p) => p.id), status, at);
  if (queueId) {
    // Published now, it leaves the queue; given a time, it is pinned there. Either way the others close up.
    if ('now' in when) await tx.query('UPDATE posts SET queue_id = NULL, queue_slot_at = NULL, pinned = false WHERE id = $1', [postId]);
    else await tx.query('UPDATE posts SET pinned = true, queue_slot_at = $2 WHERE id = $1', [postId, at]);
    await reslot(tx, workspaceId, queueId, now, opts.wakeWithinMs);
  }
  await applyMediaPlans(tx, post, 'request', opts.publicUrls); // a draft's files may have failed or still be on their way
  return finish(tx, workspaceId, postId, status === 'pending_approval' ? 'post.approval_requested' : 'post.scheduled', {}, now, opts.wakeWithinMs);
}
