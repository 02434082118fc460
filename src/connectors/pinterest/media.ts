// Video pins (platforms.md §8 "Video upload"): register an upload (POST /v5/media), send the file to the
// returned upload_url as an S3 form POST with every upload_parameter first, then follow GET /v5/media/{id}
// from registered through processing to succeeded or failed. The media id is checkpointed once the file is
// uploaded, so a later attempt or checkStatus never uploads it again.
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, DraftMedia } from '../types.js';
import type { PinterestCredentials } from './auth.js';
import * as client from './client.js';
import { mapPinterestError, processingFailed } from './errors.js';

export type WithToken = (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;

/** How long publish waits for processing before answering Pending (a short video is usually done by then). */
export const INLINE_WAIT_MS = 4_000;
const POLL_MS = 500;
/** When the worker should look again, once publish answered Pending. */
export const CHECK_AFTER_MS = 5_000;

type Registered = { media_id?: unknown; upload_url?: unknown; upload_parameters?: unknown };

/** Registers an upload and sends the file; returns the media id. Nothing is public yet, so a failure here is never outcome-unknown. */
export async function uploadVideo(ctx: ConnectorCtx<PinterestCredentials>, file: DraftMedia, withToken: WithToken): Promise<Result<string, ConnectorError>> {
  const reg = await withToken((t) => client.registerMedia(ctx.baseUrl, t, ctx.signal));
  if (!reg.ok) return err({ ...reg.error, outcomeUnknown: false });
  const r = (reg.value.body ?? {}) as Registered;
  if (reg.value.status !== 201 && reg.value.status !== 200) return err(mapPinterestError(reg.value, ctx.clock.now()));
  if (typeof r.media_id !== 'string' || typeof r.upload_url !== 'string' || !r.upload_parameters || typeof r.upload_parameters !== 'object') {
    return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Pinterest registered the media upload without an upload_url and upload_parameters', retryable: true });
  }
  const params = Object.fromEntries(Object.entries(r.upload_parameters as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  const sent = await client.uploadToS3(r.upload_url, params, { stream: await file.open(), length: file.size, mimeType: file.mimeType }, ctx.signal);
  if (!sent.ok) return err({ ...sent.error, outcomeUnknown: false });
  const status = sent.value.status;
  if (status === 204 || status === 201 || status === 200) return ok(r.media_id);
  const s3Code = /<Code>([^<]+)<\/Code>/.exec(sent.value.text)?.[1] ?? `HTTP ${status}`;
  const s3Message = /<Message>([^<]+)<\/Message>/.exec(sent.value.text)?.[1] ?? sent.value.text.slice(0, 200);
  if (status >= 500 || s3Code === 'SlowDown') {
    return err({ category: 'transient', code: 'PLATFORM_UNAVAILABLE', platformCode: s3Code, message: `Pinterest's upload storage answered ${status}: ${s3Message}`, retryable: true });
  }
  // A refused form (an expired policy, a file over the limit): a new registration may do; the file's fault is said by the message.
  return err({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: s3Code, message: `Pinterest's upload storage refused the video: ${s3Message}`, retryable: s3Code !== 'EntityTooLarge' });
}

export type VideoState = 'ready' | 'processing';

/** Polls GET /v5/media/{id} for up to `waitMs`; `ready` once succeeded, `processing` while it is not done, an error when it failed. */
export async function awaitVideo(ctx: ConnectorCtx<PinterestCredentials>, mediaId: string, withToken: WithToken, waitMs: number): Promise<Result<VideoState, ConnectorError>> {
  const until = ctx.clock.now().getTime() + waitMs;
  for (;;) {
    const got = await withToken((t) => client.mediaStatus(ctx.baseUrl, t, mediaId, ctx.signal));
    if (!got.ok) return got;
    if (got.value.status !== 200) return err(mapPinterestError(got.value, ctx.clock.now()));
    const status = (got.value.body as { status?: unknown } | undefined)?.status;
    if (status === 'succeeded') return ok('ready');
    if (status === 'failed') return err(processingFailed(mediaId));
    if (ctx.clock.now().getTime() + POLL_MS > until) return ok('processing');
    await new Promise((r) => setTimeout(r, POLL_MS));
    if (ctx.signal.aborted) return ok('processing');
  }
}
