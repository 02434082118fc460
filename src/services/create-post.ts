// POST /v1/posts: one post, one publication per target account, in one transaction with its events.
import { DUE_CHANNEL } from '../context.js';
import { insertEvents } from '../db/queries/events.js';
import { getPost, getPublicationsOfPosts, insertPost, insertPublications, type PostRow, type PublicationRow } from '../db/queries/posts.js';
import type { Priority } from '../domain/slots.js';
import { getQueue, pickJitterMs, reslot } from './queues.js';
import type { Tx } from '../db/pool.js';
import { newId } from '../lib/ids.js';
import { ApiError } from '../http/errors.js';
import { checkTimezone, resolveScheduledAt } from './schedule-time.js';
import { applyMediaPlans, resolvePostMedia, type MediaInput, type PostMediaOptions } from './post-media.js';
import { loadTargetAccounts, validateContent } from './validate-post.js';

export type CreatePostInput = {
  text: string;
  /** Optional with `queue_id` (the queue's accounts are used). */
  account_ids?: string[];
  queue_id?: string;
  priority?: Priority;
  /** Default: the workspace's setting. */
  requires_approval?: boolean;
  scheduled_at?: string;
  timezone?: string;
  draft?: boolean;
  media?: MediaInput[];
  options?: Record<string, Record<string, unknown>>;
};

export async function createPost(
  tx: Tx,
  workspaceId: string,
  input: CreatePostInput,
  now: Date,
  opts: PostMediaOptions,
): Promise<{ post: PostRow; publications: PublicationRow[] }> {
  // A queue is locked before the post exists (lock order: queue → posts → publications).
  const queue = input.queue_id !== undefined ? await getQueue(tx, workspaceId, input.queue_id, true) : undefined;
  if (input.queue_id !== undefined && !queue) throw new ApiError('QUEUE_NOT_FOUND', `no queue ${input.queue_id} in this workspace`);
  if (input.priority !== undefined && !queue) throw new ApiError('VALIDATION_FAILED', '"priority" orders posts within a queue; give "queue_id" too', [{ field: 'body.priority', message: 'needs queue_id' }]);
  const requested = input.account_ids ?? queue?.account_ids ?? [];
  if (requested.length === 0) {
    throw new ApiError('VALIDATION_FAILED', queue ? 'this queue has no accounts: give "account_ids"' : '"account_ids" is required', [{ field: 'body.account_ids', message: 'is required' }]);
  }
  const accountIds = [...new Set(requested)];
  if (accountIds.length !== requested.length) {
    throw new ApiError('VALIDATION_FAILED', 'account_ids lists an account twice', [{ field: 'body.account_ids', message: 'duplicate ids' }]);
  }
  const timezone = checkTimezone(input.timezone);
  const requestedAt = input.scheduled_at !== undefined ? resolveScheduledAt(input.scheduled_at, input.timezone, now) : null;
  const draft = input.draft === true;
  if (queue && draft) throw new ApiError('VALIDATION_FAILED', 'a draft is not queued: create it without "queue_id", or queue it when it is ready', [{ field: 'body.queue_id', message: 'not with draft' }]);
  // Publish now = due now; a draft keeps its intended time (if any) without being scheduled.
  const initialAt = draft ? requestedAt : (requestedAt ?? now);
  const content = { text: input.text, options: input.options ?? {} };

  const accounts = await loadTargetAccounts(tx, workspaceId, accountIds);
  const media = await resolvePostMedia(tx, workspaceId, input.media ?? [], opts.urlPolicy);
  validateContent(content, accounts, media.kinds);

  const { rows: ws } = await tx.query<{ requires_approval: boolean }>('SELECT requires_approval FROM workspaces WHERE id = $1', [workspaceId]);
  const requiresApproval = input.requires_approval ?? ws[0]?.requires_approval ?? false;
  const status = draft ? 'draft' : requiresApproval ? 'pending_approval' : 'scheduled';
  // A queued post with a time of its own is pinned there; otherwise reslot() gives it a slot below.
  const queued = queue ? { queueId: queue.id, priority: input.priority ?? 'medium', jitterMs: requestedAt ? 0 : pickJitterMs(queue.jitter_minutes), pinned: requestedAt !== null } : undefined;
  let post = await insertPost(tx, { id: newId('post'), workspaceId, text: content.text, media: media.items, options: content.options, status, scheduledAt: initialAt, timezone, queued, requiresApproval });
  let publications = await insertPublications(
    tx,
    accounts.map((a) => ({ id: newId('publication'), workspaceId, postId: post.id, accountId: a.id, platform: a.platform, status, scheduledAt: initialAt })),
  );
  if (queue) {
    await reslot(tx, workspaceId, queue.id, now, opts.wakeWithinMs);
    post = (await getPost(tx, workspaceId, post.id))!;
    publications = await getPublicationsOfPosts(tx, workspaceId, [post.id]);
  }
  if (media.items.length > 0) {
    await applyMediaPlans(tx, post, 'request', opts.publicUrls);
    publications = await getPublicationsOfPosts(tx, workspaceId, [post.id]);
  }
  const at = post.scheduled_at;
  const events = [{ workspaceId, type: 'post.created', data: { post_id: post.id, status, scheduled_at: at?.toISOString() ?? null } }];
  if (status === 'scheduled') events.push({ workspaceId, type: 'post.scheduled', data: { post_id: post.id, status, scheduled_at: at!.toISOString() } });
  if (status === 'pending_approval') events.push({ workspaceId, type: 'post.approval_requested', data: { post_id: post.id, status, scheduled_at: at?.toISOString() ?? null } });
  await insertEvents(tx, events);
  if (status === 'scheduled' && at!.getTime() - now.getTime() <= opts.wakeWithinMs) await tx.query(`SELECT pg_notify('${DUE_CHANNEL}', '')`);
  return { post, publications };
}
