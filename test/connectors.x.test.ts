// The X connector against the simulator over real HTTP: text posts counted X's weighted way, polls,
// quotes, replies, threads as checkpointed reply chains, how each X refusal is classified, and read-back
// when an answer was lost (never a second post).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_APP } from '../src/connectors/auth-types.js';
import { xAuth } from '../src/connectors/x/auth.js';
import { xConnector, type XCredentials } from '../src/connectors/x/connector.js';
import { isPending, type ConnectorCtx, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_LIMITS } from '../src/sandbox/x/state.js';

const CREATE = 'tweets.create';
const silent = { info() {}, warn() {}, error() {} };
let sandbox: SandboxServer;
let base: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/x`;
});
afterAll(async () => sandbox?.close());
beforeEach(() => {
  sandbox.x.core.clearFaults();
  Object.assign(sandbox.x.limits, DEFAULT_LIMITS);
});

type Account = { ctx: ConnectorCtx<XCredentials>; id: string; saved: XCredentials[]; checkpoints: Record<string, unknown>[]; refreshes: () => number };

async function account(): Promise<Account> {
  const created = await xConnector.sandbox!.createAccount(base, `u${Math.random().toString(36).slice(2, 10)}`);
  const saved: XCredentials[] = [];
  const checkpoints: Record<string, unknown>[] = [];
  let refreshes = 0;
  const ctx: ConnectorCtx<XCredentials> = {
    credentials: created.credentials,
    saveCredentials: async (next) => void saved.push(next),
    async refresh() {
      refreshes++;
      const r = await xAuth.refresh!({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(5_000) }, ctx.credentials);
      if (r.ok) {
        saved.push(r.value);
        ctx.credentials = r.value;
      }
      return r;
    },
    checkpoint: async (state) => void checkpoints.push(structuredClone(state)),
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(15_000),
  };
  return { ctx, id: created.externalId, saved, checkpoints, refreshes: () => refreshes };
}

const unique = (s: string) => `${s} ${Math.random().toString(36).slice(2, 8)}`;
function draft(text: string, options: Record<string, unknown> = {}, checkpoint: Record<string, unknown> | null = null): PublicationDraft {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options, media: [], checkpoint };
}
const posts = (user: string) => [...sandbox.x.tweets.values()].filter((t) => t.authorId === user && !t.deleted);
const served = (user: string, op: string) => sandbox.x.core.log.filter((r) => r.account === user && r.operation === op).map((r) => r.status);
function abortOnceServed(user: string, op: string): AbortSignal {
  const controller = new AbortController();
  const timer = setInterval(() => {
    if (served(user, op).length === 0) return;
    clearInterval(timer);
    controller.abort(new DOMException('timed out', 'TimeoutError'));
  }, 10);
  return controller.signal;
}
async function publishOk(a: Account, d: PublicationDraft) {
  const r = await xConnector.publish(a.ctx, d);
  if (!r.ok || isPending(r.value)) throw new Error(JSON.stringify(r));
  return r.value;
}

describe('X text posts', () => {
  it('publishes a post and answers its id and sandbox URL; the simulator keeps it as X shows it', async () => {
    const a = await account();
    const text = unique('Hello & <welcome> to https://example.com/path and x.com');
    const p = await publishOk(a, draft(text));
    const [stored] = posts(a.id);
    expect(p.platformPostId).toBe(stored!.id);
    expect(p.url).toBe(`${base}/${a.ctx.credentials.username}/status/${stored!.id}`);
    expect(stored!.rawText).toBe(text);
    // X shortens links to t.co and escapes & < >, so read-back must undo both.
    expect(stored!.text).toMatch(/^Hello &amp; &lt;welcome&gt; to https:\/\/t\.co\/\w{10} and https:\/\/t\.co\/\w{10} /);
    expect(stored!.urls.map((u) => u.expanded_url)).toEqual(['https://example.com/path', 'http://x.com']);
    const page = await fetch(p.url);
    expect(page.status).toBe(200);
    const found = await xConnector.findExisting!(a.ctx, draft(text));
    expect(found.ok && found.value?.platformPostId).toBe(stored!.id);
  });

  it('counts text X\'s weighted way at validation: URLs 23, emoji and CJK 2, 280 at most', () => {
    const check = (text: string) => xConnector.validate({ text, options: {}, media: [] });
    expect(check('a'.repeat(280))).toEqual([]);
    expect(check('a'.repeat(281))).toEqual([expect.objectContaining({ code: 'TEXT_TOO_LONG', limit: 280, actual: 281 })]);
    expect(check('日'.repeat(140))).toEqual([]);
    expect(check('日'.repeat(141))).toEqual([expect.objectContaining({ code: 'TEXT_TOO_LONG', actual: 282 })]);
    expect(check('😀'.repeat(141))).toEqual([expect.objectContaining({ actual: 282 })]);
    // A very long URL still counts 23: 257 letters + a space + the URL = 281.
    expect(check(`${'a'.repeat(257)} https://example.com/${'p'.repeat(300)}`)).toEqual([expect.objectContaining({ actual: 281 })]);
    expect(check('')).toEqual([expect.objectContaining({ code: 'TEXT_EMPTY' })]);
    expect(xConnector.validate({ text: 'ok', options: { thread: [{ text: 'fine' }, { text: 'b'.repeat(281) }] }, media: [] }))
      .toEqual([expect.objectContaining({ code: 'TEXT_TOO_LONG', field: 'options.x.thread[1].text' })]);
  });

  it('lets the simulator refuse what X refuses even when validation is bypassed: a too-long text', async () => {
    const a = await account();
    const r = await xConnector.publish(a.ctx, draft('é'.repeat(150) + '日'.repeat(70)));
    expect(!r.ok && r.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false });
    expect(!r.ok && r.error.message).toMatch(/too long/);
    expect(posts(a.id)).toHaveLength(0);
  });

  it('publishes a poll, a quote post and a reply, and refuses a poll with a quote at validation', async () => {
    const a = await account();
    const first = await publishOk(a, draft(unique('the original')));
    const poll = await publishOk(a, draft(unique('which one?'), { poll: { options: ['this', 'that'], duration_minutes: 60 } }));
    const quote = await publishOk(a, draft(unique('quoting'), { quote_tweet_id: `https://x.com/someone/status/${first.platformPostId}` }));
    const reply = await publishOk(a, draft(unique('replying'), { reply_to: first.platformPostId, reply_settings: 'following' }));
    const byId = (id: string) => sandbox.x.tweets.get(id)!;
    expect(byId(poll.platformPostId).poll).toMatchObject({ options: ['this', 'that'], duration_minutes: 60 });
    expect(byId(quote.platformPostId).referenced).toEqual([{ type: 'quoted', id: first.platformPostId }]);
    expect(byId(reply.platformPostId)).toMatchObject({ referenced: [{ type: 'replied_to', id: first.platformPostId }], conversationId: first.platformPostId, replySettings: 'following' });
    expect(xConnector.validate({ text: 'q', options: { poll: { options: ['a', 'b'], duration_minutes: 5 }, quote_tweet_id: '1' }, media: [] }))
      .toEqual([expect.objectContaining({ code: 'OPTION_INVALID', field: 'options.x.poll' })]);
    expect(xConnector.validate({ text: 'q', options: { poll: { options: ['a', 'b'], duration_minutes: 5 } }, media: [{ kind: 'image' }] }))
      .toEqual([expect.objectContaining({ code: 'OPTION_INVALID' })]);
  });

  it('refuses a reply to a post that does not exist (403) as a content problem', async () => {
    const a = await account();
    const r = await xConnector.publish(a.ctx, draft(unique('into the void'), { reply_to: '1234567890123456789' }));
    expect(!r.ok && r.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false, platformCode: 'Forbidden' });
    expect(!r.ok && r.error.message).toMatch(/deleted or not visible/);
  });

  it('refuses the same text twice as duplicate content (403) with DUPLICATE_CONTENT', async () => {
    const a = await account();
    const text = unique('say it once');
    await publishOk(a, draft(text));
    const r = await xConnector.publish(a.ctx, draft(text));
    expect(!r.ok && r.error).toMatchObject({ category: 'duplicate', code: 'DUPLICATE_CONTENT', retryable: false });
    expect(posts(a.id)).toHaveLength(1);
  });
});

describe('X threads', () => {
  it('publishes a thread as a chain of replies, checkpointing each post; the publication is the first post', async () => {
    const a = await account();
    const d = draft(unique('1/3 a thread'), { thread: [{ text: unique('2/3') }, { text: unique('3/3') }] });
    const p = await publishOk(a, d);
    const chain = posts(a.id).sort((x, y) => (BigInt(x.id) < BigInt(y.id) ? -1 : 1));
    expect(chain).toHaveLength(3);
    expect(p.platformPostId).toBe(chain[0]!.id);
    expect(chain[1]!.referenced).toEqual([{ type: 'replied_to', id: chain[0]!.id }]);
    expect(chain[2]!.referenced).toEqual([{ type: 'replied_to', id: chain[1]!.id }]);
    expect(chain.every((t) => t.conversationId === chain[0]!.id)).toBe(true);
    expect(a.checkpoints.map((c) => c['posted'])).toEqual([[], [chain[0]!.id], [chain[0]!.id, chain[1]!.id], chain.map((t) => t.id)]);
  });

  it('continues a thread after a failure mid-way without posting anything twice', async () => {
    const a = await account();
    const d = draft(unique('1/3 resumed'), { thread: [{ text: unique('2/3') }, { text: unique('3/3') }] });
    // The first post goes through (a zero latency fault lets it pass), the second meets a 503.
    sandbox.x.core.addFault({ operation: CREATE, account: a.id, times: 1, fault: { kind: 'latency', ms: 0 } });
    sandbox.x.core.addFault({ operation: CREATE, account: a.id, times: 1, fault: { kind: 'status', status: 503 } });
    const r1 = await xConnector.publish(a.ctx, d);
    expect(!r1.ok && r1.error).toMatchObject({ category: 'transient', retryable: true });
    expect(!r1.ok && r1.error.message).toMatch(/thread stopped after 1 of 3 posts/);
    expect(posts(a.id)).toHaveLength(1);
    const saved = a.checkpoints.at(-1)!;
    // The worker's next attempt: read-back leaves a partial thread to publish, which goes on from the checkpoint.
    const next = { ...d, checkpoint: saved };
    expect(await xConnector.findExisting!(a.ctx, next)).toEqual({ ok: true, value: null });
    const p = await publishOk(a, next);
    const chain = posts(a.id).sort((x, y) => (BigInt(x.id) < BigInt(y.id) ? -1 : 1));
    expect(chain).toHaveLength(3);
    expect(p.platformPostId).toBe(chain[0]!.id);
    expect(chain[2]!.referenced).toEqual([{ type: 'replied_to', id: chain[1]!.id }]);
    // A finished chain is read back from the checkpoint alone.
    const done = { ...d, checkpoint: a.checkpoints.at(-1)! };
    const found = await xConnector.findExisting!(a.ctx, done);
    expect(found.ok && found.value?.platformPostId).toBe(chain[0]!.id);
  });

  it('finds the thread post whose answer was lost instead of posting it again', async () => {
    const a = await account();
    const d = draft(unique('1/2 lost answer'), { thread: [{ text: unique('2/2') }] });
    // The second post is made but its answer never arrives.
    sandbox.x.core.addFault({ operation: CREATE, account: a.id, times: 1, fault: { kind: 'latency', ms: 0 } });
    sandbox.x.core.addFault({ operation: CREATE, account: a.id, times: 1, fault: { kind: 'accept_then_timeout', ms: 1_500 } });
    const controller = new AbortController();
    a.ctx.signal = controller.signal;
    const timer = setInterval(() => {
      if (served(a.id, CREATE).length >= 2) {
        clearInterval(timer);
        controller.abort(new DOMException('timed out', 'TimeoutError'));
      }
    }, 10);
    const r1 = await xConnector.publish(a.ctx, d);
    expect(!r1.ok && r1.error).toMatchObject({ outcomeUnknown: true });
    expect(posts(a.id)).toHaveLength(2);
    a.ctx.signal = AbortSignal.timeout(10_000);
    const p = await publishOk(a, { ...d, checkpoint: a.checkpoints.at(-1)! });
    expect(posts(a.id)).toHaveLength(2);
    expect(p.platformPostId).toBe(posts(a.id).find((t) => !t.referenced)!.id);
  });
});

describe('X errors', () => {
  it('refreshes an expired access token once (rotating the refresh token), saves it, and publishes', async () => {
    const a = await account();
    const before = a.ctx.credentials.refreshToken;
    sandbox.x.oauth.expireAccess(a.id);
    await new Promise((r) => setTimeout(r, 1_100)); // tokens issued in the same second stay valid
    const p = await publishOk(a, draft(unique('after refresh')));
    expect(p.platformPostId).toBeTruthy();
    expect(a.refreshes()).toBe(1);
    expect(a.saved.at(-1)!.refreshToken).not.toBe(before);
    expect(served(a.id, CREATE)).toEqual([401, 201]);
  });

  it('reports a refresh token X will not take (already spent) as revoked: the account must reconnect', async () => {
    const a = await account();
    const spent = a.ctx.credentials.refreshToken!;
    const first = await xAuth.refresh!({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(5_000) }, a.ctx.credentials);
    expect(first.ok).toBe(true);
    a.ctx.credentials = { ...a.ctx.credentials, refreshToken: spent };
    sandbox.x.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'expired_token' } });
    const r = await xConnector.publish(a.ctx, draft(unique('spent refresh')));
    expect(!r.ok && r.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', platformCode: 'invalid_request', retryable: false });
    expect(!r.ok && r.error.message).toMatch(/Value passed for the token was invalid/);
  });

  it.each([
    [{ detail: 'You are not permitted to perform this action.', type: 'about:blank', title: 'Forbidden', status: 403 }, 'auth_expired', 'PLATFORM_AUTH_EXPIRED'],
    [{ detail: 'Your account is suspended and is not permitted to access this feature.', type: 'about:blank', title: 'Forbidden', status: 403 }, 'revoked', 'PLATFORM_ACCESS_REVOKED'],
    [{ title: 'Client Forbidden', detail: 'When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.', reason: 'client-not-enrolled', type: 'https://api.x.com/2/problems/client-forbidden' }, 'permanent', 'PLATFORM_ERROR'],
    [{ title: 'Forbidden', type: 'about:blank', status: 403, detail: 'Forbidden' }, 'auth_expired', 'PLATFORM_AUTH_EXPIRED'],
  ])('classifies a 403 %j', async (body, category, code) => {
    const a = await account();
    sandbox.x.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'status', status: 403, body } });
    const r = await xConnector.publish(a.ctx, draft(unique('forbidden')));
    expect(!r.ok && r.error).toMatchObject({ category, code, retryable: false });
  });

  it('classifies a 400 invalid-request as a content problem, and a 429 by x-rate-limit-reset', async () => {
    const a = await account();
    sandbox.x.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'status', status: 400, body: { errors: [{ parameters: {}, message: '$.text: bad' }], title: 'Invalid Request', detail: 'One or more parameters to your request was invalid.', type: 'https://api.x.com/2/problems/invalid-request' } } });
    const bad = await xConnector.publish(a.ctx, draft(unique('bad')));
    expect(!bad.ok && bad.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode: 'invalid-request', retryable: false });
    sandbox.x.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'rate_limit', retry_after_seconds: 90 } });
    const limited = await xConnector.publish(a.ctx, draft(unique('limited')));
    expect(!limited.ok && limited.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true });
    const wait = !limited.ok ? limited.error.retryAfterMs! : 0;
    expect(wait).toBeGreaterThan(85_000);
    expect(wait).toBeLessThanOrEqual(91_000);
  });

  it('enforces X\'s own 15-minute post limit with x-rate-limit-* headers', async () => {
    const a = await account();
    sandbox.x.limits.tweetsPer15Min = 2;
    await publishOk(a, draft(unique('one')));
    await publishOk(a, draft(unique('two')));
    const r = await xConnector.publish(a.ctx, draft(unique('three')));
    expect(!r.ok && r.error).toMatchObject({ category: 'rate_limited', retryable: true });
    expect(!r.ok && r.error.retryAfterMs).toBeGreaterThan(14 * 60_000);
    expect(posts(a.id)).toHaveLength(2);
  });

  it.each([500, 502, 503, 504])('classifies a %i as transient and retryable', async (status) => {
    const a = await account();
    sandbox.x.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'status', status } });
    const r = await xConnector.publish(a.ctx, draft(unique(`server ${status}`)));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true });
  });

  it('does not publish twice when the answer to a post that went through was lost', async () => {
    const a = await account();
    const target = await publishOk(a, draft(unique('target')));
    const d = draft(unique('answer lost https://example.org/a?b=1 & more'), { reply_to: target.platformPostId });
    sandbox.x.core.log.length = 0;
    sandbox.x.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_500 } });
    a.ctx.signal = abortOnceServed(a.id, CREATE);
    const first = await xConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ outcomeUnknown: true, code: 'PLATFORM_TIMEOUT' });
    expect(posts(a.id)).toHaveLength(2);
    // The next attempt reads back first (src/worker/run.ts), with the checkpoint the first attempt left.
    a.ctx.signal = AbortSignal.timeout(10_000);
    const next = { ...d, checkpoint: a.checkpoints.at(-1)! };
    const found = await xConnector.findExisting!(a.ctx, next);
    const made = posts(a.id).find((t) => t.referenced?.[0]?.type === 'replied_to')!;
    expect(found.ok && found.value?.platformPostId).toBe(made.id);
    // The same text replying elsewhere, or not replying, is not this publication.
    const other = await xConnector.findExisting!(a.ctx, { ...next, options: {} });
    expect(other).toEqual({ ok: true, value: null });
  });

  it('takes X\'s duplicate refusal on a resumed attempt as its own earlier post', async () => {
    const a = await account();
    const d = draft(unique('resumed duplicate'));
    const p = await publishOk(a, d);
    // As if the read-back missed it (timelines lag): the resumed attempt posts, X says duplicate, and the
    // connector looks once more.
    const r = await xConnector.publish(a.ctx, { ...d, checkpoint: { posted: [], since: new Date(Date.now() - 1_000).toISOString() } });
    expect(r.ok && !isPending(r.value) && r.value.platformPostId).toBe(p.platformPostId);
    expect(posts(a.id)).toHaveLength(1);
  });
});
