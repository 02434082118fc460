// Instagram end to end through Crier's public API, against the Graph simulator: a sandbox account, an image
// and a mixed carousel whose files the simulator fetched from Crier's own signed URLs (Crier runs with
// CRIER_PUBLIC_URL set to its own address), a reel still processing handed to status checks with its first
// comment posted once, a lost media_publish answer read back, validation at creation, and an account
// connected through Facebook Login and Crier's callback.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshConfig } from '../src/sandbox/meta/graph.js';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';
import { makeFixtures, type Fixtures } from './support/media-fixtures.js';

let t: TestCrier;
let fx: Fixtures;
let publicUrl: string;

beforeAll(async () => {
  [t, fx] = await Promise.all([
    startTestCrier({ publicUrl: true, env: { CRIER_RATE_LIMIT_PER_MINUTE: '100000', CRIER_PUBLISH_TIMEOUT_MS: '6000', CRIER_LEASE_MS: '10000' } }),
    makeFixtures(['tiny.jpg', 'clip.mp4']),
  ]);
  publicUrl = t.config.publicUrl!;
}, 90_000);
afterAll(async () => {
  await t?.stop();
  await fx?.cleanup();
});
beforeEach(() => {
  t.sandbox.meta.core.clearFaults();
  Object.assign(t.sandbox.meta.config, freshConfig());
});

async function upload(ws: Tenant, name: 'tiny.jpg' | 'clip.mp4', type: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([await readFile(fx.file(name))], { type }), name);
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  const body = (await r.json()) as { id: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

const igOf = async (ws: Tenant, acct: string) => (await ws.get(`/v1/accounts/${acct}`)).body.external_id as string;
const mediaOf = (ig: string) => [...t.sandbox.meta.igMedia.values()].filter((m) => m.igUserId === ig).sort((a, b) => a.timestamp - b.timestamp);
const containers = (ig: string) => [...t.sandbox.meta.containers.values()].filter((c) => c.igUserId === ig);
const attempts = async (pub: string) => (await t.sql.query(`SELECT kind, outcome FROM publication_attempts WHERE publication_id = $1 ORDER BY number`, [pub])).rows;

describe('Instagram through the API', () => {
  it('publishes an image and a mixed carousel fetched from Crier\'s public URL, with ids and permalinks', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('instagram');
    const ig = await igOf(ws, acct);
    const [img, img2, vid] = [await upload(ws, 'tiny.jpg', 'image/jpeg'), await upload(ws, 'tiny.jpg', 'image/jpeg'), await upload(ws, 'clip.mp4', 'video/mp4')];
    const single = await ws.post('/v1/posts', { text: 'Hello Instagram #crier', account_ids: [acct], media: [{ id: img, alt_text: 'a tiny photo' }] });
    const carousel = await ws.post('/v1/posts', { text: 'a carousel', account_ids: [acct], media: [{ id: img2 }, { id: vid }] });
    for (const p of [single, carousel]) expect(p.status, JSON.stringify(p.body)).toBe(201);
    const [one, two] = [await settled(ws, single.body.id, 60_000), await settled(ws, carousel.body.id, 60_000)];
    for (const post of [one, two]) expect(post.publications[0], JSON.stringify(post.publications[0].error)).toMatchObject({ status: 'published', platform: 'instagram' });
    const byId = new Map(mediaOf(ig).map((m) => [m.id, m]));
    expect(byId.get(one.publications[0].platform_post_id)).toMatchObject({ mediaType: 'IMAGE', caption: 'Hello Instagram #crier', altText: 'a tiny photo' });
    expect(byId.get(two.publications[0].platform_post_id)).toMatchObject({ mediaType: 'CAROUSEL_ALBUM', caption: 'a carousel' });
    expect(byId.get(two.publications[0].platform_post_id)!.children!.map((c) => c.mediaType)).toEqual(['IMAGE', 'VIDEO']);
    for (const c of containers(ig).filter((x) => x.url)) expect(c.url!.startsWith(`${publicUrl}/media/`)).toBe(true);
    expect(one.publications[0].url).toBe(byId.get(one.publications[0].platform_post_id)!.permalink);
    expect((await fetch(one.publications[0].url)).status).toBe(200);
  }, 90_000);

  it('keeps a reel Instagram is still processing as "processing", then publishes it from the same container with its first comment', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('instagram');
    const ig = await igOf(ws, acct);
    t.sandbox.meta.config.processingMs.igVideo = 4_000;
    const vid = await upload(ws, 'clip.mp4', 'video/mp4');
    const p = await ws.post('/v1/posts', { text: 'a slow reel', account_ids: [acct], media: [{ id: vid }], options: { instagram: { first_comment: 'more in the comments', collaborators: ['a.friend'] } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 60_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', attempts: 1 });
    const rows = await attempts(pub.id);
    expect(rows[0]).toEqual({ kind: 'publish', outcome: 'processing' });
    expect(rows.at(-1)).toEqual({ kind: 'check', outcome: 'published' });
    expect(containers(ig)).toHaveLength(1);
    expect(mediaOf(ig)).toEqual([expect.objectContaining({ id: pub.platform_post_id, productType: 'REELS', collaborators: ['a.friend'] })]);
    expect([...t.sandbox.meta.comments.values()].filter((c) => c.targetId === pub.platform_post_id).map((c) => c.text)).toEqual(['more in the comments']);
  }, 90_000);

  it('reads back a post whose media_publish answer was lost instead of publishing it again', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('instagram');
    const ig = await igOf(ws, acct);
    t.sandbox.meta.core.addFault({ operation: 'ig.media_publish', account: ig, fault: { kind: 'accept_then_timeout', ms: 8_000 } });
    const img = await upload(ws, 'tiny.jpg', 'image/jpeg');
    const p = await ws.post('/v1/posts', { text: 'the answer gets lost', account_ids: [acct], media: [{ id: img }] });
    const post = await settled(ws, p.body.id, 45_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', attempts: 2 });
    expect(mediaOf(ig)).toEqual([expect.objectContaining({ id: pub.platform_post_id, caption: 'the answer gets lost' })]);
    expect(await attempts(pub.id)).toEqual([{ kind: 'publish', outcome: 'retry' }, { kind: 'reconcile', outcome: 'found' }]);
  }, 60_000);

  it('refuses at creation what Instagram would refuse', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('instagram');
    const noMedia = await ws.post('/v1/posts', { text: 'text only', account_ids: [acct] });
    expect(noMedia.status).toBe(422);
    expect(noMedia.body.error.details).toContainEqual(expect.objectContaining({ code: 'MEDIA_REQUIRED', platform: 'instagram' }));
    const img = await upload(ws, 'tiny.jpg', 'image/jpeg');
    const long = await ws.post('/v1/posts', { text: 'x'.repeat(2_201), account_ids: [acct], media: [{ id: img }] });
    expect(long.body.error.details).toContainEqual(expect.objectContaining({ code: 'TEXT_TOO_LONG', platform: 'instagram', limit: 2_200, actual: 2_201 }));
    const crowd = await ws.post('/v1/posts', { text: 'x', account_ids: [acct], media: [{ id: img }], options: { instagram: { collaborators: ['a', 'b', 'c', 'd'] } } });
    expect(crowd.status).toBe(400);
  }, 60_000);

  it('connects an Instagram account through Facebook Login and Crier\'s callback, and publishes with it', async () => {
    const ws = await t.workspace();
    const started = await ws.post('/v1/connections', { platform: 'instagram', sandbox: true, redirect_url: 'https://app.example.com/connected' });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const authorize = started.body.authorize_url as string;
    expect(new URL(authorize).pathname).toMatch(/\/instagram\/v24\.0\/dialog\/oauth$/);
    const username = `ig_owner_${Math.random().toString(36).slice(2, 6)}`;
    const form = new URLSearchParams(new URL(authorize).searchParams);
    form.set('username', username);
    form.set('decision', 'allow');
    const consent = await fetch(authorize.split('?')[0]!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, redirect: 'manual' });
    const callback = consent.headers.get('location')!;
    expect(callback.startsWith(`${publicUrl}/v1/connections/callback?`)).toBe(true);
    expect((await fetch(callback, { redirect: 'manual' })).status).toBe(302);
    const connection = (await ws.get(`/v1/connections/${started.body.id}`)).body;
    expect(connection, JSON.stringify(connection)).toMatchObject({ status: 'completed', candidates: [expect.objectContaining({ kind: 'instagram_business', username })] });
    const acct = connection.account_ids[0] as string;
    const account = (await ws.get(`/v1/accounts/${acct}`)).body;
    expect(account).toMatchObject({ platform: 'instagram', kind: 'instagram_business', username, status: 'connected', auth_expires_at: null });
    const img = await upload(ws, 'tiny.jpg', 'image/jpeg');
    const p = await ws.post('/v1/posts', { text: 'connected through Facebook Login', account_ids: [acct], media: [{ id: img }] });
    const post = await settled(ws, p.body.id, 30_000);
    expect(post.publications[0], JSON.stringify(post.publications[0].error)).toMatchObject({ status: 'published' });
    expect(mediaOf(account.external_id)).toEqual([expect.objectContaining({ caption: 'connected through Facebook Login' })]);
  }, 60_000);
});
