// X end to end through Crier's public API against the simulator: a sandbox account, a thread published as
// a reply chain with the first post's id and URL on the publication, a video that X processes while the
// publication waits (Pending, then a status check), and a post that X refuses at creation time.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settled, startTestCrier, waitFor, type Tenant, type TestCrier } from './support/harness.js';
import { makeFixtures, type Fixtures } from './support/media-fixtures.js';

let t: TestCrier;
let fx: Fixtures;
beforeAll(async () => {
  [t, fx] = await Promise.all([
    startTestCrier({ env: { CRIER_RATE_LIMIT_PER_MINUTE: '100000', CRIER_PUBLISH_TIMEOUT_MS: '15000', CRIER_LEASE_MS: '20000' } }),
    makeFixtures(),
  ]);
}, 60_000);
afterAll(async () => {
  await t?.stop();
  await fx?.cleanup();
});

const unique = (s: string) => `${s} ${Math.random().toString(36).slice(2, 8)}`;
const userOf = async (ws: Tenant, acct: string) => (await ws.get(`/v1/accounts/${acct}`)).body.external_id as string;
const postsOf = (user: string) => [...t.sandbox.x.tweets.values()].filter((p) => p.authorId === user).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));

async function upload(ws: Tenant, name: string, type: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([await readFile(fx.file(name))], { type }), name);
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  const body = (await r.json()) as { id: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

describe('X through the API', () => {
  it('publishes a thread from a sandbox account: the publication carries the first post\'s id and URL', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('x');
    const user = await userOf(ws, acct);
    const text = unique('1/3 Crier on X, links like https://example.com count 23');
    const p = await ws.post('/v1/posts', { text, account_ids: [acct], options: { x: { thread: [{ text: unique('2/3') }, { text: unique('3/3') }] } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 30_000);
    const pub = post.publications[0];
    expect(pub.status, JSON.stringify(pub.error)).toBe('published');
    const chain = postsOf(user);
    expect(chain.map((c) => c.rawText)).toEqual([text, expect.stringMatching(/^2\/3/), expect.stringMatching(/^3\/3/)]);
    expect(chain[2]!.referenced).toEqual([{ type: 'replied_to', id: chain[1]!.id }]);
    expect(pub.platform_post_id).toBe(chain[0]!.id);
    expect(pub.url).toMatch(new RegExp(`/x/[A-Za-z0-9_]+/status/${chain[0]!.id}$`));
    expect((await fetch(pub.url)).status).toBe(200);
  }, 60_000);

  it('refuses at creation what X would refuse: weighted length, a poll with media, a one-option poll', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('x');
    const long = await ws.post('/v1/posts', { text: '日本語'.repeat(47), account_ids: [acct] });
    expect(long.status).toBe(422);
    expect(long.body.error.details).toContainEqual(expect.objectContaining({ code: 'TEXT_TOO_LONG', platform: 'x', limit: 280, actual: 282 }));
    const img = await upload(ws, 'tiny.jpg', 'image/jpeg');
    const poll = await ws.post('/v1/posts', { text: 'vote', account_ids: [acct], media: [{ id: img }], options: { x: { poll: { options: ['a', 'b'], duration_minutes: 60 } } } });
    expect(poll.status).toBe(422);
    expect(poll.body.error.details).toContainEqual(expect.objectContaining({ code: 'OPTION_INVALID', platform: 'x' }));
    const badOption = await ws.post('/v1/posts', { text: 'x', account_ids: [acct], options: { x: { poll: { options: ['only one'], duration_minutes: 60 } } } });
    expect(badOption.status).toBe(400);
  }, 60_000);

  it('waits while X processes a video (the publication is processing), then publishes it with one upload', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('x');
    const user = await userOf(ws, acct);
    // Processing longer than publish waits inline: the publication becomes `processing` and is checked later.
    Object.assign(t.sandbox.x.limits, { processingMs: 600_000, checkAfterSecs: 1 });
    const original = t.sandbox.x.limits;
    const v = await upload(ws, 'clip.mp4', 'video/mp4');
    const p = await ws.post('/v1/posts', { text: unique('a video'), account_ids: [acct], media: [{ id: v, alt_text: 'test pattern' }] });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    await waitFor(async () => ((await ws.get(`/v1/posts/${p.body.id}`)).body.publications[0].status === 'processing' ? true : undefined), 30_000, 'processing');
    const [media] = [...t.sandbox.x.media.values()].filter((m) => m.owner === user);
    media!.processingMs = 0;
    Object.assign(original, { processingMs: 1_500, checkAfterSecs: 1 });
    const post = await settled(ws, p.body.id, 30_000);
    expect(post.publications[0].status, JSON.stringify(post.publications[0].error)).toBe('published');
    const [tweet] = postsOf(user);
    expect(tweet!.mediaIds).toEqual([media!.id]);
    expect(media!.alt).toBe('test pattern');
    expect([...t.sandbox.x.media.values()].filter((m) => m.owner === user)).toHaveLength(1);
  }, 90_000);
});
