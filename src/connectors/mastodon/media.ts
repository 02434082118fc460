// A status's media on Mastodon (platforms.md §11 "Media"; docs methods/media): each file goes up with
// POST /api/v2/media (multipart `file`, alt text as `description`). Images are processed at once (200, `url`
// set); video, GIFs (made into "gifv") and audio answer 202 with `url` null and are processed in the
// background: GET /api/v1/media/:id answers 206 until they are done, then 200. A status may only name
// attachments that are processed, belong to the account and are not attached yet.
// Every id is checkpointed as soon as it exists, so a later attempt (or checkStatus) waits on the same
// attachments instead of uploading the files again.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorCtx, ConnectorError, DraftMedia, Issue } from '../types.js';
import * as client from './client.js';
import { mapMediaError } from './errors.js';
import { DEFAULT_LIMITS } from './text.js';

export type Upload = { id: string; ready: boolean };

/** How long an attempt waits for processing before handing over to checkStatus (wall time). */
const INLINE_WAIT_MS = 2_000;
const POLL_MS = 300;

/** Counts and kinds at create time (Mastodon's defaults; sizes and types are the media plan's, src/media/limits.ts). */
export function mediaIssues(media: { kind: 'image' | 'video' }[]): Issue[] {
  const videos = media.filter((m) => m.kind === 'video').length;
  const issues: Issue[] = [];
  const max = DEFAULT_LIMITS.maxMediaAttachments;
  if (media.length > max) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: max, actual: media.length, message: `Mastodon takes at most ${max} files in a status (the default; some instances allow more); this post has ${media.length}` });
  // PostStatusService: "Cannot attach a video to a post that already contains images" (and one video only).
  if (videos > 0 && media.length > 1) issues.push({ code: 'MEDIA_MIXED_KINDS', field: 'media', message: 'Mastodon takes one video alone in a status, or up to 4 images' });
  return issues;
}

const EXT: Record<string, string> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/gif': 'gif', 'image/webp': 'webp', 'video/mp4': 'mp4', 'video/quicktime': 'mov', 'video/webm': 'webm' };

const notUnknown = (e: ConnectorError): ConnectorError => ({ ...e, outcomeUnknown: false });

/** Uploads file `i`; the answer says whether it is processed already. */
export async function uploadOne(ctx: ConnectorCtx<{ accessToken: string }>, base: string, m: DraftMedia, i: number): Promise<Result<Upload, ConnectorError>> {
  const where = `file ${i + 1} (${m.mediaId})`;
  let stream: Readable;
  try {
    stream = await m.open();
  } catch (error) {
    return err({ category: 'transient', code: 'MEDIA_FAILED', message: `could not open ${where}: ${(error as Error).message}`, retryable: true, outcomeUnknown: false });
  }
  const sent = await client.uploadMedia(base, ctx.credentials.accessToken, { stream, length: m.size, mimeType: m.mimeType, filename: `${m.mediaId}.${EXT[m.mimeType] ?? 'bin'}` }, m.alt, ctx.signal);
  // An attachment nobody uses is invisible and removed by the instance: never an unknown outcome.
  if (!sent.ok) return err(notUnknown(sent.error));
  const res = sent.value;
  if (res.status !== 200 && res.status !== 202) return err(notUnknown(mapMediaError(res, ctx.clock.now(), where)));
  const b = (res.body ?? {}) as { id?: unknown; url?: unknown };
  if (typeof b.id !== 'string' && typeof b.id !== 'number') {
    return err({ category: 'transient', code: 'PLATFORM_ERROR', message: `Mastodon answered the upload of ${where} without an id`, retryable: true, outcomeUnknown: false });
  }
  return ok({ id: String(b.id), ready: res.status === 200 && typeof b.url === 'string' && b.url.length > 0 });
}

/** The attachment expired or went away before it was used (404 once unattached media is cleaned up). */
export type Gone = { gone: string };

/**
 * Polls the attachments still processing, for a short while. Returns the new ready flags; `gone` when the
 * instance no longer has one (it removes unattached media after about a day): the caller uploads again.
 */
export async function waitProcessed(ctx: ConnectorCtx<{ accessToken: string }>, base: string, uploads: Upload[]): Promise<Result<Upload[] | Gone, ConnectorError>> {
  const deadline = Date.now() + INLINE_WAIT_MS;
  const out = uploads.map((u) => ({ ...u }));
  for (;;) {
    for (const [i, u] of out.entries()) {
      if (u.ready) continue;
      const got = await client.getMedia(base, ctx.credentials.accessToken, u.id, ctx.signal);
      if (!got.ok) return err(notUnknown(got.error));
      const res = got.value;
      if (res.status === 404) return ok({ gone: u.id });
      if (res.status === 206) continue;
      if (res.status !== 200) return err(notUnknown(mapMediaError(res, ctx.clock.now(), `file ${i + 1} (attachment ${u.id}) while it was processed`)));
      const url = (res.body as { url?: unknown } | undefined)?.url;
      u.ready = typeof url === 'string' && url.length > 0;
    }
    if (out.every((u) => u.ready) || Date.now() + POLL_MS > deadline || ctx.signal.aborted) return ok(out);
    await sleep(POLL_MS, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
}
