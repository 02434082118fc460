// Pinterest (API v5, platforms.md §8): pins on a board chosen per post (options.pinterest.board_id, listed
// by listBoards), made of one image, a carousel of 2–5 images, or one video. The post text is the pin's
// description; title, link, section and cover come from the options; alt text from the image. Images go as
// Crier's signed URL (image_url) when there is one, else inline (image_base64); videos are uploaded and
// processed first (publish.ts, media.ts), with Pending while Pinterest processes. Pinterest has no
// text-only pins. Read-back: readback.ts.
import { Type } from 'typebox';
import { err, ok, type Result } from '../../lib/result.js';
import { systemClock } from '../../lib/clock.js';
import { SANDBOX_APP } from '../auth-types.js';
import { request } from '../http.js';
import { authorizeUrl, exchangeCode } from '../oauth/client.js';
import type { ConnectorCtx, ConnectorError, Issue, PlatformConnector } from '../types.js';
import { pinterestAuth, type PinterestCredentials } from './auth.js';
import * as client from './client.js';
import { mapPinterestError } from './errors.js';
import { checkPin, publishPin, tokenRunner, type PinterestOptions } from './publish.js';
import { findExisting } from './readback.js';

export type { PinterestCredentials } from './auth.js';

/** The description's limit as Pinterest shows it (its OpenAPI allows 800; the app and help pages say 500). */
export const DESCRIPTION_MAX = 500;
export const CAROUSEL_MAX = 5;

const ID = '^[0-9]{1,40}$';

const optionsSchema = Type.Object(
  {
    text: Type.Optional(Type.String({ description: 'Replaces the post text (the pin description) on Pinterest.' })),
    board_id: Type.Optional(Type.String({ pattern: ID, description: 'The board to pin to (required; GET the account\'s boards to choose).' })),
    board_section_id: Type.Optional(Type.String({ pattern: ID, description: 'A section of that board.' })),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'The pin title (up to 100 characters).' })),
    link: Type.Optional(Type.String({ maxLength: 2048, pattern: '^https?://\\S+$', description: 'Where the pin leads (http or https, up to 2048 characters).' })),
    dominant_color: Type.Optional(Type.String({ pattern: '^#[0-9a-fA-F]{6}$', description: 'The colour shown while the image loads, e.g. #6E7874.' })),
    cover_image_url: Type.Optional(Type.String({ maxLength: 2048, pattern: '^https?://\\S+$', description: 'Video pins: the cover image, fetched by Pinterest.' })),
    cover_image_key_frame_time: Type.Optional(Type.Number({ minimum: 0, description: 'Video pins without cover_image_url: the second of the video used as cover (0 by default).' })),
  },
  { additionalProperties: false },
);

function validate(draft: { text: string; options: Record<string, unknown>; media: { kind: 'image' | 'video' }[] }): Issue[] {
  const o = draft.options as PinterestOptions;
  const issues: Issue[] = [];
  const n = [...draft.text].length;
  if (n > DESCRIPTION_MAX) issues.push({ code: 'TEXT_TOO_LONG', field: 'text', limit: DESCRIPTION_MAX, actual: n, message: `a Pinterest description takes at most ${DESCRIPTION_MAX} characters; this text has ${n}` });
  if (!o.board_id) issues.push({ code: 'OPTION_INVALID', field: 'options.pinterest.board_id', message: 'Pinterest needs the board to pin to: set options.pinterest.board_id' });
  const images = draft.media.filter((m) => m.kind === 'image').length;
  const videos = draft.media.length - images;
  if (draft.media.length === 0) issues.push({ code: 'MEDIA_REQUIRED', field: 'media', message: 'a Pinterest pin needs an image or a video' });
  if (images > 0 && videos > 0) issues.push({ code: 'MEDIA_MIXED_KINDS', field: 'media', message: 'a Pinterest pin is images or one video, not both' });
  else if (videos > 1) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: 1, actual: videos, message: 'a Pinterest pin takes one video' });
  else if (images > CAROUSEL_MAX) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: CAROUSEL_MAX, actual: images, message: `a Pinterest carousel takes at most ${CAROUSEL_MAX} images` });
  if (videos === 0 && (o.cover_image_url !== undefined || o.cover_image_key_frame_time !== undefined)) {
    issues.push({ code: 'OPTION_INVALID', field: 'options.pinterest.cover_image_url', message: 'a cover is for video pins only' });
  }
  return issues;
}

export type PinterestBoard = { id: string; name: string; privacy: string; description?: string };

/** The account's boards (GET /v5/boards, every page by bookmark), to choose `board_id` from. */
export async function listBoards(ctx: ConnectorCtx<PinterestCredentials>): Promise<Result<PinterestBoard[], ConnectorError>> {
  const withToken = tokenRunner(ctx);
  const boards: PinterestBoard[] = [];
  let bookmark: string | undefined;
  for (let page = 0; page < 40; page++) {
    const got = await withToken((t) => client.listBoards(ctx.baseUrl, t, bookmark, ctx.signal));
    if (!got.ok) return got;
    if (got.value.status !== 200) return err(mapPinterestError(got.value, ctx.clock.now()));
    const body = (got.value.body ?? {}) as { items?: { id?: string; name?: string; privacy?: string; description?: string }[]; bookmark?: string | null };
    for (const b of body.items ?? []) if (b.id && b.name) boards.push({ id: b.id, name: b.name, privacy: b.privacy ?? 'PUBLIC', description: b.description || undefined });
    bookmark = body.bookmark ?? undefined;
    if (!bookmark) break;
  }
  return ok(boards);
}

/**
 * A sandbox account goes through the real flow against the simulator: the consent form (as the user's
 * browser would post it), the code exchange with the sandbox app, then GET /v5/user_account.
 */
async function createSandboxAccount(baseUrl: string, username: string) {
  const signal = AbortSignal.timeout(10_000);
  const redirectUri = 'http://127.0.0.1/sandbox-callback';
  const authorize = new URL(authorizeUrl(pinterestAuth, { sandboxBase: baseUrl }, { app: SANDBOX_APP, redirectUri, state: 'sandbox' }));
  const form = new URLSearchParams(authorize.searchParams);
  form.set('username', username.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 30) || 'sandbox');
  form.set('decision', 'allow');
  const consent = await request(`${authorize.origin}${authorize.pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), signal });
  if (!consent.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${consent.error.message}`);
  const code = new URL(consent.value.headers.get('location') ?? 'http://invalid/').searchParams.get('code');
  if (!code) throw new Error(`sandbox simulator refused the sign-in: ${consent.value.status} ${consent.value.text.slice(0, 200)}`);
  const tokens = await exchangeCode(pinterestAuth, { sandboxBase: baseUrl }, SANDBOX_APP, { code, redirectUri }, new Date(), signal);
  if (!tokens.ok) throw new Error(`sandbox token exchange failed: ${tokens.error.message}`);
  const found = await pinterestAuth.accounts({ baseUrl, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: { info() {}, warn() {}, error() {} }, signal }, tokens.value);
  if (!found.ok) throw new Error(`sandbox account lookup failed: ${found.error.message}`);
  const a = found.value[0]!;
  return { externalId: a.externalId, username: a.username, displayName: username, credentials: a.credentials };
}

export const pinterestConnector: PlatformConnector<PinterestCredentials> = {
  id: 'pinterest',
  limits: { text: { maxLength: DESCRIPTION_MAX, counting: 'characters' } },
  optionsSchema,
  validate,
  publish: publishPin,
  checkStatus: checkPin,
  findExisting,
  auth: pinterestAuth,
  lookups: { boards: { description: "The account's boards, to choose options.pinterest.board_id from.", run: (ctx) => listBoards(ctx) } },
  sandbox: { createAccount: createSandboxAccount },
};
