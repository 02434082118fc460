// YouTube (Data API v3, platforms.md §7): one video per post with its title, description (the post text),
// tags, category, privacy, scheduled publishing (publishAt, private until then), made-for-kids, and Shorts
// (`short: true`: no API flag exists; the video must be vertical or square and at most 3 minutes, and
// "#Shorts" is added to the title; its URL is /shorts/{id}). An image in the post becomes the custom
// thumbnail. The upload is resumable (upload.ts). Quota: the app's project has 10,000 units a Pacific day
// and an upload costs 1,600 (the older, higher of the documented figures), so Crier spends them through
// ctx.spendQuota before each costly call and refuses with PLATFORM_QUOTA_EXHAUSTED, waiting for the reset,
// instead of failing half-way. After the upload the publication is processing until YouTube says the video
// is processed, failed or rejected.
// Read-back: the checkpointed video id or session; else the channel's latest uploads matched by exact title
// and description (weakest: two identical posts at once could not be told apart).
// A thumbnail YouTube refuses (unverified channels cannot set one) does not undo the video: it is logged.
import { Type } from 'typebox';
import { systemClock } from '../../lib/clock.js';
import { err, ok, type Result } from '../../lib/result.js';
import { SANDBOX_APP } from '../auth-types.js';
import { request, type HttpResponse } from '../http.js';
import { authorizeUrl, exchangeCode } from '../oauth/client.js';
import type { ConnectorCtx, ConnectorError, DraftMedia, Issue, Pending, PlatformConnector, PublicationDraft, Published } from '../types.js';
import { youtubeAuth, type YouTubeCredentials } from './auth.js';
import { mapYouTubeError } from './errors.js';
import { querySession, sendChunks, startSession, type VideoResource } from './upload.js';

export type { YouTubeCredentials } from './auth.js';

export const COST = { insert: 1_600, thumbnails: 50, list: 1 } as const;
const TITLE_MAX = 100;
const DESCRIPTION_MAX_BYTES = 5_000;
const TAGS_MAX = 500;
const SHORT_MAX_MS = 180_000;
const CHECK_AFTER_MS = 10_000;

type Options = {
  title?: string; tags?: string[]; category_id?: string; privacy_status?: 'public' | 'unlisted' | 'private'; publish_at?: string;
  made_for_kids?: boolean; notify_subscribers?: boolean; embeddable?: boolean; contains_synthetic_media?: boolean; short?: boolean;
};

const optionsSchema = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The video title (required; up to 100 characters, no < or >).' })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100, description: 'Keywords (about 500 characters in all).' })),
    category_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: 'YouTube category id (22 "People & Blogs" by default).' })),
    privacy_status: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('unlisted'), Type.Literal('private')], { description: 'Default public. Uploads of unverified API projects are locked to private by YouTube.' })),
    publish_at: Type.Optional(Type.String({ format: 'date-time', description: 'YouTube makes the video public then; needs privacy_status private.' })),
    made_for_kids: Type.Optional(Type.Boolean({ description: 'selfDeclaredMadeForKids (COPPA); false by default.' })),
    notify_subscribers: Type.Optional(Type.Boolean({ description: 'Default true.' })),
    embeddable: Type.Optional(Type.Boolean()),
    contains_synthetic_media: Type.Optional(Type.Boolean({ description: 'Altered or synthetic content (AI) disclosure.' })),
    short: Type.Optional(Type.Boolean({ description: 'A Short: vertical or square, at most 3 minutes; "#Shorts" is added to the title.' })),
  },
  { additionalProperties: false },
);

function validate(draft: { text: string; options: Record<string, unknown>; media: { kind: 'image' | 'video' }[] }): Issue[] {
  const o = draft.options as Options;
  const issues: Issue[] = [];
  const videos = draft.media.filter((m) => m.kind === 'video').length;
  const images = draft.media.length - videos;
  if (videos === 0) issues.push({ code: 'MEDIA_REQUIRED', field: 'media', message: 'a YouTube post needs a video' });
  if (videos > 1) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: 1, actual: videos, message: 'a YouTube post takes one video' });
  if (images > 1) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: 1, actual: images, message: 'a YouTube post takes at most one image, used as the thumbnail' });
  const title = titleOf(o);
  if (!o.title) issues.push({ code: 'OPTION_INVALID', field: 'options.youtube.title', message: 'YouTube needs a title: set options.youtube.title' });
  else if ([...title].length > TITLE_MAX) issues.push({ code: 'OPTION_INVALID', field: 'options.youtube.title', limit: TITLE_MAX, actual: [...title].length, message: `a YouTube title takes at most ${TITLE_MAX} characters${o.short ? ' (including the " #Shorts" added for a Short)' : ''}` });
  if (/[<>]/.test(o.title ?? '') || /[<>]/.test(draft.text)) issues.push({ code: 'OPTION_INVALID', field: /[<>]/.test(o.title ?? '') ? 'options.youtube.title' : 'text', message: 'YouTube refuses < and > in titles and descriptions' });
  const bytes = Buffer.byteLength(draft.text);
  if (bytes > DESCRIPTION_MAX_BYTES) issues.push({ code: 'TEXT_TOO_LONG', field: 'text', limit: DESCRIPTION_MAX_BYTES, actual: bytes, message: `a YouTube description takes at most ${DESCRIPTION_MAX_BYTES} bytes (UTF-8); this one has ${bytes}` });
  const tagChars = (o.tags ?? []).join(',').length;
  if (tagChars > TAGS_MAX) issues.push({ code: 'OPTION_INVALID', field: 'options.youtube.tags', limit: TAGS_MAX, actual: tagChars, message: `YouTube takes about ${TAGS_MAX} characters of tags in all` });
  if (o.publish_at !== undefined && o.privacy_status !== 'private') issues.push({ code: 'OPTION_INVALID', field: 'options.youtube.publish_at', message: 'publish_at needs privacy_status "private" (YouTube makes it public at that time)' });
  return issues;
}

const titleOf = (o: Options) => (o.short && o.title && !/#shorts\b/i.test(o.title) ? `${o.title} #Shorts` : (o.title ?? ''));

function tokenRunner(ctx: ConnectorCtx<YouTubeCredentials>) {
  return async (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => {
    const first = await call(ctx.credentials.accessToken);
    if (!first.ok || first.value.status !== 401 || !ctx.refresh) return first;
    const renewed = await ctx.refresh();
    if (!renewed.ok) return renewed;
    return call(renewed.value.accessToken);
  };
}

async function spend(ctx: ConnectorCtx<YouTubeCredentials>, units: number, what: string): Promise<ConnectorError | null> {
  if (!ctx.spendQuota) return null;
  const q = await ctx.spendQuota(units);
  if (q.ok) return null;
  return {
    category: 'rate_limited', code: 'PLATFORM_QUOTA_EXHAUSTED', platformCode: 'quotaExceeded', retryable: true,
    retryAfterMs: Math.max(1_000, q.resetsAt.getTime() - ctx.clock.now().getTime()),
    message: `the app's YouTube quota for today is used (${q.used} of ${q.limit} units; ${what} costs ${units}); it resets at ${q.resetsAt.toISOString()} (midnight Pacific)`,
  };
}

function published(ctx: ConnectorCtx<YouTubeCredentials>, id: string, short: boolean): Published {
  const web = ctx.sandbox ? ctx.baseUrl.replace(/\/$/, '') : 'https://www.youtube.com';
  return { platformPostId: id, url: short ? `${web}/shorts/${id}` : `${web}/watch?v=${id}` };
}

function metadataOf(draft: PublicationDraft) {
  const o = draft.options as Options;
  return {
    snippet: { title: titleOf(o), description: draft.text, ...(o.tags ? { tags: o.tags } : {}), categoryId: o.category_id ?? '22' },
    status: {
      privacyStatus: o.privacy_status ?? 'public',
      ...(o.publish_at ? { publishAt: new Date(o.publish_at).toISOString() } : {}),
      selfDeclaredMadeForKids: o.made_for_kids ?? false,
      ...(o.embeddable !== undefined ? { embeddable: o.embeddable } : {}),
      ...(o.contains_synthetic_media !== undefined ? { containsSyntheticMedia: o.contains_synthetic_media } : {}),
    },
  };
}

type Checkpoint = { session?: string; videoId?: string; thumbnail?: 'set' | 'refused' };

async function publish(ctx: ConnectorCtx<YouTubeCredentials>, draft: PublicationDraft): Promise<Result<Published | Pending, ConnectorError>> {
  const o = draft.options as Options;
  const video = draft.media.find((m) => m.kind === 'video');
  if (!video) return err({ category: 'invalid_content', code: 'CONTENT_REJECTED', message: 'a YouTube post needs a video', retryable: false });
  if (o.short && (video.height < video.width || (video.durationMs ?? 0) > SHORT_MAX_MS)) {
    return err({ category: 'invalid_content', code: 'CONTENT_REJECTED', message: `a Short must be vertical or square and at most 3 minutes; this video is ${video.width}×${video.height}, ${Math.round((video.durationMs ?? 0) / 1000)} s`, retryable: false });
  }
  const withToken = tokenRunner(ctx);
  const cp: Checkpoint = { ...((draft.checkpoint ?? {}) as Checkpoint) };
  const save = async () => {
    await ctx.checkpoint({ ...cp });
    draft.checkpoint = { ...cp };
  };
  if (!cp.videoId) {
    let uploaded: VideoResource | null = null;
    let offset = 0;
    if (cp.session) {
      const q = await querySession(ctx, cp.session, video.size, withToken);
      if (!q.ok) return q;
      if (q.value === 'gone') cp.session = undefined;
      else if ('video' in q.value) uploaded = q.value.video;
      else offset = q.value.offset;
    }
    if (!uploaded && !cp.session) {
      const refused = await spend(ctx, COST.insert, 'an upload');
      if (refused) return err(refused);
      const started = await startSession(ctx, video, metadataOf(draft), o.notify_subscribers ?? true, withToken);
      if (!started.ok) return started;
      cp.session = started.value;
      await save();
    }
    if (!uploaded) {
      const sent = await sendChunks(ctx, cp.session!, video, offset, withToken);
      if (!sent.ok) return sent;
      uploaded = sent.value;
    }
    cp.videoId = uploaded.id;
    await save();
  }
  const image = draft.media.find((m) => m.kind === 'image');
  if (image && !cp.thumbnail) {
    cp.thumbnail = await setThumbnail(ctx, cp.videoId!, image, withToken);
    await save();
  }
  return ok(processing(cp.videoId!, cp.thumbnail));
}

const processing = (videoId: string, thumbnail?: string): Pending => ({
  pending: { ref: { videoId }, checkAfterMs: CHECK_AFTER_MS, note: `YouTube is processing the video${thumbnail === 'refused' ? ' (the custom thumbnail was refused; see the logs)' : ''}` },
});

async function setThumbnail(ctx: ConnectorCtx<YouTubeCredentials>, videoId: string, image: DraftMedia, withToken: ReturnType<typeof tokenRunner>): Promise<'set' | 'refused'> {
  const refused = await spend(ctx, COST.thumbnails, 'a thumbnail');
  if (refused) {
    ctx.log.warn({ video_id: videoId }, `thumbnail not set: ${refused.message}`);
    return 'refused';
  }
  const chunks: Buffer[] = [];
  for await (const c of await image.open()) chunks.push(c as Buffer);
  const got = await withToken((t) => request(`${ctx.baseUrl}/upload/youtube/v3/thumbnails/set?videoId=${encodeURIComponent(videoId)}`, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': image.mimeType }, body: Buffer.concat(chunks), signal: ctx.signal }));
  if (got.ok && got.value.status === 200) return 'set';
  ctx.log.warn({ video_id: videoId, error: got.ok ? mapYouTubeError(got.value, ctx.clock.now(), 'setting the thumbnail').message : got.error.message }, 'thumbnail not set');
  return 'refused';
}

type VideoStatus = { id?: string; status?: { uploadStatus?: string; failureReason?: string; rejectionReason?: string } };

async function readVideo(ctx: ConnectorCtx<YouTubeCredentials>, videoId: string): Promise<Result<VideoStatus | null, ConnectorError>> {
  const refused = await spend(ctx, COST.list, 'a status check');
  if (refused) return err(refused);
  const got = await tokenRunner(ctx)((t) => request(`${ctx.baseUrl}/youtube/v3/videos?part=status,processingDetails&id=${encodeURIComponent(videoId)}`, { headers: { authorization: `Bearer ${t}` }, signal: ctx.signal }));
  if (!got.ok) return got;
  if (got.value.status !== 200) return err(mapYouTubeError(got.value, ctx.clock.now(), 'reading the video'));
  return ok(((got.value.body as { items?: VideoStatus[] })?.items ?? [])[0] ?? null);
}

async function checkStatus(ctx: ConnectorCtx<YouTubeCredentials>, draft: PublicationDraft, ref: Record<string, unknown>): Promise<Result<Published | Pending, ConnectorError>> {
  const videoId = String(ref['videoId']);
  const v = await readVideo(ctx, videoId);
  if (!v.ok) return v;
  const status = v.value?.status?.uploadStatus;
  if (status === 'processed') return ok(published(ctx, videoId, !!(draft.options as Options).short));
  if (status === 'uploaded') return ok(processing(videoId));
  const why = v.value?.status?.failureReason ?? v.value?.status?.rejectionReason ?? (v.value ? status : 'the video is gone');
  return err({ category: status === 'rejected' ? 'invalid_content' : 'media_error', code: status === 'rejected' ? 'CONTENT_REJECTED' : 'MEDIA_REJECTED', platformCode: why ?? 'deleted', message: `YouTube ${status === 'rejected' ? 'rejected' : 'could not process'} the video ${videoId}: ${why}`, retryable: false });
}

async function findExisting(ctx: ConnectorCtx<YouTubeCredentials>, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const cp = (draft.checkpoint ?? {}) as Checkpoint;
  const short = !!(draft.options as Options).short;
  let videoId = cp.videoId;
  if (!videoId && cp.session) {
    // The upload's last answer may have been lost: the session knows whether the video was made.
    const q = await querySession(ctx, cp.session, draft.media.find((m) => m.kind === 'video')?.size ?? 0, tokenRunner(ctx));
    if (!q.ok) return q;
    if (q.value === 'gone' || !('video' in q.value)) return ok(null); // publish() resumes or restarts it
    videoId = q.value.video.id;
  }
  if (videoId) {
    // Processed: that is the post. Still processing (or failed): publish() follows it through checkStatus.
    const v = await readVideo(ctx, videoId);
    if (!v.ok) return v;
    return ok(v.value?.status?.uploadStatus === 'processed' ? published(ctx, videoId, short) : null);
  }
  const withToken = tokenRunner(ctx);
  const refused = await spend(ctx, COST.list, 'a read-back');
  if (refused) return err(refused);
  const got = await withToken((t) => request(`${ctx.baseUrl}/youtube/v3/playlistItems?part=snippet&maxResults=50&playlistId=${encodeURIComponent(ctx.credentials.uploadsPlaylist)}`, { headers: { authorization: `Bearer ${t}` }, signal: ctx.signal }));
  if (!got.ok) return got;
  if (got.value.status !== 200) return err(mapYouTubeError(got.value, ctx.clock.now(), 'reading the latest uploads'));
  const m = metadataOf(draft).snippet;
  const items = (got.value.body as { items?: { snippet?: { title?: string; description?: string; resourceId?: { videoId?: string } } }[] })?.items ?? [];
  const hit = items.find((i) => i.snippet?.title === m.title && i.snippet?.description === m.description && i.snippet?.resourceId?.videoId);
  return ok(hit ? published(ctx, hit.snippet!.resourceId!.videoId!, short) : null);
}

/** A sandbox channel through the real flow against the simulator: consent form, code exchange, channels?mine. */
async function createSandboxAccount(baseUrl: string, username: string) {
  const signal = AbortSignal.timeout(10_000);
  const redirectUri = 'http://127.0.0.1/sandbox-callback';
  const authorize = new URL(authorizeUrl(youtubeAuth, { sandboxBase: baseUrl }, { app: SANDBOX_APP, redirectUri, state: 'sandbox' }));
  const form = new URLSearchParams(authorize.searchParams);
  form.set('username', username.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 30) || 'sandbox');
  form.set('decision', 'allow');
  const consent = await request(`${authorize.origin}${authorize.pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), signal });
  if (!consent.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${consent.error.message}`);
  const code = new URL(consent.value.headers.get('location') ?? 'http://invalid/').searchParams.get('code');
  if (!code) throw new Error(`sandbox simulator refused the sign-in: ${consent.value.status} ${consent.value.text.slice(0, 200)}`);
  const tokens = await exchangeCode(youtubeAuth, { sandboxBase: baseUrl }, SANDBOX_APP, { code, redirectUri }, new Date(), signal);
  if (!tokens.ok) throw new Error(`sandbox token exchange failed: ${tokens.error.message}`);
  const found = await youtubeAuth.accounts({ baseUrl, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: { info() {}, warn() {}, error() {} }, signal }, tokens.value);
  if (!found.ok) throw new Error(`sandbox channel lookup failed: ${found.error.message}`);
  const a = found.value[0]!;
  return { externalId: a.externalId, username: a.username, displayName: a.displayName, credentials: a.credentials };
}

export const youtubeConnector: PlatformConnector<YouTubeCredentials> = {
  id: 'youtube',
  limits: { text: { maxLength: 5_000, counting: 'characters', maxBytes: DESCRIPTION_MAX_BYTES } },
  optionsSchema,
  validate,
  publish,
  checkStatus,
  findExisting,
  auth: youtubeAuth,
  quota: { unitsPerDay: 10_000, resetTimeZone: 'America/Los_Angeles' },
  sandbox: { createAccount: createSandboxAccount },
};
