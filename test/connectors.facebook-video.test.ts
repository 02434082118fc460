// Facebook video over real HTTP against the Graph simulator: a Page video pulled by file_url and published
// once processed (Pending, then checkStatus), Reels through start → rupload (by file URL) → finish, photo and
// video Stories, the limits Facebook puts on each (and the simulator enforces), and lost answers to the
// publishing calls read back from the video's state or the Page's stories.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { facebookAuth, type FacebookCredentials } from '../src/connectors/facebook/auth.js';
import { facebookConnector } from '../src/connectors/facebook/connector.js';
import { isPending, type PublicationDraft } from '../src/connectors/types.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { freshConfig } from '../src/sandbox/meta/graph.js';
import { abortWhenServed, makeMetaFixtures, media, metaCtx, metaDraft, sleep, startFileServer, type FileServer, type MetaFixtures, type TestAccount } from './support/meta.js';

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
  Object.assign(sandbox.meta.config, freshConfig({ processingMs: { video: 100, reel: 100, igVideo: 100 } }));
});

async function page(): Promise<TestAccount<FacebookCredentials>> {
  const created = await facebookConnector.sandbox!.createAccount(base, `v${Math.random().toString(36).slice(2, 10)}`);
  const a = metaCtx(base, created.credentials, facebookAuth);
  a.id = created.externalId;
  return a;
}

const posts = (pageId: string) => [...sandbox.meta.posts.values()].filter((p) => p.pageId === pageId);
const videos = (pageId: string) => [...sandbox.meta.videos.values()].filter((v) => v.pageId === pageId);
const ops = (operation: string, account: string) => sandbox.meta.core.log.filter((r) => r.operation === operation && r.account === account).length;

/** Publishes, following Pending with checkStatus as the worker does, until published or failed. */
async function toEnd(a: TestAccount<FacebookCredentials>, d: PublicationDraft) {
  let r = await facebookConnector.publish(a.ctx, d);
  for (let i = 0; i < 40 && r.ok && isPending(r.value); i++) {
    await sleep(100);
    r = await facebookConnector.checkStatus!(a.ctx, d, r.value.pending.ref);
  }
  return r;
}

describe('Facebook Page videos and Reels', () => {
  it('publishes a Page video Facebook fetched and processed, through Pending and checkStatus', async () => {
    const a = await page();
    sandbox.meta.config.processingMs.video = 1_800;
    const vid = media(files, fx.mp4, 'video', { durationMs: 4_000 });
    const d = metaDraft(a, 'a video', [vid], { title: 'My video' });
    const first = await facebookConnector.publish(a.ctx, d);
    expect(first.ok && isPending(first.value)).toBe(true);
    expect(d.checkpoint).toMatchObject({ videoId: expect.any(String), sentAt: expect.any(String) });
    const r = await toEnd(a, d);
    expect(r.ok && !isPending(r.value) && r.value).toMatchObject({ platformPostId: (d.checkpoint as { videoId: string }).videoId });
    expect(videos(a.id)).toEqual([expect.objectContaining({ kind: 'video', title: 'My video', description: 'a video', fileUrl: vid.url, media: expect.objectContaining({ mimeType: 'video/mp4', durationMs: 4_000 }) })]);
    expect(posts(a.id)).toEqual([expect.objectContaining({ kind: 'video', videoId: videos(a.id)[0]!.id, message: 'a video' })]);
    expect(ops('page.videos', a.id)).toBe(1);
  });

  it('publishes a reel: start, rupload with the file URL, finish, then processing', async () => {
    const a = await page();
    const d = metaDraft(a, 'my first reel', [media(files, fx.mp4, 'video', { durationMs: 4_000 })], { kind: 'reel' });
    const r = await toEnd(a, d);
    if (!r.ok || isPending(r.value)) throw new Error(JSON.stringify(r));
    const [v] = videos(a.id);
    expect(v).toMatchObject({ id: r.value.platformPostId, kind: 'reel', description: 'my first reel', videoState: 'PUBLISHED', postId: expect.any(String) });
    expect(r.value.url).toMatch(new RegExp(`/web/reel/${v!.id}$`));
    expect((await fetch(r.value.url)).status).toBe(200);
    expect(['page.video_reels', 'rupload'].map((op) => ops(op, a.id))).toEqual([2, 1]);
  });

  it('refuses reels outside 3–90 s: before sending when the length is known, through Facebook\'s processing when not', async () => {
    const a = await page();
    const known = await facebookConnector.publish(a.ctx, metaDraft(a, 'too short', [media(files, fx.shortMp4, 'video', { durationMs: 1_000 })], { kind: 'reel' }));
    expect(!known.ok && known.error).toMatchObject({ category: 'media_error', code: 'MEDIA_INVALID', retryable: false });
    expect(videos(a.id)).toEqual([]);
    const r = await toEnd(a, metaDraft(a, 'too short, unknown', [media(files, fx.shortMp4, 'video')], { kind: 'reel' }));
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', retryable: false });
    expect(!r.ok && r.error.message).toMatch(/3–90 seconds/);
    expect(posts(a.id)).toEqual([]);
  });

  it('reports a file rupload cannot take (not a video, or not reachable) as a media error', async () => {
    const a = await page();
    const bad = await facebookConnector.publish(a.ctx, metaDraft(a, 'not a video', [media(files, fx.notMedia, 'video')], { kind: 'reel' }));
    expect(!bad.ok && bad.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'ProcessingFailedError', retryable: false });
    const d = metaDraft(a, 'unreachable', [media(files, fx.mp4, 'video', { url: files.broken(503) })], { kind: 'reel' });
    const gone = await facebookConnector.publish(a.ctx, d);
    // Meta could not fetch it this time: retryable, and the next attempt starts a new upload session.
    expect(!gone.ok && gone.error).toMatchObject({ category: 'media_error', retryable: true });
    expect(d.checkpoint).toMatchObject({ videoId: undefined });
    expect(posts(a.id)).toEqual([]);
  });

  it('keeps to the Reels limit per Page and day', async () => {
    const a = await page();
    sandbox.meta.config.reelsPerDay = 1;
    const ok1 = await toEnd(a, metaDraft(a, 'reel one', [media(files, fx.mp4, 'video')], { kind: 'reel' }));
    expect(ok1.ok).toBe(true);
    const two = await facebookConnector.publish(a.ctx, metaDraft(a, 'reel two', [media(files, fx.mp4, 'video')], { kind: 'reel' }));
    expect(!two.ok && two.error).toMatchObject({ category: 'rate_limited', retryable: true });
  });

  it('does not publish a reel twice when the answer to finish was lost', async () => {
    const a = await page();
    const d = metaDraft(a, 'finish lost', [media(files, fx.mp4, 'video')], { kind: 'reel' });
    // start goes through (it uses up the first rule); finish is taken and its answer held back.
    sandbox.meta.core.addFault({ operation: 'page.video_reels', account: a.id, fault: { kind: 'latency', ms: 0 } });
    sandbox.meta.core.addFault({ operation: 'page.video_reels', account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_500 } });
    a.ctx.signal = abortWhenServed(sandbox.meta.core.log, a.id, 'page.video_reels', 2);
    const lost = await facebookConnector.publish(a.ctx, d);
    expect(!lost.ok && lost.error.outcomeUnknown).toBe(true);
    a.ctx.signal = AbortSignal.timeout(10_000);
    // Still processing: not found yet, so the worker's next attempt publishes, which sees that finish arrived.
    const found = await facebookConnector.findExisting!(a.ctx, d);
    expect(found).toEqual({ ok: true, value: null });
    const r = await toEnd(a, d);
    expect(r.ok && !isPending(r.value) && r.value.platformPostId).toBe(videos(a.id)[0]!.id);
    expect(posts(a.id)).toHaveLength(1);
    expect(ops('page.video_reels', a.id)).toBe(2);
    expect(await facebookConnector.findExisting!(a.ctx, { ...d, checkpoint: { ...d.checkpoint, postId: undefined, url: undefined } })).toMatchObject({ ok: true, value: { platformPostId: videos(a.id)[0]!.id } });
  });
});

describe('Facebook Stories', () => {
  it('publishes a photo story from an unpublished photo', async () => {
    const a = await page();
    const d = metaDraft(a, 'not shown on a story', [media(files, fx.jpeg, 'image')], { kind: 'story' });
    const r = await toEnd(a, d);
    if (!r.ok || isPending(r.value)) throw new Error(JSON.stringify(r));
    const [story] = posts(a.id);
    expect(story).toMatchObject({ id: r.value.platformPostId, kind: 'story' });
    expect(story!.message).toBeUndefined();
    expect(sandbox.meta.photos.get(story!.photoIds![0]!)).toMatchObject({ published: false, postId: story!.id });
    expect((await fetch(r.value.url)).status).toBe(200);
  });

  it('publishes a video story, and refuses one over 60 s', async () => {
    const a = await page();
    const r = await toEnd(a, metaDraft(a, '', [media(files, fx.mp4, 'video')], { kind: 'story' }));
    if (!r.ok || isPending(r.value)) throw new Error(JSON.stringify(r));
    expect(posts(a.id)).toEqual([expect.objectContaining({ id: r.value.platformPostId, kind: 'story', videoId: expect.any(String) })]);
    const long = await facebookConnector.publish(a.ctx, metaDraft(a, '', [media(files, fx.mp4, 'video', { durationMs: 61_000 })], { kind: 'story' }));
    expect(!long.ok && long.error).toMatchObject({ category: 'media_error', code: 'MEDIA_INVALID' });
    sandbox.meta.config.storyVideoMaxMs = 2_000;
    const sim = await facebookConnector.publish(a.ctx, metaDraft(a, '', [media(files, fx.mp4, 'video')], { kind: 'story' }));
    expect(!sim.ok && sim.error).toMatchObject({ category: 'invalid_content', platformCode: '100' });
    expect(posts(a.id)).toHaveLength(1);
  });

  it('finds a story whose answer was lost among the Page\'s stories, by its photo', async () => {
    const a = await page();
    const d = metaDraft(a, '', [media(files, fx.jpeg, 'image')], { kind: 'story' });
    sandbox.meta.core.addFault({ operation: 'page.photo_stories', account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_500 } });
    a.ctx.signal = abortWhenServed(sandbox.meta.core.log, a.id, 'page.photo_stories');
    const lost = await facebookConnector.publish(a.ctx, d);
    expect(!lost.ok && lost.error.outcomeUnknown).toBe(true);
    a.ctx.signal = AbortSignal.timeout(10_000);
    const found = await facebookConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value?.platformPostId).toBe(posts(a.id)[0]!.id);
    expect(posts(a.id)).toHaveLength(1);
  });
});
