// Facebook Pages feed posts over real HTTP against the Graph simulator: text and link posts, photos uploaded
// unpublished and attached to one post (pulled by the simulator from a local file server standing in for
// Crier's signed URLs), validation at creation, Graph's errors classified, the 506 duplicate rule, and a
// post whose answer was lost read back instead of published twice.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { facebookAuth, type FacebookCredentials } from '../src/connectors/facebook/auth.js';
import { facebookConnector } from '../src/connectors/facebook/connector.js';
import { isPending } from '../src/connectors/types.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { freshConfig } from '../src/sandbox/meta/graph.js';
import { abortWhenServed, makeMetaFixtures, media, metaCtx, metaDraft, startFileServer, type FileServer, type MetaFixtures, type TestAccount } from './support/meta.js';

/** A response's JSON body (untyped: the tests look into Graph's answers). */
const j = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
let sandbox: SandboxServer;
let base: string;
let files: FileServer;
let fx: MetaFixtures;

beforeAll(async () => {
  [sandbox, files, fx] = await Promise.all([startSandboxServer(), startFileServer(), makeMetaFixtures()]);
  base = `${sandbox.url}/facebook`;
});
afterAll(async () => {
  await sandbox?.close();
  await files?.close();
});
beforeEach(() => {
  sandbox.meta.core.clearFaults();
  Object.assign(sandbox.meta.config, freshConfig());
});

async function page(): Promise<TestAccount<FacebookCredentials>> {
  const created = await facebookConnector.sandbox!.createAccount(base, `p${Math.random().toString(36).slice(2, 10)}`);
  const a = metaCtx(base, created.credentials, facebookAuth);
  a.id = created.externalId;
  return a;
}

const posts = (pageId: string) => [...sandbox.meta.posts.values()].filter((p) => p.pageId === pageId).sort((x, y) => x.createdAt - y.createdAt);
const unique = (s: string) => `${s} ${Math.random().toString(36).slice(2, 8)}`;

async function published(a: TestAccount<FacebookCredentials>, d: ReturnType<typeof metaDraft>) {
  const r = await facebookConnector.publish(a.ctx, d);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  if (isPending(r.value)) throw new Error('unexpectedly pending');
  return r.value;
}

describe('Facebook feed posts', () => {
  it('publishes a text post and a link post with their Graph ids and permalinks', async () => {
    const a = await page();
    const text = await published(a, metaDraft(a, 'Hello from Crier 👋'));
    const link = await published(a, metaDraft(a, 'read this', [], { link: 'https://example.com/article' }));
    expect(posts(a.id).map((p) => [p.id, p.kind, p.message, p.link])).toEqual([
      [text.platformPostId, 'status', 'Hello from Crier 👋', undefined],
      [link.platformPostId, 'link', 'read this', 'https://example.com/article'],
    ]);
    expect(text.platformPostId).toMatch(new RegExp(`^${a.id}_\\d+$`));
    const shown = await fetch(text.url);
    expect(shown.status).toBe(200);
    expect(await j(shown)).toMatchObject({ id: text.platformPostId, message: 'Hello from Crier 👋' });
  });

  it('uploads photos unpublished, saving each id, then attaches them to one post in order with alt text', async () => {
    const a = await page();
    const files3 = [media(files, fx.jpeg, 'image', { alt: 'a blue field' }), media(files, fx.png, 'image'), media(files, fx.square, 'image')];
    const d = metaDraft(a, 'three photos', files3);
    const r = await published(a, d);
    const [post] = posts(a.id);
    expect(post).toMatchObject({ id: r.platformPostId, kind: 'album', message: 'three photos' });
    const photos = post!.photoIds!.map((id) => sandbox.meta.photos.get(id)!);
    expect(photos.map((p) => [p.url, p.published, p.postId, p.media.mimeType])).toEqual([
      [files3[0]!.url, false, post!.id, 'image/jpeg'],
      [files3[1]!.url, false, post!.id, 'image/png'],
      [files3[2]!.url, false, post!.id, 'image/jpeg'],
    ]);
    expect(d.checkpoint).toMatchObject({ photos: post!.photoIds, postId: post!.id });
    for (const f of files3) expect(files.hits).toContain(new URL(f.url!).pathname + '?sig=test');
  });

  it('publishes one photo without text as a photo post', async () => {
    const a = await page();
    const r = await published(a, metaDraft(a, '', [media(files, fx.jpeg, 'image')]));
    expect(posts(a.id)).toEqual([expect.objectContaining({ id: r.platformPostId, kind: 'photo', message: undefined })]);
  });

  it('refuses photos Facebook cannot take, and posts nothing', async () => {
    const a = await page();
    const notImage = await facebookConnector.publish(a.ctx, metaDraft(a, 'broken', [media(files, fx.notMedia, 'image')]));
    expect(!notImage.ok && notImage.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: '324', retryable: false });
    const gone = metaDraft(a, 'gone', [media(files, fx.jpeg, 'image', { url: files.broken(404) })]);
    const missing = await facebookConnector.publish(a.ctx, gone);
    expect(!missing.ok && missing.error).toMatchObject({ category: 'media_error', platformCode: '324' });
    sandbox.meta.config.photoMaxBytes = fx.jpeg.length - 1;
    const big = await facebookConnector.publish(a.ctx, metaDraft(a, 'big', [media(files, fx.jpeg, 'image')]));
    expect(!big.ok && big.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: '100/1366046' });
    expect(posts(a.id)).toEqual([]);
  });

  it('fails clearly, and for good, when a file has no public URL', async () => {
    const a = await page();
    const r = await facebookConnector.publish(a.ctx, metaDraft(a, 'no url', [media(files, fx.jpeg, 'image', { url: null })]));
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_FAILED', retryable: false });
    expect(!r.ok && r.error.message).toMatch(/CRIER_PUBLIC_URL/);
  });

  it('refuses at validation what Facebook refuses', () => {
    const v = (text: string, kinds: ('image' | 'video')[], options: Record<string, unknown> = {}) => facebookConnector.validate({ text, options, media: kinds.map((kind) => ({ kind })) }).map((i) => i.code);
    expect(v('a'.repeat(63_206), [])).toEqual([]);
    expect(v('a'.repeat(63_207), [])).toEqual(['TEXT_TOO_LONG']);
    expect(v('', [])).toEqual(['TEXT_EMPTY']);
    expect(v('', [], { link: 'https://example.com' })).toEqual([]);
    expect(v('x', ['image', 'video'])).toEqual(['MEDIA_MIXED_KINDS']);
    expect(v('x', ['video', 'video'])).toEqual(['TOO_MANY_MEDIA']);
    expect(v('x', Array(11).fill('image'))).toEqual(['TOO_MANY_MEDIA']);
    expect(v('x', ['image'], { link: 'https://example.com' })).toEqual(['OPTION_INVALID']);
    expect(v('x', [], { kind: 'reel' })).toEqual(['MEDIA_REQUIRED']);
    expect(v('x', ['image'], { kind: 'reel' })).toEqual(['MEDIA_UNSUPPORTED_TYPE']);
    expect(v('x', ['image', 'image'], { kind: 'story' })).toEqual(['TOO_MANY_MEDIA']);
    expect(v('', ['image'], { kind: 'story' })).toEqual([]);
    expect(v('x', ['image'], { title: 'Title' })).toEqual(['OPTION_INVALID']);
  });

  it('refuses a status that repeats the Page\'s latest one as a duplicate (#506)', async () => {
    const a = await page();
    const text = unique('same words');
    await published(a, metaDraft(a, text));
    const again = await facebookConnector.publish(a.ctx, metaDraft(a, text));
    expect(!again.ok && again.error).toMatchObject({ category: 'duplicate', code: 'DUPLICATE_CONTENT', platformCode: '506', retryable: false });
    expect(posts(a.id)).toHaveLength(1);
  });
});

describe('Facebook errors', () => {
  it('renews an expired Page token from the stored user token and publishes', async () => {
    const a = await page();
    sandbox.meta.core.addFault({ operation: 'page.feed', account: a.id, fault: { kind: 'expired_token' } });
    const before = a.ctx.credentials.accessToken;
    const r = await published(a, metaDraft(a, unique('after renewal')));
    expect(a.refreshed()).toBe(1);
    expect(a.ctx.credentials.accessToken).not.toBe(before);
    expect(posts(a.id)).toEqual([expect.objectContaining({ id: r.platformPostId })]);
  });

  it('reads a changed password as revoked, and an expired login as a reconnect', async () => {
    const a = await page();
    const userId = decodeJwt(a.ctx.credentials.accessToken).sub!;
    await fetch(`${base}/_sim/users/${userId}/invalidate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subcode: 460 }) });
    const r = await facebookConnector.publish(a.ctx, metaDraft(a, 'password changed'));
    expect(!r.ok && r.error).toMatchObject({ category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', platformCode: '190/460', retryable: false });
    expect(a.refreshed()).toBe(0);
    const b = await page();
    b.ctx.credentials = { ...b.ctx.credentials, userTokenExpiresAt: new Date(Date.now() - 1000).toISOString() };
    sandbox.meta.core.addFault({ operation: 'page.feed', account: b.id, fault: { kind: 'expired_token' } });
    const e = await facebookConnector.publish(b.ctx, metaDraft(b, 'login expired'));
    expect(!e.ok && e.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', retryable: false });
    expect(b.refreshed()).toBe(1);
  });

  it('reads a Page role taken away as revoked', async () => {
    const a = await page();
    sandbox.meta.pages.get(a.id)!.roles.clear();
    const r = await facebookConnector.publish(a.ctx, metaDraft(a, 'no role'));
    expect(!r.ok && r.error).toMatchObject({ category: 'revoked', platformCode: '190/492' });
  });

  it('classifies invalid parameters, missing permissions, throttling and server errors', async () => {
    const a = await page();
    sandbox.meta.core.addFault({ operation: 'page.feed', account: a.id, fault: { kind: 'status', status: 400, body: { error: { message: '(#100) Invalid parameter', type: 'OAuthException', code: 100, fbtrace_id: 'x' } } } });
    const bad = await facebookConnector.publish(a.ctx, metaDraft(a, 'bad'));
    expect(!bad.ok && bad.error).toMatchObject({ category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode: '100', retryable: false });
    sandbox.meta.core.addFault({ operation: 'page.feed', account: a.id, fault: { kind: 'status', status: 403 } });
    const forbidden = await facebookConnector.publish(a.ctx, metaDraft(a, 'forbidden'));
    expect(!forbidden.ok && forbidden.error).toMatchObject({ category: 'revoked', platformCode: '200', retryable: false });
    sandbox.meta.core.addFault({ operation: 'page.feed', account: a.id, fault: { kind: 'rate_limit', retry_after_seconds: 150 } });
    const throttled = await facebookConnector.publish(a.ctx, metaDraft(a, 'throttled'));
    // Graph names the wait in whole minutes (X-Business-Use-Case-Usage): 150 s is 3 minutes.
    expect(!throttled.ok && throttled.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', platformCode: '80001', retryable: true, retryAfterMs: 180_000 });
    for (const status of [500, 503]) {
      sandbox.meta.core.addFault({ operation: 'page.feed', account: a.id, fault: { kind: 'status', status } });
      const r = await facebookConnector.publish(a.ctx, metaDraft(a, `server ${status}`));
      expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true });
    }
    sandbox.meta.core.addFault({ operation: 'page.feed', account: a.id, fault: { kind: 'status', status: 400, body: { error: { message: '(#368) The action attempted has been deemed abusive', type: 'OAuthException', code: 368, fbtrace_id: 'x' } } } });
    const blocked = await facebookConnector.publish(a.ctx, metaDraft(a, 'blocked'));
    expect(!blocked.ok && blocked.error).toMatchObject({ category: 'permanent', platformCode: '368', retryable: false });
    expect(posts(a.id)).toEqual([]);
  });

  it('sees a token without pages_manage_posts refused by Graph as lost access', async () => {
    const res = await fetch(`${base}/_sim/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'readonly_user', scopes: ['pages_show_list', 'pages_read_engagement'] }) });
    const acct = (await j(res)) as { page_id: string; page_access_token: string };
    const a = metaCtx<FacebookCredentials>(base, { accessToken: acct.page_access_token, pageId: acct.page_id });
    const r = await facebookConnector.publish(a.ctx, metaDraft(a, 'not allowed'));
    expect(!r.ok && r.error).toMatchObject({ category: 'revoked', platformCode: '200' });
  });
});

describe('Facebook read-back', () => {
  it('does not post twice when the answer to a text post was lost', async () => {
    const a = await page();
    const d = metaDraft(a, unique('the answer gets lost'));
    sandbox.meta.core.addFault({ operation: 'page.feed', account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_500 } });
    a.ctx.signal = abortWhenServed(sandbox.meta.core.log, a.id, 'page.feed');
    const first = await facebookConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ outcomeUnknown: true });
    expect(posts(a.id)).toHaveLength(1);
    a.ctx.signal = AbortSignal.timeout(10_000);
    const found = await facebookConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value).toMatchObject({ platformPostId: posts(a.id)[0]!.id });
    // A publish after that (the worker would not call it) adopts the checkpointed post without sending.
    const again = await published(a, d);
    expect(again.platformPostId).toBe(posts(a.id)[0]!.id);
    expect(posts(a.id)).toHaveLength(1);
  });

  it('finds a photo post whose answer was lost by its photo ids, even without text', async () => {
    const a = await page();
    const d = metaDraft(a, '', [media(files, fx.jpeg, 'image'), media(files, fx.square, 'image')]);
    sandbox.meta.core.addFault({ operation: 'page.feed', account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_500 } });
    a.ctx.signal = abortWhenServed(sandbox.meta.core.log, a.id, 'page.feed');
    const first = await facebookConnector.publish(a.ctx, d);
    expect(!first.ok && first.error.outcomeUnknown).toBe(true);
    a.ctx.signal = AbortSignal.timeout(10_000);
    // An unrelated post without text after it does not confuse the read-back.
    await published(a, metaDraft(a, '', [media(files, fx.jpeg, 'image')]));
    const found = await facebookConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value?.platformPostId).toBe(posts(a.id)[0]!.id);
  });

  it('sends again when the lost post never arrived, and adopts its own post when a resend is refused as a duplicate', async () => {
    const a = await page();
    const text = unique('sent twice');
    const d = metaDraft(a, text);
    // The first request broke before Facebook took it: the next attempt finds nothing and sends again.
    d.checkpoint = { sentAt: new Date().toISOString() };
    const first = await published(a, d);
    expect(posts(a.id)).toHaveLength(1);
    // A publication whose earlier send went through, and whose checkpoint was lost after sentAt: the resend
    // is refused as a duplicate (#506) and its own post adopted.
    const e = metaDraft(a, text);
    e.checkpoint = { sentAt: new Date(Date.now() - 1000).toISOString() };
    // Facebook's feed lags once (an empty page of posts), so the resend goes out.
    sandbox.meta.core.addFault({ operation: 'page.published_posts', account: a.id, times: 1, fault: { kind: 'status', status: 200, body: { data: [] } } as never });
    const adopted = await facebookConnector.publish(a.ctx, e);
    expect(adopted.ok && !isPending(adopted.value) && adopted.value.platformPostId).toBe(first.platformPostId);
    expect(posts(a.id)).toHaveLength(1);
    // A first send refused as a duplicate is someone else's post: that stays an error.
    const other = await facebookConnector.publish(a.ctx, metaDraft(a, text));
    expect(!other.ok && other.error.category).toBe('duplicate');
  });

  it('finds nothing for a publication that never sent its post', async () => {
    const a = await page();
    const d = metaDraft(a, unique('never sent'));
    d.checkpoint = { photos: [] };
    expect(await facebookConnector.findExisting!(a.ctx, d)).toEqual({ ok: true, value: null });
    const none = metaDraft(a, unique('no checkpoint'));
    expect(await facebookConnector.findExisting!(a.ctx, none)).toEqual({ ok: true, value: null });
  });
});
