// Instagram (Graph API content publishing with Facebook Login, platforms.md §4): feed images, reels (every
// single video), carousels of 2–10 images and videos, and stories (options.instagram.kind = 'story'); a first
// comment, collaborators (up to 3), and for reels share_to_feed and thumb_offset. Instagram fetches files
// from their URLs (DraftMedia.url, a signed URL Crier serves). Publishing: publish.ts (containers → wait →
// media_publish; a container still processing after a short wait becomes Pending and checkStatus continues
// it); read-back: readback.ts; errors: ../meta/errors.ts; connecting: auth.ts.
import { Type } from 'typebox';
import { randomBytes } from 'node:crypto';
import { request } from '../http.js';
import type { ConnectorCtx, PlatformConnector, PublicationDraft } from '../types.js';
import { INSTAGRAM_SCOPES, instagramAuth, type InstagramCredentials } from './auth.js';
import { advance, type InstagramState } from './publish.js';
import { findExisting } from './readback.js';
import { CAPTION_MAX, COLLABORATORS_MAX, validateInstagram, type InstagramOptions } from './rules.js';

export type { InstagramCredentials } from './auth.js';

const LIMITS = { text: { maxLength: CAPTION_MAX, counting: 'characters' as const } };

const optionsSchema = Type.Object(
  {
    text: Type.Optional(Type.String({ description: 'Replaces the post text (the caption) on Instagram.' })),
    kind: Type.Optional(Type.Union([Type.Literal('feed'), Type.Literal('reel'), Type.Literal('story')], { description: "'feed' (default: one image, a carousel, or a single video, which Instagram publishes as a reel), 'reel', or 'story' (one image or video, no caption)." })),
    first_comment: Type.Optional(Type.String({ minLength: 1, maxLength: CAPTION_MAX, description: 'A comment the account posts under the post right after publishing it. Its failure does not fail the publication.' })),
    collaborators: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9._]{1,30}$' }), { minItems: 1, maxItems: COLLABORATORS_MAX, uniqueItems: true, description: 'Instagram usernames invited as collaborators (up to 3; feed posts, reels, carousels).' })),
    share_to_feed: Type.Optional(Type.Boolean({ description: 'Reels: also show the reel in the feed (default true).' })),
    thumb_offset: Type.Optional(Type.Integer({ minimum: 0, description: 'Reels: the cover frame, in milliseconds from the start.' })),
  },
  { additionalProperties: false },
);

function validate(draft: { text: string; options: Record<string, unknown>; media: { kind: 'image' | 'video' }[] }) {
  return validateInstagram(draft.text, draft.options as InstagramOptions, draft.media);
}

async function publish(ctx: ConnectorCtx<InstagramCredentials>, draft: PublicationDraft) {
  return advance(ctx, draft, draft.checkpoint as InstagramState | null);
}

async function checkStatus(ctx: ConnectorCtx<InstagramCredentials>, draft: PublicationDraft, ref: Record<string, unknown>) {
  // The checkpoint is never older than the ref: both are saved before Pending.
  return advance(ctx, draft, (draft.checkpoint ?? ref) as InstagramState);
}

/** Sandbox mode: an Instagram professional account behind a Page on the simulator, with the Page's token. */
async function createSandboxAccount(baseUrl: string, username: string) {
  const name = username.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 30) || `user_${randomBytes(3).toString('hex')}`;
  const res = await request(`${baseUrl.replace(/\/$/, '')}/_sim/accounts`, { method: 'POST', json: { username: name, name: username, scopes: INSTAGRAM_SCOPES }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${res.error.message}`);
  if (res.value.status !== 201) throw new Error(`sandbox simulator refused the account: ${res.value.text.slice(0, 200)}`);
  const a = res.value.body as { user_access_token: string; user_expires_in: number; page_id: string; page_access_token: string; ig_user_id: string; ig_username: string; scopes: string[] };
  const credentials: InstagramCredentials = {
    accessToken: a.page_access_token,
    scopes: a.scopes,
    pageId: a.page_id,
    igUserId: a.ig_user_id,
    username: a.ig_username,
    userToken: a.user_access_token,
    userTokenExpiresAt: new Date(Date.now() + a.user_expires_in * 1000).toISOString(),
  };
  return { externalId: a.ig_user_id, username: a.ig_username, displayName: username, credentials };
}

export const instagramConnector: PlatformConnector<InstagramCredentials> = {
  id: 'instagram',
  limits: LIMITS,
  optionsSchema,
  validate,
  publish,
  checkStatus,
  findExisting,
  auth: instagramAuth,
  sandbox: { createAccount: createSandboxAccount },
};
