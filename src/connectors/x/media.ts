// A post's media on X (platforms.md §1 "Media upload"): each file goes up in segments (initialize, append
// 0..n, finalize), gets its alt text (POST /2/media/metadata), and videos and GIFs are then processed by X
// (STATUS polls, `check_after_secs` apart) before a post may carry them. Up to 4 images, or 1 GIF, or 1
// video. Nothing here is visible to anyone: an upload no post uses expires, so every failure is a plain
// (never outcome-unknown) error, and a retry may upload again — but the connector checkpoints the ids once
// uploaded, so a later attempt (or checkStatus) reuses them instead.
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, DraftMedia, Issue } from '../types.js';
import * as client from './client.js';
import { mapXError, processingFailed } from './errors.js';

export const MEDIA_LIMITS = { images: 4, videos: 1 };
/** Segments of 4 MiB: under X's 5 MB per segment, and a 512 MB video stays well inside segment_index ≤ 999. */
export const SEGMENT_BYTES = 4 * 1024 * 1024;
/** How long publish waits inline for X to process a video or GIF before handing over to checkStatus. */
export const INLINE_PROCESSING_WAIT_MS = 10_000;

type WithToken = (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;
type ProcessingInfo = { state?: string; check_after_secs?: number; progress_percent?: number; error?: { code?: number; name?: string; message?: string } };
type MediaData = { id?: string; expires_after_secs?: number; processing_info?: ProcessingInfo };

/**
 * Uploaded files, in post order; when the first of them expires on X (ISO); the ones X is still
 * processing (videos, GIFs) and how long X asked to wait before the first STATUS.
 */
export type Uploaded = { ids: string[]; expiresAt: string; processing: string[]; checkAfterMs: number };
/** Still processing: check again after `checkAfterMs`. */
export type Processing = { processing: { checkAfterMs: number; progress?: number } };

/** Counts and kinds X takes in one post; sizes, codecs and the "a GIF goes alone" rule are the media plan's. */
export function mediaIssues(media: { kind: 'image' | 'video' }[]): Issue[] {
  const images = media.filter((m) => m.kind === 'image').length;
  const videos = media.length - images;
  const issues: Issue[] = [];
  if (images > 0 && videos > 0) issues.push({ code: 'MEDIA_MIXED_KINDS', field: 'media', message: 'X takes up to 4 images, or one video, in a post: not both' });
  if (images > MEDIA_LIMITS.images) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: MEDIA_LIMITS.images, actual: images, message: `X takes at most ${MEDIA_LIMITS.images} images in a post; this post has ${images}` });
  if (videos > MEDIA_LIMITS.videos) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: MEDIA_LIMITS.videos, actual: videos, message: `X takes one video in a post; this post has ${videos}` });
  return issues;
}

/** X's media_category: a GIF alone is an animated GIF (X processes it); among images it is a still. */
export function categoryOf(m: Pick<DraftMedia, 'kind' | 'mimeType'>, count: number): 'tweet_image' | 'tweet_gif' | 'tweet_video' {
  if (m.kind === 'video') return 'tweet_video';
  return m.mimeType === 'image/gif' && count === 1 ? 'tweet_gif' : 'tweet_image';
}

const noUnknown = (e: ConnectorError): ConnectorError => ({ ...e, outcomeUnknown: false });

/** Uploads every file (one at a time: a token refresh mid-way spends the single-use refresh token once). */
export async function uploadAll(ctx: ConnectorCtx<unknown>, media: DraftMedia[], withToken: WithToken): Promise<Result<Uploaded, ConnectorError>> {
  const ids: string[] = [];
  const processing: string[] = [];
  let checkAfterMs = 0;
  let expiresAt = Number.POSITIVE_INFINITY;
  for (const [i, m] of media.entries()) {
    const where = `file ${i + 1} (${m.mediaId})`;
    const init = await withToken((t) => client.initializeUpload(ctx.baseUrl, t, { media_type: m.mimeType, total_bytes: m.size, media_category: categoryOf(m, media.length) }, ctx.signal));
    if (!init.ok) return err(noUnknown(init.error));
    const data = (init.value.body as { data?: MediaData } | undefined)?.data;
    if (init.value.status >= 300 || !data?.id) return err(mediaError(init.value, ctx, where));
    const id = data.id;
    expiresAt = Math.min(expiresAt, ctx.clock.now().getTime() + (data.expires_after_secs ?? 86_400) * 1000);
    const sent = await appendAll(ctx, m, id, withToken, where);
    if (!sent.ok) return sent;
    const fin = await withToken((t) => client.finalizeUpload(ctx.baseUrl, t, id, ctx.signal));
    if (!fin.ok) return err(noUnknown(fin.error));
    const done = (fin.value.body as { data?: MediaData } | undefined)?.data;
    if (fin.value.status >= 300 || !done) return err(mediaError(fin.value, ctx, where));
    const info = done.processing_info;
    if (info?.state === 'failed') return err(processingFailed(id, info.error));
    if (info && info.state !== 'succeeded') {
      processing.push(id);
      checkAfterMs = Math.max(checkAfterMs, (info.check_after_secs ?? 1) * 1000);
    }
    if (m.alt && m.alt.trim().length > 0) {
      const alt = await withToken((t) => client.setAltText(ctx.baseUrl, t, id, m.alt!.slice(0, 1000), ctx.signal));
      if (!alt.ok) return err(noUnknown(alt.error));
      if (alt.value.status >= 300) return err(mediaError(alt.value, ctx, `alt text of ${where}`));
    }
    ids.push(id);
  }
  return ok({ ids, expiresAt: new Date(expiresAt).toISOString(), processing, checkAfterMs });
}

/** Streams the file in SEGMENT_BYTES pieces; a refresh or retry of one segment resends that segment only. */
async function appendAll(ctx: ConnectorCtx<unknown>, m: DraftMedia, id: string, withToken: WithToken, where: string): Promise<Result<void, ConnectorError>> {
  let stream: Readable;
  try {
    stream = await m.open();
  } catch (error) {
    return err({ category: 'transient', code: 'MEDIA_FAILED', message: `could not open ${where}: ${(error as Error).message}`, retryable: true, outcomeUnknown: false });
  }
  let index = 0;
  let total = 0;
  try {
    for await (const chunk of segments(stream, SEGMENT_BYTES)) {
      total += chunk.length;
      if (total > m.size) break;
      const sent = await withToken((t) => client.appendUpload(ctx.baseUrl, t, id, index, chunk, ctx.signal));
      if (!sent.ok) return err(noUnknown(sent.error));
      if (sent.value.status >= 300) return err(mediaError(sent.value, ctx, where));
      index++;
    }
  } catch (error) {
    return err({ category: 'transient', code: 'MEDIA_FAILED', message: `could not read ${where}: ${(error as Error).message}`, retryable: true, outcomeUnknown: false });
  } finally {
    stream.destroy();
  }
  if (total !== m.size) {
    return err({ category: 'transient', code: 'MEDIA_FAILED', message: `${where} is not its stated ${m.size} bytes (read ${total})`, retryable: true, outcomeUnknown: false });
  }
  return ok(undefined);
}

/** Re-cuts a stream into pieces of exactly `size` bytes (the last one shorter). */
export async function* segments(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const piece of stream) {
    const buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as Uint8Array);
    pending.push(buf);
    length += buf.length;
    while (length >= size) {
      const all = Buffer.concat(pending);
      yield all.subarray(0, size);
      pending = [all.subarray(size)];
      length -= size;
    }
  }
  if (length > 0) yield Buffer.concat(pending);
}

/**
 * Polls STATUS until every file is processed, waiting `firstWaitMs` (FINALIZE's `check_after_secs`) before
 * the first poll and each poll's `check_after_secs` after it, for at most `budgetMs` in all; then answers
 * Processing (the connector turns it into Pending). An image's STATUS has no `processing_info`: done.
 */
export async function awaitProcessing(
  ctx: ConnectorCtx<unknown>,
  ids: string[],
  withToken: WithToken,
  budgetMs: number,
  firstWaitMs = 0,
): Promise<Result<Processing | null, ConnectorError>> {
  let waited = 0;
  let open = [...ids];
  if (open.length === 0) return ok(null);
  if (firstWaitMs > 0) {
    if (firstWaitMs > budgetMs) return ok({ processing: { checkAfterMs: firstWaitMs } });
    if (!(await pause(firstWaitMs, ctx.signal))) return err(stoppedWaiting());
    waited = firstWaitMs;
  }
  for (;;) {
    let after = 0;
    let progress: number | undefined;
    const still: string[] = [];
    for (const id of open) {
      const got = await withToken((t) => client.uploadStatus(ctx.baseUrl, t, id, ctx.signal));
      if (!got.ok) return err(noUnknown(got.error));
      const info = (got.value.body as { data?: MediaData } | undefined)?.data?.processing_info;
      if (got.value.status >= 300) return err(mediaError(got.value, ctx, `media ${id}`));
      if (!info || info.state === 'succeeded') continue;
      if (info.state === 'failed') return err(processingFailed(id, info.error));
      still.push(id);
      after = Math.max(after, (info.check_after_secs ?? 1) * 1000);
      progress = info.progress_percent;
    }
    if (still.length === 0) return ok(null);
    if (waited + after > budgetMs) return ok({ processing: { checkAfterMs: after, progress } });
    if (!(await pause(after, ctx.signal))) return err(stoppedWaiting());
    waited += after;
    open = still;
  }
}

async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

const stoppedWaiting = (): ConnectorError => ({ category: 'transient', code: 'PLATFORM_TIMEOUT', message: 'stopped waiting for X to process the media (the attempt ran out of time)', retryable: true, outcomeUnknown: false });

function mediaError(res: HttpResponse, ctx: ConnectorCtx<unknown>, where: string): ConnectorError {
  const e = mapXError(res, ctx.clock.now(), 'media');
  return { ...e, message: `${where}: ${e.message}`, outcomeUnknown: false };
}
