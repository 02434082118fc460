// Threads media over real HTTP: the simulator pulls each file from its URL (a small server in this test
// stands in for Crier's signed media URLs), checks the bytes, and processes containers over time. Covers
// images, videos and carousels, Pending handed to checkStatus without creating anything twice, expired
// containers made again, and each way a file can fail.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ThreadsCredentials } from '../src/connectors/threads/auth.js';
import { threadsConnector } from '../src/connectors/threads/connector.js';
import { isPending, type ConnectorCtx, type DraftMedia, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_CONFIG } from '../src/sandbox/threads/graph.js';

const silent = { info() {}, warn() {}, error() {} };
let sandbox: SandboxServer;
let base: string;
let files: http.Server;
let filesUrl: string;
let tmp: string;
/** What the file server serves, by path; and every request it got. */
const served = new Map<string, { bytes: Buffer; type: string; status?: number }>();
const hits: string[] = [];
let jpeg: Buffer;
let png: Buffer;
let mp4: Buffer;
let mp4Late: Buffer; // moov atom after mdat

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/threads`;
  files = http.createServer((req, res) => {
    hits.push(req.url!);
    const f = served.get(req.url!.split('?')[0]!);
    if (!f || f.status) return void res.writeHead(f?.status ?? 404).end('not here');
    res.writeHead(200, { 'content-type': f.type, 'content-length': f.bytes.length }).end(f.bytes);
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  tmp = await mkdtemp(path.join(tmpdir(), 'crier-threads-'));
  const ffmpeg = (out: string, faststart: boolean) =>
    promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', ...(faststart ? ['-movflags', '+faststart'] : []), out]);
  await Promise.all([ffmpeg(path.join(tmp, 'fast.mp4'), true), ffmpeg(path.join(tmp, 'late.mp4'), false)]);
  [jpeg, png, mp4, mp4Late] = await Promise.all([
    sharp({ create: { width: 400, height: 300, channels: 3, background: '#3366aa' } }).jpeg().toBuffer(),
    sharp({ create: { width: 300, height: 600, channels: 4, background: '#aa336680' } }).png().toBuffer(),
    readFile(path.join(tmp, 'fast.mp4')),
    readFile(path.join(tmp, 'late.mp4')),
  ]);
});
afterAll(async () => {
  await sandbox?.close();
  await new Promise((r) => files?.close(r));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  sandbox.threads.core.clearFaults();
  Object.assign(sandbox.threads.config, { ...DEFAULT_CONFIG, processingMs: { ...DEFAULT_CONFIG.processingMs } });
});

/** Serves `bytes` at a fresh path and returns a DraftMedia pointing at it, as Crier's signed URL would. */
function file(bytes: Buffer, kind: 'image' | 'video', type: string, alt?: string): DraftMedia {
  const p = `/media/${newId('media')}`;
  served.set(p, { bytes, type });
  return { mediaId: p, kind, mimeType: type, size: bytes.length, width: 1, height: 1, alt, url: `${filesUrl}${p}?sig=abc`, open: async () => Readable.from([bytes]) };
}
const image = (alt?: string) => file(jpeg, 'image', 'image/jpeg', alt);
const video = () => file(mp4, 'video', 'video/mp4');

type Account = { ctx: ConnectorCtx<ThreadsCredentials>; id: string };

async function account(): Promise<Account> {
  const created = await threadsConnector.sandbox!.createAccount(base, `m${Math.random().toString(36).slice(2, 10)}`);
  const ctx: ConnectorCtx<ThreadsCredentials> = {
    credentials: created.credentials,
    saveCredentials: async () => {},
    checkpoint: async () => {},
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(15_000),
  };
  return { ctx, id: created.externalId };
}

function draft(a: Account, text: string, media: DraftMedia[]): PublicationDraft {
  const id = newId('publication');
  const d: PublicationDraft = { publicationId: id, marker: id, text, options: {}, media, checkpoint: null };
  a.ctx.checkpoint = async (state) => void (d.checkpoint = state);
  return d;
}

const posts = (userId: string) => [...sandbox.threads.threads.values()].filter((t) => t.userId === userId);
const containers = (userId: string) => [...sandbox.threads.containers.values()].filter((c) => c.userId === userId);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function publishNow(a: Account, d: PublicationDraft) {
  const r = await threadsConnector.publish(a.ctx, d);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  if (isPending(r.value)) throw new Error('unexpectedly pending');
  return r.value;
}

describe('Threads media', () => {
  it('publishes an image the simulator pulled from its URL, with its alt text', async () => {
    const a = await account();
    const m = image('a blue square');
    const p = await publishNow(a, draft(a, 'a picture', [m]));
    expect(hits).toContain(new URL(m.url!).pathname + '?sig=abc');
    expect(posts(a.id)).toEqual([expect.objectContaining({ id: p.platformPostId, mediaType: 'IMAGE', text: 'a picture', altText: 'a blue square', mediaUrl: m.url })]);
    expect(containers(a.id)[0]).toMatchObject({ mediaType: 'IMAGE', media: { mimeType: 'image/jpeg', size: jpeg.length } });
  });

  it('publishes a video with no text', async () => {
    const a = await account();
    const p = await publishNow(a, draft(a, '', [video()]));
    expect(posts(a.id)).toEqual([expect.objectContaining({ id: p.platformPostId, mediaType: 'VIDEO', text: undefined })]);
    expect(containers(a.id)[0]!.media).toEqual({ mimeType: 'video/mp4', size: mp4.length });
  });

  it('publishes a carousel of images and a video: items first, then the CAROUSEL container', async () => {
    const a = await account();
    const items = [image('one'), file(png, 'image', 'image/png', 'two'), video()];
    const p = await publishNow(a, draft(a, 'three things', items));
    const [post] = posts(a.id);
    expect(post).toMatchObject({ id: p.platformPostId, mediaType: 'CAROUSEL_ALBUM', text: 'three things' });
    expect(post!.children!.map((c) => [c.mediaType, c.mediaUrl])).toEqual(items.map((m) => [m.kind === 'video' ? 'VIDEO' : 'IMAGE', m.url]));
    const made = containers(a.id);
    expect(made.map((c) => [c.mediaType, c.isCarouselItem])).toEqual([['IMAGE', true], ['IMAGE', true], ['VIDEO', true], ['CAROUSEL', false]]);
    expect(made[1]!.media?.mimeType).toBe('image/png');
  });

  it('hands a video still processing to checkStatus, which publishes the same container', async () => {
    const a = await account();
    sandbox.threads.config.processingMs.VIDEO = 2_500;
    const d = draft(a, 'slow video', [video()]);
    const first = await threadsConnector.publish(a.ctx, d);
    if (!first.ok || !isPending(first.value)) throw new Error(`expected pending: ${JSON.stringify(first)}`);
    expect(first.value.pending).toMatchObject({ checkAfterMs: 5_000, note: 'Threads is processing the video', ref: { posted: [], current: { container: containers(a.id)[0]!.id } } });
    expect(posts(a.id)).toHaveLength(0);
    await sleep(1_200);
    const checked = await threadsConnector.checkStatus!(a.ctx, { ...d, checkpoint: null }, first.value.pending.ref);
    expect(checked.ok && !isPending(checked.value) && checked.value.platformPostId).toBe(posts(a.id)[0]?.id);
    expect(containers(a.id)).toHaveLength(1);
  });

  it('waits for carousel items across checks without creating any of them twice', async () => {
    const a = await account();
    sandbox.threads.config.processingMs.IMAGE = 2_000;
    const d = draft(a, 'slow carousel', [image(), image()]);
    const first = await threadsConnector.publish(a.ctx, d);
    if (!first.ok || !isPending(first.value)) throw new Error(`expected pending: ${JSON.stringify(first)}`);
    expect(first.value.pending.ref).toMatchObject({ children: containers(a.id).map((c) => c.id) });
    await sleep(700);
    const checked = await threadsConnector.checkStatus!(a.ctx, d, first.value.pending.ref);
    expect(checked.ok && !isPending(checked.value)).toBe(true);
    expect(containers(a.id).map((c) => c.mediaType)).toEqual(['IMAGE', 'IMAGE', 'CAROUSEL']);
    expect(posts(a.id)).toHaveLength(1);
  });

  it('makes an expired container again instead of publishing it', async () => {
    const a = await account();
    sandbox.threads.config.processingMs.VIDEO = 5_000;
    const d = draft(a, 'expires', [video()]);
    const first = await threadsConnector.publish(a.ctx, d);
    expect(first.ok && isPending(first.value)).toBe(true);
    sandbox.threads.config.containerTtlSec = 1;
    sandbox.threads.config.processingMs.VIDEO = 0;
    await sleep(1_100);
    const checked = await threadsConnector.checkStatus!(a.ctx, d, {});
    expect(checked.ok && !isPending(checked.value)).toBe(true);
    expect(containers(a.id)).toHaveLength(2);
    expect(posts(a.id)[0]!.containerId).toBe(containers(a.id)[1]!.id);
  });

  it('reports a file that is not an image as refused media, not to be retried', async () => {
    const a = await account();
    const bad = file(Buffer.from('<html>login page</html>'), 'image', 'image/jpeg');
    const r = await threadsConnector.publish(a.ctx, draft(a, 'broken', [bad]));
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'UNKNOWN', retryable: false });
    expect(containers(a.id)[0]).toMatchObject({ errorMessage: 'UNKNOWN', reason: 'the file is not a JPEG or PNG image' });
    expect(posts(a.id)).toHaveLength(0);
  });

  it('refuses an image over 8 MB and a video whose index comes last', async () => {
    const a = await account();
    sandbox.threads.config.imageMaxBytes = jpeg.length - 1;
    const big = await threadsConnector.publish(a.ctx, draft(a, 'too big', [image()]));
    expect(!big.ok && big.error).toMatchObject({ category: 'media_error', platformCode: 'UNKNOWN' });
    const late = await threadsConnector.publish(a.ctx, draft(a, 'not faststart', [file(mp4Late, 'video', 'video/mp4')]));
    expect(!late.ok && late.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'FAILED_PROCESSING_VIDEO', retryable: false });
    expect(containers(a.id).map((c) => c.reason)).toEqual([expect.stringContaining('over'), expect.stringContaining('moov')]);
  });

  it('retries a video Threads could not download with a new container, and publishes once it can', async () => {
    const a = await account();
    const m = video();
    const at = new URL(m.url!).pathname;
    served.set(at, { ...served.get(at)!, status: 503 });
    const d = draft(a, 'flaky download', [m]);
    const first = await threadsConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ category: 'media_error', platformCode: 'FAILED_DOWNLOADING_VIDEO', retryable: true });
    expect(d.checkpoint).toMatchObject({ posted: [] });
    expect((d.checkpoint as { current?: unknown }).current).toBeUndefined();
    served.set(at, { bytes: mp4, type: 'video/mp4' });
    await publishNow(a, d);
    expect(containers(a.id).map((c) => c.errorMessage ?? 'ok')).toEqual(['FAILED_DOWNLOADING_VIDEO', 'ok']);
  });

  it('names the carousel item that failed', async () => {
    const a = await account();
    const r = await threadsConnector.publish(a.ctx, draft(a, 'one bad item', [image(), file(Buffer.from('nope'), 'image', 'image/png')]));
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', message: expect.stringContaining('item 2 of the carousel') });
    expect(containers(a.id).some((c) => c.mediaType === 'CAROUSEL')).toBe(false);
  });

  it('fails clearly, before creating anything, when a file has no public URL', async () => {
    const a = await account();
    const r = await threadsConnector.publish(a.ctx, draft(a, 'no url', [{ ...image(), url: null }]));
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_FAILED', retryable: false, message: expect.stringContaining('CRIER_PUBLIC_URL') });
    expect(containers(a.id)).toHaveLength(0);
  });

  it('has the simulator refuse what Threads refuses in a carousel', async () => {
    const a = await account();
    const token = a.ctx.credentials.accessToken;
    const create = async (params: Record<string, string>) => {
      const r = await fetch(`${base}/v1.0/${a.id}/threads`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...params, access_token: token }) });
      return { status: r.status, body: (await r.json()) as { id?: string; error?: { code: number; message: string } } };
    };
    const lone = await create({ media_type: 'IMAGE', image_url: image().url! });
    const one = await create({ media_type: 'CAROUSEL', children: lone.body.id! });
    expect(one.body.error).toMatchObject({ code: 100, message: expect.stringContaining('2 to 20') });
    await sleep(400);
    const notItem = await create({ media_type: 'CAROUSEL', children: `${lone.body.id},${lone.body.id}` });
    expect(notItem.body.error?.message).toMatch(/twice/);
    sandbox.threads.config.processingMs.IMAGE = 60_000;
    const [x, y] = [await create({ media_type: 'IMAGE', image_url: image().url!, is_carousel_item: 'true' }), await create({ media_type: 'IMAGE', image_url: image().url!, is_carousel_item: 'true' })];
    expect((await create({ media_type: 'CAROUSEL', children: `${x.body.id},${y.body.id}` })).body.error).toMatchObject({ code: 9007 });
    expect((await create({ media_type: 'CAROUSEL', children: `${lone.body.id},${x.body.id}` })).body.error?.message).toMatch(/is_carousel_item=true/);
    expect((await create({ media_type: 'TEXT', text: 'x', is_carousel_item: 'true' })).body.error?.code).toBe(100);
    expect((await create({ media_type: 'IMAGE', image_url: 'not a url' })).body.error?.message).toMatch(/image_url/);
    const item = await fetch(`${base}/v1.0/${a.id}/threads_publish`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ creation_id: x.body.id!, access_token: token }) });
    expect(((await item.json()) as { error: { message: string } }).error.message).toMatch(/carousel item cannot be published/);
  });
});
