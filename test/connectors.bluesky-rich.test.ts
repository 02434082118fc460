// Rich posts on Bluesky against the simulator over real HTTP: facets with mentions resolved to DIDs, link
// cards (from the page's OpenGraph tags through the SSRF guard, or from options), every way a card can fail
// without failing the post, and the simulated PDS's record validation of facets, replies and link cards.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { blueskyConnector, type BlueskyCredentials } from '../src/connectors/bluesky/connector.js';
import { THUMB_MAX_BYTES } from '../src/connectors/bluesky/linkcard.js';
import { isPending, type ConnectorCtx, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';

let sandbox: SandboxServer;
let base: string;
let page: http.Server;
let site: string;
let bigPhoto: Buffer;
const hits: string[] = [];
const savedHosts = process.env['CRIER_MEDIA_ALLOWED_HOSTS'];

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/bluesky`;
  // Noise so that it stays large as a PNG: a thumbnail the connector must shrink under 1 MB.
  bigPhoto = await sharp(randomBytes(1400 * 900 * 3), { raw: { width: 1400, height: 900, channels: 3 } }).png().toBuffer();
  page = http.createServer((req, res) => {
    hits.push(req.url!);
    if (req.url === '/photo.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(bigPhoto);
    if (req.url === '/slow') return void setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end('<title>late</title>'), 8_000);
    if (req.url === '/gone') return void res.writeHead(404).end();
    if (req.url === '/redirect-to-private') return void res.writeHead(302, { location: 'http://10.255.255.1/x' }).end();
    if (req.url === '/pdf') return void res.writeHead(200, { 'content-type': 'application/pdf' }).end('%PDF-1.4');
    if (req.url === '/no-og') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><head><title> Plain &amp; simple </title><meta name="description" content="From the description tag"></head></html>');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><html><head><meta property="og:title" content="The &quot;title&quot;"><meta content="Described here" property="og:description"><meta property="og:image" content="/photo.png"></head><body>${'x'.repeat(100)}</body></html>`,
    );
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  site = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  page?.close();
  await sandbox?.close();
  if (savedHosts === undefined) delete process.env['CRIER_MEDIA_ALLOWED_HOSTS'];
  else process.env['CRIER_MEDIA_ALLOWED_HOSTS'] = savedHosts;
});
beforeEach(() => {
  // Only the test page's exact host is exempt from the SSRF guard (as an operator would list a host).
  process.env['CRIER_MEDIA_ALLOWED_HOSTS'] = new URL(site).host;
  sandbox.bluesky.core.clearFaults();
  hits.length = 0;
});

type Logged = { obj: object; msg?: string };
async function account(name = `r${Math.random().toString(36).slice(2, 9)}`) {
  const created = await blueskyConnector.sandbox!.createAccount(base, name);
  const warnings: Logged[] = [];
  const log = { info: (obj: object, msg?: string) => void warnings.push({ obj, msg }), warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }), error() {} };
  const ctx: ConnectorCtx<BlueskyCredentials> = { credentials: created.credentials, saveCredentials: async () => {}, checkpoint: async () => {}, baseUrl: base, sandbox: true, clock: systemClock, log, signal: AbortSignal.timeout(20_000) };
  return { ctx, did: created.externalId, handle: created.username, warnings };
}
const draft = (text: string, options: Record<string, unknown> = {}): PublicationDraft => {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options, media: [], checkpoint: null };
};
async function publishOne(ctx: ConnectorCtx<BlueskyCredentials>, d: PublicationDraft) {
  const r = await blueskyConnector.publish(ctx, d);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  if (isPending(r.value)) throw new Error('pending');
  const uri = r.value.platformPostId;
  const did = uri.split('/')[2]!;
  return sandbox.bluesky.repos.get(did)!.get(`app.bsky.feed.post/${uri.split('/').pop()}`)!.value as any;
}

describe('Bluesky facets through the simulator', () => {
  it('links, tags and mentions resolved to DIDs; a handle that does not resolve stays text and the post goes out', async () => {
    const friend = await account('friend');
    const a = await account();
    const text = `Hi @${friend.handle} and @nobody-here.test 🎉 — #launch day: ${site}/news!`;
    process.env['CRIER_MEDIA_ALLOWED_HOSTS'] = '';
    const rec = await publishOne(a.ctx, draft(text));
    const bytes = Buffer.from(text);
    const covered = rec.facets.map((f: any) => [bytes.subarray(f.index.byteStart, f.index.byteEnd).toString(), f.features[0]]);
    expect(covered).toEqual([
      [`@${friend.handle}`, { $type: 'app.bsky.richtext.facet#mention', did: friend.did }],
      ['#launch', { $type: 'app.bsky.richtext.facet#tag', tag: 'launch' }],
      [`${site}/news`, { $type: 'app.bsky.richtext.facet#link', uri: `${site}/news` }],
    ]);
    expect(a.warnings.some((w) => (w.obj as { handle?: string }).handle === 'nobody-here.test')).toBe(true);
  });

  it('leaves mentions as text when handle resolution fails (server error), and still publishes', async () => {
    const friend = await account('friend2');
    const a = await account();
    sandbox.bluesky.core.addFault({ operation: 'com.atproto.identity.resolveHandle', times: -1, fault: { kind: 'status', status: 503 } });
    const rec = await publishOne(a.ctx, draft(`cc @${friend.handle}`));
    expect(rec.facets).toBeUndefined();
    expect(rec.text).toBe(`cc @${friend.handle}`);
  });
});

describe('Bluesky link cards', () => {
  it('makes a card for the first link from the page\'s OpenGraph tags, with its image shrunk under 1 MB and uploaded as a blob', async () => {
    const a = await account();
    expect(bigPhoto.length).toBeGreaterThan(THUMB_MAX_BYTES);
    const rec = await publishOne(a.ctx, draft(`first ${site}/article then https://example.com/second`));
    expect(rec.embed).toMatchObject({ $type: 'app.bsky.embed.external', external: { uri: `${site}/article`, title: 'The "title"', description: 'Described here', thumb: { $type: 'blob', mimeType: 'image/jpeg' } } });
    expect(rec.embed.external.thumb.size).toBeLessThanOrEqual(THUMB_MAX_BYTES);
    expect(sandbox.bluesky.blobs.get(a.did)!.get(rec.embed.external.thumb.ref.$link)).toMatchObject({ mimeType: 'image/jpeg', size: rec.embed.external.thumb.size });
    expect(hits).toEqual(['/article', '/photo.png']);
  });

  it('falls back to <title> and the description meta tag, and takes a card from options without fetching the page', async () => {
    const a = await account();
    const plain = await publishOne(a.ctx, draft(`${site}/no-og`));
    expect(plain.embed.external).toEqual({ uri: `${site}/no-og`, title: 'Plain & simple', description: 'From the description tag' });
    hits.length = 0;
    const given = await publishOne(a.ctx, draft('no link in the text', { link_card: { uri: 'https://example.com/p', title: 'Mine', description: 'Given', thumb_url: `${site}/photo.png` } }));
    expect(given.embed.external).toMatchObject({ uri: 'https://example.com/p', title: 'Mine', description: 'Given', thumb: { mimeType: 'image/jpeg' } });
    expect(hits).toEqual(['/photo.png']);
    const off = await publishOne(a.ctx, draft(`${site}/article`, { link_card: false }));
    expect(off.embed).toBeUndefined();
  });

  it.each([
    ['a page that answers 404', '/gone'],
    ['a page that is not HTML', '/pdf'],
    ['a redirect to a private address', '/redirect-to-private'],
  ])('posts without a card, and logs why, after %s', async (_what, path) => {
    const a = await account();
    const rec = await publishOne(a.ctx, draft(`look ${site}${path}`));
    expect(rec.embed).toBeUndefined();
    expect(rec.facets).toHaveLength(1);
    expect(a.warnings.map((w) => w.msg)).toContain('bluesky: no link card (the page could not be read)');
  });

  it('refuses to fetch a card from a loopback address the operator did not allow (SSRF guard), and still posts', async () => {
    const a = await account();
    process.env['CRIER_MEDIA_ALLOWED_HOSTS'] = '';
    const rec = await publishOne(a.ctx, draft(`internal ${site}/article`));
    expect(rec.embed).toBeUndefined();
    expect(hits).toEqual([]);
    expect(JSON.stringify(a.warnings)).toMatch(/this machine|loopback|not allowed/);
  });

  it('gives up on a page slower than the card\'s time limit and posts without it', async () => {
    const a = await account();
    const started = Date.now();
    const rec = await publishOne(a.ctx, draft(`slow ${site}/slow`));
    expect(rec.embed).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(7_500);
  }, 15_000);

  it('keeps the card but drops its image when the image cannot be fetched', async () => {
    const a = await account();
    const rec = await publishOne(a.ctx, draft('x', { link_card: { uri: 'https://example.com/', title: 'T', thumb_url: `${site}/gone` } }));
    expect(rec.embed.external).toEqual({ uri: 'https://example.com/', title: 'T', description: '' });
  });

  it('refuses at validation a card together with media, and a reply_to that is not a post address', () => {
    const issues = blueskyConnector.validate({ text: 'x', options: { link_card: { uri: 'https://example.com' }, reply_to: 'https://example.com/post/1' }, media: [{ kind: 'image' }] });
    expect(issues.map((i) => [i.code, i.field])).toEqual([['OPTION_INVALID', 'options.bluesky.reply_to'], ['OPTION_INVALID', 'options.bluesky.link_card']]);
  });
});

describe('the simulated PDS validates records like the reference PDS', () => {
  async function create(record: object) {
    const a = await account();
    const r = await fetch(`${base}/xrpc/com.atproto.repo.createRecord`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.ctx.credentials.accessJwt}`, 'content-type': 'application/json' },
      body: JSON.stringify({ repo: a.did, collection: 'app.bsky.feed.post', record: { $type: 'app.bsky.feed.post', text: 'hi there', createdAt: new Date().toISOString(), ...record } }),
    });
    return { status: r.status, body: (await r.json()) as { error?: string; message?: string; uri?: string; cid?: string } };
  }
  const facet = (index: object, feature: object) => ({ facets: [{ index, features: [feature] }] });
  const link = { $type: 'app.bsky.richtext.facet#link', uri: 'https://a.example' };

  it('refuses what the lexicon refuses, in the PDS\'s words', async () => {
    const cases: [object, string][] = [
      [facet({ byteStart: -1, byteEnd: 2 }, link), 'integer too small (minimum 0, got -1) at $.record.facets[0].index.byteStart'],
      [facet({ byteStart: 0 }, link), 'Missing required key "byteEnd" at $.record.facets[0].index'],
      [facet({ byteStart: 0, byteEnd: 2 }, { uri: 'https://a.example' }), 'Expected an object which includes the "$type" property value type (got object) at $.record.facets[0].features[0]'],
      [facet({ byteStart: 0, byteEnd: 2 }, { $type: 'app.bsky.richtext.facet#mention', did: 'alice.test' }), 'Invalid DID (got "alice.test") at $.record.facets[0].features[0].did'],
      [facet({ byteStart: 0, byteEnd: 2 }, { $type: 'app.bsky.richtext.facet#link', uri: 'not a uri' }), 'Invalid uri (got "not a uri") at $.record.facets[0].features[0].uri'],
      [facet({ byteStart: 0, byteEnd: 2 }, { $type: 'app.bsky.richtext.facet#tag', tag: 'a'.repeat(65) }), 'grapheme too big (maximum 64, got 65) at $.record.facets[0].features[0].tag'],
      [{ reply: { root: { uri: 'at://did:plc:x/app.bsky.feed.post/3k', cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' } } }, 'Missing required key "parent" at $.record.reply'],
      [{ reply: { root: { uri: 'at://did:plc:x/app.bsky.feed.post/3k', cid: 'nope' }, parent: { uri: 'at://did:plc:x/app.bsky.feed.post/3k', cid: 'nope' } } }, 'Invalid CID string (got "nope") at $.record.reply.root.cid'],
      [{ embed: { $type: 'app.bsky.embed.external', external: { uri: 'https://a.example', description: '' } } }, 'Missing required key "title" at $.record.embed.external'],
      [{ embed: { $type: 'app.bsky.embed.external', external: { uri: 'nope', title: '', description: '' } } }, 'Invalid uri (got "nope") at $.record.embed.external.uri'],
    ];
    for (const [record, message] of cases) {
      const r = await create(record);
      expect([r.status, r.body.error, r.body.message]).toEqual([400, 'InvalidRequest', `Invalid app.bsky.feed.post record: ${message}`]);
    }
    // An open union: a feature of a type the PDS does not know is stored as it is.
    expect((await create(facet({ byteStart: 0, byteEnd: 2 }, { $type: 'com.example.richtext#thing', x: 1 }))).status).toBe(200);
    expect((await create({ embed: { $type: 'app.bsky.embed.external', external: { uri: 'https://a.example', title: '', description: '' } } })).status).toBe(200);
  });

  it('adds sandbox checks a real PDS skips (facet ranges inside the text, replies to posts that exist), which can be switched off', async () => {
    const outside = await create(facet({ byteStart: 0, byteEnd: 50 }, link));
    expect(outside.status).toBe(400);
    expect(outside.body.message).toMatch(/sandbox check.*facet bytes 0\.\.50 are not a range inside the text \(8 bytes\) at \$\.record\.facets\[0\]\.index/);
    expect((await create(facet({ byteStart: 3, byteEnd: 3 }, link))).status).toBe(400);
    const a = await account();
    const ghost = { uri: `at://${a.did}/app.bsky.feed.post/3kzzzzzzzzzz2`, cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' };
    const orphan = await create({ reply: { root: ghost, parent: ghost } });
    expect(orphan.body.message).toMatch(/sandbox check.*the post replied to does not exist/);
    const top = await create({});
    const wrongCid = await create({ reply: { root: { uri: top.body.uri, cid: ghost.cid }, parent: { uri: top.body.uri, cid: ghost.cid } } });
    expect(wrongCid.body.message).toMatch(/the CID is not the post's/);
    expect((await create({ reply: { root: { uri: top.body.uri, cid: top.body.cid }, parent: { uri: top.body.uri, cid: top.body.cid } } })).status).toBe(200);
    sandbox.bluesky.strict.facetRanges = false;
    sandbox.bluesky.strict.replyTargets = false;
    try {
      expect((await create(facet({ byteStart: 0, byteEnd: 50 }, link))).status).toBe(200);
      expect((await create({ reply: { root: ghost, parent: ghost } })).status).toBe(200);
    } finally {
      sandbox.bluesky.strict.facetRanges = true;
      sandbox.bluesky.strict.replyTargets = true;
    }
  });

  it('resolves handles it knows, and answers HandleNotFound otherwise', async () => {
    const a = await account();
    const get = async (handle: string) => {
      const r = await fetch(`${base}/xrpc/com.atproto.identity.resolveHandle?handle=${encodeURIComponent(handle)}`);
      return [r.status, await r.json()];
    };
    expect(await get(a.handle)).toEqual([200, { did: a.did }]);
    expect(await get('ghost.sandbox.test')).toEqual([400, { error: 'HandleNotFound', message: 'Unable to resolve handle' }]);
    expect((await get('not a handle'))[0]).toBe(400);
  });
});
