// X (API v2): posts with text counted X's weighted way, up to 4 images or a video or a GIF (media.ts:
// chunked upload, processing, alt text), polls, quote posts, replies, and threads as reply chains with a
// checkpoint after each post (post.ts). X has no idempotency key: a second attempt learns what the first
// published from the account's timeline (readback.ts). platforms.md §1.
import { Type } from 'typebox';
import { err, ok, type Result } from '../../lib/result.js';
import { authorizeUrl, exchangeCode, newPkce } from '../oauth/client.js';
import { SANDBOX_APP } from '../auth-types.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, Issue, Pending, PlatformConnector, PublicationDraft, Published } from '../types.js';
import { xAuth, type XCredentials } from './auth.js';
import type { TweetBody } from './client.js';
import { INLINE_PROCESSING_WAIT_MS, awaitProcessing, mediaIssues, uploadAll } from './media.js';
import { postChain, readCheckpoint, type ChainItem, type XCheckpoint } from './post.js';
import { DEFAULT_LOOKBACK_MS, findTweet } from './readback.js';
import { X_TEXT_LIMIT, weightedLength } from './text.js';
import { request } from '../http.js';
import { systemClock } from '../../lib/clock.js';

export type { XCredentials } from './auth.js';

// X counts weighted characters (text.ts, with twitter-text); validate() below does the counting.
const LIMITS = { text: { maxLength: X_TEXT_LIMIT, counting: 'weighted' as const } };

const POST_REF = '^([0-9]{1,19}|https://(www\\.)?(x|twitter)\\.com/[A-Za-z0-9_]{1,15}/status/[0-9]{1,19}([/?#].*)?)$';

const optionsSchema = Type.Object(
  {
    text: Type.Optional(Type.String({ description: 'Replaces the post text on X.' })),
    reply_to: Type.Optional(Type.String({ pattern: POST_REF, description: 'Makes the post a reply to this X post (id or URL).' })),
    quote_tweet_id: Type.Optional(Type.String({ pattern: POST_REF, description: 'Quotes this X post (id or URL).' })),
    poll: Type.Optional(
      Type.Object(
        {
          options: Type.Array(Type.String({ minLength: 1, maxLength: 25 }), { minItems: 2, maxItems: 4 }),
          duration_minutes: Type.Integer({ minimum: 5, maximum: 10080 }),
        },
        { additionalProperties: false, description: 'A poll of 2–4 options (25 characters each), open 5 minutes to 7 days.' },
      ),
    ),
    reply_settings: Type.Optional(Type.Union([Type.Literal('following'), Type.Literal('mentionedUsers'), Type.Literal('subscribers'), Type.Literal('verified')], { description: 'Who may reply.' })),
    thread: Type.Optional(
      Type.Array(Type.Object({ text: Type.String({ minLength: 1 }) }, { additionalProperties: false }), {
        maxItems: 25,
        description: 'Follow-up posts published in order as replies after the main post (text only).',
      }),
    ),
  },
  { additionalProperties: false },
);

type XOptions = {
  reply_to?: string;
  quote_tweet_id?: string;
  poll?: { options: string[]; duration_minutes: number };
  reply_settings?: string;
  thread?: { text: string }[];
};

/** A post id from an id or a post URL. */
export function postIdOf(ref: string): string {
  return /(\d{1,19})(?:[/?#].*)?$/.exec(ref.replace(/^.*\/status\//, ''))?.[1] ?? ref;
}

function textIssue(text: string, field: string): Issue | undefined {
  const n = weightedLength(text);
  if (n <= X_TEXT_LIMIT) return undefined;
  return { code: 'TEXT_TOO_LONG', field, limit: X_TEXT_LIMIT, actual: n, message: `X allows ${X_TEXT_LIMIT} weighted characters (links count 23, emoji and CJK 2); this text counts ${n}` };
}

function validate(draft: { text: string; options: Record<string, unknown>; media: { kind: 'image' | 'video' }[] }): Issue[] {
  const o = draft.options as XOptions;
  const issues: Issue[] = [];
  const long = textIssue(draft.text, 'text');
  if (long) issues.push(long);
  if (draft.text.trim().length === 0 && draft.media.length === 0) {
    issues.push({ code: 'TEXT_EMPTY', field: 'text', message: o.poll ? 'X needs text (the question) for a poll' : 'X needs text when a post has no media' });
  }
  issues.push(...mediaIssues(draft.media));
  if (o.poll && draft.media.length > 0) issues.push({ code: 'OPTION_INVALID', field: 'options.x.poll', message: 'X does not take a poll and media in the same post' });
  if (o.poll && o.quote_tweet_id) issues.push({ code: 'OPTION_INVALID', field: 'options.x.poll', message: 'X does not take a poll in a quote post' });
  for (const [i, item] of (o.thread ?? []).entries()) {
    const issue = textIssue(item.text, `options.x.thread[${i}].text`);
    if (issue) issues.push(issue);
  }
  return issues;
}

/** Runs `call` with the access token; on a 401 asks ctx.refresh once (it saves the rotated tokens) and retries. */
function tokenRunner(ctx: ConnectorCtx<XCredentials>) {
  return async (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>): Promise<Result<HttpResponse, ConnectorError>> => {
    const first = await call(ctx.credentials.accessToken);
    if (!first.ok || first.value.status !== 401 || !ctx.refresh) return first;
    const renewed = await ctx.refresh();
    if (!renewed.ok) return renewed;
    return call(renewed.value.accessToken);
  };
}

function published(ctx: ConnectorCtx<XCredentials>, id: string): Published {
  // Sandbox accounts get a page on the simulator; real ones their x.com page.
  const web = ctx.sandbox ? ctx.baseUrl.replace(/\/$/, '') : 'https://x.com';
  return { platformPostId: id, url: `${web}/${ctx.credentials.username}/status/${id}` };
}

/** The main post and the thread's follow-ups, as request bodies and as what read-back compares. */
function chainOf(draft: PublicationDraft, mediaIds: string[]): ChainItem[] {
  const o = draft.options as XOptions;
  const first: TweetBody = { text: draft.text };
  if (mediaIds.length > 0) first.media = { media_ids: mediaIds };
  if (o.poll) first.poll = { options: o.poll.options, duration_minutes: o.poll.duration_minutes };
  const quoteOf = o.quote_tweet_id ? postIdOf(o.quote_tweet_id) : undefined;
  const replyTo = o.reply_to ? postIdOf(o.reply_to) : undefined;
  if (quoteOf) first.quote_tweet_id = quoteOf;
  if (replyTo) first.reply = { in_reply_to_tweet_id: replyTo };
  if (o.reply_settings) first.reply_settings = o.reply_settings;
  const chain: ChainItem[] = [{ body: first, wanted: { text: draft.text, replyTo, quoteOf } }];
  for (const item of o.thread ?? []) chain.push({ body: { text: item.text }, wanted: { text: item.text } });
  return chain;
}

async function publish(ctx: ConnectorCtx<XCredentials>, draft: PublicationDraft): Promise<Result<Published | Pending, ConnectorError>> {
  const cp = readCheckpoint(draft.checkpoint);
  // Sending has begun in an earlier attempt: the media (if any) were ready then; continue the chain.
  if (cp.since !== undefined || cp.posted.length > 0) return postAll(ctx, draft, cp);
  if (draft.media.length > 0) {
    const ready = await prepareMedia(ctx, draft, cp);
    if (!ready.ok) return ready;
    if (ready.value) return ok(ready.value);
  }
  return postAll(ctx, draft, cp);
}

/**
 * Uploads the files (or takes the ones an earlier attempt uploaded, while X still has them) and waits a
 * little for X to process them. Answers Pending when processing takes longer, null when the media are ready.
 */
async function prepareMedia(ctx: ConnectorCtx<XCredentials>, draft: PublicationDraft, cp: XCheckpoint): Promise<Result<Pending | null, ConnectorError>> {
  const withToken = tokenRunner(ctx);
  const m = cp.media;
  if (m && m.ids.length === draft.media.length && Date.parse(m.expiresAt) - ctx.clock.now().getTime() > 10 * 60_000) {
    const waited = await awaitProcessing(ctx, m.ids, withToken, INLINE_PROCESSING_WAIT_MS, 0);
    if (waited.ok) return ok(waited.value ? pending(cp, waited.value.processing) : null);
    // X no longer knows them (expired or removed early): upload the files again below.
    if (!(waited.error.code === 'MEDIA_REJECTED' && ['resource-not-found', 'invalid-request'].includes(waited.error.platformCode ?? ''))) return waited;
  }
  const up = await uploadAll(ctx, draft.media, withToken);
  if (!up.ok) return up;
  cp.media = { ids: up.value.ids, expiresAt: up.value.expiresAt };
  // Saved before waiting: a retry or checkStatus uses these ids and never uploads the files again.
  await ctx.checkpoint(cp);
  const waited = await awaitProcessing(ctx, up.value.processing, withToken, INLINE_PROCESSING_WAIT_MS, up.value.checkAfterMs);
  if (!waited.ok) return waited;
  return ok(waited.value ? pending(cp, waited.value.processing) : null);
}

function pending(cp: XCheckpoint, p: { checkAfterMs: number; progress?: number }): Pending {
  const note = `X is processing the media${p.progress !== undefined ? ` (${p.progress}%)` : ''}`;
  return { pending: { ref: { media: cp.media!.ids }, checkAfterMs: p.checkAfterMs, note } };
}

/** The media were processing: poll once more (no upload ever happens here), then post. */
async function checkStatus(ctx: ConnectorCtx<XCredentials>, draft: PublicationDraft, ref: Record<string, unknown>): Promise<Result<Published | Pending, ConnectorError>> {
  const cp = readCheckpoint(draft.checkpoint);
  if (cp.since !== undefined || cp.posted.length > 0) return postAll(ctx, draft, cp);
  const ids = Array.isArray(ref['media']) ? (ref['media'] as string[]) : cp.media?.ids;
  if (!ids || ids.length !== draft.media.length) {
    return err({ category: 'permanent', code: 'CONNECTOR_FAILED', message: 'the processing media of this publication are not on record', retryable: false });
  }
  cp.media ??= { ids, expiresAt: new Date(ctx.clock.now().getTime() + 3600_000).toISOString() };
  const waited = await awaitProcessing(ctx, ids, tokenRunner(ctx), INLINE_PROCESSING_WAIT_MS, 0);
  if (!waited.ok) return waited;
  if (waited.value) return ok(pending(cp, waited.value.processing));
  return postAll(ctx, draft, cp);
}

async function postAll(ctx: ConnectorCtx<XCredentials>, draft: PublicationDraft, cp: XCheckpoint): Promise<Result<Published, ConnectorError>> {
  const posted = await postChain(ctx, chainOf(draft, cp.media?.ids ?? []), cp, tokenRunner(ctx));
  if (posted.ok) return ok(published(ctx, posted.value[0]!));
  // X refused the media ids (expired since they were uploaded, or never usable): nothing was posted, so
  // forget them and let the next attempt upload the files again.
  if (posted.error.code === 'MEDIA_REJECTED' && cp.posted.length === 0 && draft.media.length > 0) {
    await ctx.checkpoint({ posted: [] });
    return err({ ...posted.error, retryable: true });
  }
  return posted;
}

/**
 * Did an earlier attempt publish? A finished chain is on record in the checkpoint; a single post is looked
 * for in the account's timeline since the attempt began (readback.ts explains the limits); a partial chain
 * is left to publish, which reads back the one post that may be in flight and goes on from there.
 */
async function findExisting(ctx: ConnectorCtx<XCredentials>, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const cp = readCheckpoint(draft.checkpoint);
  const chain = chainOf(draft, []);
  if (cp.posted.length >= chain.length) return ok(published(ctx, cp.posted[0]!));
  // Attempts record when sending began (post.ts): a checkpoint without it means nothing was ever sent.
  if (draft.checkpoint && cp.since === undefined) return ok(null);
  if (chain.length > 1) return ok(null);
  const since = cp.since ? new Date(cp.since) : new Date(ctx.clock.now().getTime() - DEFAULT_LOOKBACK_MS);
  const found = await findTweet(ctx, chain[0]!.wanted, since, tokenRunner(ctx));
  if (!found.ok) return found;
  return ok(found.value ? published(ctx, found.value) : null);
}

/**
 * A sandbox account goes through the real flow against the simulator: the consent form (as the user's
 * browser would post it), the code exchange with PKCE and the sandbox app, then GET /2/users/me.
 */
async function createSandboxAccount(baseUrl: string, username: string) {
  const signal = AbortSignal.timeout(10_000);
  const pkce = newPkce();
  const redirectUri = 'http://127.0.0.1/sandbox-callback';
  const authorize = new URL(authorizeUrl(xAuth, { sandboxBase: baseUrl }, { app: SANDBOX_APP, redirectUri, state: 'sandbox', codeChallenge: pkce.challenge }));
  const form = new URLSearchParams(authorize.searchParams);
  form.set('username', username.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 15) || 'sandbox');
  form.set('decision', 'allow');
  const consent = await request(`${authorize.origin}${authorize.pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), signal });
  if (!consent.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${consent.error.message}`);
  const code = new URL(consent.value.headers.get('location') ?? 'http://invalid/').searchParams.get('code');
  if (!code) throw new Error(`sandbox simulator refused the sign-in: ${consent.value.status} ${consent.value.text.slice(0, 200)}`);
  const tokens = await exchangeCode(xAuth, { sandboxBase: baseUrl }, SANDBOX_APP, { code, redirectUri, codeVerifier: pkce.verifier }, new Date(), signal);
  if (!tokens.ok) throw new Error(`sandbox token exchange failed: ${tokens.error.message}`);
  const found = await xAuth.accounts({ baseUrl, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: { info() {}, warn() {}, error() {} }, signal }, tokens.value);
  if (!found.ok) throw new Error(`sandbox account lookup failed: ${found.error.message}`);
  const a = found.value[0]!;
  return { externalId: a.externalId, username: a.username, displayName: username, credentials: a.credentials };
}

export const xConnector: PlatformConnector<XCredentials> = {
  id: 'x',
  limits: LIMITS,
  optionsSchema,
  validate,
  publish,
  checkStatus,
  findExisting,
  auth: xAuth,
  sandbox: { createAccount: createSandboxAccount },
};
