// Publishing a pin: the request body from the post (publish body), the image or video source, and the
// steps with their checkpoints. Images: Pinterest downloads `image_url` (DraftMedia.url, Crier's signed
// URL) when there is one, else the bytes go inline as `image_base64`; 2–5 images are a carousel
// (multiple_image_urls / multiple_image_base64). Videos: upload (media.ts), wait for processing (Pending and
// checkStatus when it takes longer), then the pin with `video_id` and a cover (options.cover_image_url, else
// a frame of the video at options.cover_image_key_frame_time seconds, 0 by default).
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, DraftMedia, Pending, PublicationDraft, Published } from '../types.js';
import type { PinterestCredentials } from './auth.js';
import * as client from './client.js';
import { mapPinterestError } from './errors.js';
import { CHECK_AFTER_MS, INLINE_WAIT_MS, awaitVideo, uploadVideo, type WithToken } from './media.js';

export type PinterestOptions = {
  board_id?: string;
  board_section_id?: string;
  title?: string;
  link?: string;
  dominant_color?: string;
  cover_image_url?: string;
  cover_image_key_frame_time?: number;
};

/** What attempts leave for each other: when the pin request was first sent, the pin, the uploaded video. */
export type PinState = { since?: string; pinId?: string; video?: { mediaId: string } };

export const ALT_MAX = 500;

/** Runs `call` with the access token; on a 401 asks ctx.refresh once (it saves the rotated tokens) and retries. */
export function tokenRunner(ctx: ConnectorCtx<PinterestCredentials>): WithToken {
  return async (call) => {
    const first = await call(ctx.credentials.accessToken);
    if (!first.ok || first.value.status !== 401 || !ctx.refresh) return first;
    const renewed = await ctx.refresh();
    if (!renewed.ok) return renewed;
    return call(renewed.value.accessToken);
  };
}

export function published(ctx: ConnectorCtx<PinterestCredentials>, id: string): Published {
  const web = ctx.sandbox ? ctx.baseUrl.replace(/\/$/, '') : 'https://www.pinterest.com';
  return { platformPostId: id, url: `${web}/pin/${id}/` };
}

/** The fields of the pin besides its media, as sent and as read back. */
export function pinFields(draft: PublicationDraft): Omit<client.PinBody, 'media_source'> {
  const o = draft.options as PinterestOptions;
  const body: Omit<client.PinBody, 'media_source'> = { board_id: o.board_id ?? '' };
  if (o.board_section_id) body.board_section_id = o.board_section_id;
  if (o.title) body.title = o.title;
  if (draft.text.trim()) body.description = draft.text;
  if (o.link) body.link = o.link;
  if (o.dominant_color) body.dominant_color = o.dominant_color;
  // Alt text belongs to one image; a carousel or a video pin takes none.
  const alt = draft.media.length === 1 && draft.media[0]!.kind === 'image' ? draft.media[0]!.alt : undefined;
  if (alt) body.alt_text = alt;
  return body;
}

async function base64Of(m: DraftMedia): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await m.open()) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('base64');
}

async function imageSource(media: DraftMedia[]): Promise<client.MediaSource> {
  const urls = media.map((m) => m.url);
  if (urls.every((u): u is string => typeof u === 'string')) {
    return urls.length === 1 ? { source_type: 'image_url', url: urls[0]! } : { source_type: 'multiple_image_urls', items: urls.map((url) => ({ url })) };
  }
  const items = await Promise.all(media.map(async (m) => ({ content_type: m.mimeType, data: await base64Of(m) })));
  return items.length === 1 ? { source_type: 'image_base64', ...items[0]! } : { source_type: 'multiple_image_base64', items };
}

function videoSource(draft: PublicationDraft, mediaId: string): client.MediaSource {
  const o = draft.options as PinterestOptions;
  return o.cover_image_url
    ? { source_type: 'video_id', media_id: mediaId, cover_image_url: o.cover_image_url }
    : { source_type: 'video_id', media_id: mediaId, cover_image_key_frame_time: o.cover_image_key_frame_time ?? 0 };
}

const readState = (cp: Record<string, unknown> | null): PinState => ({ ...((cp ?? {}) as PinState) });

/** One step further: upload the video if needed, wait for it, create the pin. `mayUpload` is false in checkStatus. */
export async function advance(ctx: ConnectorCtx<PinterestCredentials>, draft: PublicationDraft, start: PinState, mayUpload: boolean): Promise<Result<Published | Pending, ConnectorError>> {
  const cp = { ...start };
  if (cp.pinId) return ok(published(ctx, cp.pinId));
  const withToken = tokenRunner(ctx);
  const fields = pinFields(draft);
  if ((fields.alt_text?.length ?? 0) > ALT_MAX) {
    return err({ category: 'invalid_content', code: 'CONTENT_REJECTED', message: `Pinterest takes alt text of at most ${ALT_MAX} characters; this image's has ${fields.alt_text!.length}`, retryable: false });
  }
  let source: client.MediaSource;
  const video = draft.media.length === 1 && draft.media[0]!.kind === 'video' ? draft.media[0]! : undefined;
  if (video) {
    if (!cp.video) {
      if (!mayUpload) return err({ category: 'permanent', code: 'CONNECTOR_FAILED', message: 'the processing video of this publication is not on record', retryable: false });
      const up = await uploadVideo(ctx, video, withToken);
      if (!up.ok) return up;
      cp.video = { mediaId: up.value };
      // Saved before waiting: a retry or checkStatus uses this upload and never sends the file again.
      await ctx.checkpoint(cp);
    }
    // checkStatus looks once (the worker already waited checkAfterMs); publish waits a little for short videos.
    const waited = await awaitVideo(ctx, cp.video.mediaId, withToken, mayUpload ? INLINE_WAIT_MS : 0);
    if (!waited.ok) {
      // A failed or vanished upload: forget it, so a retry (if the error allows one) uploads again.
      if (waited.error.code === 'MEDIA_REJECTED') await ctx.checkpoint({ ...cp, video: undefined });
      return waited;
    }
    if (waited.value === 'processing') return ok({ pending: { ref: { mediaId: cp.video.mediaId }, checkAfterMs: CHECK_AFTER_MS, note: 'Pinterest is processing the video' } });
    source = videoSource(draft, cp.video.mediaId);
  } else {
    source = await imageSource(draft.media);
  }
  // Recorded before sending: read-back then knows a pin may exist and from when to look.
  cp.since ??= ctx.clock.now().toISOString();
  await ctx.checkpoint(cp);
  const sent = await withToken((t) => client.createPin(ctx.baseUrl, t, { ...fields, media_source: source }, ctx.signal));
  if (!sent.ok) return sent;
  return created(ctx, sent.value, cp);
}

async function created(ctx: ConnectorCtx<PinterestCredentials>, res: HttpResponse, cp: PinState): Promise<Result<Published, ConnectorError>> {
  const id = (res.body as { id?: unknown } | undefined)?.id;
  if ((res.status === 201 || res.status === 200) && typeof id === 'string') {
    await ctx.checkpoint({ ...cp, pinId: id });
    return ok(published(ctx, id));
  }
  if (res.status === 201 || res.status === 200) {
    return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Pinterest created the pin but its answer had no id', retryable: true, outcomeUnknown: true });
  }
  return err(mapPinterestError(res, ctx.clock.now()));
}

export function publishPin(ctx: ConnectorCtx<PinterestCredentials>, draft: PublicationDraft) {
  return advance(ctx, draft, readState(draft.checkpoint), true);
}

export function checkPin(ctx: ConnectorCtx<PinterestCredentials>, draft: PublicationDraft, ref: Record<string, unknown>) {
  const cp = readState(draft.checkpoint);
  if (!cp.video && typeof ref['mediaId'] === 'string') cp.video = { mediaId: ref['mediaId'] };
  return advance(ctx, draft, cp, false);
}

export { readState };
