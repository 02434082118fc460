// The Mastodon connector against its simulator over real HTTP: statuses with visibility, content warning and
// language; replies by id, by URL and to another server's status; threads as checkpointed reply chains that
// resume without posting twice; the Idempotency-Key; the instance's own limits; Mastodon's counting at
// creation; and each error Mastodon answers, classified.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MASTODON_SCOPES } from '../src/connectors/mastodon/auth.js';
import { mastodonConnector, type MastodonCredentials } from '../src/connectors/mastodon/connector.js';
import { forgetInstanceLimits } from '../src/connectors/mastodon/instance.js';
import { statusLength } from '../src/connectors/mastodon/text.js';
import { isPending, type ConnectorCtx, type PublicationDraft, type Published } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_CONFIG } from '../src/sandbox/mastodon/state.js';
import { abortOnceServed, silentLog } from './support/contract.js';

const CREATE = 'statuses.create';
let sandbox: SandboxServer;
let base: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/mastodon`;
});
afterAll(async () => sandbox?.close());
beforeEach(() => {
  sandbox.mastodon.core.clearFaults();
  Object.assign(sandbox.mastodon.config, DEFAULT_CONFIG);
  forgetInstanceLimits();
});

type Account = { ctx: ConnectorCtx<MastodonCredentials>; id: string; refreshes: number };

async function account(scopes = MASTODON_SCOPES): Promise<Account> {
  const name = `m${Math.random().toString(36).slice(2, 10)}`;
  const res = await fetch(`${base}/_sim/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: name, scopes }) });
  const a = (await res.json()) as { id: string; access_token: string };
  const acct: Account = { id: a.id, refreshes: 0, ctx: undefined as never };
  acct.ctx = {
    credentials: { accessToken: a.access_token, accountId: a.id, username: `@${name}@sandbox`, scopes },
    saveCredentials: async () => {},
    refresh: async () => {
      acct.refreshes++;
      throw new Error('Mastodon has no refresh: the connector must not ask for one');
    },
    checkpoint: async () => {},
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silentLog,
    signal: AbortSignal.timeout(10_000),
  };
  return acct;
}

/** A draft whose checkpoints are kept on it, as the worker hands them to the next attempt. */
function draft(a: Account, text: string, options: Record<string, unknown> = {}): PublicationDraft {
  const id = newId('publication');
  const d: PublicationDraft = { publicationId: id, marker: id, text, options, media: [], checkpoint: null };
  a.ctx.checkpoint = async (state) => {
    d.checkpoint = structuredClone(state);
  };
  return d;
}

const stored = (accountId: string) => [...sandbox.mastodon.statuses.values()].filter((s) => s.accountId === accountId && !s.deletedAt);
const served = (op: string) => sandbox.mastodon.core.log.filter((r) => r.operation === op);

async function published(a: Account, d: PublicationDraft): Promise<Published> {
  const r = await mastodonConnector.publish(a.ctx, d);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  if (isPending(r.value)) throw new Error('unexpectedly pending');
  return r.value;
}

describe('publishing statuses on Mastodon', () => {
  it('publishes a status with its visibility, content warning and language, served at its URL and read back', async () => {
    const a = await account();
    const d = draft(a, 'Release notes for @crier@example.social: https://example.com/releases/1', { visibility: 'unlisted', spoiler_text: 'long read', language: 'de' });
    const p = await published(a, d);
    const [s] = stored(a.id);
    expect(s).toMatchObject({ id: p.platformPostId, text: d.text, spoilerText: 'long read', visibility: 'unlisted', language: 'de', sensitive: true, inReplyToId: null, application: 'Crier sandbox' });
    expect(p.url).toBe(`${base}/@${a.ctx.credentials.username.split('@')[1]}/${p.platformPostId}`);
    const page = await fetch(p.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<span>crier</span>');
    // Each POST carries the publication's key for that part; the checkpoint keeps what was posted.
    expect(s!.idempotencyKey).toBe(`${a.id}:crier-${d.publicationId}-0`);
    expect(d.checkpoint).toMatchObject({ posted: [p.platformPostId], url: p.url });
    const found = await mastodonConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value).toEqual(p);
    const never = draft(a, 'never posted');
    expect(await mastodonConnector.findExisting!(a.ctx, never)).toEqual({ ok: true, value: null });
    // Without its checkpoints, the status is still found among those made since the publication was created.
    expect(await mastodonConnector.findExisting!(a.ctx, { ...d, checkpoint: null })).toEqual({ ok: true, value: p });
    // A checkpoint with nothing in flight says nothing was sent, whatever the account posted.
    expect(await mastodonConnector.findExisting!(a.ctx, { ...d, checkpoint: { posted: [] } })).toEqual({ ok: true, value: null });
  });

  it('returns the same status when the same part is posted again within the hour (Idempotency-Key)', async () => {
    const a = await account();
    const d = draft(a, 'only once');
    const first = await published(a, d);
    d.checkpoint = null; // as if the first attempt's checkpoints were lost
    const again = await published(a, d);
    expect(again).toEqual(first);
    expect(stored(a.id)).toHaveLength(1);
  });

  it('publishes a thread as a reply chain, and a retry after a failed second post continues it without duplicates', async () => {
    const a = await account();
    const d = draft(a, 'thread 1/3', { visibility: 'public', thread: [{ text: 'thread 2/3' }, { text: 'thread 3/3' }] });
    const save = a.ctx.checkpoint;
    a.ctx.checkpoint = async (state) => {
      await save(state);
      // The moment the first status is recorded, the next POST fails.
      if ((state['posted'] as string[]).length === 1 && !state['sending']) sandbox.mastodon.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'status', status: 503 } });
    };
    const first = await mastodonConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ category: 'transient', retryable: true });
    expect(!first.ok && first.error.message).toMatch(/already published on Mastodon/);
    expect(stored(a.id)).toHaveLength(1);
    a.ctx.checkpoint = save;
    const p = await published(a, d);
    const chain = stored(a.id).sort((x, y) => (BigInt(x.id) < BigInt(y.id) ? -1 : 1));
    expect(chain.map((s) => s.text)).toEqual(['thread 1/3', 'thread 2/3', 'thread 3/3']);
    expect(chain.map((s) => s.inReplyToId)).toEqual([null, chain[0]!.id, chain[1]!.id]);
    expect(p.platformPostId).toBe(chain[0]!.id);
    expect(d.checkpoint).toMatchObject({ posted: chain.map((s) => s.id) });
    expect((await mastodonConnector.findExisting!(a.ctx, d)).ok).toBe(true);
  });

  it('replies to a status given by id, by its URL, or by the URL of a status on another server', async () => {
    const a = await account();
    const target = await published(a, draft(a, 'the original'));
    const byId = await published(a, draft(a, 'reply by id', { reply_to: target.platformPostId }));
    const byUrl = await published(a, draft(a, 'reply by URL', { reply_to: target.url }));
    const seeded = await fetch(`${base}/_sim/remote_statuses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: 'https://elsewhere.example/@carol/4242', text: 'remote' }) });
    const remote = ((await seeded.json()) as { id: string }).id;
    const byRemote = await published(a, draft(a, 'reply across servers', { reply_to: 'https://elsewhere.example/@carol/4242' }));
    const get = (id: string) => sandbox.mastodon.statuses.get(id)!;
    expect([byId, byUrl].map((p) => get(p.platformPostId).inReplyToId)).toEqual([target.platformPostId, target.platformPostId]);
    expect(get(byRemote.platformPostId).inReplyToId).toBe(remote);
    expect(served('search').at(-1)?.status).toBe(200);

    const unknown = await mastodonConnector.publish(a.ctx, draft(a, 'to nothing', { reply_to: 'https://elsewhere.example/@carol/1' }));
    expect(!unknown.ok && unknown.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false });
    get(target.platformPostId).deletedAt = Date.now();
    const gone = await mastodonConnector.publish(a.ctx, draft(a, 'to a deleted status', { reply_to: target.platformPostId }));
    expect(!gone.ok && gone.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode: 'HTTP 404', retryable: false });
    expect(!gone.ok && gone.error.message).toMatch(/does not appear to exist/);
  });

  it("checks the instance's own limits at publish time, before anything is posted", async () => {
    const a = await account();
    sandbox.mastodon.config.maxCharacters = 100;
    const long = 'word '.repeat(30).trim();
    const r = await mastodonConnector.publish(a.ctx, draft(a, 'short first', { thread: [{ text: long }] }));
    expect(!r.ok && r.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode: 'instance_limit', retryable: false });
    expect(!r.ok && r.error.message).toMatch(/allows 100 characters.*post 2 of the thread counts 149/);
    expect(stored(a.id)).toHaveLength(0);
    // An instance that allows more takes what validate() (Mastodon's default 500) would refuse at creation.
    sandbox.mastodon.config.maxCharacters = 1000;
    forgetInstanceLimits();
    const big = 'x'.repeat(700);
    expect(mastodonConnector.validate({ text: big, options: {}, media: [] })).toEqual([expect.objectContaining({ code: 'TEXT_TOO_LONG', limit: 500, actual: 700 })]);
    expect((await published(a, draft(a, big))).platformPostId).toBeTruthy();
    // The simulator itself refuses with Mastodon's sentence when a client skips the check.
    sandbox.mastodon.config.maxCharacters = 10;
    const raw = await fetch(`${base}/api/v1/statuses`, { method: 'POST', headers: { authorization: `Bearer ${a.ctx.credentials.accessToken}`, accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify({ status: 'eleven char' }) });
    expect([raw.status, await raw.json()]).toEqual([422, { error: 'Validation failed: Text character limit of 10 exceeded' }]);
  });
});

describe('Mastodon content rules at creation (validate)', () => {
  it('counts as Mastodon does: links 23, remote mentions without their domain, the content warning included', () => {
    expect(statusLength('see https://example.com/a/very/long/path/that/goes/on/and/on')).toBe(4 + 23);
    expect(statusLength('hi @alice@mastodon.example.org')).toBe(3 + 6);
    expect(statusLength('example.com is no link')).toBe(22);
    expect(statusLength('body', 'cw: ')).toBe(8);
    expect(statusLength('👩‍👩‍👧 é')).toBe(3);
    const at500 = `${'a'.repeat(476)} https://example.com/${'p'.repeat(200)}`;
    expect(mastodonConnector.validate({ text: at500, options: {}, media: [] })).toEqual([]);
    expect(mastodonConnector.validate({ text: at500, options: { spoiler_text: '!' }, media: [] })).toEqual([expect.objectContaining({ code: 'TEXT_TOO_LONG', field: 'text', limit: 500, actual: 501 })]);
  });

  it('refuses empty statuses, long thread items, bad reply targets and too many or mixed attachments', () => {
    const v = (text: string, options: Record<string, unknown> = {}, media: { kind: 'image' | 'video' }[] = []) => mastodonConnector.validate({ text, options, media }).map((i) => [i.code, i.field]);
    expect(v('  ')).toEqual([['TEXT_EMPTY', 'text']]);
    expect(v('', {}, [{ kind: 'image' }])).toEqual([]);
    expect(v('ok', { thread: [{ text: 'fine' }, { text: 'y'.repeat(501) }] })).toEqual([['TEXT_TOO_LONG', 'options.mastodon.thread[1].text']]);
    expect(v('ok', { reply_to: 'not a status' })).toEqual([['OPTION_INVALID', 'options.mastodon.reply_to']]);
    expect(v('ok', { reply_to: 'https://mastodon.social/@user/109876543210' })).toEqual([]);
    expect(v('ok', {}, Array(5).fill({ kind: 'image' }))).toEqual([['TOO_MANY_MEDIA', 'media']]);
    expect(v('ok', {}, [{ kind: 'video' }, { kind: 'image' }])).toEqual([['MEDIA_MIXED_KINDS', 'media']]);
  });
});

describe('Mastodon errors, classified', () => {
  it('reads a 401 as a revoked token (Mastodon tokens do not expire) and never asks for a refresh', async () => {
    const a = await account();
    await fetch(`${base}/_sim/accounts/${a.id}/revoke`, { method: 'POST' });
    const r = await mastodonConnector.publish(a.ctx, draft(a, 'after revocation'));
    expect(!r.ok && r.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false });
    expect(a.refreshes).toBe(0);
    const b = await account();
    sandbox.mastodon.core.addFault({ operation: CREATE, account: b.id, fault: { kind: 'expired_token' } });
    const e = await mastodonConnector.publish(b.ctx, draft(b, 'expired?'));
    expect(!e.ok && e.error).toMatchObject({ category: 'revoked', message: expect.stringMatching(/The access token is invalid/) });
    expect(b.refreshes).toBe(0);
  });

  it('reads 403s: a missing scope means reconnecting, a disabled login is lost access, a refusal is permanent', async () => {
    const readOnly = await account(['read']);
    const r = await mastodonConnector.publish(readOnly.ctx, draft(readOnly, 'no write scope'));
    expect(!r.ok && r.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', retryable: false });
    expect(served(CREATE).at(-1)).toMatchObject({ account: readOnly.id, status: 403 });
    const a = await account();
    for (const [error, category] of [['Your login is currently disabled', 'revoked'], ['This action is not allowed', 'permanent']] as const) {
      sandbox.mastodon.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'status', status: 403, body: { error } } });
      const x = await mastodonConnector.publish(a.ctx, draft(a, 'forbidden'));
      expect(!x.ok && x.error).toMatchObject({ category, retryable: false });
    }
  });

  it('reads a 422 as the content\'s problem and a 429 as a wait until X-RateLimit-Reset', async () => {
    const a = await account();
    sandbox.mastodon.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'status', status: 422, body: { error: "Validation failed: Text can't be blank" } } });
    const bad = await mastodonConnector.publish(a.ctx, draft(a, 'refused'));
    expect(!bad.ok && bad.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false });
    sandbox.mastodon.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'rate_limit', retry_after_seconds: 42 } });
    const limited = await mastodonConnector.publish(a.ctx, draft(a, 'limited'));
    expect(!limited.ok && limited.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true });
    const wait = !limited.ok ? limited.error.retryAfterMs! : 0;
    expect(wait).toBeGreaterThan(40_000);
    expect(wait).toBeLessThanOrEqual(42_000);
    // The simulator's own limit: 300 requests per 5 minutes per account, with Mastodon's headers.
    sandbox.mastodon.config.requestsPer5Min = 1;
    const c = await account();
    await published(c, draft(c, 'first request'));
    const over = await mastodonConnector.publish(c.ctx, draft(c, 'second request'));
    expect(!over.ok && over.error).toMatchObject({ category: 'rate_limited' });
    expect(!over.ok && over.error.retryAfterMs! <= 300_000).toBe(true);
  });

  it.each([500, 502, 503])('reads a %i as transient, whether its body is JSON or an HTML page', async (status) => {
    const a = await account();
    sandbox.mastodon.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'status', status, ...(status === 502 ? { body: '<html><body><h1>502 Bad Gateway</h1></body></html>', headers: { 'content-type': 'text/html' } } : {}) } });
    const r = await mastodonConnector.publish(a.ctx, draft(a, `server error ${status}`));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true });
    if (status === 502) expect(!r.ok && r.error.message).toMatch(/502 Bad Gateway/);
  });

  it('asks for JSON: without Accept: application/json the same refusal is an HTML page', async () => {
    const a = await account();
    const body = JSON.stringify({ status: '' });
    const headers = { authorization: `Bearer ${a.ctx.credentials.accessToken}`, 'content-type': 'application/json' };
    const html = await fetch(`${base}/api/v1/statuses`, { method: 'POST', headers, body });
    expect([html.status, html.headers.get('content-type')]).toEqual([422, 'text/html; charset=utf-8']);
    const json = await fetch(`${base}/api/v1/statuses`, { method: 'POST', headers: { ...headers, accept: 'application/json' }, body });
    expect(await json.json()).toEqual({ error: "Validation failed: Text can't be blank" });
  });

  it('reports an unreachable instance as transient with nothing sent', async () => {
    const a = await account();
    a.ctx.baseUrl = 'http://127.0.0.1:9';
    const r = await mastodonConnector.publish(a.ctx, draft(a, 'unreachable'));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNREACHABLE', retryable: true });
    expect(!r.ok && r.error.outcomeUnknown).toBeFalsy();
  });
});

describe('a lost answer is read back, never posted twice', () => {
  it('finds the status whose answer timed out, by the checkpoint saved before the POST', async () => {
    const a = await account();
    sandbox.mastodon.core.log.length = 0;
    sandbox.mastodon.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_000 } });
    a.ctx.signal = abortOnceServed(sandbox.mastodon.core, a.id, CREATE);
    const d = draft(a, 'answer lost');
    const first = await mastodonConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ outcomeUnknown: true });
    expect(d.checkpoint).toMatchObject({ posted: [], sending: { index: 0 } });
    a.ctx.signal = AbortSignal.timeout(10_000);
    const found = await mastodonConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value?.platformPostId).toBe(stored(a.id)[0]!.id);
    expect(stored(a.id)).toHaveLength(1);
  });

  it('after the Idempotency-Key expired, continues a thread whose second answer was lost by reading it back', async () => {
    const a = await account();
    sandbox.mastodon.config.idempotencyTtlSec = 0; // as if the hour had passed
    const d = draft(a, 'part one', { thread: [{ text: 'part two' }, { text: 'part three' }] });
    const save = a.ctx.checkpoint;
    a.ctx.checkpoint = async (state) => {
      await save(state);
      const s = state['sending'] as { index: number } | undefined;
      if (s?.index === 1) {
        sandbox.mastodon.core.addFault({ operation: CREATE, account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_000 } });
        a.ctx.signal = abortOnceServed(sandbox.mastodon.core, a.id, CREATE);
      }
    };
    sandbox.mastodon.core.log.length = 0;
    const first = await mastodonConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ outcomeUnknown: true });
    expect(stored(a.id).map((s) => s.text).sort()).toEqual(['part one', 'part two']);
    a.ctx.checkpoint = save;
    a.ctx.signal = AbortSignal.timeout(10_000);
    // Not all of it is out: the read-back says "not published", the next attempt continues.
    expect(await mastodonConnector.findExisting!(a.ctx, d)).toEqual({ ok: true, value: null });
    const p = await published(a, d);
    const texts = stored(a.id).map((s) => s.text).sort();
    expect(texts).toEqual(['part one', 'part three', 'part two']);
    const two = stored(a.id).find((s) => s.text === 'part two')!;
    expect(two.inReplyToId).toBe(p.platformPostId);
    expect(stored(a.id).find((s) => s.text === 'part three')!.inReplyToId).toBe(two.id);
  });
});
