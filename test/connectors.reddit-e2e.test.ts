// Reddit end to end through Crier's public API and worker against the simulator: a sandbox account
// publishes a text post to a subreddit (the publication carries the post's id and URL), an image post
// goes through the upload lease and S3 and gets its id from the account's submissions, a subreddit rule
// fails the publication with the rule's name, and creation refuses what Reddit would refuse.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settled, startTestCrier, type Tenant, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier({ env: { CRIER_RATE_LIMIT_PER_MINUTE: '100000', CRIER_PUBLISH_TIMEOUT_MS: '15000', CRIER_LEASE_MS: '20000' } });
}, 60_000);
afterAll(async () => t?.stop());

const unique = (s: string) => `${s} ${Math.random().toString(36).slice(2, 8)}`;
const userOf = async (ws: Tenant, acct: string) => (await ws.get(`/v1/accounts/${acct}`)).body.external_id as string;
const postsOf = (user: string) => [...t.sandbox.reddit.posts.values()].filter((p) => p.authorId === user);

async function upload(ws: Tenant, bytes: Buffer, name: string, type: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type }), name);
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  const body = (await r.json()) as { id: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

describe('Reddit through the API', () => {
  it('publishes a text post from a sandbox account with its id and URL', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('reddit');
    const user = await userOf(ws, acct);
    const text = unique('A body in **markdown**');
    const p = await ws.post('/v1/posts', { text, account_ids: [acct], options: { reddit: { subreddit: 'r/sandbox', title: 'Hello from Crier', spoiler: true } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 30_000);
    const pub = post.publications[0];
    expect(pub.status, JSON.stringify(pub.error)).toBe('published');
    const [made] = postsOf(user);
    expect(made).toMatchObject({ kind: 'self', subreddit: 'sandbox', title: 'Hello from Crier', selftext: text, spoiler: true });
    expect(pub.platform_post_id).toBe(made!.id);
    expect((await fetch(pub.url)).status).toBe(200);
  }, 60_000);

  it('publishes an image post (no body text) through the upload lease', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('reddit');
    const user = await userOf(ws, acct);
    const png = await sharp({ create: { width: 80, height: 60, channels: 3, background: { r: 10, g: 120, b: 200 } } }).png().toBuffer();
    const media = await upload(ws, png, 'blue.png', 'image/png');
    const p = await ws.post('/v1/posts', { text: 'shown on other platforms', account_ids: [acct], media: [{ id: media }], options: { reddit: { subreddit: 'test', title: unique('A blue picture'), text: '' } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 30_000);
    const pub = post.publications[0];
    expect(pub.status, JSON.stringify(pub.error)).toBe('published');
    const [made] = postsOf(user);
    expect(made).toMatchObject({ kind: 'image', subreddit: 'test' });
    expect(pub.platform_post_id).toBe(made!.id);
    const asset = [...t.sandbox.reddit.assets.values()].find((a) => a.key === made!.assetKey)!;
    expect(asset.uploaded!.bytes.subarray(1, 4).toString()).toBe('PNG');
  }, 60_000);

  it("fails a publication that breaks the subreddit's rules, naming the rule, without retrying", async () => {
    const ws = await t.workspace();
    const acct = await ws.account('reddit');
    const name = t.sandbox.reddit.addSubreddit({ name: `linksonly${Math.random().toString(36).slice(2, 6)}`, submissionType: 'link' }).name;
    const p = await ws.post('/v1/posts', { text: 'a text post', account_ids: [acct], options: { reddit: { subreddit: name, title: 'Not welcome' } } });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const post = await settled(ws, p.body.id, 30_000);
    const pub = post.publications[0];
    expect(pub.status).toBe('failed');
    expect(pub.error).toMatchObject({ code: 'CONTENT_REJECTED', platform_code: 'NO_SELFS', retryable: false });
    expect(pub.error.message).toContain('does not allow text posts');
  }, 60_000);

  it('refuses at creation a post without subreddit and title, a title over 300 characters, and body text on a link post', async () => {
    const ws = await t.workspace();
    const acct = await ws.account('reddit');
    const bare = await ws.post('/v1/posts', { text: 'x', account_ids: [acct] });
    expect(bare.status).toBe(422);
    expect(bare.body.error.details).toContainEqual(expect.objectContaining({ code: 'OPTION_INVALID', platform: 'reddit', field: 'options.reddit.title' }));
    const long = await ws.post('/v1/posts', { text: 'x', account_ids: [acct], options: { reddit: { subreddit: 'sandbox', title: 'é'.repeat(301) } } });
    expect(long.status).toBe(422);
    expect(long.body.error.details).toContainEqual(expect.objectContaining({ code: 'TEXT_TOO_LONG', limit: 300, actual: 301 }));
    const link = await ws.post('/v1/posts', { text: 'x', account_ids: [acct], options: { reddit: { subreddit: 'sandbox', title: 't', url: 'https://example.com' } } });
    expect(link.status).toBe(422);
    const unknown = await ws.post('/v1/posts', { text: 'x', account_ids: [acct], options: { reddit: { subreddit: 'sandbox', title: 't', kind: 'poll' } } });
    expect(unknown.status).toBe(400);
  }, 60_000);
});
