// LinkedIn end to end through Crier's public API, against the simulator: a sandbox account publishes text,
// images and a video, reported with the post's URN and feed URL; validation at creation; a page connected
// through the OAuth flow and Crier's callback (the login reaches the member and their page, the workspace
// chooses the page) publishes as the page, with the token's 60-day expiry on the account.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../src/sandbox/linkedin/uploads.js';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';
import { makeFixtures, type Fixtures } from './support/media-fixtures.js';

let t: TestCrier;
let fx: Fixtures;

beforeAll(async () => {
  [t, fx] = await Promise.all([
    startTestCrier({ publicUrl: true, env: { CRIER_RATE_LIMIT_PER_MINUTE: '100000' } }),
    makeFixtures(['tiny.jpg', 'alpha.png', 'clip.mp4']),
  ]);
}, 60_000);
afterAll(async () => {
  await t?.stop();
  await fx?.cleanup();
});
beforeEach(() => void Object.assign(t.sandbox.linkedin.limits, DEFAULT_LIMITS));

async function upload(ws: Tenant, name: string, type: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([await readFile(fx.file(name))], { type }), name);
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  const body = (await r.json()) as { id: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

const authorOf = async (ws: Tenant, acct: string) => (await ws.get(`/v1/accounts/${acct}`)).body.external_id as string;
const postsOf = (author: string) => [...t.sandbox.linkedin.posts.values()].filter((p) => p.author === author);

describe('LinkedIn through the API', () => {
  it('publishes a text post and reports its URN and feed URL', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('linkedin');
    const author = await authorOf(ws, acct);
    expect(author).toMatch(/^urn:li:person:/);
    const text = 'Hello from Crier (sandbox) #crier';
    const p = await ws.post('/v1/posts', { text, account_ids: [acct], options: { linkedin: { visibility: 'CONNECTIONS' } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 30_000);
    const pub = post.publications[0];
    expect(pub, JSON.stringify(pub.error)).toMatchObject({ status: 'published', platform_post_id: expect.stringMatching(/^urn:li:share:\d+$/) });
    expect(pub.url).toBe(`${t.sandbox.url}/linkedin/feed/update/${pub.platform_post_id}`);
    const [stored] = postsOf(author);
    expect(stored).toMatchObject({ id: pub.platform_post_id, text, visibility: 'CONNECTIONS' });
    const page = (await (await fetch(pub.url)).json()) as { text: string };
    expect(page.text).toBe(text);
  }, 60_000);

  it('publishes two images as multiImage with their alt text, and a video', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('linkedin');
    const author = await authorOf(ws, acct);
    const [a, b, v] = [await upload(ws, 'tiny.jpg', 'image/jpeg'), await upload(ws, 'alpha.png', 'image/png'), await upload(ws, 'clip.mp4', 'video/mp4')];
    const images = await ws.post('/v1/posts', { text: 'two pictures', account_ids: [acct], media: [{ id: a, alt_text: 'first' }, { id: b, alt_text: 'second' }] });
    const video = await ws.post('/v1/posts', { text: 'a video', account_ids: [acct], media: [{ id: v }] });
    for (const p of [images, video]) {
      const post = await settled(ws, p.body.id, 60_000);
      expect(post.publications[0], JSON.stringify(post.publications[0].error)).toMatchObject({ status: 'published' });
    }
    const byText = new Map(postsOf(author).map((p) => [p.text, p.content as any]));
    expect(byText.get('two pictures').multiImage.images.map((i: { altText: string }) => i.altText)).toEqual(['first', 'second']);
    const videoUrn = byText.get('a video').media.id as string;
    expect(t.sandbox.linkedin.assets.get(videoUrn)).toMatchObject({ kind: 'video', owner: author, status: 'AVAILABLE' });
  }, 90_000);

  it('refuses at creation a text over 3,000 characters and images with a video', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('linkedin');
    const long = await ws.post('/v1/posts', { text: 'x'.repeat(3001), account_ids: [acct] });
    expect(long.status).toBe(422);
    expect(long.body.error.details).toContainEqual(expect.objectContaining({ code: 'TEXT_TOO_LONG', platform: 'linkedin', limit: 3000, actual: 3001 }));
    const [img, vid] = [await upload(ws, 'tiny.jpg', 'image/jpeg'), await upload(ws, 'clip.mp4', 'video/mp4')];
    const mixed = await ws.post('/v1/posts', { text: 'both', account_ids: [acct], media: [{ id: img }, { id: vid }] });
    expect(mixed.status).toBe(422);
    expect(mixed.body.error.details).toContainEqual(expect.objectContaining({ code: 'MEDIA_MIXED_KINDS', platform: 'linkedin' }));
  }, 60_000);

  it('connects a page through OAuth and Crier\'s callback, and publishes as the page', async () => {
    const ws = await t.workspace();
    const started = await ws.post('/v1/connections', { platform: 'linkedin', sandbox: true, redirect_url: 'https://app.example.com/connected' });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const authorize = started.body.authorize_url as string;
    expect(new URL(authorize).pathname).toMatch(/\/linkedin\/oauth\/v2\/authorization$/);
    const form = new URLSearchParams(new URL(authorize).searchParams);
    form.set('username', `page_owner_${Math.random().toString(36).slice(2, 6)}`);
    form.set('decision', 'allow');
    const consent = await fetch(authorize.split('?')[0]!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, redirect: 'manual' });
    const callback = consent.headers.get('location')!;
    expect(callback.startsWith(`${t.config.publicUrl}/v1/connections/callback?`)).toBe(true);
    expect((await fetch(callback, { redirect: 'manual' })).status).toBe(302);
    const connection = (await ws.get(`/v1/connections/${started.body.id}`)).body;
    expect(connection.status, JSON.stringify(connection)).toBe('choosing');
    expect(connection.candidates.map((c: { kind: string }) => c.kind)).toEqual(['member', 'organization']);
    const page = connection.candidates[1].external_id as string;
    const chosen = await ws.post(`/v1/connections/${started.body.id}/accounts`, { external_ids: [page] });
    expect(chosen.status, JSON.stringify(chosen.body)).toBeLessThan(300);
    const acct = (await ws.get(`/v1/connections/${started.body.id}`)).body.account_ids[0] as string;
    const account = (await ws.get(`/v1/accounts/${acct}`)).body;
    expect(account).toMatchObject({ platform: 'linkedin', kind: 'organization', external_id: page, status: 'connected' });
    expect(Date.parse(account.auth_expires_at) - Date.now()).toBeGreaterThan(59 * 86_400_000);
    const p = await ws.post('/v1/posts', { text: 'from the page via OAuth', account_ids: [acct] });
    const post = await settled(ws, p.body.id, 30_000);
    expect(post.publications[0], JSON.stringify(post.publications[0].error)).toMatchObject({ status: 'published' });
    expect(postsOf(page)).toEqual([expect.objectContaining({ text: 'from the page via OAuth' })]);
  }, 60_000);
});
