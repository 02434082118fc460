// Reddit (platforms.md §10): text (self) posts, link posts and single-image posts to one subreddit, with a
// title, flair, NSFW and spoiler marks. Before anything is sent the subreddit's settings and post
// requirements are read (rules.ts), so a post a subreddit would refuse fails with the rule's name instead of
// Reddit's bare code. Reddit answers HTTP 200 even when it refuses (json.errors, errors.ts). An image post's
// answer has no id: the post is found among the account's submissions (readback.ts), and while Reddit has
// not listed it yet the publication is Pending and checkStatus looks again. Not done: galleries
// (/api/submit_gallery_post.json), videos (a second lease plus a poster image), polls, crossposts.
import { Type } from 'typebox';
import { systemClock } from '../../lib/clock.js';
import { err, ok, type Result } from '../../lib/result.js';
import { SANDBOX_APP } from '../auth-types.js';
import { request, type HttpResponse } from '../http.js';
import { authorizeUrl, exchangeCode } from '../oauth/client.js';
import { subredditLookup } from './lookup.js';
import type { ConnectorCtx, ConnectorError, Issue, Pending, PlatformConnector, PublicationDraft, Published } from '../types.js';
import { redditAuth, type RedditCredentials } from './auth.js';
import * as client from './client.js';
import { mapRedditHttp, mapSubmitErrors, type SubmitErrorTuple } from './errors.js';
import { uploadImage } from './media.js';
import { findSubmission, type Found, type Wanted } from './readback.js';
import { TITLE_MAX, checkAbout, checkFlair, checkRequirements, titleLength, type About, type Flair, type Requirements, type Submission } from './rules.js';

export type { RedditCredentials } from './auth.js';

/** Reddit's limit on a text post's body (markdown), in characters. */
export const BODY_MAX = 40_000;
const LIMITS = { text: { maxLength: BODY_MAX, counting: 'characters' as const } };
/** How long publish looks for an image post Reddit has not listed yet before answering Pending. */
const INLINE_LOOKS = 3;
const LOOK_EVERY_MS = 1_000;
const DEFAULT_LOOKBACK_MS = 24 * 3600_000;

const optionsSchema = Type.Object(
  {
    subreddit: Type.String({ pattern: '^(/?r/)?[A-Za-z0-9][A-Za-z0-9_]{1,20}$', description: 'The subreddit to post to, e.g. "test" or "r/test".' }),
    title: Type.String({ minLength: 1, description: 'The post title (at most 300 characters; a subreddit may ask for less).' }),
    text: Type.Optional(Type.String({ description: 'Replaces the post text on Reddit (the body of a text post). Link and image posts have no body: set it to "" for them.' })),
    url: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2000, description: 'Makes it a link post to this URL.' })),
    flair_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Post flair template id (see the subreddit\'s flairs).' })),
    flair_text: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Text of an editable flair (with flair_id).' })),
    nsfw: Type.Optional(Type.Boolean({ description: 'Marks the post NSFW.' })),
    spoiler: Type.Optional(Type.Boolean({ description: 'Marks the post as a spoiler.' })),
    send_replies: Type.Optional(Type.Boolean({ description: 'Sends replies to the account\'s inbox (Reddit\'s default: true).' })),
    resubmit: Type.Optional(Type.Boolean({ description: 'Posts a link even if it was already submitted to the subreddit (otherwise refused as a duplicate).' })),
  },
  { additionalProperties: false },
);

type RedditOptions = { subreddit?: string; title?: string; url?: string; flair_id?: string; flair_text?: string; nsfw?: boolean; spoiler?: boolean; send_replies?: boolean; resubmit?: boolean };

const subredditOf = (s: string) => s.replace(/^\/?r\//, '');

function validate(draft: { text: string; options: Record<string, unknown>; media: { kind: 'image' | 'video' }[] }): Issue[] {
  const o = draft.options as RedditOptions;
  const issues: Issue[] = [];
  if (!o.subreddit) issues.push({ code: 'OPTION_INVALID', field: 'options.reddit.subreddit', message: 'Reddit needs the subreddit to post to (options.reddit.subreddit)' });
  if (!o.title || o.title.trim() === '') issues.push({ code: 'OPTION_INVALID', field: 'options.reddit.title', message: 'Reddit needs a title for every post (options.reddit.title)' });
  else if (titleLength(o.title) > TITLE_MAX) issues.push({ code: 'TEXT_TOO_LONG', field: 'options.reddit.title', limit: TITLE_MAX, actual: titleLength(o.title), message: `Reddit titles are at most ${TITLE_MAX} characters; this one has ${titleLength(o.title)}` });
  const videos = draft.media.filter((m) => m.kind === 'video').length;
  if (videos > 0) issues.push({ code: 'MEDIA_UNSUPPORTED_TYPE', field: 'media', message: 'Crier publishes text, link and single-image posts to Reddit, not videos' });
  else if (draft.media.length > 1) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: 1, actual: draft.media.length, message: 'Crier publishes one image per Reddit post (galleries are not supported yet)' });
  if (o.url && draft.media.length > 0) issues.push({ code: 'OPTION_INVALID', field: 'options.reddit.url', message: 'a Reddit post is a link post or an image post, not both' });
  if ((o.url || draft.media.length > 0) && draft.text.trim() !== '') {
    issues.push({ code: 'OPTION_INVALID', field: 'options.reddit.text', message: 'Reddit link and image posts have no body text: set options.reddit.text to "" (or post a text post without url and media)' });
  }
  const n = [...draft.text].length;
  if (n > BODY_MAX) issues.push({ code: 'TEXT_TOO_LONG', field: 'text', limit: BODY_MAX, actual: n, message: `a Reddit text post's body is at most ${BODY_MAX} characters; this one has ${n}` });
  if (o.flair_text && !o.flair_id) issues.push({ code: 'OPTION_INVALID', field: 'options.reddit.flair_text', message: 'flair_text sets the text of an editable flair: give its flair_id too' });
  return issues;
}

function submissionOf(draft: PublicationDraft): Submission {
  const o = draft.options as RedditOptions;
  const kind = draft.media.length > 0 ? 'image' : o.url ? 'link' : 'self';
  return { kind, subreddit: subredditOf(o.subreddit ?? ''), title: o.title ?? '', text: kind === 'self' ? draft.text : '', url: o.url, flairId: o.flair_id };
}

const wantedOf = (s: Submission): Wanted => ({ subreddit: s.subreddit, title: s.title, kind: s.kind, text: s.text, url: s.url });

type WithToken = (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;

/** Runs `call` with the access token; on a 401 asks ctx.refresh once (it saves the new tokens) and retries. */
function tokenRunner(ctx: ConnectorCtx<RedditCredentials>): WithToken {
  return async (call) => {
    const first = await call(ctx.credentials.accessToken);
    if (!first.ok || first.value.status !== 401 || !ctx.refresh) return first;
    const renewed = await ctx.refresh();
    if (!renewed.ok) return renewed;
    return call(renewed.value.accessToken);
  };
}

const web = (ctx: ConnectorCtx<RedditCredentials>) => (ctx.sandbox ? ctx.baseUrl.replace(/\/$/, '') : 'https://www.reddit.com');
const publishedFrom = (ctx: ConnectorCtx<RedditCredentials>, f: Found): Published => ({ platformPostId: f.id, url: `${web(ctx)}${f.permalink}` });

/** Reads the subreddit's settings, post requirements and (when a flair is chosen) its flairs; null = go ahead. */
async function checkSubreddit(ctx: ConnectorCtx<RedditCredentials>, s: Submission, withToken: WithToken): Promise<ConnectorError | null> {
  const user = ctx.credentials.username;
  const read = async (what: string, call: (t: string) => ReturnType<typeof client.about>): Promise<{ body: unknown } | ConnectorError> => {
    const got = await withToken(call);
    if (!got.ok) return { ...got.error, outcomeUnknown: false };
    if (got.value.status === 404 && what.endsWith('about')) {
      return { category: 'permanent', code: 'PLATFORM_ERROR', platformCode: 'SUBREDDIT_NOEXIST', message: `r/${s.subreddit} does not exist (or was banned)`, retryable: false };
    }
    if (got.value.status !== 200) return mapRedditHttp(got.value, ctx.clock.now(), `r/${s.subreddit} ${what}`);
    return { body: got.value.body };
  };
  const about = await read('about', (t) => client.about(ctx.baseUrl, t, user, s.subreddit, ctx.signal));
  if (!('body' in about)) return about;
  const refused = checkAbout(((about.body as { data?: About })?.data ?? {}) as About, s);
  if (refused) return refused;
  const req = await read('post requirements', (t) => client.postRequirements(ctx.baseUrl, t, user, s.subreddit, ctx.signal));
  if (!('body' in req)) return req;
  const broken = checkRequirements((req.body ?? {}) as Requirements, s);
  if (broken) return broken;
  if (!s.flairId) return null;
  const flairs = await read('post flairs', (t) => client.linkFlairs(ctx.baseUrl, t, user, s.subreddit, ctx.signal));
  if (!('body' in flairs)) return flairs;
  return checkFlair(Array.isArray(flairs.body) ? (flairs.body as Flair[]) : [], s);
}

function formOf(draft: PublicationDraft, s: Submission, mediaUrl: string | undefined): Record<string, string> {
  const o = draft.options as RedditOptions;
  const form: Record<string, string> = { api_type: 'json', sr: s.subreddit, title: s.title, kind: s.kind };
  if (s.kind === 'self') form['text'] = s.text;
  if (s.kind === 'link') form['url'] = s.url!;
  if (s.kind === 'image') form['url'] = mediaUrl!;
  if (o.flair_id) form['flair_id'] = o.flair_id;
  if (o.flair_text) form['flair_text'] = o.flair_text;
  if (o.nsfw) form['nsfw'] = 'true';
  if (o.spoiler) form['spoiler'] = 'true';
  if (o.resubmit) form['resubmit'] = 'true';
  if (o.send_replies !== undefined) form['sendreplies'] = String(o.send_replies);
  return form;
}

type SubmitAnswer = { json?: { errors?: SubmitErrorTuple[]; ratelimit?: number; data?: { id?: string; name?: string; url?: string; user_submitted_page?: string } } };

async function publish(ctx: ConnectorCtx<RedditCredentials>, draft: PublicationDraft): Promise<Result<Published | Pending, ConnectorError>> {
  const s = submissionOf(draft);
  const withToken = tokenRunner(ctx);
  // An image post that Reddit accepted in an earlier attempt, not listed yet: keep looking, never resend.
  const cp = draft.checkpoint as { since?: string; accepted?: boolean } | null;
  if (cp?.accepted && cp.since) return locate(ctx, s, cp.since, withToken, 0);
  const refused = await checkSubreddit(ctx, s, withToken);
  if (refused) return err(refused);
  let mediaUrl: string | undefined;
  if (s.kind === 'image') {
    const up = await uploadImage(ctx, draft.media[0]!, withToken);
    if (!up.ok) return up;
    mediaUrl = up.value;
  }
  const since = ctx.clock.now().toISOString();
  await ctx.checkpoint({ since });
  const sent = await withToken((t) => client.submit(ctx.baseUrl, t, ctx.credentials.username, formOf(draft, s, mediaUrl), ctx.signal));
  if (!sent.ok) return sent;
  const res = sent.value;
  if (res.status !== 200) return err(mapRedditHttp(res, ctx.clock.now(), 'the submission'));
  const answer = (res.body ?? {}) as SubmitAnswer;
  if (!answer.json) {
    return err({ category: 'permanent', code: 'PLATFORM_ERROR', message: `Reddit answered the submission in an unexpected form (${res.text.slice(0, 200)})`, retryable: false, outcomeUnknown: true });
  }
  if (answer.json.errors && answer.json.errors.length > 0) return err(mapSubmitErrors(answer.json.errors, answer.json.ratelimit));
  const data = answer.json.data ?? {};
  const id = data.id ?? data.name?.replace(/^t3_/, '');
  if (id) {
    const url = ctx.sandbox || !data.url?.startsWith('https://') ? `${web(ctx)}/comments/${id}/` : data.url;
    return ok({ platformPostId: id, url });
  }
  // No id: an image post (Reddit's answer names only a websocket and the user's page). It exists now.
  await ctx.checkpoint({ since, accepted: true });
  return locate(ctx, s, since, withToken, INLINE_LOOKS);
}

/** Looks for an accepted post among the account's submissions; Pending while Reddit has not listed it. */
async function locate(ctx: ConnectorCtx<RedditCredentials>, s: Submission, since: string, withToken: WithToken, looks: number): Promise<Result<Published | Pending, ConnectorError>> {
  for (let i = 0; ; i++) {
    const found = await findSubmission(ctx, wantedOf(s), new Date(since), withToken);
    if (!found.ok) return found;
    if (found.value) return ok(publishedFrom(ctx, found.value));
    if (i >= looks - 1) break;
    await new Promise((r) => setTimeout(r, LOOK_EVERY_MS));
  }
  return ok({ pending: { ref: { since, accepted: true }, checkAfterMs: 5_000, note: 'Reddit accepted the image post and is processing it' } });
}

async function checkStatus(ctx: ConnectorCtx<RedditCredentials>, draft: PublicationDraft, ref: Record<string, unknown>): Promise<Result<Published | Pending, ConnectorError>> {
  const since = typeof ref['since'] === 'string' ? ref['since'] : (draft.checkpoint?.['since'] as string | undefined);
  if (!since) return err({ category: 'permanent', code: 'CONNECTOR_FAILED', message: 'the accepted Reddit post of this publication is not on record', retryable: false });
  return locate(ctx, submissionOf(draft), since, tokenRunner(ctx), 1);
}

/** Did an earlier attempt publish? A checkpoint without `since` means nothing was ever submitted. */
async function findExisting(ctx: ConnectorCtx<RedditCredentials>, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const cp = draft.checkpoint as { since?: string } | null;
  if (cp && !cp.since) return ok(null);
  const since = cp?.since ? new Date(cp.since) : new Date(ctx.clock.now().getTime() - DEFAULT_LOOKBACK_MS);
  const found = await findSubmission(ctx, wantedOf(submissionOf(draft)), since, tokenRunner(ctx));
  if (!found.ok) return found;
  return ok(found.value ? publishedFrom(ctx, found.value) : null);
}

/** A sandbox account goes through the real flow: the consent form, the code exchange (Basic), /api/v1/me. */
async function createSandboxAccount(baseUrl: string, username: string) {
  const signal = AbortSignal.timeout(10_000);
  const redirectUri = 'http://127.0.0.1/sandbox-callback';
  const authorize = new URL(authorizeUrl(redditAuth, { sandboxBase: baseUrl }, { app: SANDBOX_APP, redirectUri, state: 'sandbox' }));
  const form = new URLSearchParams(authorize.searchParams);
  form.set('username', username.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 20) || 'sandbox');
  form.set('decision', 'allow');
  const consent = await request(`${authorize.origin}${authorize.pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), signal });
  if (!consent.ok) throw new Error(`sandbox simulator unreachable at ${baseUrl}: ${consent.error.message}`);
  const code = new URL(consent.value.headers.get('location') ?? 'http://invalid/').searchParams.get('code');
  if (!code) throw new Error(`sandbox simulator refused the sign-in: ${consent.value.status} ${consent.value.text.slice(0, 200)}`);
  const tokens = await exchangeCode(redditAuth, { sandboxBase: baseUrl }, SANDBOX_APP, { code, redirectUri }, new Date(), signal);
  if (!tokens.ok) throw new Error(`sandbox token exchange failed: ${tokens.error.message}`);
  const found = await redditAuth.accounts({ baseUrl, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: { info() {}, warn() {}, error() {} }, signal }, tokens.value);
  if (!found.ok) throw new Error(`sandbox account lookup failed: ${found.error.message}`);
  const a = found.value[0]!;
  return { externalId: a.externalId, username: a.username, displayName: username, credentials: a.credentials };
}

export const redditConnector: PlatformConnector<RedditCredentials> = {
  id: 'reddit',
  limits: LIMITS,
  optionsSchema,
  validate,
  publish,
  checkStatus,
  findExisting,
  auth: redditAuth,
  lookups: {
    subreddit: {
      description: "A subreddit's post kinds, requirements and flairs, as this account sees them.",
      params: { name: 'The subreddit, e.g. "test" or "r/test".' },
      run: (ctx, q) => subredditLookup(ctx, q['name'], tokenRunner(ctx)),
    },
  },
  sandbox: { createAccount: createSandboxAccount },
};
