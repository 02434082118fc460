// The Reddit connector against the simulator over real HTTP: text, link and image posts (the media lease
// and the S3 form) to a subreddit with title, flair and marks; the subreddit's settings and post
// requirements read first and broken rules refused by name; Reddit's refusals inside 200 answers and its
// HTTP errors classified; a lost answer read back from the account's submissions, never posted twice.
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_APP } from '../src/connectors/auth-types.js';
import { refreshTokens } from '../src/connectors/oauth/client.js';
import { redditAuth } from '../src/connectors/reddit/auth.js';
import { redditConnector, type RedditCredentials } from '../src/connectors/reddit/connector.js';
import { isPending, type ConnectorCtx, type DraftMedia, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_CONFIG, type SubredditInput } from '../src/sandbox/reddit/state.js';

const silent = { info() {}, warn() {}, error() {} };
let sandbox: SandboxServer;
let base: string;
let jpeg: Buffer;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/reddit`;
  jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 40, b: 40 } } }).jpeg().toBuffer();
});
afterAll(async () => sandbox?.close());
beforeEach(() => {
  sandbox.reddit.core.clearFaults();
  Object.assign(sandbox.reddit.config, DEFAULT_CONFIG);
});

type Account = { ctx: ConnectorCtx<RedditCredentials>; id: string; checkpoints: Record<string, unknown>[]; refreshes: () => number };

async function account(): Promise<Account> {
  const created = await redditConnector.sandbox!.createAccount(base, `u${Math.random().toString(36).slice(2, 10)}`);
  const checkpoints: Record<string, unknown>[] = [];
  let refreshes = 0;
  const ctx: ConnectorCtx<RedditCredentials> = {
    credentials: created.credentials,
    saveCredentials: async () => {},
    async refresh() {
      refreshes++;
      const r = await refreshTokens(redditAuth, { sandboxBase: base }, SANDBOX_APP, ctx.credentials, new Date(), AbortSignal.timeout(5_000));
      if (r.ok) ctx.credentials = r.value;
      return r;
    },
    checkpoint: async (state) => void checkpoints.push(structuredClone(state)),
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(15_000),
  };
  return { ctx, id: created.externalId, checkpoints, refreshes: () => refreshes };
}

const unique = (s: string) => `${s} ${Math.random().toString(36).slice(2, 8)}`;
function draft(text: string, options: Record<string, unknown>, media: DraftMedia[] = [], checkpoint: Record<string, unknown> | null = null): PublicationDraft {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options: { subreddit: 'sandbox', ...options }, media, checkpoint };
}
const image = (bytes: Buffer, mimeType = 'image/jpeg'): DraftMedia => ({
  mediaId: newId('media'), kind: 'image', mimeType, size: bytes.length, width: 64, height: 48, url: null, open: async () => Readable.from([bytes]),
});
const postsOf = (user: string) => [...sandbox.reddit.posts.values()].filter((p) => p.authorId === user);
const sr = (name: string, more: Omit<SubredditInput, 'name'> = {}) =>
  sandbox.reddit.addSubreddit({ name: `${name}${Math.random().toString(36).slice(2, 7)}`, ...more }).name;
async function publishOk(a: Account, d: PublicationDraft) {
  const r = await redditConnector.publish(a.ctx, d);
  if (!r.ok || isPending(r.value)) throw new Error(JSON.stringify(r));
  return r.value;
}

describe('Reddit posts', () => {
  it('publishes a text post with title, flair, NSFW and spoiler marks, and its URL opens the post', async () => {
    const a = await account();
    const name = sr('flairy', { flairs: [{ text: 'News' }] });
    const flair = sandbox.reddit.subreddits.get(name.toLowerCase())!.flairs[0]!;
    const title = unique('A title with & and <b>');
    const p = await publishOk(a, draft('Body **markdown**', { subreddit: `r/${name}`, title, flair_id: flair.id, nsfw: true, spoiler: true, send_replies: false }));
    const [post] = postsOf(a.id);
    expect(post).toMatchObject({ kind: 'self', subreddit: name, title, selftext: 'Body **markdown**', flairId: flair.id, flairText: 'News', nsfw: true, spoiler: true, sendReplies: false });
    expect(p.platformPostId).toBe(post!.id);
    expect(p.url).toBe(`${base}/comments/${post!.id}/`);
    expect((await fetch(p.url)).status).toBe(200);
    expect(a.checkpoints[0]).toEqual({ since: expect.any(String) });
  });

  it('publishes a link post, refuses the same link again as a duplicate, and posts it with resubmit', async () => {
    const a = await account();
    const url = `https://example.com/${Math.random().toString(36).slice(2)}`;
    await publishOk(a, draft('', { title: unique('link'), url }));
    expect(postsOf(a.id)[0]).toMatchObject({ kind: 'link', url, selftext: '' });
    const again = await redditConnector.publish(a.ctx, draft('', { title: unique('link again'), url }));
    expect(!again.ok && again.error).toMatchObject({ category: 'duplicate', code: 'DUPLICATE_CONTENT', platformCode: 'ALREADY_SUB', retryable: false });
    await publishOk(a, draft('', { title: unique('link resubmitted'), url, resubmit: true }));
    expect(postsOf(a.id)).toHaveLength(2);
  });

  it('publishes an image post through the upload lease and S3, and finds its id among the submissions', async () => {
    const a = await account();
    const title = unique('a picture');
    const p = await publishOk(a, draft('', { title }, [image(jpeg)]));
    const [post] = postsOf(a.id);
    expect(post).toMatchObject({ kind: 'image', title });
    expect(p.platformPostId).toBe(post!.id);
    expect(p.url).toMatch(new RegExp(`/reddit/r/sandbox/comments/${post!.id}/`));
    const asset = [...sandbox.reddit.assets.values()].find((x) => x.key === post!.assetKey)!;
    expect(asset.owner).toBe(a.id);
    expect(Buffer.compare(asset.uploaded!.bytes, jpeg)).toBe(0);
    expect(a.checkpoints.at(-1)).toMatchObject({ accepted: true });
  });

  it('answers Pending while Reddit has not listed an accepted image post, then checkStatus finds it without posting again', async () => {
    const a = await account();
    sandbox.reddit.config.imageListingDelayMs = 600_000;
    const d = draft('', { title: unique('slow picture') }, [image(jpeg)]);
    const r = await redditConnector.publish(a.ctx, d);
    if (!r.ok || !isPending(r.value)) throw new Error(JSON.stringify(r));
    expect(r.value.pending.ref).toMatchObject({ accepted: true });
    // A retried attempt with that checkpoint keeps looking instead of submitting again.
    d.checkpoint = a.checkpoints.at(-1)!;
    const again = await redditConnector.publish(a.ctx, d);
    expect(again.ok && isPending(again.value)).toBe(true);
    const still = await redditConnector.checkStatus!(a.ctx, d, r.value.pending.ref);
    expect(still.ok && isPending(still.value)).toBe(true);
    const [post] = postsOf(a.id);
    post!.listedAt = Date.now();
    const done = await redditConnector.checkStatus!(a.ctx, d, r.value.pending.ref);
    if (!done.ok || isPending(done.value)) throw new Error(JSON.stringify(done));
    expect(done.value.platformPostId).toBe(post!.id);
    expect(postsOf(a.id)).toHaveLength(1);
    expect(sandbox.reddit.core.log.filter((l) => l.account === a.id && l.operation === 'submit')).toHaveLength(1);
  }, 20_000);

  it('refuses what Crier does not publish to Reddit and what Reddit refuses, at creation', () => {
    const v = (text: string, options: Record<string, unknown>, media: { kind: 'image' | 'video' }[] = []) => redditConnector.validate({ text, options, media }).map((i) => [i.code, i.field]);
    expect(v('x', {})).toEqual([['OPTION_INVALID', 'options.reddit.subreddit'], ['OPTION_INVALID', 'options.reddit.title']]);
    expect(v('x', { subreddit: 'a_b', title: '日'.repeat(301) })).toEqual([['TEXT_TOO_LONG', 'options.reddit.title']]);
    expect(v('x', { subreddit: 'ab', title: 't', url: 'https://e.com' })).toEqual([['OPTION_INVALID', 'options.reddit.text']]);
    expect(v('', { subreddit: 'ab', title: 't' }, [{ kind: 'image' }, { kind: 'image' }])).toEqual([['TOO_MANY_MEDIA', 'media']]);
    expect(v('', { subreddit: 'ab', title: 't' }, [{ kind: 'video' }])).toEqual([['MEDIA_UNSUPPORTED_TYPE', 'media']]);
    expect(v('y'.repeat(40_001), { subreddit: 'ab', title: 't' })).toEqual([['TEXT_TOO_LONG', 'text']]);
    expect(v('', { subreddit: 'ab', title: 't', flair_text: 'x' })).toEqual([['OPTION_INVALID', 'options.reddit.flair_text']]);
    expect(v('', { subreddit: 'ab', title: 't' })).toEqual([]);
  });
});

describe("a subreddit's rules, read before posting", () => {
  it.each([
    ['a text post where only links are taken', { submissionType: 'link' }, {}, 'NO_SELFS', /does not allow text posts/],
    ['a link where only text is taken', { submissionType: 'self' }, { url: 'https://example.com/a', text: '' }, 'NO_LINKS', /only allows text posts/],
    ['a post without required flair', { requirements: { is_flair_required: true } }, {}, 'SUBMIT_VALIDATION_FLAIR_REQUIRED', /requires post flair/],
    ['a title over the subreddit\'s limit', { requirements: { title_text_max_length: 10 } }, { title: 'far too long a title' }, 'SUBMIT_VALIDATION_TITLE_TOO_LONG', /at most 10 characters/],
    ['a title without a required word', { requirements: { title_required_strings: ['[OC]'] } }, {}, 'SUBMIT_VALIDATION_TITLE_REQUIRED_STRING', /"\[OC\]"/],
    ['a body where none is allowed', { requirements: { body_restriction_policy: 'notAllowed' } }, {}, 'SUBMIT_VALIDATION_BODY_NOT_ALLOWED', /does not allow body text/],
    ['a link outside the allowed domains', { requirements: { link_restriction_policy: 'whitelist', domain_whitelist: ['youtube.com'] } }, { url: 'https://example.com/a', text: '' }, 'SUBMIT_VALIDATION_LINK_WHITELIST', /only takes links to youtube.com/],
    ['an unknown flair', { flairs: [{ text: 'Meta' }] }, { flair_id: 'nope' }, 'BAD_FLAIR_TEMPLATE_ID', /not one of r\/.*'s post flairs/],
  ] as const)('refuses %s with the rule\'s name, sending nothing', async (_what, settings, opts, rule, message) => {
    const a = await account();
    const name = sr('rules', settings as never);
    const { text, ...options } = { text: 'a body', title: 'a title', ...opts } as Record<string, string>;
    const r = await redditConnector.publish(a.ctx, draft(text ?? '', { subreddit: name, ...options }));
    expect(!r.ok && r.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode: rule, retryable: false });
    expect(!r.ok && r.error.message).toMatch(message);
    expect(postsOf(a.id)).toHaveLength(0);
    expect(sandbox.reddit.core.log.filter((l) => l.account === a.id && l.operation === 'submit')).toHaveLength(0);
  });

  it('refuses a subreddit that does not exist, one the account is banned from, and a private one', async () => {
    const a = await account();
    const missing = await redditConnector.publish(a.ctx, draft('x', { subreddit: 'nosuchsub123', title: 't' }));
    expect(!missing.ok && missing.error).toMatchObject({ platformCode: 'SUBREDDIT_NOEXIST', retryable: false });
    const banned = await redditConnector.publish(a.ctx, draft('x', { subreddit: sr('ban', { banned: [a.id] }), title: 't' }));
    expect(!banned.ok && banned.error).toMatchObject({ platformCode: 'BANNED_FROM_SUBREDDIT', category: 'permanent', retryable: false });
    const restricted = await redditConnector.publish(a.ctx, draft('x', { subreddit: sr('restr', { type: 'restricted' }), title: 't' }));
    expect(!restricted.ok && restricted.error).toMatchObject({ platformCode: 'SUBREDDIT_NOTALLOWED', retryable: false });
    const hidden = await redditConnector.publish(a.ctx, draft('x', { subreddit: sr('priv', { type: 'private' }), title: 't' }));
    expect(!hidden.ok && hidden.error).toMatchObject({ category: 'permanent', platformCode: 'private', retryable: false });
    expect(postsOf(a.id)).toHaveLength(0);
  });

  it('posts a text post that meets every requirement of a strict subreddit', async () => {
    const a = await account();
    const name = sr('strict', { flairs: [{ text: 'OC' }], requirements: { is_flair_required: true, title_required_strings: ['[oc]'], body_restriction_policy: 'required', body_text_min_length: 5 } });
    const flair = sandbox.reddit.subreddits.get(name.toLowerCase())!.flairs[0]!;
    await publishOk(a, draft('long enough body', { subreddit: name, title: unique('[OC] my work'), flair_id: flair.id }));
    expect(postsOf(a.id)).toHaveLength(1);
  });
});
