// Bluesky rich posts end to end through Crier's public API and worker, on sandbox accounts: a thread with a
// mention, hashtags and a link card is published as a reply chain; a thread whose second post failed is
// finished by the retry without posting the first again; validation refuses a thread post over the limit.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settled, startTestCrier, type TestCrier } from './support/harness.js';

let t: TestCrier;
let page: http.Server;
let site: string;
const savedHosts = process.env['CRIER_MEDIA_ALLOWED_HOSTS'];

beforeAll(async () => {
  page = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<head><meta property="og:title" content="Release notes"><meta property="og:description" content="What changed"></head>'));
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  site = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  // The link card fetcher reads the operator's SSRF allowance from the environment; only this host.
  process.env['CRIER_MEDIA_ALLOWED_HOSTS'] = new URL(site).host;
  t = await startTestCrier({ env: { CRIER_RATE_LIMIT_PER_MINUTE: '100000', CRIER_PUBLISH_TIMEOUT_MS: '10000', CRIER_LEASE_MS: '15000' } });
}, 60_000);
afterAll(async () => {
  await t?.stop();
  page?.close();
  if (savedHosts === undefined) delete process.env['CRIER_MEDIA_ALLOWED_HOSTS'];
  else process.env['CRIER_MEDIA_ALLOWED_HOSTS'] = savedHosts;
});

const posts = (did: string) => [...(t.sandbox.bluesky.repos.get(did)?.values() ?? [])].sort((a, b) => (a.rkey < b.rkey ? -1 : 1));
const ref = (r: { uri: string; cid: string }) => ({ uri: r.uri, cid: r.cid });

describe('Bluesky threads through the API', () => {
  it('publishes a thread with a mention, hashtags and a link card; the publication is the first post', async () => {
    const ws = await t.workspace();
    const [acct, friendAcct] = [await ws.account(), await ws.account()];
    const me = (await ws.get(`/v1/accounts/${acct}`)).body;
    const friend = (await ws.get(`/v1/accounts/${friendAcct}`)).body;
    const p = await ws.post('/v1/posts', {
      text: `Shipped 🚀 with @${friend.username}: ${site}/notes #release`,
      account_ids: [acct],
      options: { bluesky: { thread: [{ text: 'Details below 👇' }, { text: 'Thanks all! #oss' }] } },
    });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const done = await settled(ws, p.body.id, 30_000);
    expect(done.status, JSON.stringify(done.publications[0])).toBe('published');
    const [first, second, third] = posts(me.external_id);
    expect(done.publications[0]).toMatchObject({ platform_post_id: first!.uri, url: expect.stringContaining(`/post/${first!.rkey}`) });
    const facets = (first!.value['facets'] as any[]).map((f) => f.features[0]);
    expect(facets).toEqual([
      { $type: 'app.bsky.richtext.facet#mention', did: friend.external_id },
      { $type: 'app.bsky.richtext.facet#link', uri: `${site}/notes` },
      { $type: 'app.bsky.richtext.facet#tag', tag: 'release' },
    ]);
    expect(first!.value['embed']).toEqual({ $type: 'app.bsky.embed.external', external: { uri: `${site}/notes`, title: 'Release notes', description: 'What changed' } });
    expect(second!.value['reply']).toEqual({ root: ref(first!), parent: ref(first!) });
    expect(third!.value['reply']).toEqual({ root: ref(first!), parent: ref(second!) });
    const { rows } = await t.sql.query(`SELECT checkpoint FROM publications WHERE id = $1`, [done.publications[0].id]);
    expect(rows[0].checkpoint.posted).toEqual([first!.uri, second!.uri]);
  }, 60_000);

  it('finishes a thread whose second post failed on the next attempt, without posting the first one again', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const did = (await ws.get(`/v1/accounts/${acct}`)).body.external_id as string;
    const core = t.sandbox.bluesky.core;
    // The first createRecord goes through; the second one meets a 503 once.
    const original = core.takeFault.bind(core);
    let creates = 0;
    core.takeFault = (operation, account) => {
      if (operation === 'com.atproto.repo.createRecord' && account === did && ++creates === 2) return { kind: 'status', status: 503 };
      return original(operation, account);
    };
    try {
      const p = await ws.post('/v1/posts', { text: 'part one', account_ids: [acct], options: { bluesky: { thread: [{ text: 'part two' }, { text: 'part three' }] } } });
      const done = await settled(ws, p.body.id, 30_000);
      expect(done.publications[0]).toMatchObject({ status: 'published', attempts: 2 });
      expect(posts(did).map((r) => r.value['text'])).toEqual(['part one', 'part two', 'part three']);
      expect(done.publications[0].platform_post_id).toBe(posts(did)[0]!.uri);
    } finally {
      core.takeFault = original;
    }
  }, 60_000);

  it('refuses at creation a thread post over 300 graphemes and an unknown thread field', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const long = await ws.post('/v1/posts', { text: 'ok', account_ids: [acct], options: { bluesky: { thread: [{ text: 'x'.repeat(301) }] } } });
    expect(long.status).toBe(422);
    expect(long.body.error.details).toContainEqual(expect.objectContaining({ code: 'TEXT_TOO_LONG', field: 'options.bluesky.thread[0].text', limit: 300, actual: 301, platform: 'bluesky' }));
    const unknown = await ws.post('/v1/posts', { text: 'ok', account_ids: [acct], options: { bluesky: { thread: [{ text: 'y', image: 'z' }] } } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('VALIDATION_FAILED');
  });
});
