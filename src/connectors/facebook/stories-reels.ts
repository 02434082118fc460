// Reels and Stories on a Facebook Page (platforms.md §3 "Reels", "Stories"). A reel: video_reels start (an
// upload session, invisible) → rupload with the file's URL → finish with video_state=PUBLISHED; Facebook
// publishes it once processed (Pending until then). A photo story: the photo uploaded unpublished, then
// photo_stories. A video story: video_stories start → rupload → finish. Every id is saved before the next
// step, and the moment a publishing call leaves (`sentAt`): a later attempt asks Graph whether that call
// arrived (the video's publishing phase, the Page's stories) instead of sending it again.
import { err, ok, type Result } from '../../lib/result.js';
import { mapGraphError, ruploadError } from '../meta/errors.js';
import { FACEBOOK_WEB, absolutePermalink, json, type MetaCredentials } from '../meta/graph.js';
import type { ConnectorError, Pending, Published } from '../types.js';
import type { FacebookCredentials } from './auth.js';
import * as client from './client.js';
import { awaitVideo, base, derivedUrl, finish, pageOf, uploadPhotos, urlOf, type Run, type VideoNode } from './publish.js';
import { findStory } from './readback.js';

/** Reels 3–90 s; a story video at most 60 s (platforms.md §3 "Limits"). */
export const REEL_MS = { min: 3_000, max: 90_000 };
export const STORY_VIDEO_MAX_MS = 60_000;

const tooLong = (what: string, ms: number, range: string): ConnectorError => ({
  category: 'media_error', code: 'MEDIA_INVALID', message: `a Facebook ${what} must be ${range}; this video is ${(ms / 1000).toFixed(1)} s`, retryable: false,
});

/** rupload is Meta's upload host; the Page token goes nowhere else (or to the simulator that gave the URL). */
function uploadHostAllowed(run: Run, uploadUrl: string): boolean {
  try {
    const u = new URL(uploadUrl);
    return (u.protocol === 'https:' && u.hostname === 'rupload.facebook.com') || u.origin === new URL(run.s.ctx.baseUrl).origin;
  } catch {
    return false;
  }
}

/** start (once) and rupload (once): the video is then on Facebook, unpublished. */
async function upload(run: Run, edge: 'video_reels' | 'video_stories'): Promise<Result<void, ConnectorError>> {
  const ctx = run.s.ctx;
  const m = run.draft.media[0]!;
  const url = urlOf(m);
  if (!url.ok) return url;
  if (!run.state.videoId) {
    const r = await json<{ video_id?: unknown; upload_url?: unknown }, FacebookCredentials>(run.s, (t) => client.startUpload(base(run), t, pageOf(run), edge, ctx.signal));
    if (!r.ok) return r;
    const { video_id: id, upload_url: uploadUrl } = r.value;
    if ((typeof id !== 'string' && typeof id !== 'number') || typeof uploadUrl !== 'string') return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Facebook started an upload without its video_id or upload_url', retryable: true });
    await run.save({ videoId: String(id), uploadUrl, uploaded: false });
  }
  if (run.state.uploaded) return ok(undefined);
  const uploadUrl = run.state.uploadUrl!;
  if (!uploadHostAllowed(run, uploadUrl)) return err({ category: 'permanent', code: 'PLATFORM_ERROR', message: `Facebook named an upload address outside rupload.facebook.com (${new URL(uploadUrl).host}); the Page token is not sent there`, retryable: false });
  const sent = await client.ruploadHosted(uploadUrl, ctx.credentials.accessToken, url.value, m.size, ctx.signal);
  if (!sent.ok) return sent;
  const res = sent.value;
  if (res.status === 200 && (res.body as { success?: unknown } | undefined)?.success === true) {
    await run.save({ uploaded: true });
    return ok(undefined);
  }
  const e = (res.body as { error?: unknown } | undefined)?.error ? mapGraphError(res, ctx.clock.now(), 'Facebook') : ruploadError(res, 'Facebook');
  // A retriable failure (Meta could not fetch the file this time) starts over with a new upload session.
  if (e.retryable) await run.save({ videoId: undefined, uploadUrl: undefined, uploaded: undefined });
  return err(e);
}

const reelUrl = (run: Run) => (v: VideoNode) => (run.s.ctx.sandbox && v.permalink_url ? absolutePermalink(v.permalink_url) : `${FACEBOOK_WEB}/reel/${v.id ?? run.state.videoId}`);

/** Has Facebook taken the finish call for this video (its publishing phase has begun)? */
async function finishArrived(run: Run): Promise<Result<boolean, ConnectorError>> {
  const r = await json<VideoNode, FacebookCredentials>(run.s, (t) => client.node(base(run), t, run.state.videoId!, client.VIDEO_FIELDS, run.s.ctx.signal));
  if (!r.ok) return r;
  const phase = r.value.status?.publishing_phase?.status;
  return ok(r.value.published === true || (phase !== undefined && phase !== 'not_started'));
}

export async function publishReel(run: Run): Promise<Result<Published | Pending, ConnectorError>> {
  if (run.state.postId) return ok({ platformPostId: run.state.postId, url: run.state.url ?? reelUrl(run)({}) });
  const m = run.draft.media[0]!;
  if (m.durationMs !== undefined && (m.durationMs < REEL_MS.min || m.durationMs > REEL_MS.max)) return err(tooLong('reel', m.durationMs, '3 to 90 seconds long'));
  if (!run.state.finished) {
    let arrived = false;
    if (run.state.sentAt) {
      // The finish call left before and its answer was lost: the video's publishing phase says whether it arrived.
      const a = await finishArrived(run);
      if (!a.ok) return a;
      arrived = a.value;
    } else {
      const up = await upload(run, 'video_reels');
      if (!up.ok) return up;
      await run.save({ sentAt: run.s.ctx.clock.now().toISOString() });
    }
    if (!arrived) {
      const r = await json<{ success?: unknown }, MetaCredentials>(run.s, (t) => client.finishReel(base(run), t, pageOf(run), run.state.videoId!, run.draft.text, run.s.ctx.signal));
      if (!r.ok) return r;
      if (r.value.success !== true) return err({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: 'Facebook answered the reel\'s finish without success', retryable: true, outcomeUnknown: true });
    }
    await run.save({ finished: true });
  }
  return awaitVideo(run, 'reel', reelUrl(run));
}

/** The story's URL: the one Graph lists for it, else the post's. */
async function storyPublished(run: Run, postId: string): Promise<Result<Published, ConnectorError>> {
  const r = await json<{ data?: { post_id?: string; url?: string }[] }, FacebookCredentials>(run.s, (t) => client.pageStories(base(run), t, pageOf(run), run.s.ctx.signal));
  const url = r.ok ? r.value.data?.find((s) => s.post_id === postId)?.url : undefined;
  if (url) {
    await run.save({ postId, url: absolutePermalink(url) });
    return ok({ platformPostId: postId, url: run.state.url! });
  }
  if (!run.s.ctx.sandbox) {
    await run.save({ postId, url: derivedUrl(run.s.ctx, postId) });
    return ok({ platformPostId: postId, url: run.state.url! });
  }
  return finish(run, postId);
}

export async function publishStory(run: Run): Promise<Result<Published | Pending, ConnectorError>> {
  const ctx = run.s.ctx;
  if (run.state.postId) return ok({ platformPostId: run.state.postId, url: run.state.url ?? derivedUrl(ctx, run.state.postId) });
  const m = run.draft.media[0]!;
  const video = m.kind === 'video';
  if (video && m.durationMs !== undefined && m.durationMs > STORY_VIDEO_MAX_MS) return err(tooLong('story video', m.durationMs, 'at most 60 seconds long'));
  if (!run.state.sentAt) {
    const prepared = video ? await upload(run, 'video_stories') : await uploadPhotos(run, [m]);
    if (!prepared.ok) return prepared;
    await run.save({ sentAt: ctx.clock.now().toISOString() });
  } else {
    // The story call left before and its answer was lost: the Page's stories say whether it arrived.
    const found = await findStory(run);
    if (!found.ok) return found;
    if (found.value) return storyPublished(run, found.value);
  }
  const r = await json<{ success?: unknown; post_id?: unknown }, FacebookCredentials>(run.s, (t) =>
    video ? client.finishVideoStory(base(run), t, pageOf(run), run.state.videoId!, ctx.signal) : client.photoStory(base(run), t, pageOf(run), run.state.photos![0]!, ctx.signal),
  );
  if (!r.ok) return r;
  const postId = r.value.post_id;
  if (typeof postId !== 'string' && typeof postId !== 'number') return err({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: 'Facebook did not answer the id of the story', retryable: true, outcomeUnknown: true });
  await run.save({ postId: String(postId) });
  return storyPublished(run, String(postId));
}
