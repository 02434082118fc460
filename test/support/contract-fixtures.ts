// One contract fixture per connector (see contract.ts). A new connector adds its fixture here, and the
// shared suite (test/connectors.contract.test.ts) then runs for it.
import { blueskyConnector, type BlueskyCredentials } from '../../src/connectors/bluesky/connector.js';
import { threadsAuth, type ThreadsCredentials } from '../../src/connectors/threads/auth.js';
import { threadsConnector } from '../../src/connectors/threads/connector.js';
import { xAuth, type XCredentials } from '../../src/connectors/x/auth.js';
import { xConnector } from '../../src/connectors/x/connector.js';
import { linkedinAuth, type LinkedInCredentials } from '../../src/connectors/linkedin/auth.js';
import { linkedinConnector } from '../../src/connectors/linkedin/connector.js';
import { refreshTokens } from '../../src/connectors/oauth/client.js';
import { mastodonConnector, type MastodonCredentials } from '../../src/connectors/mastodon/connector.js';
import { facebookConnector, type FacebookCredentials } from '../../src/connectors/facebook/connector.js';
import { facebookAuth } from '../../src/connectors/facebook/auth.js';
import { metaCtx } from './meta.js';
import { redditAuth } from '../../src/connectors/reddit/auth.js';
import { redditConnector, type RedditCredentials } from '../../src/connectors/reddit/connector.js';
import { SANDBOX_APP } from '../../src/connectors/auth-types.js';
import { systemClock } from '../../src/lib/clock.js';
import { youtubeAuth } from '../../src/connectors/youtube/auth.js';
import { youtubeConnector, type YouTubeCredentials } from '../../src/connectors/youtube/connector.js';
import { baseCtx, memoryMedia, silentLog, type ContractFixture } from './contract.js';

const bluesky: ContractFixture = {
  name: 'bluesky',
  connector: blueskyConnector,
  core: (s) => s.bluesky.core,
  publishOperation: 'com.atproto.repo.createRecord',
  async account(sandbox) {
    const created = await blueskyConnector.sandbox!.createAccount(`${sandbox.url}/bluesky`, `c${Math.random().toString(36).slice(2, 10)}`);
    const saved: BlueskyCredentials[] = [];
    return { ctx: baseCtx(sandbox, 'bluesky', created.credentials, saved), externalId: created.externalId, saved, refreshed: () => 0 };
  },
  errorBody: (status) => (status === 400 ? { error: 'InvalidRequest', message: 'Input/record/text must not be longer than 3000 graphemes' } : { error: 'AccountTakedown', message: 'Account has been taken down' }),
  posted: (s, did) => [...(s.bluesky.repos.get(did)?.values() ?? [])].filter((r) => r.collection === 'app.bsky.feed.post').length,
};

const threads: ContractFixture = {
  name: 'threads',
  connector: threadsConnector,
  core: (s) => s.threads.core,
  publishOperation: 'threads_publish',
  async account(sandbox) {
    // Threads renews a token only once it is 24 h old; these fresh sandbox tokens may be renewed at once.
    sandbox.threads.config.refreshMinAgeSec = 0;
    const base = `${sandbox.url}/threads`;
    const created = await threadsConnector.sandbox!.createAccount(base, `c${Math.random().toString(36).slice(2, 10)}`);
    const saved: ThreadsCredentials[] = [];
    let refreshed = 0;
    const ctx = baseCtx(sandbox, 'threads', created.credentials, saved);
    ctx.refresh = async () => {
      refreshed++;
      const r = await threadsAuth.refresh!({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silentLog, signal: AbortSignal.timeout(5_000) }, ctx.credentials);
      if (r.ok) ctx.credentials = r.value;
      return r;
    };
    return { ctx, externalId: created.externalId, saved, refreshed: () => refreshed };
  },
  errorBody: (status) => ({
    error: status === 400
      ? { message: 'Param text must be at most 500 characters long.', type: 'OAuthException', code: 100, fbtrace_id: 'AbCdEf' }
      : { message: '(#10) The user has not granted the permission threads_content_publish to this app', type: 'OAuthException', code: 10, fbtrace_id: 'AbCdEf' },
  }),
  posted: (s, userId) => [...s.threads.threads.values()].filter((t) => t.userId === userId).length,
};

const x: ContractFixture = {
  name: 'x',
  connector: xConnector,
  core: (s) => s.x.core,
  publishOperation: 'tweets.create',
  async account(sandbox) {
    const base = `${sandbox.url}/x`;
    const created = await xConnector.sandbox!.createAccount(base, `c${Math.random().toString(36).slice(2, 10)}`);
    const saved: XCredentials[] = [];
    let refreshed = 0;
    const ctx = baseCtx(sandbox, 'x', created.credentials, saved);
    ctx.refresh = async () => {
      refreshed++;
      const r = await xAuth.refresh!({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silentLog, signal: AbortSignal.timeout(5_000) }, ctx.credentials);
      if (r.ok) ctx.credentials = r.value;
      return r;
    };
    return { ctx, externalId: created.externalId, saved, refreshed: () => refreshed };
  },
  errorBody: (status) =>
    status === 400
      ? { title: 'Invalid Request', detail: 'One or more parameters to your request was invalid.', type: 'https://api.twitter.com/2/problems/invalid-request', errors: [{ message: 'The text field is too long.' }] }
      : { title: 'Forbidden', detail: 'You are not allowed to create a Tweet with duplicate content.', type: 'about:blank', status: 403 },
  posted: (s, userId) => [...s.x.tweets.values()].filter((t) => t.authorId === userId).length,
};

const linkedin: ContractFixture = {
  name: 'linkedin',
  connector: linkedinConnector,
  core: (s) => s.linkedin.core,
  publishOperation: 'posts.create',
  // LinkedIn's 429 carries no wait (platforms.md §2): the connector waits for the daily reset or an hour.
  sendsRetryAfter: false,
  async account(sandbox) {
    const base = `${sandbox.url}/linkedin`;
    const created = await linkedinConnector.sandbox!.createAccount(base, `c${Math.random().toString(36).slice(2, 10)}`);
    const saved: LinkedInCredentials[] = [];
    let refreshed = 0;
    const ctx = baseCtx(sandbox, 'linkedin', created.credentials, saved);
    ctx.refresh = async () => {
      refreshed++;
      const r = await refreshTokens(linkedinAuth, { sandboxBase: base }, SANDBOX_APP, ctx.credentials, new Date(), AbortSignal.timeout(5_000));
      if (r.ok) ctx.credentials = r.value;
      return r;
    };
    return { ctx, externalId: created.externalId, saved, refreshed: () => refreshed };
  },
  errorBody: (status) =>
    status === 400
      ? { status: 400, serviceErrorCode: 100, code: 'ILLEGAL_ARGUMENT', message: 'Commentary is too long' }
      : { status: 403, serviceErrorCode: 100, code: 'ACCESS_DENIED', message: 'Not enough permissions to access: partnerApiPostsExternal.CREATE.20260901' },
  posted: (s, id) => [...s.linkedin.posts.values()].filter((p) => p.author === id || p.author.endsWith(`:${id}`)).length,
};

const mastodon: ContractFixture = {
  name: 'mastodon',
  connector: mastodonConnector,
  core: (s) => s.mastodon.core,
  publishOperation: 'statuses.create',
  // Mastodon tokens do not expire: a 401 means the token was revoked, so there is nothing to refresh.
  refreshes: false,
  async account(sandbox) {
    const created = await mastodonConnector.sandbox!.createAccount(`${sandbox.url}/mastodon`, `c${Math.random().toString(36).slice(2, 10)}`);
    const saved: MastodonCredentials[] = [];
    // The simulator names an account by its id on the instance; Crier's external id adds the instance.
    return { ctx: baseCtx(sandbox, 'mastodon', created.credentials, saved), externalId: created.externalId.split('@')[0]!, saved, refreshed: () => 0 };
  },
  errorBody: (status) => ({ error: status === 400 ? 'Validation failed: Text character limit of 500 exceeded' : 'This action is not allowed' }),
  posted: (s, accountId) => [...s.mastodon.statuses.values()].filter((st) => st.accountId === accountId).length,
};

const facebook: ContractFixture = {
  name: 'facebook',
  connector: facebookConnector,
  core: (s) => s.meta.core,
  publishOperation: 'page.feed',
  // Graph throttling is HTTP 400 code 80001 with the wait in the usage header, in whole minutes.
  sendsRetryAfter: false,
  async account(sandbox) {
    const base = `${sandbox.url}/facebook`;
    const created = await facebookConnector.sandbox!.createAccount(base, `c${Math.random().toString(36).slice(2, 10)}`);
    const a = metaCtx(base, created.credentials, facebookAuth);
    const saved: FacebookCredentials[] = [];
    a.ctx.saveCredentials = async (next) => void saved.push(next);
    return { ctx: a.ctx, externalId: created.externalId, saved, refreshed: a.refreshed };
  },
  errorBody: (status) => ({
    error: status === 400
      ? { message: '(#100) Invalid parameter', type: 'OAuthException', code: 100, fbtrace_id: 'AbCdEf' }
      : { message: '(#200) The user hasn\'t authorized the application to perform this action', type: 'OAuthException', code: 200, fbtrace_id: 'AbCdEf' },
  }),
  posted: (s, pageId) => [...s.meta.posts.values()].filter((p) => p.pageId === pageId).length,
};

const reddit: ContractFixture = {
  name: 'reddit',
  connector: redditConnector,
  core: (s) => s.reddit.core,
  publishOperation: 'submit',
  // A text (self) post to the simulator's r/sandbox; the post text is its body.
  options: { subreddit: 'sandbox', title: 'Contract post' },
  async account(sandbox) {
    const base = `${sandbox.url}/reddit`;
    const created = await redditConnector.sandbox!.createAccount(base, `c${Math.random().toString(36).slice(2, 10)}`);
    const saved: RedditCredentials[] = [];
    let refreshed = 0;
    const ctx = baseCtx(sandbox, 'reddit', created.credentials, saved);
    ctx.refresh = async () => {
      refreshed++;
      const r = await refreshTokens(redditAuth, { sandboxBase: base }, SANDBOX_APP, ctx.credentials, new Date(), AbortSignal.timeout(5_000));
      if (r.ok) ctx.credentials = r.value;
      return r;
    };
    return { ctx, externalId: created.externalId, saved, refreshed: () => refreshed };
  },
  // Reddit's HTTP errors: a bare 400, and a 403 about the subreddit (its `reason`).
  errorBody: (status) => (status === 400 ? { message: 'Bad Request', error: 400 } : { reason: 'banned', message: 'Forbidden', error: 403 }),
  posted: (s, userId) => [...s.reddit.posts.values()].filter((p) => p.authorId === userId).length,
};

const youtube: ContractFixture = {
  name: 'youtube',
  connector: youtubeConnector,
  core: (s) => s.youtube.core,
  // The PUT that completes the resumable upload makes the video (a session alone makes nothing).
  publishOperation: 'videos.upload',
  options: { title: 'Contract video', privacy_status: 'private' },
  // One chunk (the simulator does not decode videos; it counts bytes).
  media: async () => [memoryMedia(Buffer.alloc(100_000, 7), { kind: 'video', mimeType: 'video/mp4', width: 1280, height: 720, durationMs: 5_000 })],
  async account(sandbox) {
    const base = `${sandbox.url}/youtube`;
    sandbox.youtube.config.processingMs = 0;
    const created = await youtubeConnector.sandbox!.createAccount(base, `c${Math.random().toString(36).slice(2, 10)}`);
    const saved: YouTubeCredentials[] = [];
    let refreshed = 0;
    const ctx = baseCtx(sandbox, 'youtube', created.credentials, saved);
    ctx.refresh = async () => {
      refreshed++;
      const r = await refreshTokens(youtubeAuth, { sandboxBase: base }, SANDBOX_APP, ctx.credentials, new Date(), AbortSignal.timeout(5_000));
      if (r.ok) ctx.credentials = r.value;
      return r;
    };
    return { ctx, externalId: created.externalId, saved, refreshed: () => refreshed };
  },
  errorBody: (status) =>
    status === 400
      ? { error: { code: 400, message: 'The request metadata specifies an invalid video title.', errors: [{ message: 'Invalid title', domain: 'youtube.video', reason: 'invalidTitle' }], status: 'INVALID_ARGUMENT' } }
      : { error: { code: 403, message: 'The authenticated user cannot upload videos.', errors: [{ message: 'Forbidden', domain: 'youtube.video', reason: 'forbidden' }], status: 'PERMISSION_DENIED' } },
  posted: (s, channelId) => [...s.youtube.videos.values()].filter((v) => v.channelId === channelId).length,
};

export const CONTRACT_FIXTURES: ContractFixture[] = [bluesky, threads, x, linkedin, mastodon, facebook, reddit, youtube];
