// Facebook Pages (Graph API, platforms.md §3): feed posts (text, a link, 1–10 photos, or one video), Reels
// and Stories, chosen with options.facebook.kind. Meta fetches every file from its URL (DraftMedia.url, a
// signed URL Crier serves). Publishing: publish.ts (feed, Page video), stories-reels.ts; read-back:
// readback.ts; errors: ../meta/errors.ts; connecting: auth.ts (Facebook Login, one account per Page).
import { Type } from 'typebox';
import { randomBytes } from 'node:crypto';
import type { Result } from '../../lib/result.js';
import { request } from '../http.js';
import type { ConnectorCtx, ConnectorError, Issue, Pending, PlatformConnector, PublicationDraft, Published } from '../types.js';
import { FACEBOOK_SCOPES, facebookAuth, type FacebookCredentials } from './auth.js';
import { newRun, optionsOf, publishFeed, publishPageVideo, type FacebookState } from './publish.js';
import { findExisting } from './readback.js';
import { publishReel, publishStory } from './stories-reels.js';

export type { FacebookCredentials } from './auth.js';

/** About 63,206 characters (platforms.md §3: Postiz's figure, unconfirmed). */
const TEXT_MAX = 63_206;
/** Photos attached to one post: Crier's conservative choice (the reference gives no count), as in src/media/limits.ts. */
const PHOTOS_MAX = 10;

const LIMITS = { text: { maxLength: TEXT_MAX, counting: 'characters' as const } };

const optionsSchema = Type.Object(
  {
    text: Type.Optional(Type.String({ description: 'Replaces the post text on Facebook.' })),
    kind: Type.Optional(Type.Union([Type.Literal('feed'), Type.Literal('reel'), Type.Literal('story')], { description: "What to publish: a feed post (default), a Reel (one video, 3–90 s) or a Story (one image or video; the text is not shown)." })),
    link: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048, description: 'A link shared with the post (feed posts without media).' })),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Title of a feed video.' })),
  },
  { additionalProperties: false },
);

function validate(draft: { text: string; options: Record<string, unknown>; media: { kind: 'image' | 'video' }[] }): Issue[] {
  const o = draft.options as { kind?: string; link?: string; title?: string };
  const kind = o.kind ?? 'feed';
  const issues: Issue[] = [];
  const length = [...draft.text].length;
  if (length > TEXT_MAX) issues.push({ code: 'TEXT_TOO_LONG', field: 'text', limit: TEXT_MAX, actual: length, message: `Facebook allows ${TEXT_MAX} characters in a post; this text has ${length}` });
  const images = draft.media.filter((m) => m.kind === 'image').length;
  const videos = draft.media.length - images;
  if (o.link !== undefined && (kind !== 'feed' || draft.media.length > 0)) {
    issues.push({ code: 'OPTION_INVALID', field: 'options.facebook.link', message: 'a link is shared by a feed post without media; Facebook does not take one with photos, videos, reels or stories' });
  }
  if (o.title !== undefined && (kind !== 'feed' || videos === 0)) issues.push({ code: 'OPTION_INVALID', field: 'options.facebook.title', message: 'options.facebook.title names a feed video; this post has none' });
  if (kind === 'feed') {
    if (images > 0 && videos > 0) issues.push({ code: 'MEDIA_MIXED_KINDS', field: 'media', message: 'a Facebook post takes photos or one video, not both' });
    if (videos > 1) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: 1, actual: videos, message: 'a Facebook post takes one video' });
    if (images > PHOTOS_MAX) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: PHOTOS_MAX, actual: images, message: `Crier attaches at most ${PHOTOS_MAX} photos to a Facebook post` });
    if (draft.text.trim().length === 0 && draft.media.length === 0 && o.link === undefined) issues.push({ code: 'TEXT_EMPTY', field: 'text', message: 'a Facebook post needs text, a link or media' });
  } else {
    const what = kind === 'reel' ? 'a Facebook Reel takes exactly one video' : 'a Facebook Story takes exactly one image or video';
    if (draft.media.length === 0) issues.push({ code: 'MEDIA_REQUIRED', field: 'media', message: what });
    if (draft.media.length > 1) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: 1, actual: draft.media.length, message: what });
    if (kind === 'reel' && images > 0) issues.push({ code: 'MEDIA_UNSUPPORTED_TYPE', field: 'media', message: what });
  }
  return issues;
}

function advance(ctx: ConnectorCtx<FacebookCredentials>, draft: PublicationDraft, start: FacebookState | null): Promise<Result<Published | Pending, ConnectorError>> {
  const run = newRun(ctx, draft, start);
  const kind = optionsOf(draft).kind ?? 'feed';
  if (kind === 'reel') return publishReel(run);
  if (kind === 'story') return publishStory(run);
  if (draft.media[0]?.kind === 'video') return publishPageVideo(run);
  return publishFeed(run);
}

async function publish(ctx: ConnectorCtx<FacebookCredentials>, draft: PublicationDraft) {
  return advance(ctx, draft, draft.checkpoint as FacebookState | null);
}

async function checkStatus(ctx: ConnectorCtx<FacebookCredentials>, draft: PublicationDraft, ref: Record<string, unknown>) {
  // The checkpoint is never older than the ref: both are saved before Pending.
  return advance(ctx, draft, (draft.checkpoint ?? ref) as FacebookState);
}

/** Sandbox mode: a Facebook user with a Page (and the Page's token) on the simulator, as a connection would give. */
async function createSandboxAccount(baseUrl: string, username: string) {
  const name = username.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 30) || `user_${randomBytes(3).toString('hex')}`;
  const res = await request(`${baseUrl.replace(/\/$/, '')}/_sim/accounts`, { method: 'POST', json: { username: name, name: username, scopes: FACEBOOK_SCOPES, instagram: false }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${res.error.message}`);
  if (res.value.status !== 201) throw new Error(`sandbox simulator refused the account: ${res.value.text.slice(0, 200)}`);
  const a = res.value.body as { user_access_token: string; user_expires_in: number; page_id: string; page_name: string; page_access_token: string; scopes: string[] };
  const credentials: FacebookCredentials = {
    accessToken: a.page_access_token,
    scopes: a.scopes,
    pageId: a.page_id,
    pageName: a.page_name,
    userToken: a.user_access_token,
    userTokenExpiresAt: new Date(Date.now() + a.user_expires_in * 1000).toISOString(),
  };
  return { externalId: a.page_id, username: name, displayName: a.page_name, credentials };
}

export const facebookConnector: PlatformConnector<FacebookCredentials> = {
  id: 'facebook',
  limits: LIMITS,
  optionsSchema,
  validate,
  publish,
  checkStatus,
  findExisting,
  auth: facebookAuth,
  sandbox: { createAccount: createSandboxAccount },
};
