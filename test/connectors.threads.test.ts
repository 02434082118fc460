// The Threads connector against its simulator over real HTTP: text posts, thread chains and replies,
// validation counted Threads' way (and the simulator refusing the same), every error shape classified,
// the publishing quota checked first, and lost answers read back so nothing is posted twice.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { threadsAuth, type ThreadsCredentials } from '../src/connectors/threads/auth.js';
import { threadsConnector } from '../src/connectors/threads/connector.js';
import { isPending, type ConnectorCtx, type PublicationDraft } from '../src/connectors/types.js';
import { SANDBOX_APP } from '../src/connectors/auth-types.js';
import { bodyAjv } from '../src/lib/ajv.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_CONFIG } from '../src/sandbox/threads/graph.js';

const PUBLISH = 'threads_publish';
const silent = { info() {}, warn() {}, error() {} };
let sandbox: SandboxServer;
let base: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/threads`;
});
afterAll(async () => sandbox?.close());
beforeEach(() => {
  sandbox.threads.core.clearFaults();
  Object.assign(sandbox.threads.config, { ...DEFAULT_CONFIG, processingMs: { ...DEFAULT_CONFIG.processingMs } });
});

type Account = { ctx: ConnectorCtx<ThreadsCredentials>; id: string; username: string; refreshes: () => number };

/** A sandbox user and a ConnectorCtx like the worker's: ctx.refresh renews through the connector's auth. */
async function account(scopes?: string[]): Promise<Account> {
  const name = `t${Math.random().toString(36).slice(2, 10)}`;
  let credentials: ThreadsCredentials;
  let id: string;
  if (scopes) {
    const r = await fetch(`${base}/_sim/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: name, scopes }) });
    const u = (await r.json()) as { id: string; access_token: string };
    credentials = { accessToken: u.access_token, userId: u.id, username: name, issuedAt: new Date().toISOString() };
    id = u.id;
  } else {
    const created = await threadsConnector.sandbox!.createAccount(base, name);
    credentials = created.credentials;
    id = created.externalId;
  }
  let refreshes = 0;
  const ctx: ConnectorCtx<ThreadsCredentials> = {
    credentials,
    saveCredentials: async () => {},
    refresh: async () => {
      refreshes++;
      const r = await threadsAuth.refresh!({ baseUrl: base, app: SANDBOX_APP, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(5_000) }, ctx.credentials);
      if (r.ok) ctx.credentials = r.value;
      return r;
    },
    checkpoint: async () => {},
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(10_000),
  };
  return { ctx, id, username: name, refreshes: () => refreshes };
}

/** A draft whose checkpoints are kept as the worker keeps them (the next attempt sees them). */
function draft(a: Account, text: string, options: Record<string, unknown> = {}): PublicationDraft {
  const id = newId('publication');
  const d: PublicationDraft = { publicationId: id, marker: id, text, options, media: [], checkpoint: null };
  a.ctx.checkpoint = async (state) => void (d.checkpoint = state);
  return d;
}

const posts = (userId: string) => [...sandbox.threads.threads.values()].filter((t) => t.userId === userId).sort((x, y) => x.timestamp - y.timestamp || (x.id < y.id ? -1 : 1));
const served = (userId: string, operation: string) => sandbox.threads.core.log.filter((r) => r.account === userId && r.operation === operation);
const unique = (what: string) => `${what} ${Math.random().toString(36).slice(2, 8)}`;

/** A signal that aborts once the simulator has served `count` requests of `operation` for the account. */
function abortAfterServed(userId: string, operation: string, count: number): AbortSignal {
  const controller = new AbortController();
  const timer = setInterval(() => {
    if (served(userId, operation).length < count) return;
    clearInterval(timer);
    controller.abort(new DOMException('timed out', 'TimeoutError'));
  }, 5);
  return controller.signal;
}

async function published(a: Account, d: PublicationDraft) {
  const r = await threadsConnector.publish(a.ctx, d);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  if (isPending(r.value)) throw new Error('unexpectedly pending');
  return r.value;
}

describe('Threads posts', () => {
  it('publishes a text post through a container and returns its media id and permalink', async () => {
    const a = await account();
    const text = unique('Hello Threads 👋');
    const p = await published(a, draft(a, text));
    const [post] = posts(a.id);
    expect(post).toMatchObject({ id: p.platformPostId, mediaType: 'TEXT_POST', text, replyControl: 'everyone' });
    expect(p.url).toBe(post!.permalink);
    const page = await fetch(p.url);
    expect(await page.json()).toMatchObject({ id: p.platformPostId, text });
    expect(served(a.id, 'threads.create')).toHaveLength(1);
    expect(served(a.id, 'threads_publishing_limit')).toHaveLength(1);
  });

  it('publishes a thread: each follow-up replies to the one before, checkpointing the ids as it goes', async () => {
    const a = await account();
    const d = draft(a, unique('1/3'), { thread: [{ text: '2/3' }, { text: '3/3' }], reply_control: 'mentioned_only', topic_tag: 'Crier tests' });
    const p = await published(a, d);
    const [root, second, third] = posts(a.id);
    expect(root).toMatchObject({ id: p.platformPostId, replyControl: 'mentioned_only', topicTag: 'Crier tests' });
    expect(second).toMatchObject({ text: '2/3', replyToId: root!.id, rootId: root!.id });
    expect(third).toMatchObject({ text: '3/3', replyToId: second!.id, rootId: root!.id });
    expect(d.checkpoint).toMatchObject({ posted: [root!.id, second!.id, third!.id], url: p.url });
  });

  it('replies to another profile\'s post, and Threads refuses a reply its reply_control does not allow', async () => {
    const [author, other] = [await account(), await account()];
    const open = await published(author, draft(author, unique('open to all')));
    const reply = await published(other, draft(other, unique('a reply'), { reply_to: open.platformPostId }));
    expect(posts(other.id)).toEqual([expect.objectContaining({ id: reply.platformPostId, replyToId: open.platformPostId })]);
    const closed = await published(author, draft(author, unique('only people I mention'), { reply_control: 'mentioned_only' }));
    const refused = await threadsConnector.publish(other.ctx, draft(other, 'let me in', { reply_to: closed.platformPostId }));
    expect(!refused.ok && refused.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false, platformCode: '100' });
    const mentioned = await published(author, draft(author, unique(`@${other.username} what do you think?`), { reply_control: 'mentioned_only' }));
    expect((await threadsConnector.publish(other.ctx, draft(other, 'thanks', { reply_to: mentioned.platformPostId }))).ok).toBe(true);
    const missing = await threadsConnector.publish(other.ctx, draft(other, 'to nothing', { reply_to: '1234567' }));
    expect(!missing.ok && missing.error).toMatchObject({ category: 'invalid_content', platformCode: '100/33' });
  });
});

describe('Threads validation', () => {
  const v = (text: string, options: Record<string, unknown> = {}, media: { kind: 'image' | 'video' }[] = []) => threadsConnector.validate({ text, options, media });

  it('counts an emoji as its UTF-8 bytes against the 500-character limit', () => {
    expect(v(`${'a'.repeat(496)}😀`)).toEqual([]);
    expect(v(`${'a'.repeat(497)}😀`)).toEqual([expect.objectContaining({ code: 'TEXT_TOO_LONG', field: 'text', limit: 500, actual: 501 })]);
    expect(v(`${'é'.repeat(500)}`)).toEqual([]);
    // A family (three people joined by two zero-width joiners) is 18 bytes.
    expect(v(`${'a'.repeat(483)}👨‍👩‍👧`)).toEqual([expect.objectContaining({ actual: 501 })]);
  });

  it('checks each post of a thread, links, media counts and empty text', () => {
    expect(v('ok', { thread: [{ text: 'fine' }, { text: 'x'.repeat(501) }] })).toEqual([expect.objectContaining({ code: 'TEXT_TOO_LONG', field: 'options.threads.thread[1].text' })]);
    const links = Array.from({ length: 6 }, (_, i) => `https://example.com/${i}`).join(' ');
    expect(v(links)).toEqual([expect.objectContaining({ code: 'OPTION_INVALID', limit: 5, actual: 6 })]);
    expect(v(`${links.split(' ').slice(0, 5).join(' ')} https://example.com/0.`)).toEqual([]);
    expect(v('', {}, [])).toEqual([expect.objectContaining({ code: 'TEXT_EMPTY' })]);
    expect(v('', {}, [{ kind: 'image' }])).toEqual([]);
    expect(v('many', {}, Array.from({ length: 21 }, () => ({ kind: 'image' as const })))).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', limit: 20 })]);
    expect(v('mixed', {}, [{ kind: 'image' }, { kind: 'video' }])).toEqual([]);
  });

  it('accepts only the options Threads knows, with reply_to as a media id', () => {
    const check = bodyAjv.compile(threadsConnector.optionsSchema);
    expect(check({ thread: [{ text: 'a' }], reply_to: '17890000000000000', reply_control: 'followers_only', topic_tag: 'Cats' })).toBe(true);
    expect(check({ reply_to: 'https://www.threads.net/@a/post/Cx' })).toBe(false);
    expect(check({ reply_control: 'nobody' })).toBe(false);
    expect(check({ topic_tag: 'a.b' })).toBe(false);
    expect(check({ thread: [{ text: 'a', media: [] }] })).toBe(false);
  });

  it('is matched by the simulator: it refuses 501 characters and a sixth link when validation is skipped', async () => {
    const a = await account();
    const long = await threadsConnector.publish(a.ctx, draft(a, `${'a'.repeat(497)}😀`));
    expect(!long.ok && long.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', message: expect.stringContaining('500 characters') });
    const links = await threadsConnector.publish(a.ctx, draft(a, Array.from({ length: 6 }, (_, i) => `www.example.org/${i}`).join(' ')));
    expect(!links.ok && links.error).toMatchObject({ category: 'invalid_content', message: expect.stringContaining('THREADS_API__LINK_LIMIT_EXCEEDED') });
    expect((await threadsConnector.publish(a.ctx, draft(a, `${'a'.repeat(496)}😀`))).ok).toBe(true);
    expect(posts(a.id)).toHaveLength(1);
  });
});

describe('Threads errors', () => {
  it('refreshes the token once when Threads says it expired (190), then publishes', async () => {
    sandbox.threads.config.refreshMinAgeSec = 0;
    const a = await account();
    const before = a.ctx.credentials.accessToken;
    sandbox.threads.core.addFault({ operation: PUBLISH, account: a.id, fault: { kind: 'expired_token' } });
    await published(a, draft(a, unique('after a refresh')));
    expect(a.refreshes()).toBe(1);
    expect(a.ctx.credentials.accessToken).not.toBe(before);
    expect(posts(a.id)).toHaveLength(1);
  });

  it('treats a bare 401 the same way', async () => {
    sandbox.threads.config.refreshMinAgeSec = 0;
    const a = await account();
    sandbox.threads.core.addFault({ operation: 'threads.create', account: a.id, fault: { kind: 'status', status: 401, body: '' } });
    await published(a, draft(a, unique('after a 401')));
    expect(a.refreshes()).toBe(1);
  });

  it('asks for a reconnect when the token really expired, and disconnects when it was revoked', async () => {
    const expired = await account();
    sandbox.threads.tokens.expire(expired.id);
    const r1 = await threadsConnector.publish(expired.ctx, draft(expired, 'never'));
    expect(!r1.ok && r1.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', platformCode: '190/463', retryable: false });
    expect(expired.refreshes()).toBe(1);
    const revoked = await account();
    sandbox.threads.tokens.revoke(revoked.id);
    const r2 = await threadsConnector.publish(revoked.ctx, draft(revoked, 'never'));
    expect(!r2.ok && r2.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', platformCode: '190/460' });
    expect(posts(expired.id).length + posts(revoked.id).length).toBe(0);
  });

  it('does not take a refused refresh (token under 24 hours old) for a revocation', async () => {
    const a = await account();
    sandbox.threads.core.addFault({ operation: PUBLISH, account: a.id, fault: { kind: 'expired_token' } });
    const r = await threadsConnector.publish(a.ctx, draft(a, 'young token'));
    expect(!r.ok && r.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', message: expect.stringContaining('refresh') });
  });

  it('classifies a missing permission (403, code 10) as lost access; a thread says what is already live', async () => {
    const a = await account(['threads_basic', 'threads_content_publish']);
    const r = await threadsConnector.publish(a.ctx, draft(a, unique('root'), { thread: [{ text: 'a reply needs threads_manage_replies' }] }));
    expect(!r.ok && r.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', platformCode: '10', message: expect.stringContaining('already published on Threads') });
    expect(posts(a.id)).toHaveLength(1);
  });

  it('classifies throttling with the wait Threads gives (Retry-After, or the business-use-case header in minutes)', async () => {
    const a = await account();
    sandbox.threads.core.addFault({ operation: 'threads.create', account: a.id, fault: { kind: 'rate_limit', retry_after_seconds: 42 } });
    const r1 = await threadsConnector.publish(a.ctx, draft(a, 'slow down'));
    expect(!r1.ok && r1.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true, retryAfterMs: 42_000, platformCode: '4' });
    const buc = JSON.stringify({ [a.id]: [{ type: 'threads', call_count: 100, estimated_time_to_regain_access: 3 }] });
    sandbox.threads.core.addFault({ operation: 'threads.create', account: a.id, fault: { kind: 'status', status: 400, body: { error: { message: '(#80001) There have been too many calls', type: 'OAuthException', code: 80001 } }, headers: { 'x-business-use-case-usage': buc } } });
    const r2 = await threadsConnector.publish(a.ctx, draft(a, 'slow down again'));
    expect(!r2.ok && r2.error).toMatchObject({ category: 'rate_limited', retryAfterMs: 180_000 });
  });

  it.each([500, 503])('classifies a %i as transient', async (status) => {
    const a = await account();
    sandbox.threads.core.addFault({ operation: PUBLISH, account: a.id, fault: { kind: 'status', status } });
    const r = await threadsConnector.publish(a.ctx, draft(a, 'server trouble'));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true, platformCode: '2' });
    expect(!r.ok && r.error.outcomeUnknown).toBeFalsy();
  });

  it('maps Graph\'s duplicate code (506) as a duplicate', async () => {
    const a = await account();
    sandbox.threads.core.addFault({ operation: PUBLISH, account: a.id, fault: { kind: 'status', status: 400, body: { error: { message: 'Duplicate status message', type: 'OAuthException', code: 506 } } } });
    const r = await threadsConnector.publish(a.ctx, draft(a, 'again'));
    expect(!r.ok && r.error).toMatchObject({ category: 'duplicate', code: 'DUPLICATE_CONTENT', retryable: false });
  });

  it('checks the 24-hour publishing quota before publishing, and the simulator enforces it too', async () => {
    const a = await account();
    sandbox.threads.config.publishQuota = 1;
    await published(a, draft(a, unique('first of the day')));
    const r = await threadsConnector.publish(a.ctx, draft(a, unique('one too many')));
    expect(!r.ok && r.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', platformCode: 'quota', retryAfterMs: 3_600_000 });
    expect(served(a.id, PUBLISH)).toHaveLength(1);
    // A client that does not look first is refused by threads_publish itself.
    const container = [...sandbox.threads.containers.values()].filter((c) => c.userId === a.id).at(-1)!;
    const raw = await fetch(`${base}/v1.0/${a.id}/threads_publish`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ creation_id: container.id, access_token: a.ctx.credentials.accessToken }) });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error: { code: number } }).error.code).toBe(9);
    expect(posts(a.id)).toHaveLength(1);
  });
});

describe('Threads read-back', () => {
  it('does not publish twice when the answer to threads_publish was lost: the container says PUBLISHED', async () => {
    const a = await account();
    sandbox.threads.core.addFault({ operation: PUBLISH, account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_000 } });
    a.ctx.signal = abortAfterServed(a.id, PUBLISH, 1);
    const d = draft(a, unique('answer lost'));
    const first = await threadsConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ code: 'PLATFORM_TIMEOUT', outcomeUnknown: true });
    expect(d.checkpoint).toMatchObject({ posted: [], current: { container: expect.any(String) } });
    const saved = d.checkpoint!;
    a.ctx.signal = AbortSignal.timeout(10_000);
    const found = await threadsConnector.findExisting!(a.ctx, d);
    const [post] = posts(a.id);
    expect(found).toEqual({ ok: true, value: { platformPostId: post!.id, url: post!.permalink } });
    // Even publish itself, given that checkpoint, finds the post rather than publishing again.
    const again = await published(a, { ...d, checkpoint: saved });
    expect(again.platformPostId).toBe(post!.id);
    expect(posts(a.id)).toHaveLength(1);
    expect(served(a.id, PUBLISH)).toHaveLength(1);
  });

  it('continues a thread whose second post\'s answer was lost, posting each reply exactly once', async () => {
    const a = await account();
    const d = draft(a, unique('thread root'), { thread: [{ text: 'second' }, { text: 'third' }] });
    const keep = a.ctx.checkpoint;
    a.ctx.checkpoint = async (state) => {
      await keep(state);
      if ((state as { posted: string[] }).posted.length === 1 && sandbox.threads.core.faults.length === 0) {
        sandbox.threads.core.addFault({ operation: PUBLISH, account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_000 } });
        a.ctx.signal = abortAfterServed(a.id, PUBLISH, 2);
      }
    };
    const first = await threadsConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ outcomeUnknown: true, message: expect.stringContaining('already published on Threads') });
    a.ctx.signal = AbortSignal.timeout(10_000);
    a.ctx.checkpoint = keep;
    // The worker's next attempt: read back (the thread is not complete, so nothing is "existing")…
    const found = await threadsConnector.findExisting!(a.ctx, d);
    expect(found).toEqual({ ok: true, value: null });
    expect((d.checkpoint as { posted: string[] }).posted).toHaveLength(2);
    // …then publish, which goes on after the two posts that are live.
    const p = await published(a, d);
    const chain = posts(a.id);
    expect(chain.map((t) => t.text)).toEqual([d.text, 'second', 'third']);
    expect(chain[2]!.replyToId).toBe(chain[1]!.id);
    expect(p.platformPostId).toBe(chain[0]!.id);
  });

  it('finds a post with no checkpoint by its text among the account\'s posts since the publication was created', async () => {
    const a = await account();
    const d = draft(a, unique('posted elsewhere'));
    a.ctx.checkpoint = async () => {}; // a caller that keeps no checkpoints
    const p = await published(a, d);
    expect(d.checkpoint).toBeNull();
    expect(await threadsConnector.findExisting!(a.ctx, { ...d })).toEqual({ ok: true, value: p });
    expect(await threadsConnector.findExisting!(a.ctx, draft(a, unique('never posted')))).toEqual({ ok: true, value: null });
    // A post from before the publication was created (beyond 5 minutes of clock skew) is not taken for it.
    sandbox.threads.threads.get(p.platformPostId)!.timestamp -= 10 * 60_000;
    expect(await threadsConnector.findExisting!(a.ctx, { ...d })).toEqual({ ok: true, value: null });
  });
});
