// Posts with media on Bluesky, end to end against the simulator: blobs uploaded then embedded, video,
// text-less posts, failures while uploading (retried; never a second post), and the PDS's own checks.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';
import { makeFixtures, type Fixtures } from './support/media-fixtures.js';

const UPLOAD = 'com.atproto.repo.uploadBlob';
let t: TestCrier;
let fx: Fixtures;
beforeAll(async () => {
  [t, fx] = await Promise.all([startTestCrier({ env: { CRIER_RATE_LIMIT_PER_MINUTE: '100000' } }), makeFixtures()]);
}, 60_000);
afterAll(async () => {
  await t?.stop();
  await fx?.cleanup();
});

async function upload(ws: Tenant, name: string, type: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([await readFile(fx.file(name))], { type }), name);
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  const body = (await r.json()) as { id: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

const records = (did: string) => [...(t.sandbox.bluesky.repos.get(did)?.values() ?? [])].map((r) => r.value as any);
const didOf = async (ws: Tenant, acct: string) => (await ws.get(`/v1/accounts/${acct}`)).body.external_id as string;

describe('Bluesky posts with media', () => {
  it('uploads each image as a blob of the account and embeds them with alt text and aspect ratio', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const did = await didOf(ws, acct);
    const a = await upload(ws, 'tiny.jpg', 'image/jpeg');
    const b = await upload(ws, 'alpha.png', 'image/png');
    const p = await ws.post('/v1/posts', { text: 'two pictures', account_ids: [acct], media: [{ id: a, alt_text: 'first' }, { id: b, alt_text: 'second' }] });
    expect((await settled(ws, p.body.id, 60_000)).status).toBe('published');
    const [record] = records(did);
    expect(record.embed.$type).toBe('app.bsky.embed.images');
    expect(record.embed.images.map((i: any) => [i.alt, i.aspectRatio.width, i.aspectRatio.height])).toEqual([['first', 200, 150], ['second', 1200, 900]]);
    const blobs = t.sandbox.bluesky.blobs.get(did)!;
    for (const img of record.embed.images) expect(blobs.get(img.image.ref.$link)).toMatchObject({ mimeType: img.image.mimeType, size: img.image.size });
  }, 60_000);

  it('publishes a video with a video embed, and a post with media but no text', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const did = await didOf(ws, acct);
    const v = await upload(ws, 'clip.mp4', 'video/mp4');
    const p = await ws.post('/v1/posts', { text: '', account_ids: [acct], media: [{ id: v, alt_text: 'test pattern' }] });
    expect(p.status).toBe(201);
    expect((await settled(ws, p.body.id, 60_000)).status).toBe('published');
    const [record] = records(did);
    expect(record.text).toBe('');
    expect(record.embed).toMatchObject({ $type: 'app.bsky.embed.video', alt: 'test pattern', aspectRatio: { width: 1280, height: 720 }, video: { mimeType: 'video/mp4' } });
  }, 60_000);

  it('holds a video post while its rendition is made (90 fps is over Bluesky\'s 60), then publishes the rendition', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const did = await didOf(ws, acct);
    const v = await upload(ws, 'fast.mp4', 'video/mp4');
    const p = await ws.post('/v1/posts', { text: 'smooth', account_ids: [acct], media: [{ id: v }] });
    expect(p.body.publications[0].waiting_for_media).toBe(true);
    const done = await settled(ws, p.body.id, 60_000);
    expect(done.status, JSON.stringify(done.publications[0].error)).toBe('published');
    const media = (await ws.get(`/v1/media/${v}`)).body;
    expect(media.renditions).toEqual([expect.objectContaining({ profile: 'bluesky-video-v1', status: 'ready', progress: 1, content_type: 'video/mp4' })]);
    const [record] = records(did);
    expect(record.embed.video.size).toBe(media.renditions[0].size);
  }, 60_000);

  it('refuses images with a video, and a text-only empty post, when the post is created', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const img = await upload(ws, 'tiny.jpg', 'image/jpeg');
    const vid = await upload(ws, 'clip.mp4', 'video/mp4');
    const mixed = await ws.post('/v1/posts', { text: 'both', account_ids: [acct], media: [{ id: img }, { id: vid }] });
    expect(mixed.status).toBe(422);
    expect(mixed.body.error.details).toContainEqual(expect.objectContaining({ code: 'MEDIA_MIXED_KINDS', platform: 'bluesky' }));
    const empty = await ws.post('/v1/posts', { text: '', account_ids: [acct] });
    expect(empty.status).toBe(422);
    expect(empty.body.error.details).toContainEqual(expect.objectContaining({ code: 'TEXT_EMPTY' }));
  });

  it('retries a failed blob upload and still publishes exactly one post', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const did = await didOf(ws, acct);
    const img = await upload(ws, 'tiny.jpg', 'image/jpeg');
    t.sandbox.bluesky.core.addFault({ operation: UPLOAD, account: did, times: 1, fault: { kind: 'status', status: 503 } });
    const p = await ws.post('/v1/posts', { text: `after a 503 ${randomBytes(3).toString('hex')}`, account_ids: [acct], media: [{ id: img }] });
    const post = await settled(ws, p.body.id, 60_000);
    expect(post.publications[0]).toMatchObject({ status: 'published', attempts: 2 });
    expect(records(did)).toHaveLength(1);
    // The upload failed before any post existed, so the retry published without an uncertain outcome.
    const attempts = await t.sql.query(`SELECT outcome, kind FROM publication_attempts WHERE publication_id = $1 ORDER BY number`, [post.publications[0].id]);
    expect(attempts.rows).toEqual([{ outcome: 'retry', kind: 'publish' }, { outcome: 'published', kind: 'publish' }]);
  }, 60_000);

  it('lets the PDS refuse a record that embeds a blob of another account', async () => {
    const ws = await t.workspace();
    const [a, b] = [await ws.account(), await ws.account()];
    const sessionOf = (did: string) => t.sandbox.bluesky.accounts.get(did)!;
    const [didA, didB] = [await didOf(ws, a), await didOf(ws, b)];
    const sim = `${t.sandbox.url}/bluesky/xrpc`;
    const login = async (did: string) => (await (await fetch(`${sim}/com.atproto.server.createSession`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ identifier: did, password: sessionOf(did).password }) })).json()) as { accessJwt: string };
    const jwtA = (await login(didA)).accessJwt;
    const jwtB = (await login(didB)).accessJwt;
    const blob = ((await (await fetch(`${sim}/${UPLOAD}`, { method: 'POST', headers: { authorization: `Bearer ${jwtA}`, 'content-type': 'image/jpeg' }, body: await readFile(fx.file('tiny.jpg')) })).json()) as any).blob;
    const create = (jwt: string, repo: string) =>
      fetch(`${sim}/com.atproto.repo.createRecord`, {
        method: 'POST',
        headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
        body: JSON.stringify({ repo, collection: 'app.bsky.feed.post', record: { $type: 'app.bsky.feed.post', text: 'x', createdAt: new Date().toISOString(), embed: { $type: 'app.bsky.embed.images', images: [{ image: blob, alt: '' }] } } }),
      });
    const foreign = await create(jwtB, didB);
    expect(foreign.status).toBe(400);
    expect(((await foreign.json()) as any).message).toMatch(/Could not find blob/);
    expect((await create(jwtA, didA)).status).toBe(200);
  });
});
