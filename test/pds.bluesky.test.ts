// The Bluesky connector against the official PDS (@atproto/dev-env: the reference PDS and a PLC directory,
// PDS-only, on 127.0.0.1): an account signs in through the connector's PasswordAuth, publishes a post with
// emoji, links, mentions and hashtags plus images, a link card, a thread and a reply, and every record is
// read back from the PDS (getRecord, getBlob) and compared: text, facets by byte offset, embeds with alt,
// aspect ratio and the very bytes of each blob, reply strong refs. When the PDS cannot be installed on this
// machine the tests skip and the reason is printed.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blueskyAuth, resolvePdsEndpoint } from '../src/connectors/bluesky/auth.js';
import { blueskyConnector, type BlueskyCredentials } from '../src/connectors/bluesky/connector.js';
import { thumbBytes } from '../src/connectors/bluesky/linkcard.js';
import { tidForPublication } from '../src/connectors/bluesky/tid.js';
import { isPending, type ConnectorCtx, type ConnectorError, type DraftMedia, type Pending, type PublicationDraft, type Published } from '../src/connectors/types.js';
import type { Result } from '../src/lib/result.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { preparePeer, startPds, type RunningPds } from './peers/bluesky/peer.js';

const peer = await preparePeer();
if (!peer.ok) console.warn(`SKIPPED test/pds.bluesky.test.ts: ${peer.reason}`);

const POST = 'app.bsky.feed.post';
const silent = { info() {}, warn() {}, error() {} };
let pds: RunningPds;
let page: http.Server;
let pageUrl: string;
let jpeg: Buffer;
let png: Buffer;
let cardImage: Buffer;
const password = `pw-${randomBytes(8).toString('hex')}`;
const savedEnv = process.env['CRIER_MEDIA_ALLOWED_HOSTS'];

async function xrpc(method: 'GET' | 'POST', nsid: string, input: Record<string, string> | object, jwt?: string) {
  const url = `${pds.pds}/xrpc/${nsid}${method === 'GET' ? `?${new URLSearchParams(input as Record<string, string>)}` : ''}`;
  const r = await fetch(url, { method, headers: { 'content-type': 'application/json', ...(jwt ? { authorization: `Bearer ${jwt}` } : {}) }, body: method === 'POST' ? JSON.stringify(input) : undefined });
  return { status: r.status, body: (await r.json()) as any };
}
const record = async (did: string, rkey: string) => (await xrpc('GET', 'com.atproto.repo.getRecord', { repo: did, collection: POST, rkey })).body;
async function blob(did: string, cid: string): Promise<Buffer> {
  const r = await fetch(`${pds.pds}/xrpc/com.atproto.sync.getBlob?${new URLSearchParams({ did, cid })}`);
  expect(r.status).toBe(200);
  return Buffer.from(await r.arrayBuffer());
}
/** The published post of a result (Bluesky never answers Pending). */
function published(r: Result<Published | Pending, ConnectorError>): Published {
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  if (isPending(r.value)) throw new Error('unexpected Pending');
  return r.value;
}
/** The byte range of `part` in `text` (its first occurrence at or after `from`), computed apart from the connector. */
function bytesOf(text: string, part: string, from = 0) {
  const start = Buffer.from(text).indexOf(Buffer.from(part), from);
  return { byteStart: start, byteEnd: start + Buffer.byteLength(part) };
}

describe.skipIf(!peer.ok)('the Bluesky connector against the official PDS', () => {
  let ctx: ConnectorCtx<BlueskyCredentials>;
  let bobDid: string;

  beforeAll(async () => {
    pds = await startPds((peer as { node: string }).node);
    const handle = `alice${randomBytes(3).toString('hex')}.test`;
    const made = await xrpc('POST', 'com.atproto.server.createAccount', { handle, email: `${handle}@example.invalid`, password });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const bob = await xrpc('POST', 'com.atproto.server.createAccount', { handle: 'bob.test', email: 'bob@example.invalid', password });
    bobDid = bob.body.did;
    // Connected the way Crier connects a real account: the connector's PasswordAuth, the PDS as the host.
    const login = await blueskyAuth.login({ baseUrl: pds.pds, sandbox: false, clock: systemClock, log: silent, signal: AbortSignal.timeout(15_000) }, `@${handle}`, password);
    if (!login.ok) throw new Error(JSON.stringify(login.error));
    expect(login.value).toMatchObject({ externalId: made.body.did, username: handle, kind: 'user' });
    // Its DID document names http://localhost:<port>: not https, so never taken as the account's PDS.
    expect(login.value.credentials.pdsUrl).toBeUndefined();
    ctx = { credentials: login.value.credentials, saveCredentials: async () => {}, checkpoint: async () => {}, baseUrl: pds.pds, sandbox: false, clock: systemClock, log: silent, signal: AbortSignal.timeout(60_000) };
    [jpeg, png, cardImage] = await Promise.all([
      sharp({ create: { width: 400, height: 300, channels: 3, background: '#3366aa' } }).jpeg().toBuffer(),
      sharp({ create: { width: 300, height: 600, channels: 4, background: '#aa336680' } }).png().toBuffer(),
      sharp({ create: { width: 1200, height: 630, channels: 3, background: '#228844' } }).png().toBuffer(),
    ]);
    page = http.createServer((req, res) => {
      if (req.url === '/card.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(cardImage);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<html><head><meta property="og:title" content="Caf&eacute; &amp; friends"><meta property="og:description" content="A page about coffee ☕"><meta property="og:image" content="/card.png"></head><body>hi</body></html>`);
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
    // The card fetcher goes through the SSRF guard: only this exact host is exempt.
    process.env['CRIER_MEDIA_ALLOWED_HOSTS'] = new URL(pageUrl).host;
  }, 120_000);
  afterAll(async () => {
    process.env['CRIER_MEDIA_ALLOWED_HOSTS'] = savedEnv ?? '';
    if (!savedEnv) delete process.env['CRIER_MEDIA_ALLOWED_HOSTS'];
    page?.close();
    await pds?.stop();
  });

  const draft = (text: string, options: Record<string, unknown> = {}, media: DraftMedia[] = []): PublicationDraft => {
    const id = newId('publication');
    return { publicationId: id, marker: id, text, options, media, checkpoint: null };
  };
  const file = (bytes: Buffer, mimeType: string, width: number, height: number, alt: string): DraftMedia => ({ mediaId: newId('media'), kind: 'image', mimeType, size: bytes.length, width, height, alt, url: null, open: async () => Readable.from([bytes]) });

  it('publishes text with emoji, links, mentions and hashtags plus two images, a thread after it, and reads every record back', async () => {
    const text = 'Hé 👩🏽‍💻 café\u0301 with @bob.test and @ghost.test: see https://example.com/a?b=1, bsky.app! #Tag1 #123 #naïve… ＃全角';
    const d = draft(text, { langs: ['en'], thread: [{ text: 'second 🧵 #two' }, { text: 'third, to @bob.test' }] }, [file(jpeg, 'image/jpeg', 400, 300, 'a blue rectangle'), file(png, 'image/png', 300, 600, 'a pink one ✨')]);
    const r = published(await blueskyConnector.publish(ctx, d));
    const did = ctx.credentials.did;
    const first = await record(did, tidForPublication(d.publicationId));
    expect(r.platformPostId).toBe(first.uri);
    expect(r.url).toBe(`https://bsky.app/profile/${ctx.credentials.handle}/post/${tidForPublication(d.publicationId)}`);
    expect(first.value.text).toBe(text);
    expect(first.value.langs).toEqual(['en']);
    expect(first.value.facets).toEqual([
      { index: bytesOf(text, '@bob.test'), features: [{ $type: 'app.bsky.richtext.facet#mention', did: bobDid }] },
      // @ghost.test does not resolve: plain text, and the post went out all the same.
      { index: bytesOf(text, 'https://example.com/a?b=1'), features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com/a?b=1' }] },
      { index: bytesOf(text, 'bsky.app'), features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://bsky.app' }] },
      { index: bytesOf(text, '#Tag1'), features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'Tag1' }] },
      { index: bytesOf(text, '#naïve'), features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'naïve' }] },
      { index: bytesOf(text, '＃全角'), features: [{ $type: 'app.bsky.richtext.facet#tag', tag: '全角' }] },
    ]);
    expect(first.value.embed.$type).toBe('app.bsky.embed.images');
    expect(first.value.embed.images.map((i: any) => [i.alt, i.aspectRatio])).toEqual([['a blue rectangle', { width: 400, height: 300 }], ['a pink one ✨', { width: 300, height: 600 }]]);
    expect(await blob(did, first.value.embed.images[0].image.ref.$link)).toEqual(jpeg);
    expect(await blob(did, first.value.embed.images[1].image.ref.$link)).toEqual(png);
    // The thread: each follow-up replies to the one before, all under the first post.
    const second = await record(did, tidForPublication(d.publicationId, 1));
    const third = await record(did, tidForPublication(d.publicationId, 2));
    const ref = (x: any) => ({ uri: x.uri, cid: x.cid });
    expect(second.value.reply).toEqual({ root: ref(first), parent: ref(first) });
    expect(third.value.reply).toEqual({ root: ref(first), parent: ref(second) });
    expect(second.value.facets).toEqual([{ index: bytesOf('second 🧵 #two', '#two'), features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'two' }] }]);
    expect(third.value.facets[0].features[0]).toEqual({ $type: 'app.bsky.richtext.facet#mention', did: bobDid });
    expect(second.value.embed).toBeUndefined();
    // Read-back knows the whole thread is there; a second publish of the same draft writes nothing new:
    // the PDS refuses the same record key (500) and the connector reads back the post found there.
    expect((await blueskyConnector.findExisting!(ctx, d)).ok).toBe(true);
    expect(published(await blueskyConnector.publish(ctx, d)).platformPostId).toBe(first.uri);
    const listed = await xrpc('GET', 'com.atproto.repo.listRecords', { repo: did, collection: POST, limit: '100' });
    expect(listed.body.records.filter((x: any) => x.value.text === text)).toHaveLength(1);
  }, 60_000);

  it('makes a link card from the page\'s OpenGraph tags, with its image as a thumbnail blob under 1 MB', async () => {
    const text = `Read ${pageUrl}/article today`;
    const d = draft(text);
    const r = await blueskyConnector.publish(ctx, d);
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    const got = await record(ctx.credentials.did, tidForPublication(d.publicationId));
    expect(got.value.embed).toMatchObject({ $type: 'app.bsky.embed.external', external: { uri: `${pageUrl}/article`, title: 'Café & friends', description: 'A page about coffee ☕' } });
    const thumb = got.value.embed.external.thumb;
    expect(thumb.mimeType).toBe('image/png');
    expect(await blob(ctx.credentials.did, thumb.ref.$link)).toEqual((await thumbBytes(cardImage)).bytes);
  }, 30_000);

  it('replies to an existing post by its bsky.app URL, and to a reply by its at:// URI (root carried over)', async () => {
    const did = ctx.credentials.did;
    const top = draft('top post');
    const t = await blueskyConnector.publish(ctx, top);
    if (!t.ok) throw new Error(JSON.stringify(t.error));
    const topRec = await record(did, tidForPublication(top.publicationId));
    const reply = draft('a reply', { reply_to: `https://bsky.app/profile/${ctx.credentials.handle}/post/${tidForPublication(top.publicationId)}` });
    const r1 = await blueskyConnector.publish(ctx, reply);
    if (!r1.ok) throw new Error(JSON.stringify(r1.error));
    const replyRec = await record(did, tidForPublication(reply.publicationId));
    expect(replyRec.value.reply).toEqual({ root: { uri: topRec.uri, cid: topRec.cid }, parent: { uri: topRec.uri, cid: topRec.cid } });
    const deeper = draft('deeper', { reply_to: replyRec.uri });
    const r2 = await blueskyConnector.publish(ctx, deeper);
    if (!r2.ok) throw new Error(JSON.stringify(r2.error));
    expect((await record(did, tidForPublication(deeper.publicationId))).value.reply).toEqual({ root: { uri: topRec.uri, cid: topRec.cid }, parent: { uri: replyRec.uri, cid: replyRec.cid } });
  }, 30_000);

  it('refuses a wrong app password as an auth error, and finds an account\'s PDS from its DID through the PLC directory', async () => {
    const wrong = await blueskyAuth.login({ baseUrl: pds.pds, sandbox: false, clock: systemClock, log: silent, signal: AbortSignal.timeout(15_000) }, ctx.credentials.handle, 'not-the-password');
    expect(!wrong.ok && wrong.error).toMatchObject({ category: 'auth_expired', platformCode: 'AuthenticationRequired' });
    const endpoint = await resolvePdsEndpoint(ctx.credentials.did, { plcUrl: pds.plc, policy: { allowPrivate: true }, signal: AbortSignal.timeout(10_000) });
    expect(endpoint).toBe(`http://localhost:${new URL(pds.pds).port}`);
    // Under the default policy a DID document naming a loopback PDS is not followed.
    expect(await resolvePdsEndpoint(ctx.credentials.did, { plcUrl: pds.plc, policy: { allowPrivate: false, allowHosts: [new URL(pds.plc).host] }, signal: AbortSignal.timeout(10_000) })).toBeUndefined();
  }, 30_000);
});
