// POST /v1/posts: one post, one publication per target account, in one transaction with its events.
import { DUE_CHANNEL } from '../context.js';
import { insertEvents } from '../db/queries/events.js';
import { getPublicationsOfPosts, insertPost, insertPublications, type PostRow, type PublicationRow } from '../db/queries/posts.js';
import type { Tx } from '../db/pool.js';
import { newId } from '../lib/ids.js';
import { ApiError } from '../http/errors.js';
import { checkTimezone, resolveScheduledAt } from './schedule-time.js';
import { applyMediaPlans, resolvePostMedia, type MediaInput, type PostMediaOptions } from './post-media.js';
import { loadTargetAccounts, validateContent } from './validate-post.js';

export type CreatePostInput = {
  text: string;
  account_ids: string[];
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
  const accountIds = [...new Set(input.account_ids)];
  if (accountIds.length !== input.account_ids.length) {
    throw new ApiError('VALIDATION_FAILED', 'account_ids lists an account twice', [{ field: 'body.account_ids', message: 'duplicate ids' }]);
  }
  const timezone = checkTimezone(input.timezone);
  const requestedAt = input.scheduled_at !== undefined ? resolveScheduledAt(input.scheduled_at, input.timezone, now) : null;
  const draft = input.draft === true;
  // Publish now = due now; a draft keeps its intended time (if any) without being scheduled.
  const at = draft ? requestedAt : (requestedAt ?? now);
  const content = { text: input.text, options: input.options ?? {} };

  const accounts = await loadTargetAccounts(tx, workspaceId, accountIds);
  const media = await resolvePostMedia(tx, workspaceId, input.media ?? [], opts.urlPolicy);
  validateContent(content, accounts, media.kinds);

  const status = draft ? 'draft' : 'scheduled';
  const post = await insertPost(tx, { id: newId('post'), workspaceId, text: content.text, media: media.items, options: content.options, status, scheduledAt: at, timezone });
  let publications = await insertPublications(
    tx,
    accounts.map((a) => ({ id: newId('publication'), workspaceId, postId: post.id, accountId: a.id, platform: a.platform, status, scheduledAt: at })),
  );
  if (media.items.length > 0) {
    await applyMediaPlans(tx, post, 'request', opts.publicUrls);
    publications = await getPublicationsOfPosts(tx, workspaceId, [post.id]);
  }
  const events = [{ workspaceId, type: 'post.created', data: { post_id: post.id, status, scheduled_at: at?.toISOString() ?? null } }];
  if (!draft) events.push({ workspaceId, type: 'post.scheduled', data: { post_id: post.id, status, scheduled_at: at!.toISOString() } });
  await insertEvents(tx, events);
  if (!draft && at!.getTime() - now.getTime() <= opts.wakeWithinMs) await tx.query(`SELECT pg_notify('${DUE_CHANNEL}', '')`);
  return { post, publications };
}
