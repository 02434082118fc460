// Facebook Pages end to end through Crier's public API, against the Graph simulator: a sandbox Page, posts
// published with their Graph id and permalink, photos and a reel pulled by the simulator from Crier's own
// signed URLs (Crier runs with CRIER_PUBLIC_URL set to its own address), a lost answer read back rather than
// posted twice, validation at creation, and a Page connected through Facebook Login and Crier's callback.
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
    makeFixtures(['tiny.jpg', 'alpha.png', 'clip.mp4']),
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

async function upload(ws: Tenant, name: string, type: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([await readFile(fx.file(name as 'tiny.jpg'))], { type }), name);
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  const body = (await r.json()) as { id: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

const pageOf = async (ws: Tenant, acct: string) => (await ws.get(`/v1/accounts/${acct}`)).body.external_id as string;
const posts = (pageId: string) => [...t.sandbox.meta.posts.values()].filter((p) => p.pageId === pageId).sort((a, b) => a.createdAt - b.createdAt);
const attempts = async (pub: string) => (await t.sql.query(`SELECT kind, outcome FROM publication_attempts WHERE publication_id = $1 ORDER BY number`, [pub])).rows;

describe('Facebook through the API', () => {
  it('publishes a text post and reports its Graph id and permalink', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('facebook');
    const page = await pageOf(ws, acct);
    const p = await ws.post('/v1/posts', { text: 'Hello Facebook from Crier', account_ids: [acct], options: { facebook: { link: 'https://example.com/news' } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 30_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', platform: 'facebook' });
    expect(posts(page)).toEqual([expect.objectContaining({ id: pub.platform_post_id, kind: 'link', message: 'Hello Facebook from Crier', link: 'https://example.com/news' })]);
    expect(pub.url).toBe(posts(page)[0]!.permalink);
    expect((await fetch(pub.url)).status).toBe(200);
  }, 60_000);

  it('publishes photos the simulator fetched from Crier\'s public URL, attached to one post', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('facebook');
    const page = await pageOf(ws, acct);
    const [a, b] = [await upload(ws, 'tiny.jpg', 'image/jpeg'), await upload(ws, 'alpha.png', 'image/png')];
    const p = await ws.post('/v1/posts', { text: 'two photos', account_ids: [acct], media: [{ id: a, alt_text: 'first' }, { id: b }] });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 60_000);
    expect(post.publications[0], JSON.stringify(post.publications[0].error)).toMatchObject({ status: 'published' });
    const [album] = posts(page);
    expect(album).toMatchObject({ id: post.publications[0].platform_post_id, kind: 'album', message: 'two photos' });
    const photos = album!.photoIds!.map((id) => t.sandbox.meta.photos.get(id)!);
    for (const ph of photos) expect(ph.url.startsWith(`${publicUrl}/media/`)).toBe(true);
    expect(photos.map((ph) => ph.published)).toEqual([false, false]);
  }, 60_000);

  it('keeps a reel Facebook is still processing as "processing", then publishes it without uploading twice', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('facebook');
    const page = await pageOf(ws, acct);
    t.sandbox.meta.config.processingMs.reel = 4_000;
    const v = await upload(ws, 'clip.mp4', 'video/mp4');
    const p = await ws.post('/v1/posts', { text: 'a reel from Crier', account_ids: [acct], media: [{ id: v }], options: { facebook: { kind: 'reel' } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 60_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', attempts: 1 });
    const rows = await attempts(pub.id);
    expect(rows[0]).toEqual({ kind: 'publish', outcome: 'processing' });
    expect(rows.at(-1)).toEqual({ kind: 'check', outcome: 'published' });
    const reels = [...t.sandbox.meta.videos.values()].filter((x) => x.pageId === page);
    expect(reels).toEqual([expect.objectContaining({ id: pub.platform_post_id, kind: 'reel', description: 'a reel from Crier' })]);
    expect(reels[0]!.fileUrl!.startsWith(`${publicUrl}/media/`)).toBe(true);
    expect(t.sandbox.meta.core.log.filter((r) => r.operation === 'rupload' && r.account === page)).toHaveLength(1);
  }, 90_000);

  it('reads back a post whose answer was lost (the worker timed out) instead of publishing it again', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('facebook');
    const page = await pageOf(ws, acct);
    t.sandbox.meta.core.addFault({ operation: 'page.feed', account: page, fault: { kind: 'accept_then_timeout', ms: 8_000 } });
    const p = await ws.post('/v1/posts', { text: 'the answer gets lost', account_ids: [acct] });
    const post = await settled(ws, p.body.id, 45_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', attempts: 2 });
    expect(posts(page)).toEqual([expect.objectContaining({ id: pub.platform_post_id, message: 'the answer gets lost' })]);
    expect(await attempts(pub.id)).toEqual([{ kind: 'publish', outcome: 'retry' }, { kind: 'reconcile', outcome: 'found' }]);
  }, 60_000);

  it('refuses at creation what Facebook would refuse', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('facebook');
    const long = await ws.post('/v1/posts', { text: 'x'.repeat(63_207), account_ids: [acct] });
    expect(long.status).toBe(422);
    expect(long.body.error.details).toContainEqual(expect.objectContaining({ code: 'TEXT_TOO_LONG', platform: 'facebook', limit: 63_206, actual: 63_207 }));
    const reel = await ws.post('/v1/posts', { text: 'a reel without video', account_ids: [acct], options: { facebook: { kind: 'reel' } } });
    expect(reel.status).toBe(422);
    expect(reel.body.error.details).toContainEqual(expect.objectContaining({ code: 'MEDIA_REQUIRED', platform: 'facebook' }));
    const unknown = await ws.post('/v1/posts', { text: 'x', account_ids: [acct], options: { facebook: { kind: 'carousel' } } });
    expect(unknown.status).toBe(400);
  }, 60_000);

  it('connects a Page through Facebook Login and Crier\'s callback, and publishes to it', async () => {
    const ws = await t.workspace();
    const started = await ws.post('/v1/connections', { platform: 'facebook', sandbox: true, redirect_url: 'https://app.example.com/connected' });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const authorize = started.body.authorize_url as string;
    expect(new URL(authorize).pathname).toMatch(/\/facebook\/v24\.0\/dialog\/oauth$/);
    const form = new URLSearchParams(new URL(authorize).searchParams);
    form.set('username', `fb_owner_${Math.random().toString(36).slice(2, 6)}`);
    form.set('decision', 'allow');
    const consent = await fetch(authorize.split('?')[0]!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, redirect: 'manual' });
    const callback = consent.headers.get('location')!;
    expect(callback.startsWith(`${publicUrl}/v1/connections/callback?`)).toBe(true);
    expect((await fetch(callback, { redirect: 'manual' })).status).toBe(302);
    const connection = (await ws.get(`/v1/connections/${started.body.id}`)).body;
    expect(connection, JSON.stringify(connection)).toMatchObject({ status: 'completed', candidates: [expect.objectContaining({ kind: 'page' })] });
    const acct = connection.account_ids[0] as string;
    const account = (await ws.get(`/v1/accounts/${acct}`)).body;
    // A Page token from a long-lived login does not expire: nothing to renew, no reconnect date.
    expect(account).toMatchObject({ platform: 'facebook', kind: 'page', status: 'connected', auth_expires_at: null });
    const p = await ws.post('/v1/posts', { text: 'from a connected Page', account_ids: [acct] });
    const post = await settled(ws, p.body.id, 30_000);
    expect(post.publications[0], JSON.stringify(post.publications[0].error)).toMatchObject({ status: 'published' });
    expect(posts(account.external_id)).toEqual([expect.objectContaining({ message: 'from a connected Page' })]);
  }, 60_000);
});
