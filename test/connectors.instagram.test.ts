// Instagram content publishing over real HTTP against the Graph simulator: feed images, carousels of images
// and videos, reels and stories, each made from containers whose files the simulator fetches from a local
// file server (standing in for Crier's signed URLs) and probes; videos processed over time (Pending, then
// checkStatus, never a container made twice); validation at creation; and each way Instagram refuses a file.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { instagramAuth, type InstagramCredentials } from '../src/connectors/instagram/auth.js';
import { instagramConnector } from '../src/connectors/instagram/connector.js';
import { isPending, type PublicationDraft } from '../src/connectors/types.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { freshConfig } from '../src/sandbox/meta/graph.js';
import { makeMetaFixtures, media, metaCtx, metaDraft, sleep, startFileServer, type FileServer, type MetaFixtures, type TestAccount } from './support/meta.js';

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
  Object.assign(sandbox.meta.config, freshConfig({ processingMs: { video: 100, reel: 100, igVideo: 100 } }));
});

async function account(): Promise<TestAccount<InstagramCredentials>> {
  const created = await instagramConnector.sandbox!.createAccount(base, `i${Math.random().toString(36).slice(2, 10)}`);
  const a = metaCtx(base, created.credentials, instagramAuth);
  a.id = created.externalId;
  return a;
}

const mediaOf = (ig: string) => [...sandbox.meta.igMedia.values()].filter((m) => m.igUserId === ig);
const containers = (ig: string) => [...sandbox.meta.containers.values()].filter((c) => c.igUserId === ig);

async function toEnd(a: TestAccount<InstagramCredentials>, d: PublicationDraft) {
  let r = await instagramConnector.publish(a.ctx, d);
  let pendings = 0;
  for (let i = 0; i < 40 && r.ok && isPending(r.value); i++) {
    pendings++;
    await sleep(100);
    r = await instagramConnector.checkStatus!(a.ctx, d, r.value.pending.ref);
  }
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  if (isPending(r.value)) throw new Error('still pending');
  return { ...r.value, pendings };
}

describe('Instagram post kinds', () => {
  it('publishes a feed image fetched from its URL, with caption and alt text', async () => {
    const a = await account();
    const img = media(files, fx.jpeg, 'image', { alt: 'a blue field' });
    const r = await toEnd(a, metaDraft(a, 'Hello #crier', [img]));
    expect(r.pendings).toBe(0);
    expect(files.hits).toContain(new URL(img.url!).pathname + '?sig=test');
    expect(mediaOf(a.id)).toEqual([expect.objectContaining({ id: r.platformPostId, mediaType: 'IMAGE', productType: 'FEED', caption: 'Hello #crier', altText: 'a blue field', mediaUrl: img.url })]);
    expect(containers(a.id)[0]).toMatchObject({ media: { mimeType: 'image/jpeg', size: fx.jpeg.length, width: 400, height: 300 } });
    expect(r.url).toMatch(/\/web\/ig\/p\/[A-Za-z0-9]+\/$/);
    expect(await j(fetch(r.url))).toMatchObject({ id: r.platformPostId, caption: 'Hello #crier' });
  });

  it('publishes a carousel of images and a video: items first, each made once, processing waited for', async () => {
    const a = await account();
    sandbox.meta.config.processingMs.igVideo = 1_800;
    const d = metaDraft(a, 'a carousel', [media(files, fx.jpeg, 'image'), media(files, fx.mp4, 'video'), media(files, fx.square, 'image')]);
    const r = await toEnd(a, d);
    expect(r.pendings).toBeGreaterThan(0);
    const [post] = mediaOf(a.id);
    expect(post).toMatchObject({ id: r.platformPostId, mediaType: 'CAROUSEL_ALBUM', productType: 'FEED', caption: 'a carousel' });
    expect(post!.children!.map((c) => c.mediaType)).toEqual(['IMAGE', 'VIDEO', 'IMAGE']);
    const items = containers(a.id).filter((c) => c.isCarouselItem);
    expect(items).toHaveLength(3);
    expect(containers(a.id)).toHaveLength(4);
    expect(d.checkpoint).toMatchObject({ children: items.map((c) => c.id), mediaId: post!.id });
  });

  it('publishes a single video as a reel, with collaborators, share_to_feed and thumb_offset', async () => {
    const a = await account();
    const d = metaDraft(a, 'my reel', [media(files, fx.mp4, 'video')], { collaborators: ['friend.one', 'friend_two'], share_to_feed: false, thumb_offset: 1_500 });
    const r = await toEnd(a, d);
    expect(mediaOf(a.id)).toEqual([expect.objectContaining({ id: r.platformPostId, mediaType: 'VIDEO', productType: 'REELS', collaborators: ['friend.one', 'friend_two'] })]);
    expect(containers(a.id)).toEqual([expect.objectContaining({ mediaType: 'REELS', shareToFeed: false, media: expect.objectContaining({ mimeType: 'video/mp4', durationMs: 4_000 }) })]);
    expect(r.url).toMatch(/\/web\/ig\/reel\//);
    const collab = await fetch(`${base}/v24.0/${r.platformPostId}/collaborators`, { headers: { authorization: `Bearer ${a.ctx.credentials.accessToken}` } });
    expect((await j(collab)).data.map((c: { username: string }) => c.username)).toEqual(['friend.one', 'friend_two']);
  });

  it('publishes image and video stories without a caption', async () => {
    const a = await account();
    const img = await toEnd(a, metaDraft(a, 'not shown', [media(files, fx.wide, 'image')], { kind: 'story' }));
    const vid = await toEnd(a, metaDraft(a, '', [media(files, fx.mp4, 'video')], { kind: 'story' }));
    expect(mediaOf(a.id).map((m) => [m.id, m.productType, m.mediaType, m.caption])).toEqual([
      [img.platformPostId, 'STORY', 'IMAGE', undefined],
      [vid.platformPostId, 'STORY', 'VIDEO', undefined],
    ]);
  });

  it('refuses at validation what Instagram refuses', () => {
    const v = (text: string, kinds: ('image' | 'video')[], options: Record<string, unknown> = {}) => instagramConnector.validate({ text, options, media: kinds.map((kind) => ({ kind })) }).map((i) => i.code);
    expect(v('x', [])).toEqual(['MEDIA_REQUIRED']);
    expect(v('a'.repeat(2_200), ['image'])).toEqual([]);
    expect(v('a'.repeat(2_201), ['image'])).toEqual(['TEXT_TOO_LONG']);
    expect(v('a'.repeat(3_000), ['image'], { kind: 'story' })).toEqual([]);
    expect(v(Array.from({ length: 31 }, (_, i) => `#t${i}`).join(' '), ['image'])).toEqual(['OPTION_INVALID']);
    expect(v(Array.from({ length: 21 }, (_, i) => `@u${i}`).join(' '), ['image'])).toEqual(['OPTION_INVALID']);
    expect(v('x', Array(11).fill('image'))).toEqual(['TOO_MANY_MEDIA']);
    expect(v('x', ['image', 'image'], { kind: 'story' })).toEqual(['TOO_MANY_MEDIA']);
    expect(v('x', ['image'], { kind: 'reel' })).toEqual(['MEDIA_UNSUPPORTED_TYPE']);
    expect(v('x', ['image'], { kind: 'story', first_comment: 'hi' })).toEqual(['OPTION_INVALID']);
    expect(v('x', ['image'], { kind: 'story', collaborators: ['a'] })).toEqual(['OPTION_INVALID']);
    expect(v('x', ['image', 'video'], { share_to_feed: true })).toEqual(['OPTION_INVALID']);
  });
});

describe('Instagram media refusals', () => {
  it('refuses images as Instagram does, when their container is made', async () => {
    const a = await account();
    const attempt = (m: ReturnType<typeof media>) => instagramConnector.publish(a.ctx, metaDraft(a, 'x', [m]));
    const png = await attempt(media(files, fx.png, 'image'));
    expect(!png.ok && png.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: '36001/2207005', retryable: false });
    const wide = await attempt(media(files, fx.wide, 'image'));
    expect(!wide.ok && wide.error).toMatchObject({ category: 'media_error', platformCode: '36003/2207009' });
    const gone = await attempt(media(files, fx.jpeg, 'image', { url: files.broken(404) }));
    expect(!gone.ok && gone.error).toMatchObject({ category: 'media_error', platformCode: '9004/2207052' });
    sandbox.meta.config.igImageMaxBytes = fx.jpeg.length - 1;
    const big = await attempt(media(files, fx.jpeg, 'image'));
    expect(!big.ok && big.error).toMatchObject({ category: 'media_error', platformCode: '36000/2207004' });
    const none = await attempt(media(files, fx.jpeg, 'image', { url: null }));
    expect(!none.ok && none.error).toMatchObject({ category: 'media_error', code: 'MEDIA_FAILED', retryable: false });
    expect(containers(a.id)).toEqual([]);
    expect(mediaOf(a.id)).toEqual([]);
  });

  it('reports a video Instagram could not process from its container\'s ERROR status', async () => {
    const a = await account();
    const notVideo = await toEnd(a, metaDraft(a, 'x', [media(files, fx.notMedia, 'video')])).catch((e: Error) => JSON.parse(e.message));
    expect(notVideo).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: '2207026', retryable: false });
    const short = await toEnd(a, metaDraft(a, 'x', [media(files, fx.shortMp4, 'video')])).catch((e: Error) => JSON.parse(e.message));
    expect(short).toMatchObject({ category: 'media_error', platformCode: '2207026' });
    expect(short.message).toMatch(/Media upload has failed with error code 2207026/);
    const gone = await toEnd(a, metaDraft(a, 'x', [media(files, fx.mp4, 'video', { url: files.broken(500) })])).catch((e: Error) => JSON.parse(e.message));
    expect(gone).toMatchObject({ category: 'media_error', platformCode: '2207052' });
    const item = await toEnd(a, metaDraft(a, 'x', [media(files, fx.jpeg, 'image'), media(files, fx.notMedia, 'video')])).catch((e: Error) => JSON.parse(e.message));
    expect(item).toMatchObject({ category: 'media_error', platformCode: '2207026' });
    expect(item.message).toMatch(/item 2 of the carousel/);
    expect(mediaOf(a.id)).toEqual([]);
  });

  it('makes an expired container again instead of failing, and publishes once', async () => {
    const a = await account();
    sandbox.meta.config.processingMs.igVideo = 1_800;
    const d = metaDraft(a, 'slow and expired', [media(files, fx.mp4, 'video')]);
    const first = await instagramConnector.publish(a.ctx, d);
    expect(first.ok && isPending(first.value)).toBe(true);
    // A day later the unpublished container has expired.
    const expiredAt = (d.checkpoint as { container: string }).container;
    sandbox.meta.containers.get(expiredAt)!.createdAt -= 86_401_000;
    const second = await instagramConnector.checkStatus!(a.ctx, d, (first.ok && isPending(first.value) && first.value.pending.ref) || {});
    expect((d.checkpoint as { container: string }).container).not.toBe(expiredAt);
    expect(second.ok && isPending(second.value)).toBe(true);
    await toEnd(a, d);
    expect(containers(a.id)).toHaveLength(2);
    expect(mediaOf(a.id)).toHaveLength(1);
  });
});
