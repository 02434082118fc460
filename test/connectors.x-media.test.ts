// The X connector's media against the simulator over real HTTP: images with alt text, a video in several
// segments processed while publish waits, a video that takes longer (Pending, then checkStatus, never a
// second upload), an animated GIF, and every media failure classified (never outcome-unknown).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { xConnector, type XCredentials } from '../src/connectors/x/connector.js';
import { SEGMENT_BYTES } from '../src/connectors/x/media.js';
import { isPending, type ConnectorCtx, type DraftMedia, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_LIMITS } from '../src/sandbox/x/state.js';

const silent = { info() {}, warn() {}, error() {} };
let sandbox: SandboxServer;
let base: string;
let jpeg: Buffer;
let png: Buffer;
let gif: Buffer;
let mp4: Buffer;
let tmp: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/x`;
  tmp = await mkdtemp(path.join(tmpdir(), 'crier-x-'));
  const video = path.join(tmp, 'clip.mp4');
  await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10:duration=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', video]);
  [jpeg, png, gif, mp4] = await Promise.all([
    sharp({ create: { width: 400, height: 300, channels: 3, background: '#3366aa' } }).jpeg().toBuffer(),
    sharp({ create: { width: 300, height: 600, channels: 4, background: '#aa336680' } }).png().toBuffer(),
    sharp({ create: { width: 64, height: 48, channels: 3, background: '#22aa22' } }).gif().toBuffer(),
    readFile(video),
  ]);
});
afterAll(async () => {
  await sandbox?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  sandbox.x.core.clearFaults();
  Object.assign(sandbox.x.limits, DEFAULT_LIMITS);
});

function media(bytes: Buffer, kind: 'image' | 'video', mimeType: string, alt?: string): DraftMedia {
  return { mediaId: newId('media'), kind, mimeType, size: bytes.length, width: 1, height: 1, alt, url: null, open: async () => Readable.from([bytes]) };
}

type Account = { ctx: ConnectorCtx<XCredentials>; id: string; checkpoints: Record<string, unknown>[] };
async function account(): Promise<Account> {
  const created = await xConnector.sandbox!.createAccount(base, `m${Math.random().toString(36).slice(2, 10)}`);
  const checkpoints: Record<string, unknown>[] = [];
  const ctx: ConnectorCtx<XCredentials> = {
    credentials: created.credentials,
    saveCredentials: async () => {},
    checkpoint: async (s) => void checkpoints.push(structuredClone(s)),
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(20_000),
  };
  return { ctx, id: created.externalId, checkpoints };
}
const draft = (text: string, files: DraftMedia[], checkpoint: Record<string, unknown> | null = null): PublicationDraft => {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options: {}, media: files, checkpoint };
};
const unique = (s: string) => `${s} ${Math.random().toString(36).slice(2, 8)}`;
const posts = (user: string) => [...sandbox.x.tweets.values()].filter((t) => t.authorId === user);
const served = (user: string, op: string) => sandbox.x.core.log.filter((r) => r.account === user && r.operation === op).map((r) => r.status);
/** A file that starts like an MP4 (all the simulator reads) and spans several segments. */
const bigVideo = () => Buffer.concat([Buffer.from('000000206674797069736f6d', 'hex'), randomBytes(2 * SEGMENT_BYTES + 1000)]);

describe('X posts with media', () => {
  it('uploads two images with alt text and posts them; read-back ignores the media link X adds', async () => {
    const a = await account();
    const text = unique('two pictures');
    const d = draft(text, [media(jpeg, 'image', 'image/jpeg', 'a blue field'), media(png, 'image', 'image/png')]);
    const r = await xConnector.publish(a.ctx, d);
    if (!r.ok || isPending(r.value)) throw new Error(JSON.stringify(r));
    const [post] = posts(a.id);
    expect(post!.mediaIds).toHaveLength(2);
    const [m1, m2] = post!.mediaIds.map((id) => sandbox.x.media.get(id)!);
    expect(m1).toMatchObject({ owner: a.id, category: 'tweet_image', alt: 'a blue field', image: { w: 400, h: 300, image_type: 'image/jpeg' } });
    expect(m2).toMatchObject({ category: 'tweet_image', image: { w: 300, h: 600 } });
    expect(m2!.alt).toBeUndefined();
    expect(post!.text).toMatch(/^two pictures \w+ https:\/\/t\.co\/\w{10}$/);
    const found = await xConnector.findExisting!(a.ctx, draft(text, []));
    expect(found.ok && found.value?.platformPostId).toBe(post!.id);
  });

  it('uploads a video in segments, waits for X to process it, then posts it', async () => {
    const a = await account();
    const bytes = bigVideo();
    const r = await xConnector.publish(a.ctx, draft(unique('a video'), [media(bytes, 'video', 'video/mp4', 'a test pattern')]));
    expect(r.ok && !isPending(r.value)).toBe(true);
    expect(served(a.id, 'media.append')).toEqual([200, 200, 200]);
    expect(served(a.id, 'media.status').length).toBeGreaterThanOrEqual(1);
    const [post] = posts(a.id);
    expect(sandbox.x.media.get(post!.mediaIds[0]!)).toMatchObject({ category: 'tweet_video', totalBytes: bytes.length, mediaKey: expect.stringMatching(/^7_/), alt: 'a test pattern' });
  });

  it('answers Pending when processing takes longer, and finishes in checkStatus without uploading again', async () => {
    const a = await account();
    sandbox.x.limits.processingMs = 600_000;
    sandbox.x.limits.checkAfterSecs = 30;
    const d = draft(unique('slow video'), [media(mp4, 'video', 'video/mp4')]);
    const r = await xConnector.publish(a.ctx, d);
    if (!r.ok || !isPending(r.value)) throw new Error(JSON.stringify(r));
    const ids = r.value.pending.ref['media'] as string[];
    expect(r.value.pending.checkAfterMs).toBe(30_000);
    expect(a.checkpoints.at(-1)).toMatchObject({ media: { ids } });
    const next = { ...d, checkpoint: a.checkpoints.at(-1)! };
    // Still processing: Pending again, with X's progress.
    sandbox.x.media.get(ids[0]!)!.finalizedAt = Date.now() - 400_000;
    const again = await xConnector.checkStatus!(a.ctx, next, r.value.pending.ref);
    expect(again.ok && isPending(again.value) && again.value.pending.note).toMatch(/processing the media \(\d+%\)/);
    expect(await xConnector.findExisting!(a.ctx, next)).toEqual({ ok: true, value: null });
    sandbox.x.media.get(ids[0]!)!.processingMs = 0;
    const done = await xConnector.checkStatus!(a.ctx, next, r.value.pending.ref);
    expect(done.ok && !isPending(done.value) && done.value.platformPostId).toBe(posts(a.id)[0]!.id);
    expect(posts(a.id)[0]!.mediaIds).toEqual(ids);
    expect(served(a.id, 'media.initialize')).toEqual([200]);
  });

  it('reuses media an earlier attempt uploaded, and uploads again when X no longer has them', async () => {
    const a = await account();
    const d = draft(unique('retried image'), [media(jpeg, 'image', 'image/jpeg')]);
    sandbox.x.core.addFault({ operation: 'tweets.create', account: a.id, fault: { kind: 'status', status: 503 } });
    const r1 = await xConnector.publish(a.ctx, d);
    expect(!r1.ok && r1.error.category).toBe('transient');
    const uploaded = (a.checkpoints.find((c) => c['media'])!['media'] as { ids: string[] }).ids;
    // The retry (read-back found nothing) starts from the checkpoint without `since`, as the worker would
    // after a definite 503; it must not upload the file a second time.
    const r2 = await xConnector.publish(a.ctx, { ...d, checkpoint: { media: a.checkpoints.at(-1)!['media'], posted: [] } });
    expect(r2.ok).toBe(true);
    expect(posts(a.id)[0]!.mediaIds).toEqual(uploaded);
    expect(served(a.id, 'media.initialize')).toEqual([200]);
    // Media X dropped (expired early): uploaded again, then posted.
    const d2 = draft(unique('expired media'), [media(jpeg, 'image', 'image/jpeg')]);
    sandbox.x.media.get(uploaded[0]!)!.expiresAt = Date.now() - 1;
    const r3 = await xConnector.publish(a.ctx, { ...d2, checkpoint: { media: { ids: uploaded, expiresAt: new Date(Date.now() + 3600_000).toISOString() }, posted: [] } });
    expect(r3.ok, JSON.stringify(r3)).toBe(true);
    expect(served(a.id, 'media.initialize')).toEqual([200, 200]);
  });

  it('posts an animated GIF alone as tweet_gif (processed), and refuses too many files at validation', async () => {
    const a = await account();
    const r = await xConnector.publish(a.ctx, draft(unique('a gif'), [media(gif, 'image', 'image/gif')]));
    expect(r.ok && !isPending(r.value)).toBe(true);
    expect(sandbox.x.media.get(posts(a.id)[0]!.mediaIds[0]!)).toMatchObject({ category: 'tweet_gif', mediaKey: expect.stringMatching(/^16_/) });
    const check = (kinds: ('image' | 'video')[]) => xConnector.validate({ text: 'x', options: {}, media: kinds.map((kind) => ({ kind })) });
    expect(check(['image', 'image', 'image', 'image', 'image'])).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', limit: 4 })]);
    expect(check(['image', 'video'])).toEqual([expect.objectContaining({ code: 'MEDIA_MIXED_KINDS' })]);
    expect(check(['video', 'video'])).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', limit: 1 })]);
    expect(check(['image', 'image', 'image', 'image'])).toEqual([]);
    expect(xConnector.validate({ text: '', options: {}, media: [{ kind: 'video' }] })).toEqual([]);
  });
});

describe('X media failures (nothing posted)', () => {
  it('reports a video X cannot process as MEDIA_REJECTED, not retried', async () => {
    const a = await account();
    sandbox.x.limits.processingMs = 0;
    const r = await xConnector.publish(a.ctx, draft(unique('not a video'), [media(randomBytes(5000), 'video', 'video/mp4')]));
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'InvalidMedia', retryable: false, outcomeUnknown: false });
    expect(posts(a.id)).toHaveLength(0);
  });

  it.each(['media.initialize', 'media.append', 'media.finalize', 'media.metadata'])('classifies a 503 on %s as transient, never outcome-unknown', async (op) => {
    const a = await account();
    sandbox.x.core.addFault({ operation: op, account: a.id, fault: { kind: 'status', status: 503 } });
    const r = await xConnector.publish(a.ctx, draft(unique('upload fails'), [media(jpeg, 'image', 'image/jpeg', 'alt')]));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', retryable: true, outcomeUnknown: false });
    expect(posts(a.id)).toHaveLength(0);
  });

  it('classifies a timeout while uploading as a plain retry (an upload is invisible)', async () => {
    const a = await account();
    sandbox.x.core.addFault({ operation: 'media.append', account: a.id, fault: { kind: 'accept_then_timeout', ms: 1_000 } });
    a.ctx.signal = AbortSignal.timeout(300);
    const r = await xConnector.publish(a.ctx, draft(unique('slow upload'), [media(jpeg, 'image', 'image/jpeg')]));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_TIMEOUT', outcomeUnknown: false });
  });

  it('forgets uploaded media X refuses at posting time, so the retry uploads them again', async () => {
    const a = await account();
    sandbox.x.core.addFault({ operation: 'tweets.create', account: a.id, fault: { kind: 'status', status: 400, body: { errors: [{ parameters: {}, message: 'Your media IDs are invalid.' }], title: 'Invalid Request', detail: 'One or more parameters to your request was invalid.', type: 'https://api.x.com/2/problems/invalid-request' } } });
    const d = draft(unique('refused media'), [media(jpeg, 'image', 'image/jpeg')]);
    const r = await xConnector.publish(a.ctx, d);
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', retryable: true });
    expect(a.checkpoints.at(-1)).toEqual({ posted: [] });
    const again = await xConnector.publish(a.ctx, { ...d, checkpoint: a.checkpoints.at(-1)! });
    expect(again.ok).toBe(true);
    expect(served(a.id, 'media.initialize')).toEqual([200, 200]);
    expect(posts(a.id)).toHaveLength(1);
  });

  it('asks for a reconnect when the token lacks media.write (X answers a bare 403)', async () => {
    const a = await account();
    const user = sandbox.x.oauth.users.get(a.id)!;
    const t = await sandbox.x.oauth.issue(user, ['tweet.read', 'tweet.write', 'users.read', 'offline.access']);
    a.ctx.credentials = { ...a.ctx.credentials, accessToken: t['access_token'] as string };
    const r = await xConnector.publish(a.ctx, draft(unique('no media scope'), [media(jpeg, 'image', 'image/jpeg')]));
    expect(!r.ok && r.error).toMatchObject({ category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', retryable: false });
    expect(served(a.id, 'media.initialize')).toEqual([403]);
  });
});
