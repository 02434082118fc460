// Bluesky (AT Protocol): posts with facets (links, mentions, hashtags in UTF-8 byte offsets), images or a
// video (media.ts) or a link card (linkcard.ts), threads and replies (publish.ts, replies.ts); a
// deterministic record key per post so read-back knows where to look; session refresh with rotation
// (session.ts); sign-in with an app password (auth.ts). The limits are the real ones (platforms.md §9).
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import { graphemeCount, utf8Bytes } from '../../domain/text.js';
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorCtx, ConnectorError, Issue, PlatformConnector, PublicationDraft, Published } from '../types.js';
import { blueskyAuth } from './auth.js';
import * as client from './client.js';
import { mapXrpcError, xrpcErrorName } from './errors.js';
import { mediaIssues } from './media.js';
import { postUrl, publishPosts, threadTexts, type BlueskyOptions } from './publish.js';
import { parseReplyTarget, POST_COLLECTION } from './replies.js';
import { apiBase, type BlueskyCredentials } from './session.js';
import { tidForPublication } from './tid.js';

export type { BlueskyCredentials } from './session.js';

const LIMITS = { text: { maxLength: 300, counting: 'graphemes' as const, maxBytes: 3000 } };
export const THREAD_MAX_ITEMS = 25;

const httpUrl = (description: string) => Type.String({ pattern: '^https?://', maxLength: 2000, description });

const optionsSchema = Type.Object(
  {
    text: Type.Optional(Type.String({ description: 'Replaces the post text on Bluesky.' })),
    langs: Type.Optional(
      Type.Array(Type.String({ pattern: '^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$' }), { maxItems: 3, description: 'BCP-47 language tags.' }),
    ),
    thread: Type.Optional(
      Type.Array(Type.Object({ text: Type.String() }, { additionalProperties: false }), {
        minItems: 1,
        maxItems: THREAD_MAX_ITEMS,
        description: 'Follow-up posts published as replies in order after the main post (text only; media stays on the first post).',
      }),
    ),
    reply_to: Type.Optional(Type.String({ maxLength: 1000, description: 'Publishes the post as a reply to this Bluesky post: its at:// URI or its bsky.app URL.' })),
    link_card: Type.Optional(
      Type.Union([
        Type.Literal(false, { description: 'No link card, even when the text has a link.' }),
        Type.Object(
          {
            uri: httpUrl('The page the card opens.'),
            title: Type.Optional(Type.String({ maxLength: 300 })),
            description: Type.Optional(Type.String({ maxLength: 1000 })),
            thumb_url: Type.Optional(httpUrl('An image for the card, fetched through the SSRF guard and shrunk under 1 MB.')),
          },
          { additionalProperties: false, description: 'The card shown for a post without media. Without title and description they are read from the page (OpenGraph).' },
        ),
      ]),
    ),
  },
  { additionalProperties: false },
);

function textIssues(text: string, field: string): Issue[] {
  const issues: Issue[] = [];
  const graphemes = graphemeCount(text);
  if (graphemes > LIMITS.text.maxLength) {
    issues.push({ code: 'TEXT_TOO_LONG', field, limit: LIMITS.text.maxLength, actual: graphemes, message: `Bluesky allows ${LIMITS.text.maxLength} graphemes; ${field} has ${graphemes}` });
  }
  const bytes = utf8Bytes(text);
  if (bytes > LIMITS.text.maxBytes) {
    issues.push({ code: 'TEXT_TOO_LONG', field, limit: LIMITS.text.maxBytes, actual: bytes, message: `Bluesky allows ${LIMITS.text.maxBytes} bytes of UTF-8; ${field} has ${bytes}` });
  }
  return issues;
}

function validate(draft: { text: string; options: Record<string, unknown>; media: { kind: 'image' | 'video' }[] }): Issue[] {
  const options = draft.options as BlueskyOptions;
  const issues = textIssues(draft.text, 'text');
  if (draft.text.trim().length === 0 && draft.media.length === 0) {
    issues.push({ code: 'TEXT_EMPTY', field: 'text', message: 'Bluesky needs text when a post has no media' });
  }
  for (const [i, item] of (options.thread ?? []).entries()) {
    const field = `options.bluesky.thread[${i}].text`;
    issues.push(...textIssues(item.text, field));
    if (item.text.trim().length === 0) issues.push({ code: 'TEXT_EMPTY', field, message: `a post of a thread needs text (${field} is empty)` });
  }
  if (options.reply_to !== undefined && !parseReplyTarget(options.reply_to)) {
    issues.push({ code: 'OPTION_INVALID', field: 'options.bluesky.reply_to', message: 'reply_to takes a post\'s at://…/app.bsky.feed.post/… URI or its https://bsky.app/profile/…/post/… URL' });
  }
  if (options.link_card && draft.media.length > 0) {
    issues.push({ code: 'OPTION_INVALID', field: 'options.bluesky.link_card', message: 'a Bluesky post has one embed: a link card cannot go with images or a video' });
  }
  issues.push(...mediaIssues(draft.media));
  return issues;
}

function published(ctx: ConnectorCtx<BlueskyCredentials>, rkey: string, uri: string): Published {
  return { platformPostId: uri, url: postUrl(ctx, rkey) };
}

/**
 * An earlier attempt published when its last post exists (posts go out in order): a thread cut short
 * reads as not published, so the next attempt continues it (publish.ts) instead of stopping half-way.
 */
async function findExisting(ctx: ConnectorCtx<BlueskyCredentials>, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const last = threadTexts(draft).length - 1;
  const got = await client.getRecord(apiBase(ctx), ctx.credentials.did, POST_COLLECTION, tidForPublication(draft.publicationId, last), ctx.signal);
  if (!got.ok) return got;
  const res = got.value;
  const rkey = tidForPublication(draft.publicationId);
  if (res.status === 200) {
    const uri = last === 0 ? (res.body as { uri: string }).uri : `at://${ctx.credentials.did}/${POST_COLLECTION}/${rkey}`;
    return ok(published(ctx, rkey, uri));
  }
  if (res.status === 400 && xrpcErrorName(res) === 'RecordNotFound') return ok(null);
  return err(mapXrpcError(res, ctx.clock.now()));
}

async function createSandboxAccount(baseUrl: string, username: string) {
  const signal = AbortSignal.timeout(10_000);
  const password = randomBytes(18).toString('base64url');
  let handle = `${username.toLowerCase()}.sandbox.test`;
  let res = await client.createAccount(baseUrl, handle, password, signal);
  if (res.ok && xrpcErrorName(res.value) === 'HandleNotAvailable') {
    handle = `${username.toLowerCase()}-${randomBytes(3).toString('hex')}.sandbox.test`;
    res = await client.createAccount(baseUrl, handle, password, signal);
  }
  if (!res.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${res.error.message}`);
  if (res.value.status !== 200) throw new Error(`sandbox simulator refused the account: ${res.value.text.slice(0, 200)}`);
  const session = res.value.body as client.BlueskySession;
  return {
    externalId: session.did,
    username: session.handle,
    displayName: username,
    credentials: { did: session.did, handle: session.handle, accessJwt: session.accessJwt, refreshJwt: session.refreshJwt, appPassword: password },
  };
}

export const blueskyConnector: PlatformConnector<BlueskyCredentials> = {
  id: 'bluesky',
  limits: LIMITS,
  optionsSchema,
  validate,
  publish: publishPosts,
  findExisting,
  auth: blueskyAuth,
  sandbox: { createAccount: createSandboxAccount },
};
