// Threads (Meta's Threads API on graph.threads.net, platforms.md §5): text, image, video and carousel posts
// (2–20 items, images and videos mixed), thread chains and replies (reply_to_id), who may reply
// (reply_control), and a topic tag. Threads pulls media from URLs, so files go as DraftMedia.url (a signed
// URL Crier serves). Publishing is container → wait → publish (publish.ts): a container still processing
// after a short wait becomes Pending and checkStatus continues it. Read-back: readback.ts.
import { Type } from 'typebox';
import { randomBytes } from 'node:crypto';
import type { Result } from '../../lib/result.js';
import { request } from '../http.js';
import type { ConnectorCtx, ConnectorError, Issue, PlatformConnector, PublicationDraft, Published, Pending } from '../types.js';
import { THREADS_SCOPES, threadsAuth, type ThreadsCredentials } from './auth.js';
import { advance, type ThreadsOptions, type ThreadsState } from './publish.js';
import { findExisting } from './readback.js';
import { CAROUSEL_MAX, LINKS_MAX, REPLY_CONTROLS, TEXT_MAX, threadsTextLength, uniqueLinks } from './rules.js';

export type { ThreadsCredentials } from './auth.js';

const LIMITS = { text: { maxLength: TEXT_MAX, counting: 'characters' as const } };

const optionsSchema = Type.Object(
  {
    text: Type.Optional(Type.String({ description: 'Replaces the post text on Threads.' })),
    thread: Type.Optional(
      Type.Array(Type.Object({ text: Type.String({ minLength: 1 }) }, { additionalProperties: false }), {
        minItems: 1,
        maxItems: 25,
        description: 'Follow-up posts published in order, each a reply to the one before (text only).',
      }),
    ),
    reply_to: Type.Optional(Type.String({ pattern: '^[0-9]{1,30}$', description: 'Publishes the post as a reply to this Threads media id.' })),
    reply_control: Type.Optional(Type.Union(REPLY_CONTROLS.map((v) => Type.Literal(v)), { description: 'Who may reply to the post.' })),
    topic_tag: Type.Optional(Type.String({ minLength: 1, maxLength: 50, pattern: '^[^.&]+$', description: 'A topic for the post (1–50 characters, no "." or "&").' })),
  },
  { additionalProperties: false },
);

function textIssues(text: string, field: string): Issue[] {
  const issues: Issue[] = [];
  const n = threadsTextLength(text);
  if (n > TEXT_MAX) {
    issues.push({ code: 'TEXT_TOO_LONG', field, limit: TEXT_MAX, actual: n, message: `Threads allows ${TEXT_MAX} characters, counting an emoji as its UTF-8 bytes; this text has ${n}` });
  }
  const links = uniqueLinks(text).length;
  if (links > LINKS_MAX) {
    issues.push({ code: 'OPTION_INVALID', field, limit: LINKS_MAX, actual: links, message: `Threads allows at most ${LINKS_MAX} different links in a post; this text has ${links}` });
  }
  return issues;
}

function validate(draft: { text: string; options: Record<string, unknown>; media: { kind: 'image' | 'video' }[] }): Issue[] {
  const o = draft.options as ThreadsOptions;
  const issues = textIssues(draft.text, 'text');
  if (draft.text.trim().length === 0 && draft.media.length === 0) {
    issues.push({ code: 'TEXT_EMPTY', field: 'text', message: 'Threads needs text for a post without media' });
  }
  if (draft.media.length > CAROUSEL_MAX) {
    issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: CAROUSEL_MAX, actual: draft.media.length, message: `a Threads carousel takes at most ${CAROUSEL_MAX} images and videos` });
  }
  (o.thread ?? []).forEach((item, i) => {
    const field = `options.threads.thread[${i}].text`;
    if (typeof item?.text !== 'string') return; // the options schema reports it
    issues.push(...textIssues(item.text, field));
    if (item.text.trim().length === 0) issues.push({ code: 'TEXT_EMPTY', field, message: 'each post of a Threads thread needs text' });
  });
  return issues;
}

async function publish(ctx: ConnectorCtx<ThreadsCredentials>, draft: PublicationDraft): Promise<Result<Published | Pending, ConnectorError>> {
  return advance(ctx, draft, draft.checkpoint as ThreadsState | null);
}

async function checkStatus(ctx: ConnectorCtx<ThreadsCredentials>, draft: PublicationDraft, ref: Record<string, unknown>): Promise<Result<Published | Pending, ConnectorError>> {
  // The checkpoint is never older than the ref: both are saved before Pending, and only the checkpoint
  // moves on when a later check got further before failing.
  return advance(ctx, draft, (draft.checkpoint ?? ref) as ThreadsState);
}

/** Sandbox mode: a Threads user on the simulator with a long-lived token, as a connection would give. */
async function createSandboxAccount(baseUrl: string, username: string) {
  const name = username.toLowerCase().replace(/[^a-z0-9._]/g, '_').slice(0, 24) || `user_${randomBytes(3).toString('hex')}`;
  const res = await request(`${baseUrl.replace(/\/$/, '')}/_sim/users`, { method: 'POST', json: { username: name, name: username, scopes: THREADS_SCOPES }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${res.error.message}`);
  if (res.value.status !== 201) throw new Error(`sandbox simulator refused the account: ${res.value.text.slice(0, 200)}`);
  const u = res.value.body as { id: string; username: string; name: string; access_token: string; expires_in: number };
  const now = Date.now();
  const credentials: ThreadsCredentials = {
    accessToken: u.access_token,
    expiresAt: new Date(now + u.expires_in * 1000).toISOString(),
    scopes: THREADS_SCOPES,
    userId: u.id,
    username: u.username,
    issuedAt: new Date(now).toISOString(),
  };
  return { externalId: u.id, username: u.username, displayName: u.name, credentials };
}

export const threadsConnector: PlatformConnector<ThreadsCredentials> = {
  id: 'threads',
  limits: LIMITS,
  optionsSchema,
  validate,
  publish,
  checkStatus,
  findExisting,
  auth: threadsAuth,
  sandbox: { createAccount: createSandboxAccount },
};
