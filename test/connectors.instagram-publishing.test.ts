// Instagram publishing's side paths over real HTTP against the Graph simulator: the first comment (posted
// after the publish, never failing or repeating the publication), the 24-hour publishing limit read before
// media_publish, an answer to media_publish that was lost (read back through the container's status and the
// account's media, never published twice), and Graph's errors on the Instagram edges.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { instagramAuth, type InstagramCredentials } from '../src/connectors/instagram/auth.js';
import { instagramConnector } from '../src/connectors/instagram/connector.js';
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
  base = `${sandbox.url}/instagram`;
});
afterAll(async () => {
  await sandbox?.close();
  await files?.close();
});
beforeEach(() => {
  sandbox.meta.core.clearFaults();
  Object.assign(sandbox.meta.config, freshConfig());
});

async function account(scopes?: string[]): Promise<TestAccount<InstagramCredentials>> {
  let created;
  if (scopes) {
    const res = await fetch(`${base}/_sim/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `s${Math.random().toString(36).slice(2, 10)}`, scopes }) });
    const b = (await j(res)) as { page_id: string; page_access_token: string; ig_user_id: string; ig_username: string };
    created = { externalId: b.ig_user_id, credentials: { accessToken: b.page_access_token, pageId: b.page_id, igUserId: b.ig_user_id, username: b.ig_username } as InstagramCredentials };
  } else created = await instagramConnector.sandbox!.createAccount(base, `i${Math.random().toString(36).slice(2, 10)}`);
  const a = metaCtx(base, created.credentials, instagramAuth);
  a.id = created.externalId;
  return a;
}

const mediaOf = (ig: string) => [...sandbox.meta.igMedia.values()].filter((m) => m.igUserId === ig);
const commentsOn = (mediaId: string) => [...sandbox.meta.comments.values()].filter((c) => c.targetId === mediaId);
const ops = (operation: string, account: string) => sandbox.meta.core.log.filter((r) => r.operation === operation && r.account === account).length;
const unique = (s: string) => `${s} ${Math.random().toString(36).slice(2, 8)}`;

describe('Instagram first comment', () => {
  it('posts the first comment under the post once it is published', async () => {
    const a = await account();
    const d = metaDraft(a, unique('with a comment'), [media(files, fx.jpeg, 'image')], { first_comment: '#more #tags here' });
    const r = await instagramConnector.publish(a.ctx, d);
    if (!r.ok || isPending(r.value)) throw new Error(JSON.stringify(r));
    expect(commentsOn(r.value.platformPostId).map((c) => c.text)).toEqual(['#more #tags here']);
    expect(d.checkpoint).toMatchObject({ mediaId: r.value.platformPostId, comment: { state: 'posted', id: expect.any(String) } });
  });

  it('publishes even when the first comment fails, records why, and never tries it again', async () => {
    // A login without instagram_manage_comments: Graph refuses the comment (#10).
    const a = await account(['instagram_basic', 'instagram_content_publish', 'pages_show_list', 'pages_read_engagement']);
    const d = metaDraft(a, unique('comment refused'), [media(files, fx.jpeg, 'image')], { first_comment: 'first!' });
    const warned: object[] = [];
    a.ctx.log = { info() {}, error() {}, warn: (o) => void warned.push(o) };
    const r = await instagramConnector.publish(a.ctx, d);
    expect(r.ok && !isPending(r.value) && r.value.platformPostId).toBe(mediaOf(a.id)[0]!.id);
    expect(d.checkpoint).toMatchObject({ comment: { state: 'failed', error: expect.stringMatching(/instagram_manage_comments/) } });
    expect(warned).toHaveLength(1);
    const again = await instagramConnector.publish(a.ctx, d);
    expect(again.ok).toBe(true);
    expect(ops('comments.create', a.id)).toBe(1);
    expect(mediaOf(a.id)).toHaveLength(1);
  });

  it('reads the comments back when the answer to the comment was lost, instead of commenting twice', async () => {
    const a = await account();
    const d = metaDraft(a, unique('comment answer lost'), [media(files, fx.jpeg, 'image')], { first_comment: 'only once' });
    sandbox.meta.core.addFault({ operation: 'comments.create', account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_500 } });
    a.ctx.signal = abortWhenServed(sandbox.meta.core.log, a.id, 'comments.create');
    const r = await instagramConnector.publish(a.ctx, d);
    // The attempt timed out after the publish: its outcome reads as unknown (so the worker reads back, never
    // re-publishes), with the media id and the comment's `sending` saved.
    expect(!r.ok && r.error).toMatchObject({ outcomeUnknown: true, message: expect.stringMatching(/published on Instagram/) });
    expect(d.checkpoint).toMatchObject({ mediaId: mediaOf(a.id)[0]!.id, comment: { state: 'sending' } });
    a.ctx.signal = AbortSignal.timeout(10_000);
    const found = await instagramConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value?.platformPostId).toBe(mediaOf(a.id)[0]!.id);
    expect(d.checkpoint).toMatchObject({ comment: { state: 'posted' } });
    expect(commentsOn(mediaOf(a.id)[0]!.id)).toHaveLength(1);
    expect(ops('comments.create', a.id)).toBe(1);
  });
});

describe('Instagram publishing limit', () => {
  it('reads the 24-hour limit before publishing and waits when it is used up', async () => {
    const a = await account();
    sandbox.meta.config.igPublishQuota = 2;
    for (const n of [1, 2]) {
      const r = await instagramConnector.publish(a.ctx, metaDraft(a, `post ${n}`, [media(files, fx.jpeg, 'image')]));
      expect(r.ok).toBe(true);
    }
    const third = await instagramConnector.publish(a.ctx, metaDraft(a, 'post 3', [media(files, fx.jpeg, 'image')]));
    expect(!third.ok && third.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true, retryAfterMs: 3_600_000 });
    expect(ops('ig.media_publish', a.id)).toBe(2);
    expect(mediaOf(a.id)).toHaveLength(2);
    // Had Crier not looked first, Instagram itself refuses the publish (9/2207042), read the same way.
    sandbox.meta.core.addFault({ operation: 'ig.content_publishing_limit', account: a.id, fault: { kind: 'status', status: 200, body: { data: [] } } as never });
    const forced = await instagramConnector.publish(a.ctx, metaDraft(a, 'post 4', [media(files, fx.jpeg, 'image')]));
    expect(!forced.ok && forced.error).toMatchObject({ category: 'rate_limited', platformCode: '9/2207042', retryAfterMs: 3_600_000 });
    expect(mediaOf(a.id)).toHaveLength(2);
  });
});

describe('Instagram read-back and errors', () => {
  it('does not publish twice when the answer to media_publish was lost', async () => {
    const a = await account();
    const d = metaDraft(a, unique('publish answer lost'), [media(files, fx.jpeg, 'image')]);
    sandbox.meta.core.addFault({ operation: 'ig.media_publish', account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_500 } });
    a.ctx.signal = abortWhenServed(sandbox.meta.core.log, a.id, 'ig.media_publish');
    const first = await instagramConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ outcomeUnknown: true });
    expect(d.checkpoint).toMatchObject({ container: expect.any(String), sentAt: expect.any(String) });
    a.ctx.signal = AbortSignal.timeout(10_000);
    const found = await instagramConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value?.platformPostId).toBe(mediaOf(a.id)[0]!.id);
    // Should publish run anyway (a checkpoint without the media id), the container's status stops it.
    const again = await instagramConnector.publish(a.ctx, { ...d, checkpoint: { ...d.checkpoint, mediaId: undefined, url: undefined } });
    expect(again.ok && !isPending(again.value) && again.value.platformPostId).toBe(mediaOf(a.id)[0]!.id);
    expect(mediaOf(a.id)).toHaveLength(1);
    expect(ops('ig.media_publish', a.id)).toBe(1);
  });

  it('finds nothing when media_publish never left, and an unrelated post with the same caption is not taken without a container', async () => {
    const a = await account();
    const text = unique('same caption');
    const d = metaDraft(a, text, [media(files, fx.jpeg, 'image')]);
    sandbox.meta.core.addFault({ operation: 'ig.media_publish', account: a.id, fault: { kind: 'status', status: 503 } });
    const failed = await instagramConnector.publish(a.ctx, d);
    expect(!failed.ok && failed.error).toMatchObject({ category: 'transient', retryable: true });
    expect(await instagramConnector.findExisting!(a.ctx, d)).toEqual({ ok: true, value: null });
    await instagramConnector.publish(a.ctx, metaDraft(a, text, [media(files, fx.jpeg, 'image')]));
    expect(await instagramConnector.findExisting!(a.ctx, d)).toEqual({ ok: true, value: null });
    const r = await instagramConnector.publish(a.ctx, d);
    expect(r.ok).toBe(true);
    expect(mediaOf(a.id)).toHaveLength(2);
  });

  it('renews an expired token, and classifies revocation, permissions and throttling on Instagram calls', async () => {
    const a = await account();
    sandbox.meta.core.addFault({ operation: 'ig.media_publish', account: a.id, fault: { kind: 'expired_token' } });
    const renewed = await instagramConnector.publish(a.ctx, metaDraft(a, unique('renewed'), [media(files, fx.jpeg, 'image')]));
    expect(renewed.ok).toBe(true);
    expect(a.refreshed()).toBe(1);
    sandbox.meta.core.addFault({ operation: 'ig.media', account: a.id, fault: { kind: 'rate_limit', retry_after_seconds: 30 } });
    const throttled = await instagramConnector.publish(a.ctx, metaDraft(a, unique('throttled'), [media(files, fx.jpeg, 'image')]));
    expect(!throttled.ok && throttled.error).toMatchObject({ category: 'rate_limited', retryAfterMs: 60_000 });
    sandbox.meta.core.addFault({ operation: 'ig.media', account: a.id, fault: { kind: 'status', status: 400, body: { error: { message: 'The user is restricted', type: 'OAuthException', code: 25, error_subcode: 2207050, fbtrace_id: 'x' } } } });
    const restricted = await instagramConnector.publish(a.ctx, metaDraft(a, unique('restricted'), [media(files, fx.jpeg, 'image')]));
    expect(!restricted.ok && restricted.error).toMatchObject({ category: 'permanent', platformCode: '25/2207050', retryable: false });
    await fetch(`${base}/_sim/users/${decodeJwt(a.ctx.credentials.accessToken).sub}/invalidate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subcode: 458 }) });
    const removed = await instagramConnector.publish(a.ctx, metaDraft(a, unique('app removed'), [media(files, fx.jpeg, 'image')]));
    expect(!removed.ok && removed.error).toMatchObject({ category: 'revoked', platformCode: '190/458' });
    const noPublish = await account(['instagram_basic', 'pages_show_list', 'pages_read_engagement']);
    const refused = await instagramConnector.publish(noPublish.ctx, metaDraft(noPublish, 'x', [media(files, fx.jpeg, 'image')]));
    expect(!refused.ok && refused.error).toMatchObject({ category: 'revoked', platformCode: '10' });
  });
});
