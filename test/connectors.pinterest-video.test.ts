// Pinterest video pins over real HTTP: media registered, the file sent to the S3 upload_url as a form POST
// (parameters first, then the file), processing followed over time (Pending handed to checkStatus, which
// never uploads again), failed processing, covers, and what the simulator's upload and media routes refuse.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PinterestCredentials } from '../src/connectors/pinterest/auth.js';
import { listBoards, pinterestConnector } from '../src/connectors/pinterest/connector.js';
import { isPending, type ConnectorCtx, type DraftMedia, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { createPinterestSimulator, DEFAULT_CONFIG, type PinterestSimulator } from '../src/sandbox/pinterest/simulator.js';

const silent = { info() {}, warn() {}, error() {} };
let sim: PinterestSimulator;
let app: FastifyInstance;
let base: string;
let files: http.Server;
let filesUrl: string;
let tmp: string;
let mp4: Buffer;
let cover: Buffer;

beforeAll(async () => {
  sim = createPinterestSimulator();
  app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(sim.plugin, { prefix: '/pinterest' });
  base = `${await app.listen({ port: 0, host: '127.0.0.1' })}/pinterest`;
  tmp = await mkdtemp(path.join(tmpdir(), 'crier-pinterest-'));
  const out = path.join(tmp, 'clip.mp4');
  await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', out]);
  [mp4, cover] = await Promise.all([readFile(out), sharp({ create: { width: 320, height: 240, channels: 3, background: '#884422' } }).jpeg().toBuffer()]);
  files = http.createServer((req, res) => void (req.url?.startsWith('/cover.jpg') ? res.writeHead(200, { 'content-length': cover.length }).end(cover) : res.writeHead(404).end()));
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app?.close();
  await new Promise((r) => files?.close(r));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  sim.core.clearFaults();
  Object.assign(sim.config, DEFAULT_CONFIG);
});

const video = (bytes = mp4): DraftMedia => ({ mediaId: newId('media'), kind: 'video', mimeType: 'video/mp4', size: bytes.length, width: 320, height: 240, durationMs: 1000, url: null, open: async () => Readable.from([bytes]) });

type Account = { ctx: ConnectorCtx<PinterestCredentials>; id: string; board: string };

async function account(): Promise<Account> {
  const created = await pinterestConnector.sandbox!.createAccount(base, `v${Math.random().toString(36).slice(2, 10)}`);
  const ctx: ConnectorCtx<PinterestCredentials> = {
    credentials: created.credentials, saveCredentials: async () => {}, checkpoint: async () => {}, baseUrl: base, sandbox: true, clock: systemClock, log: silent, signal: AbortSignal.timeout(20_000),
  };
  const boards = await listBoards(ctx);
  if (!boards.ok) throw new Error(boards.error.message);
  return { ctx, id: created.externalId, board: boards.value[0]!.id };
}

function draft(a: Account, text: string, media: DraftMedia[], options: Record<string, unknown> = {}): PublicationDraft {
  const id = newId('publication');
  const d: PublicationDraft = { publicationId: id, marker: id, text, options: { board_id: a.board, ...options }, media, checkpoint: null };
  a.ctx.checkpoint = async (state) => void (d.checkpoint = state);
  return d;
}

const pinsOf = (userId: string) => [...sim.pins.values()].filter((p) => p.ownerId === userId);
const mediaOf = (userId: string) => [...sim.media.values()].filter((m) => m.ownerId === userId);
const ops = (userId: string, operation: string) => sim.core.log.filter((r) => r.account === userId && r.operation === operation).map((r) => r.status);
const uploads = () => sim.core.log.filter((r) => r.operation === 's3/upload').length;

describe('video pins', () => {
  it('registers, uploads to the S3 form, waits for processing and pins the video with a key-frame cover', async () => {
    const a = await account();
    const before = uploads();
    const r = await pinterestConnector.publish(a.ctx, draft(a, 'a short clip', [video()], { title: 'Clip' }));
    if (!r.ok || isPending(r.value)) throw new Error(JSON.stringify(r));
    const [pin] = pinsOf(a.id);
    const [m] = mediaOf(a.id);
    expect(pin).toMatchObject({ id: r.value.platformPostId, mediaType: 'video', title: 'Clip', description: 'a short clip', video: { mediaId: m!.id, cover: 'key_frame:0' } });
    expect(m).toMatchObject({ size: mp4.length, processable: true, usedBy: pin!.id });
    expect(uploads() - before).toBe(1);
    expect(ops(a.id, 'media/create')).toEqual([201]);
  });

  it('uses cover_image_url when given (Pinterest fetches it)', async () => {
    const a = await account();
    const r = await pinterestConnector.publish(a.ctx, draft(a, 'with a cover', [video()], { cover_image_url: `${filesUrl}/cover.jpg` }));
    expect(r.ok).toBe(true);
    expect(pinsOf(a.id)[0]!.video).toMatchObject({ cover: `${filesUrl}/cover.jpg` });
  });

  it('answers Pending while Pinterest processes; checkStatus polls without uploading again, then pins once', async () => {
    const a = await account();
    sim.config.processingMs = 7_000;
    const d = draft(a, 'a slow clip', [video()]);
    const first = await pinterestConnector.publish(a.ctx, d);
    if (!first.ok || !isPending(first.value)) throw new Error(JSON.stringify(first));
    const mediaId = mediaOf(a.id)[0]!.id;
    expect(first.value.pending).toMatchObject({ ref: { mediaId }, checkAfterMs: expect.any(Number) });
    expect(d.checkpoint).toMatchObject({ video: { mediaId } });
    const before = uploads();
    const second = await pinterestConnector.checkStatus!(a.ctx, d, first.value.pending.ref);
    expect(second.ok && isPending(second.value)).toBe(true);
    await new Promise((r) => setTimeout(r, 3_500));
    const third = await pinterestConnector.checkStatus!(a.ctx, d, first.value.pending.ref);
    if (!third.ok || isPending(third.value)) throw new Error(JSON.stringify(third));
    expect(pinsOf(a.id)).toEqual([expect.objectContaining({ id: third.value.platformPostId, video: expect.objectContaining({ mediaId }) })]);
    expect(uploads()).toBe(before);
    expect(mediaOf(a.id)).toHaveLength(1);
    expect(ops(a.id, 'media/get')).toContain(200);
  }, 20_000);

  it('a file Pinterest cannot process fails as MEDIA_REJECTED, not retried, and the upload is forgotten', async () => {
    const a = await account();
    const d = draft(a, 'not a video', [video(Buffer.from('definitely not an mp4 file'))]);
    const r = await pinterestConnector.publish(a.ctx, d);
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', retryable: false, platformCode: 'failed' });
    expect(d.checkpoint?.['video']).toBeUndefined();
    expect(pinsOf(a.id)).toEqual([]);
  });

  it('a lost answer to the video pin is read back; the video is not uploaded or pinned again', async () => {
    const a = await account();
    const d = draft(a, 'lost video answer', [video()]);
    sim.core.addFault({ operation: 'pins/create', account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_500 } });
    const signal = AbortSignal.timeout(2_500);
    const r = await pinterestConnector.publish({ ...a.ctx, signal }, d);
    expect(!r.ok && r.error).toMatchObject({ outcomeUnknown: true });
    const found = await pinterestConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value && found.value.platformPostId).toBe(pinsOf(a.id)[0]!.id);
    expect(pinsOf(a.id)).toHaveLength(1);
    expect(mediaOf(a.id)).toHaveLength(1);
  });
});

describe('what the simulator enforces for videos', () => {
  async function register(token: string) {
    const r = await fetch(`${base}/v5/media`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ media_type: 'video' }) });
    expect(r.status).toBe(201);
    return (await r.json()) as { media_id: string; upload_url: string; upload_parameters: Record<string, string> };
  }
  const form = (fields: [string, string][], fileFirst = false) => {
    const f = new FormData();
    const file = new Blob([mp4], { type: 'video/mp4' });
    if (fileFirst) f.append('file', file, 'clip.mp4');
    for (const [k, v] of fields) f.append(k, v);
    if (!fileFirst) f.append('file', file, 'clip.mp4');
    return f;
  };
  const status = async (token: string, id: string) => ((await (await fetch(`${base}/v5/media/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: string }).status;
  const pin = (token: string, body: unknown) => fetch(`${base}/v5/pins`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('the S3 form: fields before the file, unchanged, once; status goes registered → processing → succeeded', async () => {
    const a = await account();
    const t = a.ctx.credentials.accessToken;
    sim.config.processingMs = 600;
    const reg = await register(t);
    expect(reg.upload_url).toBe(`${base}/_s3/pinterest-media-upload/`);
    expect(Object.keys(reg.upload_parameters)).toEqual(expect.arrayContaining(['key', 'policy', 'x-amz-signature', 'x-amz-credential', 'x-amz-algorithm', 'x-amz-date', 'x-amz-security-token', 'Content-Type']));
    expect(await status(t, reg.media_id)).toBe('registered');
    const fields = Object.entries(reg.upload_parameters);
    const late = await fetch(reg.upload_url, { method: 'POST', body: form(fields, true) });
    expect([late.status, await late.text()]).toEqual([400, expect.stringContaining('before the file')]);
    const forged = await fetch(reg.upload_url, { method: 'POST', body: form(fields.map(([k, v]) => [k, k === 'policy' ? `${v}x` : v])) });
    expect([forged.status, await forged.text()]).toEqual([403, expect.stringContaining('<Code>AccessDenied</Code>')]);
    expect((await fetch(reg.upload_url, { method: 'POST', body: form(fields) })).status).toBe(204);
    expect((await fetch(reg.upload_url, { method: 'POST', body: form(fields) })).status).toBe(403);
    expect(await status(t, reg.media_id)).toBe('processing');
    const early = await pin(t, { board_id: a.board, media_source: { source_type: 'video_id', media_id: reg.media_id, cover_image_key_frame_time: 1 } });
    expect([early.status, ((await early.json()) as { message: string }).message]).toEqual([400, expect.stringContaining('processing')]);
    await new Promise((r) => setTimeout(r, 700));
    expect(await status(t, reg.media_id)).toBe('succeeded');
    const noCover = await pin(t, { board_id: a.board, media_source: { source_type: 'video_id', media_id: reg.media_id } });
    expect([noCover.status, ((await noCover.json()) as { message: string }).message]).toEqual([400, expect.stringContaining('cover_image_url or cover_image_content_type')]);
    expect((await pin(t, { board_id: a.board, media_source: { source_type: 'video_id', media_id: reg.media_id, cover_image_key_frame_time: 1 } })).status).toBe(201);
    const twice = await pin(t, { board_id: a.board, media_source: { source_type: 'video_id', media_id: reg.media_id, cover_image_key_frame_time: 1 } });
    expect([twice.status, ((await twice.json()) as { message: string }).message]).toEqual([400, expect.stringContaining('already used')]);
  });

  it('media of another user is not found; media_type must be video; an oversize file is refused by S3', async () => {
    const a = await account();
    const b = await account();
    const reg = await register(a.ctx.credentials.accessToken);
    expect((await fetch(`${base}/v5/media/${reg.media_id}`, { headers: { authorization: `Bearer ${b.ctx.credentials.accessToken}` } })).status).toBe(404);
    const image = await fetch(`${base}/v5/media`, { method: 'POST', headers: { authorization: `Bearer ${a.ctx.credentials.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ media_type: 'image' }) });
    expect(image.status).toBe(400);
    sim.config.videoMaxBytes = 1000;
    const big = await fetch(reg.upload_url, { method: 'POST', body: form(Object.entries(reg.upload_parameters)) });
    expect([big.status, await big.text()]).toEqual([400, expect.stringContaining('EntityTooLarge')]);
    const r = await pinterestConnector.publish(a.ctx, draft(a, 'too big', [video()]));
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'EntityTooLarge', retryable: false });
  });
});
