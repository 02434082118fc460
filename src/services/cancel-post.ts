// DELETE /v1/posts/{id}: cancels every publication that has not published and cannot be mid-request.
// A publication being published right now finishes (its outcome is reported); nothing is dropped silently.
import { insertEvents } from '../db/queries/events.js';
import { getPost, getPublicationsOfPosts, type PostRow, type PublicationRow } from '../db/queries/posts.js';
import { cancelWaitingPublications, refreshPostStatuses } from '../db/queries/publications.js';
import type { Tx } from '../db/pool.js';
import { notFound } from '../http/errors.js';
import { lockQueueOfPost, reslot } from './queues.js';

export async function cancelPost(tx: Tx, workspaceId: string, postId: string, now: Date, wakeWithinMs: number): Promise<{ post: PostRow; publications: PublicationRow[] }> {
  const queueId = await lockQueueOfPost(tx, workspaceId, postId);
  const locked = await getPost(tx, workspaceId, postId, { lock: true });
  if (!locked) throw notFound('post');
  const cancelled = await cancelWaitingPublications(tx, workspaceId, postId);
  if (cancelled.length > 0) {
    await refreshPostStatuses(tx, [postId]);
    await insertEvents(tx, [{ workspaceId, type: 'post.deleted', data: { post_id: postId, cancelled_publication_ids: cancelled.map((p) => p.id) } }]);
    if (queueId) await reslot(tx, workspaceId, queueId, now, wakeWithinMs); // the posts after it close up
  }
  const post = (await getPost(tx, workspaceId, postId))!;
  return { post, publications: await getPublicationsOfPosts(tx, workspaceId, [postId]) };
}
