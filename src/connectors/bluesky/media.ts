// A Bluesky post's media: each file goes up with com.atproto.repo.uploadBlob, then the post embeds the blobs
// (app.bsky.embed.images, up to 4 with alt text, or one app.bsky.embed.video). platforms.md §9.
// Video takes the simple path: uploadBlob straight to the PDS, and Bluesky processes it once the post is live.
// Not built: the video-service flow (getServiceAuth, then video.bsky.app uploadVideo and getJobStatus), which
// checks the daily quotas first and takes videos over the PDS's per-upload cap (50 MiB on the PDS distro).
import type { Readable } from 'node:stream';
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, DraftMedia, Issue } from '../types.js';
import * as client from './client.js';
import { mapBlobError } from './errors.js';

export const MEDIA_LIMITS = { images: 4, videos: 1 };

type Blob = { $type: 'blob'; ref: { $link: string }; mimeType: string; size: number };
type WithSession = (call: (accessJwt: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;

/**
 * How many files of which kind a post may carry. Sizes, types and durations are the media plan's
 * (src/media/plan.ts), which also sees files fetched from a URL once their kind is known.
 */
export function mediaIssues(media: { kind: 'image' | 'video' }[]): Issue[] {
  const images = media.filter((m) => m.kind === 'image').length;
  const videos = media.length - images;
  const issues: Issue[] = [];
  if (images > 0 && videos > 0) {
    issues.push({ code: 'MEDIA_MIXED_KINDS', field: 'media', message: 'Bluesky takes images or one video in a post, not both' });
  }
  if (images > MEDIA_LIMITS.images) {
    issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: MEDIA_LIMITS.images, actual: images, message: `Bluesky takes at most ${MEDIA_LIMITS.images} images in a post; this post has ${images}` });
  }
  if (videos > MEDIA_LIMITS.videos) {
    issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: MEDIA_LIMITS.videos, actual: videos, message: `Bluesky takes one video in a post; this post has ${videos}` });
  }
  return issues;
}

/**
 * Uploads every file, then builds the embed. Whatever fails here failed before the post existed: an upload
 * that timed out or met a 5xx left at most a blob no record uses, which the PDS garbage-collects and nobody
 * sees, so these errors are never outcome-unknown and a retry simply uploads again.
 */
export async function embedMedia(ctx: ConnectorCtx<{ did: string }>, media: DraftMedia[], withSession: WithSession): Promise<Result<Record<string, unknown>, ConnectorError>> {
  const blobs: Blob[] = [];
  // One at a time: when the access token expires mid-way, one refresh renews it. Parallel uploads would
  // each try to spend the same single-use refresh token, and the losers would read as a lost session.
  for (const [i, m] of media.entries()) {
    // A fresh stream per try: a retry after a refresh sends the file again from its start.
    const sent = await withSession(async (jwt) => {
      let stream: Readable;
      try {
        stream = await m.open();
      } catch (error) {
        return err({ category: 'transient', code: 'MEDIA_FAILED', message: `could not open file ${i + 1} (${m.mediaId}): ${(error as Error).message}`, retryable: true, outcomeUnknown: false });
      }
      return client.uploadBlob(ctx.baseUrl, jwt, { stream, length: m.size }, m.mimeType, ctx.signal);
    });
    if (!sent.ok) return err({ ...sent.error, outcomeUnknown: false });
    if (sent.value.status !== 200) {
      const e = mapBlobError(sent.value, ctx.clock.now());
      return err({ ...e, message: `file ${i + 1} (${m.mediaId}): ${e.message}` });
    }
    const blob = (sent.value.body as { blob?: Blob } | undefined)?.blob;
    if (!blob?.ref?.$link) {
      return err({ category: 'transient', code: 'PLATFORM_ERROR', message: `uploadBlob answered without a blob for file ${i + 1}`, retryable: true, outcomeUnknown: false });
    }
    blobs.push(blob);
  }
  if (media[0]!.kind === 'video') {
    return ok({ $type: 'app.bsky.embed.video', video: blobs[0], alt: media[0]!.alt ?? '', ...aspectRatio(media[0]!) });
  }
  return ok({ $type: 'app.bsky.embed.images', images: media.map((m, i) => ({ image: blobs[i], alt: m.alt ?? '', ...aspectRatio(m) })) });
}

/** The lexicon wants positive integers; without known dimensions the field is left out (it is optional). */
function aspectRatio(m: DraftMedia): { aspectRatio?: { width: number; height: number } } {
  return Number.isInteger(m.width) && Number.isInteger(m.height) && m.width > 0 && m.height > 0 ? { aspectRatio: { width: m.width, height: m.height } } : {};
}
