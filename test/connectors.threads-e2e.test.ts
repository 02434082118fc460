// Threads end to end through Crier's public API, against the simulator: a sandbox account, posts published
// with their Threads media id and permalink, a thread, media pulled by the simulator from Crier's own signed
// URLs (Crier runs with CRIER_PUBLIC_URL set to its own address), a video still processing handed to status
// checks, validation at creation, and an account connected through the OAuth flow and Crier's callback.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/sandbox/threads/graph.js';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';
import { makeFixtures, type Fixtures } from './support/media-fixtures.js';

let t: TestCrier;
let fx: Fixtures;

/** A free port, so Crier can be told its own public URL before it starts. */
beforeAll(async () => {
  [t, fx] = await Promise.all([
    startTestCrier({ publicUrl: true, env: { CRIER_RATE_LIMIT_PER_MINUTE: '100000', CRIER_PUBLISH_TIMEOUT_MS: '6000', CRIER_LEASE_MS: '10000' } }),
    makeFixtures(),
  ]);
}, 60_000);
afterAll(async () => {
  await t?.stop();
  await fx?.cleanup();
});
beforeEach(() => {
  Object.assign(t.sandbox.threads.config, { ...DEFAULT_CONFIG, processingMs: { ...DEFAULT_CONFIG.processingMs } });
});

async function upload(ws: Tenant, name: string, type: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([await readFile(fx.file(name))], { type }), name);
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  const body = (await r.json()) as { id: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

const userOf = async (ws: Tenant, acct: string) => (await ws.get(`/v1/accounts/${acct}`)).body.external_id as string;
const posts = (userId: string) => [...t.sandbox.threads.threads.values()].filter((p) => p.userId === userId).sort((a, b) => a.timestamp - b.timestamp);
const containers = (userId: string) => [...t.sandbox.threads.containers.values()].filter((c) => c.userId === userId);

describe('Threads through the API', () => {
  it('publishes a text post with a thread and reports its Threads id and permalink', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('threads');
    const user = await userOf(ws, acct);
    const p = await ws.post('/v1/posts', { text: 'Hello from Crier 🧵', account_ids: [acct], options: { threads: { thread: [{ text: 'and a second post' }], reply_control: 'followers_only' } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 30_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', platform: 'threads' });
    const [root, reply] = posts(user);
    expect(root).toMatchObject({ id: pub.platform_post_id, text: 'Hello from Crier 🧵', replyControl: 'followers_only' });
    expect(reply).toMatchObject({ text: 'and a second post', replyToId: root!.id });
    expect(pub.url).toBe(root!.permalink);
    expect((await fetch(pub.url)).status).toBe(200);
  }, 60_000);

  it('publishes a carousel whose files the simulator fetched from Crier\'s public URL', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('threads');
    const user = await userOf(ws, acct);
    const [img, vid] = [await upload(ws, 'tiny.jpg', 'image/jpeg'), await upload(ws, 'clip.mp4', 'video/mp4')];
    const p = await ws.post('/v1/posts', { text: 'a picture and a clip', account_ids: [acct], media: [{ id: img, alt_text: 'tiny photo' }, { id: vid }] });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 60_000);
    expect(post.publications[0], JSON.stringify(post.publications[0].error)).toMatchObject({ status: 'published' });
    const [carousel] = posts(user);
    expect(carousel).toMatchObject({ id: post.publications[0].platform_post_id, mediaType: 'CAROUSEL_ALBUM' });
    const items = containers(user).filter((c) => c.isCarouselItem);
    expect(items.map((c) => [c.mediaType, c.media?.mimeType, c.altText])).toEqual([['IMAGE', 'image/jpeg', 'tiny photo'], ['VIDEO', 'video/mp4', undefined]]);
    for (const c of items) expect(c.url!.startsWith(`${t.config.publicUrl}/media/`)).toBe(true);
    const size = (await ws.get(`/v1/media/${img}`)).body.size;
    expect(items[0]!.media!.size).toBe(size);
  }, 60_000);

  it('keeps a video Threads is still processing as "processing", then publishes it from the same container', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('threads');
    const user = await userOf(ws, acct);
    t.sandbox.threads.config.processingMs.VIDEO = 4_000;
    const vid = await upload(ws, 'clip.mp4', 'video/mp4');
    const p = await ws.post('/v1/posts', { text: 'a slow video', account_ids: [acct], media: [{ id: vid }] });
    const post = await settled(ws, p.body.id, 60_000);
    expect(post.publications[0], JSON.stringify(post.publications[0].error)).toMatchObject({ status: 'published', attempts: 1 });
    const attempts = await t.sql.query(`SELECT kind, outcome FROM publication_attempts WHERE publication_id = $1 ORDER BY number`, [post.publications[0].id]);
    expect(attempts.rows[0]).toEqual({ kind: 'publish', outcome: 'processing' });
    expect(attempts.rows.at(-1)).toEqual({ kind: 'check', outcome: 'published' });
    expect(containers(user)).toHaveLength(1);
    expect(posts(user)).toHaveLength(1);
  }, 60_000);

  it('reads back a post whose answer was lost (the worker timed out) instead of publishing it again', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('threads');
    const user = await userOf(ws, acct);
    // Threads publishes, then answers after the worker's 6 s publish timeout.
    t.sandbox.threads.core.addFault({ operation: 'threads_publish', account: user, fault: { kind: 'accept_then_timeout', ms: 8_000 } });
    const p = await ws.post('/v1/posts', { text: 'the answer gets lost', account_ids: [acct] });
    const post = await settled(ws, p.body.id, 45_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', attempts: 2 });
    expect(posts(user)).toEqual([expect.objectContaining({ id: pub.platform_post_id, text: 'the answer gets lost' })]);
    const attempts = await t.sql.query(`SELECT kind, outcome FROM publication_attempts WHERE publication_id = $1 ORDER BY number`, [pub.id]);
    expect(attempts.rows).toEqual([{ kind: 'publish', outcome: 'retry' }, { kind: 'reconcile', outcome: 'found' }]);
  }, 60_000);

  it('refuses at creation a text over 500 characters counted Threads\' way, and a thread post too long', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('threads');
    const r = await ws.post('/v1/posts', { text: `${'a'.repeat(497)}😀`, account_ids: [acct], options: { threads: { thread: [{ text: 'b'.repeat(501) }] } } });
    expect(r.status).toBe(422);
    expect(r.body.error.details).toEqual(expect.arrayContaining([
      expect.objectContaining({ code: 'TEXT_TOO_LONG', platform: 'threads', field: 'text', limit: 500, actual: 501 }),
      expect.objectContaining({ code: 'TEXT_TOO_LONG', platform: 'threads', field: 'options.threads.thread[0].text' }),
    ]));
  });

  it('connects an account through the OAuth flow and Crier\'s callback, and publishes with it', async () => {
    const ws = await t.workspace();
    const started = await ws.post('/v1/connections', { platform: 'threads', sandbox: true, redirect_url: 'https://app.example.com/connected' });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const authorize = started.body.authorize_url as string;
    expect(authorize.startsWith(`${t.sandbox.url}/threads/oauth/authorize?`) || authorize.includes('/sandbox/threads/oauth/authorize?')).toBe(true);
    const form = new URLSearchParams(new URL(authorize).searchParams);
    form.set('username', 'via_crier');
    form.set('decision', 'allow');
    const consent = await fetch(authorize.split('?')[0]!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, redirect: 'manual' });
    const callback = consent.headers.get('location')!;
    expect(callback.startsWith(`${t.config.publicUrl}/v1/connections/callback?`)).toBe(true);
    const back = await fetch(callback, { redirect: 'manual' });
    expect(back.status).toBe(302);
    const connection = (await ws.get(`/v1/connections/${started.body.id}`)).body;
    expect(connection, JSON.stringify(connection)).toMatchObject({ status: 'completed', candidates: [expect.objectContaining({ username: 'via_crier', kind: 'user' })] });
    const acct = connection.account_ids[0] as string;
    const account = (await ws.get(`/v1/accounts/${acct}`)).body;
    expect(account).toMatchObject({ platform: 'threads', username: 'via_crier', kind: 'user', status: 'connected' });
    const p = await ws.post('/v1/posts', { text: 'connected through OAuth', account_ids: [acct] });
    const post = await settled(ws, p.body.id, 30_000);
    expect(post.publications[0], JSON.stringify(post.publications[0].error)).toMatchObject({ status: 'published' });
    expect(posts(account.external_id)).toEqual([expect.objectContaining({ text: 'connected through OAuth', username: 'via_crier' })]);
  }, 60_000);
});
