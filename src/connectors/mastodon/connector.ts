// Mastodon (platforms.md §11): statuses with a visibility, a content warning, a language and up to 4
// attachments (images, or one video) with alt text; replies and threads as reply chains. Each account lives
// on its own instance, which Crier registers an app with (auth.ts). validate() runs when a post is created,
// before the instance is known, so it checks Mastodon's defaults (500 characters counted Mastodon's way,
// 4 attachments); publishing checks again against the instance's own numbers (instance.ts) and refuses
// with that instance's limit. Gap: a post valid for the defaults can still fail at publish time on an
// instance with lower limits (rare: instances raise them), and one over 500 characters is refused at
// creation even for an instance that allows more.
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import type { Result } from '../../lib/result.js';
import { request } from '../http.js';
import type { ConnectorCtx, ConnectorError, Issue, Pending, PlatformConnector, PublicationDraft, Published } from '../types.js';
import { MASTODON_SCOPES, externalIdOf, mastodonAuth, type MastodonCredentials } from './auth.js';
import { mediaIssues } from './media.js';
import { VISIBILITIES, parseReplyTo, type MastodonOptions, type MastodonState } from './parts.js';
import { advance } from './publish.js';
import { findExisting } from './readback.js';
import { DEFAULT_LIMITS, statusLength } from './text.js';

export type { MastodonCredentials } from './auth.js';

const LIMITS = { text: { maxLength: DEFAULT_LIMITS.maxCharacters, counting: 'graphemes' as const } };
export const THREAD_MAX_ITEMS = 25;

const optionsSchema = Type.Object(
  {
    text: Type.Optional(Type.String({ description: 'Replaces the post text on Mastodon.' })),
    visibility: Type.Optional(Type.Union(VISIBILITIES.map((v) => Type.Literal(v)), { description: 'Who sees the status: public, unlisted (not in public timelines), private (followers only) or direct (mentioned accounts only). The account\'s default when absent.' })),
    spoiler_text: Type.Optional(Type.String({ maxLength: 1000, description: 'A content warning shown before the text (it counts toward the character limit).' })),
    sensitive: Type.Optional(Type.Boolean({ description: 'Hides the attachments behind a warning (always so with a content warning).' })),
    language: Type.Optional(Type.String({ pattern: '^[a-z]{2,3}$', description: 'ISO 639 language code of the status.' })),
    reply_to: Type.Optional(Type.String({ maxLength: 1000, description: 'Publishes the status as a reply to this one: its id on the account\'s instance, or its URL (a status of another server is looked up through the instance).' })),
    thread: Type.Optional(
      Type.Array(Type.Object({ text: Type.String({ minLength: 1 }) }, { additionalProperties: false }), {
        minItems: 1,
        maxItems: THREAD_MAX_ITEMS,
        description: 'Follow-up statuses published in order, each a reply to the one before (text only; media stays on the first).',
      }),
    ),
  },
  { additionalProperties: false },
);

function textIssues(text: string, spoiler: string, field: string): Issue[] {
  const n = statusLength(text, spoiler);
  const max = DEFAULT_LIMITS.maxCharacters;
  if (n <= max) return [];
  return [{ code: 'TEXT_TOO_LONG', field, limit: max, actual: n, message: `Mastodon allows ${max} characters by default (content warning included, each link counting 23, a mention counting only its @user part); ${field} counts ${n}` }];
}

function validate(draft: { text: string; options: Record<string, unknown>; media: { kind: 'image' | 'video' }[] }): Issue[] {
  const o = draft.options as MastodonOptions;
  const spoiler = typeof o.spoiler_text === 'string' ? o.spoiler_text : '';
  const issues = textIssues(draft.text, spoiler, 'text');
  if (draft.text.trim().length === 0 && draft.media.length === 0) {
    issues.push({ code: 'TEXT_EMPTY', field: 'text', message: "Mastodon needs text for a status without attachments (\"Text can't be blank\")" });
  }
  (o.thread ?? []).forEach((item, i) => {
    if (typeof item?.text !== 'string') return; // the options schema reports it
    const field = `options.mastodon.thread[${i}].text`;
    issues.push(...textIssues(item.text, spoiler, field));
    if (item.text.trim().length === 0) issues.push({ code: 'TEXT_EMPTY', field, message: 'each status of a Mastodon thread needs text' });
  });
  if (typeof o.reply_to === 'string' && !parseReplyTo(o.reply_to)) {
    issues.push({ code: 'OPTION_INVALID', field: 'options.mastodon.reply_to', message: 'reply_to takes a status id, or a status URL such as https://mastodon.social/@user/123456' });
  }
  issues.push(...mediaIssues(draft.media));
  return issues;
}

async function publish(ctx: ConnectorCtx<MastodonCredentials>, draft: PublicationDraft): Promise<Result<Published | Pending, ConnectorError>> {
  return advance(ctx, draft, draft.checkpoint as MastodonState | null);
}

async function checkStatus(ctx: ConnectorCtx<MastodonCredentials>, draft: PublicationDraft, ref: Record<string, unknown>): Promise<Result<Published | Pending, ConnectorError>> {
  // The checkpoint is never older than the ref (both are saved before Pending; only the checkpoint moves on).
  return advance(ctx, draft, (draft.checkpoint ?? ref) as MastodonState);
}

/** Sandbox mode: an account on the simulated instance with a token of Crier's scopes, as a connection would give. */
async function createSandboxAccount(baseUrl: string, username: string) {
  const name = username.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30) || `user_${randomBytes(3).toString('hex')}`;
  const res = await request(`${baseUrl.replace(/\/$/, '')}/_sim/accounts`, { method: 'POST', json: { username: name, display_name: username, scopes: MASTODON_SCOPES }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${res.error.message}`);
  if (res.value.status !== 201) throw new Error(`sandbox simulator refused the account: ${res.value.text.slice(0, 200)}`);
  const a = res.value.body as { id: string; username: string; display_name: string; access_token: string };
  const handle = `@${a.username}@sandbox`;
  const credentials: MastodonCredentials = { accessToken: a.access_token, accountId: a.id, username: handle, scopes: MASTODON_SCOPES };
  return { externalId: externalIdOf(a.id, 'sandbox'), username: handle, displayName: a.display_name || a.username, credentials };
}

export const mastodonConnector: PlatformConnector<MastodonCredentials> = {
  id: 'mastodon',
  limits: LIMITS,
  optionsSchema,
  validate,
  publish,
  checkStatus,
  findExisting,
  auth: mastodonAuth,
  sandbox: { createAccount: createSandboxAccount },
};
