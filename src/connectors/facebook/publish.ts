// Publishing on a Facebook Page (platforms.md §3). A feed post is text, a link, photos or one video; every
// photo is first uploaded unpublished (invisible, its id saved with ctx.checkpoint) and then attached to ONE
// /feed call, so the only call that makes something visible is that one, and the photo ids it carries
// identify the post exactly when its answer is lost. A video goes to /videos by file_url and is published by
// Facebook once processed (Pending until then). Reels and Stories: stories-reels.ts. Before each call that
// makes something visible, the moment it leaves is saved (`sentAt`): a later attempt that finds it set reads
// back instead of sending blindly.
import { err, ok, type Result } from '../../lib/result.js';
import { absolutePermalink, json, mediaUrlMissing, sleep, type Session } from '../meta/graph.js';
import type { ConnectorCtx, ConnectorError, DraftMedia, Pending, PublicationDraft, Published } from '../types.js';
import type { FacebookCredentials } from './auth.js';
import * as client from './client.js';
import { findPost } from './readback.js';

export type Ctx = ConnectorCtx<FacebookCredentials>;
export type FacebookOptions = { kind?: 'feed' | 'reel' | 'story'; link?: string; title?: string };

/** What a publication has got so far; saved as its checkpoint and handed over as a Pending ref. */
export type FacebookState = {
  /** Photos uploaded unpublished, in the post's order. */
  photos?: string[];
  /** When the call that makes the post visible first left (ISO). */
  sentAt?: string;
  /** A Page video, reel or story video: its id, and rupload's address for it. */
  videoId?: string;
  uploadUrl?: string;
  uploaded?: boolean;
  /** A reel's finish call was answered. */
  finished?: boolean;
  /** The post (Graph's id: "{page}_{post}" for feed posts and stories, the video id for videos and reels). */
  postId?: string;
  url?: string;
};

export type Run = { s: Session<FacebookCredentials>; draft: PublicationDraft; state: FacebookState; save(patch: Partial<FacebookState>): Promise<void> };

export function newRun(ctx: Ctx, draft: PublicationDraft, start: FacebookState | null): Run {
  const run: Run = {
    s: { ctx, refreshed: false, platform: 'Facebook' },
    draft,
    state: { ...(start ?? {}) },
    async save(patch) {
      run.state = { ...run.state, ...patch };
      await ctx.checkpoint(run.state as Record<string, unknown>);
    },
  };
  return run;
}

export const optionsOf = (draft: PublicationDraft) => draft.options as FacebookOptions;
export const pageOf = (run: Run) => run.s.ctx.credentials.pageId;
export const base = (run: Run) => run.s.ctx.baseUrl;

/** A URL for a post when Graph did not give one: Facebook's own form, or the simulator's page for it. */
export function derivedUrl(ctx: Ctx, postId: string): string {
  if (!ctx.sandbox) return `https://www.facebook.com/${postId}`;
  const [page, num] = postId.includes('_') ? postId.split('_') : [ctx.credentials.pageId, postId];
  return `${ctx.baseUrl.replace(/\/$/, '')}/web/${page}/posts/${num}`;
}

export function urlOf(m: DraftMedia): Result<string, ConnectorError> {
  return m.url ? ok(m.url) : err(mediaUrlMissing('Facebook'));
}

/** Uploads the photos not uploaded yet (unpublished), saving each id before the next. */
export async function uploadPhotos(run: Run, media: DraftMedia[]): Promise<Result<string[], ConnectorError>> {
  const ctx = run.s.ctx;
  while ((run.state.photos?.length ?? 0) < media.length) {
    const m = media[run.state.photos?.length ?? 0]!;
    const url = urlOf(m);
    if (!url.ok) return url;
    const r = await json<{ id?: unknown }, FacebookCredentials>(run.s, (t) => client.uploadPhoto(base(run), t, pageOf(run), url.value, m.alt, ctx.signal));
    if (!r.ok) return r;
    if (typeof r.value.id !== 'string' && typeof r.value.id !== 'number') return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Facebook took a photo without answering its id', retryable: true });
    await run.save({ photos: [...(run.state.photos ?? []), String(r.value.id)] });
  }
  return ok(run.state.photos ?? []);
}

/** The post is live: its id and URL (the URL read from Graph, else derived; never a reason to fail). */
export async function finish(run: Run, postId: string): Promise<Result<Published, ConnectorError>> {
  if (run.state.url) return ok({ platformPostId: postId, url: run.state.url });
  const r = await json<{ permalink_url?: string }, FacebookCredentials>(run.s, (t) => client.node(base(run), t, postId, 'id,permalink_url', run.s.ctx.signal));
  const url = r.ok && r.value.permalink_url ? absolutePermalink(r.value.permalink_url) : derivedUrl(run.s.ctx, postId);
  await run.save({ postId, url });
  return ok({ platformPostId: postId, url });
}

/** Text, a link, or photos: one /feed call. */
export async function publishFeed(run: Run): Promise<Result<Published, ConnectorError>> {
  const { draft } = run;
  const photos = await uploadPhotos(run, draft.media.filter((m) => m.kind === 'image'));
  if (!photos.ok) return photos;
  const resent = !!run.state.sentAt;
  if (resent) {
    // An earlier attempt sent the post and lost the answer, and the worker's read-back did not find it.
    // Look once more (a slow feed), then send the very same request: should the first one have gone
    // through after all, Facebook refuses the repeat (#506, or its photos as already used), read back below.
    const found = await findPost(run, Date.parse(run.state.sentAt!));
    if (!found.ok) return found;
    if (found.value) return finish(run, found.value);
  } else await run.save({ sentAt: run.s.ctx.clock.now().toISOString() });
  const created = await json<{ id?: unknown }, FacebookCredentials>(run.s, (t) =>
    client.createPost(base(run), t, pageOf(run), { message: draft.text, link: optionsOf(draft).link, photos: photos.value }, run.s.ctx.signal),
  );
  if (!created.ok) {
    // Only a publication that sent before can be refused as a duplicate of itself; its own post is adopted.
    // A first send refused as a duplicate repeats some other post: that is the answer.
    const repeat = created.error.category === 'duplicate' || created.error.platformCode === '100/1366051';
    if (!repeat || !resent) return created;
    const found = await findPost(run, Date.parse(run.state.sentAt!));
    if (!found.ok) return found;
    if (found.value) return finish(run, found.value);
    return created;
  }
  const id = created.value.id;
  if (typeof id !== 'string' && typeof id !== 'number') return err({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: 'Facebook did not answer the id of the post', retryable: true, outcomeUnknown: true });
  await run.save({ postId: String(id) });
  return finish(run, String(id));
}

// How long one attempt waits for Facebook to process a video before handing over to checkStatus.
const WAIT_MS = 1_500;
const POLL_MS = 250;
const CHECK_AFTER_MS = 5_000;

type VideoStatus = { video_status?: string; processing_phase?: { status?: string; errors?: { message?: string }[] }; uploading_phase?: { status?: string; errors?: { message?: string }[] }; publishing_phase?: { status?: string } };
export type VideoNode = { id?: string; permalink_url?: string; published?: boolean; status?: VideoStatus; description?: string; created_time?: string };

export function pending(run: Run, note: string): Pending {
  return { pending: { ref: run.state as Record<string, unknown>, checkAfterMs: CHECK_AFTER_MS, note } };
}

/**
 * Waits a little for a video (Page video or reel) to be processed and published. Published with its
 * permalink; Pending while Facebook works; a media error when it could not process the file.
 */
export async function awaitVideo(run: Run, what: string, url: (v: VideoNode) => string): Promise<Result<Published | Pending, ConnectorError>> {
  const videoId = run.state.videoId!;
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const r = await json<VideoNode, FacebookCredentials>(run.s, (t) => client.node(base(run), t, videoId, client.VIDEO_FIELDS, run.s.ctx.signal));
    if (!r.ok) return r;
    const st = r.value.status ?? {};
    const failed = st.video_status === 'error' || st.processing_phase?.status === 'error' || st.uploading_phase?.status === 'error';
    if (failed) {
      const why = st.processing_phase?.errors?.[0]?.message ?? st.uploading_phase?.errors?.[0]?.message ?? 'processing failed';
      return err({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'video_status=error', message: `Facebook could not process the ${what}: ${why}`, retryable: false });
    }
    if (r.value.published && st.publishing_phase?.status !== 'in_progress') {
      await run.save({ postId: videoId, url: url(r.value) });
      return ok({ platformPostId: videoId, url: run.state.url! });
    }
    if (Date.now() + POLL_MS > deadline || run.s.ctx.signal.aborted) return ok(pending(run, `Facebook is processing the ${what}`));
    await sleep(POLL_MS, run.s.ctx.signal);
  }
}

/** One video in the feed: POST /{page}/videos with file_url, then processing. */
export async function publishPageVideo(run: Run): Promise<Result<Published | Pending, ConnectorError>> {
  const ctx = run.s.ctx;
  if (!run.state.videoId) {
    const m = run.draft.media[0]!;
    const url = urlOf(m);
    if (!url.ok) return url;
    if (run.state.sentAt) {
      const found = await findPost(run, Date.parse(run.state.sentAt));
      if (!found.ok) return found;
      if (found.value) await run.save({ videoId: found.value });
    }
    if (!run.state.videoId) {
      if (!run.state.sentAt) await run.save({ sentAt: ctx.clock.now().toISOString() });
      const created = await json<{ id?: unknown }, FacebookCredentials>(run.s, (t) =>
        client.createVideo(base(run), t, pageOf(run), { fileUrl: url.value, description: run.draft.text, title: optionsOf(run.draft).title }, ctx.signal),
      );
      if (!created.ok) return created;
      const id = created.value.id;
      if (typeof id !== 'string' && typeof id !== 'number') return err({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: 'Facebook did not answer the id of the video', retryable: true, outcomeUnknown: true });
      await run.save({ videoId: String(id) });
    }
  }
  return awaitVideo(run, 'video', (v) => (v.permalink_url ? absolutePermalink(v.permalink_url) : ctx.sandbox ? derivedUrl(ctx, run.state.videoId!) : `https://www.facebook.com/${pageOf(run)}/videos/${run.state.videoId}`));
}
