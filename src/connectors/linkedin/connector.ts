// LinkedIn (Posts API, versioned /rest; platforms.md §2): text posts, one image or 2–20 images (multiImage),
// one video (chunked upload, then processing), one PDF document, as a member or as an organization the
// member administers. The text goes as "little text" commentary (little-text.ts).
// Never twice: every file is uploaded and recorded (ctx.checkpoint) before the post is created, and the
// moment the create request leaves is recorded too, so a later attempt sends the very same request, reads
// the author's posts back (findExisting), and adopts the post LinkedIn names when it refuses a duplicate of
// one this publication already sent.
import { Type } from 'typebox';
import { err, ok, type Result } from '../../lib/result.js';
import { parseTokenAnswer } from '../oauth/client.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, Issue, Pending, PlatformConnector, PublicationDraft, Published } from '../types.js';
import { linkedinAuth, type LinkedInCredentials } from './auth.js';
import * as client from './client.js';
import { duplicateOf, isExpiredToken, mapLinkedInError } from './errors.js';
import { toCommentary, visibleLength } from './little-text.js';
import { awaitProcessing, mediaIssues, mediaKind, postContent, processingStatus, uploadFile, type LinkedInMediaKind, type WithToken } from './media.js';
import { findOwnPost } from './read-back.js';

export type { LinkedInCredentials } from './auth.js';

type Ctx = ConnectorCtx<LinkedInCredentials>;

/** Commentary: 3,000 characters (platforms.md: Postiz's figure, unconfirmed in LinkedIn's docs). */
const LIMITS = { text: { maxLength: 3000, counting: 'characters' as const } };

const optionsSchema = Type.Object(
  {
    text: Type.Optional(Type.String({ description: 'Replaces the post text on LinkedIn.' })),
    visibility: Type.Optional(
      Type.Union([Type.Literal('PUBLIC'), Type.Literal('CONNECTIONS'), Type.Literal('LOGGED_IN')], {
        description: 'Who sees the post (default PUBLIC). CONNECTIONS exists for members only.',
      }),
    ),
    document_title: Type.Optional(Type.String({ minLength: 1, maxLength: 400, description: 'Title of a PDF document post (required with a document).' })),
    video_title: Type.Optional(Type.String({ minLength: 1, maxLength: 400, description: 'Title shown with a video.' })),
    disable_reshare: Type.Optional(Type.Boolean({ description: 'Stops others from resharing the post.' })),
  },
  { additionalProperties: false },
);

function validate(draft: { text: string; options: Record<string, unknown>; media: { kind: string }[] }): Issue[] {
  const issues: Issue[] = [];
  const length = visibleLength(draft.text);
  if (length > LIMITS.text.maxLength) {
    issues.push({ code: 'TEXT_TOO_LONG', field: 'text', limit: LIMITS.text.maxLength, actual: length, message: `LinkedIn allows ${LIMITS.text.maxLength} characters; this text has ${length}` });
  }
  if (draft.text.trim().length === 0 && draft.media.length === 0) {
    issues.push({ code: 'TEXT_EMPTY', field: 'text', message: 'LinkedIn needs text when a post has no media' });
  }
  issues.push(...mediaIssues(draft.media));
  const hasDocument = draft.media.some((m) => mediaKind(m) === 'document');
  if (hasDocument && typeof draft.options['document_title'] !== 'string') {
    issues.push({ code: 'OPTION_INVALID', field: 'options.linkedin.document_title', message: 'a LinkedIn document post needs options.linkedin.document_title' });
  }
  if (!hasDocument && draft.options['document_title'] !== undefined) {
    issues.push({ code: 'OPTION_INVALID', field: 'options.linkedin.document_title', message: 'options.linkedin.document_title needs a PDF document in the post' });
  }
  if (draft.options['video_title'] !== undefined && !draft.media.some((m) => m.kind === 'video')) {
    issues.push({ code: 'OPTION_INVALID', field: 'options.linkedin.video_title', message: 'options.linkedin.video_title needs a video in the post' });
  }
  return issues;
}

/** What this publication saved along the way (ctx.checkpoint): uploaded files, and when the create request left. */
type Checkpoint = { uploaded: Record<string, string>; postSentAt: string | null };

function checkpointOf(draft: PublicationDraft): Checkpoint {
  const c = (draft.checkpoint ?? {}) as Partial<Checkpoint>;
  return { uploaded: { ...(c.uploaded ?? {}) }, postSentAt: c.postSentAt ?? null };
}

function published(ctx: Ctx, urn: string): Published {
  // Sandbox accounts get a page on the simulator; real ones LinkedIn's own.
  const web = ctx.sandbox ? ctx.baseUrl.replace(/\/$/, '') : 'https://www.linkedin.com';
  return { platformPostId: urn, url: `${web}/feed/update/${urn}` };
}

/** Runs a call with the access token, renewing it once (ctx.refresh) when LinkedIn says it expired. */
function withToken(ctx: Ctx): WithToken {
  return async (call) => {
    const first = await call(ctx.credentials.accessToken);
    // Without a refresh token (most LinkedIn apps) there is nothing to renew with: the 401 stands.
    if (!first.ok || !isExpiredToken(first.value) || !ctx.refresh || !ctx.credentials.refreshToken) return first;
    const renewed = await ctx.refresh();
    if (!renewed.ok) return err(renewed.error);
    return call(renewed.value.accessToken);
  };
}

type Prepared = { content?: Record<string, unknown>; processing?: { kind: 'video' | 'document'; urn: string } };

/** Uploads the files this publication has not uploaded yet (recording each), and builds the post's content. */
async function prepare(ctx: Ctx, draft: PublicationDraft, state: Checkpoint): Promise<Result<Prepared, ConnectorError>> {
  const files: { kind: LinkedInMediaKind; urn: string; alt?: string }[] = [];
  for (const [i, m] of draft.media.entries()) {
    let urn = state.uploaded[m.mediaId];
    if (!urn) {
      const up = await uploadFile(ctx, withToken(ctx), m, i, ctx.credentials.author);
      if (!up.ok) return up;
      urn = up.value;
      state.uploaded[m.mediaId] = urn;
      await ctx.checkpoint({ ...state });
    }
    files.push({ kind: mediaKind(m), urn, alt: m.alt });
  }
  const content = postContent(files, { document: draft.options['document_title'] as string | undefined, video: draft.options['video_title'] as string | undefined });
  const slow = files.find((f) => f.kind !== 'image') as { kind: 'video' | 'document'; urn: string } | undefined;
  return ok({ content, processing: slow ? { kind: slow.kind, urn: slow.urn } : undefined });
}

function pendingOn(p: { kind: 'video' | 'document'; urn: string }, content: Record<string, unknown> | undefined): Pending {
  return { pending: { ref: { kind: p.kind, urn: p.urn, content: content ?? null }, checkAfterMs: 10_000, note: `LinkedIn is processing the ${p.kind} ${p.urn}` } };
}

async function publish(ctx: Ctx, draft: PublicationDraft): Promise<Result<Published | Pending, ConnectorError>> {
  const state = checkpointOf(draft);
  const prepared = await prepare(ctx, draft, state);
  if (!prepared.ok) return prepared;
  const { content, processing } = prepared.value;
  if (processing) {
    const status = await awaitProcessing(ctx, withToken(ctx), processing.kind, processing.urn);
    if (!status.ok) return status;
    if (status.value === 'PROCESSING') return ok(pendingOn(processing, content));
  }
  return createPost(ctx, draft, state, content);
}

/** A video or document is still processing: check it (never upload again), and post once it is AVAILABLE. */
async function checkStatus(ctx: Ctx, draft: PublicationDraft, ref: Record<string, unknown>): Promise<Result<Published | Pending, ConnectorError>> {
  const p = { kind: ref['kind'] as 'video' | 'document', urn: String(ref['urn']) };
  const content = (ref['content'] ?? undefined) as Record<string, unknown> | undefined;
  const status = await processingStatus(ctx, withToken(ctx), p.kind, p.urn);
  if (!status.ok) return status;
  if (status.value === 'PROCESSING') return ok(pendingOn(p, content));
  return createPost(ctx, draft, checkpointOf(draft), content);
}

// 500, 502 and 504 come from behind LinkedIn's front door: the post may exist. A 503 was turned away before.
const MAYBE_DONE = new Set([500, 502, 504]);

async function createPost(ctx: Ctx, draft: PublicationDraft, state: Checkpoint, content: Record<string, unknown> | undefined): Promise<Result<Published, ConnectorError>> {
  const sentBefore = state.postSentAt !== null;
  const post: Record<string, unknown> = {
    author: ctx.credentials.author,
    commentary: toCommentary(draft.text),
    visibility: (draft.options['visibility'] as string | undefined) ?? 'PUBLIC',
    distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
    lifecycleState: 'PUBLISHED',
    isReshareDisabledByAuthor: draft.options['disable_reshare'] === true,
    ...(content ? { content } : {}),
  };
  // The first send is the one a read-back must look after (a later attempt keeps it).
  state.postSentAt ??= ctx.clock.now().toISOString();
  await ctx.checkpoint({ ...state });
  const sent = await withToken(ctx)((t) => client.createPost(ctx.baseUrl, t, post, ctx.signal));
  if (!sent.ok) return sent; // a network failure after sending is already outcome-unknown (http.ts)
  const res: HttpResponse = sent.value;
  if (res.status === 201) {
    const urn = res.headers.get('x-restli-id');
    if (urn) return ok(published(ctx, urn));
    return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'LinkedIn created the post but did not say its id (no x-restli-id)', retryable: true, outcomeUnknown: true });
  }
  // An earlier attempt of this publication sent this same post and its answer was lost: LinkedIn refuses
  // the copy and names the original, which is this publication's post.
  const original = duplicateOf(res);
  if (original && sentBefore) return ok(published(ctx, original));
  const e = mapLinkedInError(res, ctx.clock.now(), 'post');
  if (res.status >= 500) return err({ ...e, outcomeUnknown: MAYBE_DONE.has(res.status) });
  // A definite refusal: nothing was created, so a later read-back need not look for it.
  if (!sentBefore) {
    state.postSentAt = null;
    await ctx.checkpoint({ ...state });
  }
  return err(e);
}

async function findExisting(ctx: Ctx, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const found = await findOwnPost(ctx, withToken(ctx), draft.text, checkpointOf(draft).postSentAt);
  if (!found.ok) return found;
  return ok(found.value ? published(ctx, found.value) : null);
}

async function createSandboxAccount(baseUrl: string, username: string) {
  const got = await client.sandboxMember(baseUrl, username, AbortSignal.timeout(10_000));
  if (!got.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${got.error.message}`);
  if (got.value.status !== 201) throw new Error(`sandbox simulator refused the account: ${got.value.text.slice(0, 200)}`);
  const body = got.value.body as { sub: string; name: string; token: Record<string, unknown> };
  const { raw: _raw, ...tokens } = parseTokenAnswer(body.token, new Date());
  const author = `urn:li:person:${body.sub}`;
  return { externalId: author, username: body.name, displayName: body.name, credentials: { ...tokens, author } };
}

export const linkedinConnector: PlatformConnector<LinkedInCredentials> = {
  id: 'linkedin',
  limits: LIMITS,
  optionsSchema,
  validate,
  publish,
  checkStatus,
  findExisting,
  auth: linkedinAuth,
  sandbox: { createAccount: createSandboxAccount },
};
