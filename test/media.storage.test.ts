// Both stores behave the same; the S3 store is proven against Swift's s3api, which checks signatures like
// AWS does (a tampered or wrongly keyed request is refused).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalStorage } from '../src/media/storage/local.js';
import { createS3Storage } from '../src/media/storage/s3.js';
import type { MediaStorage } from '../src/media/types.js';
import { startSwift, type Swift } from './support/swift.js';
import { startTestCrier, type TestCrier } from './support/harness.js';
import sharp from 'sharp';

let swift: Swift;
let dir: string;
const stores: Record<string, MediaStorage> = {};
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'crier-store-'));
  swift = await startSwift();
  stores['local'] = createLocalStorage(path.join(dir, 'local'));
  stores['s3'] = createS3Storage({ ...swift, forcePathStyle: true });
}, 60_000);
afterAll(async () => {
  await swift?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const text = async (r: Readable) => Buffer.concat(await r.toArray()).toString();

describe.each(['local', 's3'])('the %s store', (kind) => {
  const store = () => stores[kind]!;

  it('puts buffers and streams, reads them whole or by range, and reports their size', async () => {
    await store().put('media/ws/a/original', Buffer.from('hello world'), { contentType: 'text/plain' });
    expect(await text(await store().get('media/ws/a/original'))).toBe('hello world');
    expect(await text(await store().get('media/ws/a/original', { start: 6, end: 10 }))).toBe('world');
    expect(await store().head('media/ws/a/original')).toMatchObject({ size: 11 });
    const big = randomBytes(6 * 1024 * 1024);
    await store().put('media/ws/b/original', Readable.from([big.subarray(0, 3_000_000), big.subarray(3_000_000)]), { contentType: 'video/mp4' });
    const file = path.join(dir, `${kind}-download`);
    await store().download('media/ws/b/original', file);
    expect((await readFile(file)).equals(big)).toBe(true);
  }, 60_000);

  it('answers null for a missing object and deletes without complaint', async () => {
    expect(await store().head('media/ws/none/original')).toBeNull();
    await store().put('media/ws/c/original', Buffer.from('x'), { contentType: 'text/plain' });
    await store().delete('media/ws/c/original');
    expect(await store().head('media/ws/c/original')).toBeNull();
    await store().delete('media/ws/c/original');
  });
});

describe('the S3 store against a signature-checking server', () => {
  const s3 = () => stores['s3']!;

  it('presigns a PUT that plain fetch can use, with no checksum parameter real S3 would refuse', async () => {
    const url = (await s3().presignPut('media/ws/p/original', { contentType: 'image/png', size: 5, expiresInSec: 60 }))!;
    expect(url).not.toMatch(/x-amz-checksum/i);
    const put = await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: 'hello' });
    expect(put.status).toBe(200);
    expect(await text(await s3().get('media/ws/p/original'))).toBe('hello');
    const get = await fetch((await s3().presignGet('media/ws/p/original', 60))!);
    expect(await get.text()).toBe('hello');
  });

  it('refuses a tampered signature, a different content type and a wrong secret', async () => {
    const url = (await s3().presignPut('media/ws/q/original', { contentType: 'image/png', size: 5, expiresInSec: 60 }))!;
    const tampered = url.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`);
    const bad = await fetch(tampered, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: 'hello' });
    expect(bad.status).toBe(403);
    expect(await bad.text()).toMatch(/SignatureDoesNotMatch/);
    expect((await fetch(url, { method: 'PUT', headers: { 'content-type': 'text/html' }, body: 'hello' })).status).toBe(403);
    const get = (await s3().presignGet('media/ws/p/original', 60))!;
    expect((await fetch(get.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`))).status).toBe(403);
    const wrong = createS3Storage({ ...swift, secretAccessKey: 'not-the-secret', forcePathStyle: true });
    await expect(wrong.put('media/ws/r/original', Buffer.from('x'), { contentType: 'text/plain' })).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
    expect(await s3().head('media/ws/q/original')).toBeNull();
  });

  it('assembles a multipart upload from presigned part URLs, and can abort one', async () => {
    const key = 'media/ws/m/original';
    const uploadId = (await s3().createMultipart(key, { contentType: 'video/mp4' }))!;
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1234)];
    const etags: { partNumber: number; etag: string }[] = [];
    for (const [i, body] of parts.entries()) {
      const r = await fetch(await s3().presignPart(key, uploadId, i + 1, 60), { method: 'PUT', body });
      expect(r.status).toBe(200);
      etags.push({ partNumber: i + 1, etag: r.headers.get('etag')! });
    }
    await s3().completeMultipart(key, uploadId, etags);
    const file = path.join(dir, 'multipart');
    await s3().download(key, file);
    expect((await readFile(file)).equals(Buffer.concat(parts))).toBe(true);
    const other = (await s3().createMultipart('media/ws/n/original', { contentType: 'video/mp4' }))!;
    await s3().abortMultipart('media/ws/n/original', other);
    await expect(s3().completeMultipart('media/ws/n/original', other, [{ partNumber: 1, etag: '"x"' }])).rejects.toThrow();
  }, 60_000);
});

describe('the local store', () => {
  it('refuses keys that would leave its folder', async () => {
    for (const key of ['../x', 'a/../../b', '/etc/passwd', 'a//b', 'a\\b', '', 'a/./b']) {
      await expect(stores['local']!.put(key, Buffer.from('x'), { contentType: 'text/plain' }), key).rejects.toThrow(/invalid storage key/);
    }
  });
});

describe('Crier on S3 storage', () => {
  let t: TestCrier;
  beforeAll(async () => {
    t = await startTestCrier({
      env: { CRIER_MEDIA_STORE: 's3', CRIER_S3_ENDPOINT: swift.endpoint, CRIER_S3_REGION: swift.region, CRIER_S3_BUCKET: swift.bucket, CRIER_S3_ACCESS_KEY_ID: swift.accessKeyId, CRIER_S3_SECRET_ACCESS_KEY: swift.secretAccessKey, CRIER_S3_FORCE_PATH_STYLE: 'true' },
    });
  }, 60_000);
  afterAll(async () => t?.stop());

  it('hands out a presigned S3 URL for a small upload and probes the object on completion', async () => {
    const ws = await t.workspace();
    const jpeg = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#246' } }).jpeg().toBuffer();
    const a = await ws.post('/v1/media/uploads', { filename: 'a.jpg', content_type: 'image/jpeg', size: jpeg.length });
    expect(a.body.upload.url).toContain(swift.endpoint);
    expect((await fetch(a.body.upload.url, { method: 'PUT', headers: a.body.upload.headers, body: jpeg })).status).toBe(200);
    const done = await ws.post(`/v1/media/${a.body.media.id}/complete`);
    expect(done.body).toMatchObject({ status: 'ready', content_type: 'image/jpeg', width: 640, height: 480, size: jpeg.length });
  });

  it('splits a file over 64 MiB into presigned parts and assembles them on completion', async () => {
    const ws = await t.workspace();
    // A real JPEG followed by padding: decoders stop at its end marker, so it probes as the picture it is.
    const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#642' } }).jpeg().toBuffer();
    const file = Buffer.concat([jpeg, Buffer.alloc(70 * 1024 * 1024 - jpeg.length)]);
    const a = await ws.post('/v1/media/uploads', { filename: 'big.jpg', content_type: 'image/jpeg', size: file.length });
    expect(a.status).toBe(201);
    const parts = a.body.upload.parts as { part_number: number; url: string; size: number }[];
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.reduce((n, p) => n + p.size, 0)).toBe(file.length);
    const etags = [];
    let offset = 0;
    for (const p of parts) {
      const r = await fetch(p.url, { method: 'PUT', body: file.subarray(offset, offset + p.size) });
      expect(r.status).toBe(200);
      etags.push({ part_number: p.part_number, etag: r.headers.get('etag')! });
      offset += p.size;
    }
    expect((await ws.post(`/v1/media/${a.body.media.id}/complete`)).body.error.code).toBe('UPLOAD_INCOMPLETE'); // parts are required
    const done = await ws.post(`/v1/media/${a.body.media.id}/complete`, { parts: etags });
    expect(done.body).toMatchObject({ status: 'ready', kind: 'image', size: file.length });
  }, 120_000);
});
