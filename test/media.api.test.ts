// The media API end to end: uploads (direct, announced + signed PUT), ingest by URL, posts that wait for
// their media and publish the adapted copy, refusals that name the limit, signed public URLs, retention.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settled, startTestCrier, waitFor, type Tenant, type TestCrier } from './support/harness.js';

let t: TestCrier;
let files: Server;
let filesUrl: string;
let photo: Buffer; // 12 MP JPEG, well over Bluesky's 1,000,000 bytes
let small: Buffer; // small PNG
const served = new Map<string, { status: number; body: Buffer; type: string }>();

beforeAll(async () => {
  // Noise over gradients: real detail, so the JPEG is large, like a phone photo.
  const w = 4000;
  const h = 3000;
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = ((i * 7) % 251) ^ (Math.random() * 64);
  photo = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
  small = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#3a7' } }).png().toBuffer();
  files = createServer((req, res) => {
    const f = served.get(req.url ?? '');
    if (!f) return res.writeHead(404).end('not here');
    res.writeHead(f.status, { 'content-type': f.type, 'content-length': f.body.length }).end(f.body);
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  served.set('/photo.jpg', { status: 200, body: photo, type: 'image/jpeg' });
  served.set('/small.png', { status: 200, body: small, type: 'image/png' });
  served.set('/notes.txt', { status: 200, body: Buffer.from('just text, not an image'), type: 'image/png' });
  t = await startTestCrier({ env: { CRIER_ALLOW_PRIVATE_URLS: 'true' } });
}, 60_000);
afterAll(async () => {
  await t?.stop();
  files?.close();
});

async function upload(ws: Tenant, body: Buffer, filename: string, type: string) {
  const form = new FormData();
  form.append('file', new Blob([body], { type }), filename);
  const r = await fetch(`${t.url}/v1/media`, { method: 'POST', headers: { authorization: `Bearer ${ws.key}` }, body: form });
  return { status: r.status, body: (await r.json()) as any };
}

function recordOf(text: string): any {
  for (const repo of t.sandbox.bluesky.repos.values()) for (const rec of repo.values()) if ((rec as any).value?.text === text) return (rec as any).value;
  return undefined;
}

describe('uploading', () => {
  it('stores a direct multipart upload and describes it from its bytes, not its name', async () => {
    const ws = await t.workspace();
    const r = await upload(ws, small, 'holiday.jpg', 'image/jpeg');
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'ready', source: 'upload', kind: 'image', content_type: 'image/png', width: 320, height: 240, size: small.length, filename: 'holiday.jpg' });
    expect(r.body.sha256).toBe(createHash('sha256').update(small).digest('hex'));
    expect((await ws.get(`/v1/media/${r.body.id}`)).body).toMatchObject({ id: r.body.id, status: 'ready' });
  });

  it('announces an upload, takes the bytes at its signed URL, and completes', async () => {
    const ws = await t.workspace();
    const a = await ws.post('/v1/media/uploads', { filename: 'p.jpg', content_type: 'image/jpeg', size: photo.length });
    expect(a.status).toBe(201);
    expect(a.body.media.status).toBe('awaiting_upload');
    const early = await ws.post(`/v1/media/${a.body.media.id}/complete`, {});
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('UPLOAD_INCOMPLETE');
    const tampered = a.body.upload.url.replace(/sig=([^&]+)/, (_: string, s: string) => `sig=${s.slice(0, -2)}xx`);
    expect((await fetch(tampered, { method: 'PUT', headers: a.body.upload.headers, body: photo })).status).toBe(403);
    const put = await fetch(a.body.upload.url, { method: 'PUT', headers: a.body.upload.headers, body: photo });
    expect(put.status).toBe(204);
    const done = await ws.post(`/v1/media/${a.body.media.id}/complete`, {});
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'ready', kind: 'image', width: 4000, height: 3000, size: photo.length });
  });

  it('refuses more bytes than announced, and a file that is not an image or video', async () => {
    const ws = await t.workspace();
    const a = await ws.post('/v1/media/uploads', { filename: 'x.png', content_type: 'image/png', size: 10 });
    const put = await fetch(a.body.upload.url, { method: 'PUT', headers: a.body.upload.headers, body: small });
    expect(put.status).toBe(409);
    const b = await ws.post('/v1/media/uploads', { filename: 'x.png', content_type: 'image/png', size: 23 });
    await fetch(b.body.upload.url, { method: 'PUT', headers: b.body.upload.headers, body: Buffer.from('just text, not an image') });
    const done = await ws.post(`/v1/media/${b.body.media.id}/complete`, {});
    expect(done.status).toBe(422);
    expect(done.body.error.code).toBe('MEDIA_UNSUPPORTED');
    expect((await ws.get(`/v1/media/${b.body.media.id}`)).body).toMatchObject({ status: 'failed', error: { code: expect.any(String) } });
  });

  it('refuses an announced size over the instance limit with the limit named', async () => {
    const ws = await t.workspace();
    const r = await ws.post('/v1/media/uploads', { filename: 'huge.mp4', content_type: 'video/mp4', size: t.config.media.maxBytes + 1 });
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'MEDIA_TOO_LARGE', details: [{ limit: t.config.media.maxBytes }] });
  });
});

describe('ingest by URL', () => {
  it('fetches a URL once in the worker and reports it ready', async () => {
    const ws = await t.workspace();
    const r = await ws.post('/v1/media', { url: `${filesUrl}/small.png` });
    expect(r.status).toBe(202);
    expect(r.body.status).toBe('processing');
    const m = await waitFor(async () => {
      const g = await ws.get(`/v1/media/${r.body.id}`);
      return g.body.status === 'processing' ? undefined : g.body;
    });
    expect(m).toMatchObject({ status: 'ready', source: 'url', content_type: 'image/png', width: 320 });
  });

  it('refuses URLs that are not http(s) or carry credentials, before storing anything', async () => {
    const ws = await t.workspace();
    for (const url of ['file:///etc/passwd', 'gopher://x/', `http://user:pw@127.0.0.1/a.png`, 'not a url']) {
      const r = await ws.post('/v1/media', { url });
      expect(r.status, url).toBe(422);
      expect(r.body.error.code).toBe('URL_NOT_ALLOWED');
    }
    expect((await ws.get('/v1/media')).body.data).toEqual([]);
  });
});

describe('posts with media', () => {
  it('holds a post until the adapted copy exists, then publishes that copy within Bluesky\'s limit', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const m = await upload(ws, photo, 'big.jpg', 'image/jpeg');
    expect(m.body.size).toBeGreaterThan(1_000_000);
    const text = `photo ${randomBytes(4).toString('hex')}`;
    const p = await ws.post('/v1/posts', { text, account_ids: [acct], media: [{ id: m.body.id, alt_text: 'a noisy test photo' }] });
    expect(p.status).toBe(201);
    expect(p.body.media).toEqual([{ id: m.body.id, alt_text: 'a noisy test photo', adapt: true, pad: false }]);
    const post = await settled(ws, p.body.id, 60_000);
    expect(post.publications[0]).toMatchObject({ status: 'published', waiting_for_media: false });
    const record = recordOf(text);
    expect(record.embed.$type).toBe('app.bsky.embed.images');
    expect(record.embed.images[0]).toMatchObject({ alt: 'a noisy test photo' });
    expect(record.embed.images[0].image.size).toBeLessThanOrEqual(1_000_000);
    expect(record.embed.images[0].image.mimeType).toBe('image/jpeg');
    const media = (await ws.get(`/v1/media/${m.body.id}`)).body;
    expect(media.renditions).toEqual([expect.objectContaining({ status: 'ready', content_type: 'image/jpeg' })]);
  });

  it('refuses at creation a file over the platform limit when adaptation is switched off, naming the limit', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const m = await upload(ws, photo, 'big.jpg', 'image/jpeg');
    const p = await ws.post('/v1/posts', { text: 'no adapting', account_ids: [acct], media: [{ id: m.body.id, adapt: false }] });
    expect(p.status).toBe(422);
    expect(p.body.error.code).toBe('CONTENT_INVALID');
    expect(p.body.error.details[0]).toMatchObject({ platform: 'bluesky', code: 'MEDIA_TOO_LARGE', field: 'body.media[0]' });
    expect(p.body.error.details[0].message).toMatch(/1,000,000/);
    expect((await ws.get('/v1/posts')).body.data).toEqual([]);
  });

  it('publishes a post whose media is given by URL once the file has been fetched', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const text = `by url ${randomBytes(4).toString('hex')}`;
    const p = await ws.post('/v1/posts', { text, account_ids: [acct], media: [{ url: `${filesUrl}/small.png` }] });
    expect(p.status).toBe(201);
    expect(p.body.publications[0].waiting_for_media).toBe(true);
    const post = await settled(ws, p.body.id, 30_000);
    expect(post.status).toBe('published');
    expect(recordOf(text).embed.images).toHaveLength(1);
  });

  it('fails the publication with the reason when a URL cannot be fetched or is not media', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const missing = await ws.post('/v1/posts', { text: 'gone', account_ids: [acct], media: [{ url: `${filesUrl}/nothing.jpg` }] });
    const text = await ws.post('/v1/posts', { text: 'text file', account_ids: [acct], media: [{ url: `${filesUrl}/notes.txt` }] });
    for (const [p, pattern] of [[missing, /404/], [text, /./]] as const) {
      const post = await settled(ws, p.body.id, 60_000);
      expect(post.status).toBe('failed');
      expect(post.publications[0].error).toMatchObject({ code: 'MEDIA_FAILED', category: 'media_error', retryable: false });
      expect(post.publications[0].error.message).toMatch(pattern);
    }
    const events = await t.sql.query(`SELECT type FROM events WHERE workspace_id = $1 AND type = 'publication.failed'`, [ws.workspaceId]);
    expect(events.rows).toHaveLength(2);
  });

  it('changes a draft\'s media with PATCH and publishes it once the new file is fetched', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const first = await upload(ws, small, 'first.png', 'image/png');
    const text = `edited ${randomBytes(4).toString('hex')}`;
    const draft = await ws.post('/v1/posts', { text, account_ids: [acct], draft: true, media: [{ id: first.body.id }] });
    const patched = await ws.patch(`/v1/posts/${draft.body.id}`, { media: [{ url: `${filesUrl}/photo.jpg`, alt_text: 'the big one' }] });
    expect(patched.status).toBe(200);
    expect(patched.body.media).toHaveLength(1);
    expect(patched.body.media[0].id).not.toBe(first.body.id);
    const published = await ws.post(`/v1/posts/${draft.body.id}/publish`);
    expect(published.status).toBe(200);
    const post = await settled(ws, draft.body.id, 60_000);
    expect(post.status, JSON.stringify(post.publications[0].error)).toBe('published');
    const record = recordOf(text);
    expect(record.embed.images[0]).toMatchObject({ alt: 'the big one', aspectRatio: { width: 2000, height: 1500 } });
  }, 90_000);

  it("never lets one workspace use or see another's media", async () => {
    const a = await t.workspace('A');
    const b = await t.workspace('B');
    const bm = await upload(b, small, 's.png', 'image/png');
    const acct = await a.account();
    const p = await a.post('/v1/posts', { text: 'steal', account_ids: [acct], media: [{ id: bm.body.id }] });
    expect(p.status).toBe(422);
    expect(p.body.error.code).toBe('MEDIA_NOT_FOUND');
    for (const r of [await a.get(`/v1/media/${bm.body.id}`), await a.delete(`/v1/media/${bm.body.id}`), await a.post(`/v1/media/${bm.body.id}/complete`, {})]) {
      expect(r.status).toBe(404);
    }
    expect((await a.get('/v1/media')).body.data).toEqual([]);
  });

  it('keeps media a post refers to from deletion, and deletes it otherwise', async () => {
    const ws = await t.workspace();
    const acct = await ws.account();
    const used = await upload(ws, small, 'u.png', 'image/png');
    const free = await upload(ws, small, 'f.png', 'image/png');
    await ws.post('/v1/posts', { text: 'draft with media', account_ids: [acct], draft: true, media: [{ id: used.body.id }] });
    expect((await ws.delete(`/v1/media/${used.body.id}`)).body.error.code).toBe('MEDIA_IN_USE');
    expect((await ws.delete(`/v1/media/${free.body.id}`)).status).toBe(204);
    expect((await ws.get(`/v1/media/${free.body.id}`)).status).toBe(404);
  });
});

describe('signed media URLs for platforms that pull', () => {
  it('serves the file with ranges to a valid signature only, until it expires', async () => {
    const ws = await t.workspace();
    const m = await upload(ws, small, 's.png', 'image/png');
    const now = new Date();
    const q = t.crier.ctx.media.signer.sign('download', m.body.id, 'original', new Date(now.getTime() + 60_000));
    const full = await fetch(`${t.url}/media/${m.body.id}/original?${q}`);
    expect(full.status).toBe(200);
    expect(Buffer.from(await full.arrayBuffer()).equals(small)).toBe(true);
    const part = await fetch(`${t.url}/media/${m.body.id}/original?${q}`, { headers: { range: 'bytes=0-9' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-9/${small.length}`);
    expect((await part.arrayBuffer()).byteLength).toBe(10);
    const expired = t.crier.ctx.media.signer.sign('download', m.body.id, 'original', new Date(now.getTime() - 1_000));
    const other = t.crier.ctx.media.signer.sign('download', m.body.id, 'bluesky-image-v1', new Date(now.getTime() + 60_000));
    for (const bad of [expired, other, q.replace('sig=', 'sig=A'), '']) {
      expect((await fetch(`${t.url}/media/${m.body.id}/original?${bad}`)).status).toBe(403);
    }
  });
});
