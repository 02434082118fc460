// The Bluesky connector's media against the simulator over real HTTP: blobs uploaded then embedded, how
// every failure while uploading is classified, and the PDS's own checks of blobs and embeds.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { blueskyConnector, type BlueskyCredentials } from '../src/connectors/bluesky/connector.js';
import { isPending, type ConnectorCtx, type DraftMedia, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_LIMITS, cidFor } from '../src/sandbox/bluesky/blobs.js';

const UPLOAD = 'com.atproto.repo.uploadBlob';
const CREATE = 'com.atproto.repo.createRecord';
const silent = { info() {}, warn() {}, error() {} };

let sandbox: SandboxServer;
let base: string;
let jpeg: Buffer; // 400×300
let png: Buffer; // 300×600
let mp4: Buffer; // 320×240
let tmp: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/bluesky`;
  tmp = await mkdtemp(path.join(tmpdir(), 'crier-bsky-'));
  const video = path.join(tmp, 'clip.mp4');
  await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10:duration=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', video]);
  [jpeg, png, mp4] = await Promise.all([
    sharp({ create: { width: 400, height: 300, channels: 3, background: '#3366aa' } }).jpeg().toBuffer(),
    sharp({ create: { width: 300, height: 600, channels: 4, background: '#aa336680' } }).png().toBuffer(),
    readFile(video),
  ]);
});
afterAll(async () => {
  await sandbox?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  sandbox.bluesky.core.clearFaults();
  Object.assign(sandbox.bluesky.limits, DEFAULT_LIMITS);
});

function media(bytes: Buffer, kind: 'image' | 'video', mimeType: string, width: number, height: number, alt?: string): DraftMedia {
  return { mediaId: newId('media'), kind, mimeType, size: bytes.length, width, height, alt, url: null, open: async () => Readable.from([bytes]) };
}
const image = (alt?: string) => media(jpeg, 'image', 'image/jpeg', 400, 300, alt);

type Account = { ctx: ConnectorCtx<BlueskyCredentials>; did: string; saved: BlueskyCredentials[] };

async function account(): Promise<Account> {
  const created = await blueskyConnector.sandbox!.createAccount(base, `m${Math.random().toString(36).slice(2, 10)}`);
  const saved: BlueskyCredentials[] = [];
  const ctx: ConnectorCtx<BlueskyCredentials> = {
    credentials: created.credentials,
    saveCredentials: async (next) => void saved.push(next),
    checkpoint: async () => {},
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(10_000),
  };
  return { ctx, did: created.externalId, saved };
}

const draft = (text: string, files: DraftMedia[]): PublicationDraft => {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options: {}, media: files, checkpoint: null };
};
const records = (did: string) => [...(sandbox.bluesky.repos.get(did)?.values() ?? [])];
const served = (did: string, operation: string) => sandbox.bluesky.core.log.filter((r) => r.account === did && r.operation === operation).map((r) => r.status);
/** A signal that aborts once the simulator has done `operation` but holds back its answer (accept_then_timeout): a client timeout, without racing the clock. */
function abortOnceServed(did: string, operation: string): AbortSignal {
  const controller = new AbortController();
  const timer = setInterval(() => {
    if (served(did, operation).length === 0) return;
    clearInterval(timer);
    controller.abort(new DOMException('timed out', 'TimeoutError'));
  }, 10);
  return controller.signal;
}
const blobCid = (bytes: Buffer) => cidFor(0x55, createHash('sha256').update(bytes).digest());

async function xrpc(nsid: string, jwt: string, body: Buffer | object, contentType = 'application/json') {
  const r = await fetch(`${base}/xrpc/${nsid}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${jwt}`, 'content-type': contentType },
    body: Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as any };
}

describe('Bluesky posts with media', () => {
  it('publishes two images as an images embed whose blobs belong to the account, with alt text and aspect ratio', async () => {
    const a = await account();
    const r = await blueskyConnector.publish(a.ctx, draft('two pictures', [image('a blue field'), media(png, 'image', 'image/png', 300, 600, '')]));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const [record] = records(a.did);
    expect(r.ok && !isPending(r.value) && r.value.platformPostId).toBe(record!.uri);
    expect(record!.value['embed']).toEqual({
      $type: 'app.bsky.embed.images',
      images: [
        { image: { $type: 'blob', ref: { $link: blobCid(jpeg) }, mimeType: 'image/jpeg', size: jpeg.length }, alt: 'a blue field', aspectRatio: { width: 400, height: 300 } },
        { image: { $type: 'blob', ref: { $link: blobCid(png) }, mimeType: 'image/png', size: png.length }, alt: '', aspectRatio: { width: 300, height: 600 } },
      ],
    });
    const listed = (await (await fetch(`${base}/_sim/blobs?repo=${a.did}`)).json()) as { blobs: any[] };
    expect(listed.blobs.map((b) => [b.cid, b.mimeType, b.records])).toEqual([
      [blobCid(jpeg), 'image/jpeg', [record!.uri]],
      [blobCid(png), 'image/png', [record!.uri]],
    ]);
  });

  it('publishes a video as a video embed, and a post with media and no text', async () => {
    const a = await account();
    const r = await blueskyConnector.publish(a.ctx, draft('', [media(mp4, 'video', 'video/mp4', 320, 240, 'test pattern')]));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const [record] = records(a.did);
    expect(record!.value['text']).toBe('');
    expect(record!.value['embed']).toEqual({
      $type: 'app.bsky.embed.video',
      video: { $type: 'blob', ref: { $link: blobCid(mp4) }, mimeType: 'video/mp4', size: mp4.length },
      alt: 'test pattern',
      aspectRatio: { width: 320, height: 240 },
    });
  });

  it('refuses at validation five images, images with a video, two videos, and an empty post without media', () => {
    const check = (text: string, kinds: ('image' | 'video')[]) => blueskyConnector.validate({ text, options: {}, media: kinds.map((kind) => ({ kind })) });
    expect(check('x', ['image', 'image', 'image', 'image', 'image'])).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', limit: 4, actual: 5 })]);
    expect(check('x', ['image', 'video'])).toEqual([expect.objectContaining({ code: 'MEDIA_MIXED_KINDS' })]);
    expect(check('x', ['video', 'video'])).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', limit: 1, actual: 2 })]);
    expect(check('', [])).toEqual([expect.objectContaining({ code: 'TEXT_EMPTY' })]);
    expect(check('', ['image', 'image', 'image', 'image'])).toEqual([]);
    expect(check('', ['video'])).toEqual([]);
  });
});

describe('failures while uploading a blob (nothing posted yet)', () => {
  it('classifies a 503 as transient and retryable, never outcome-unknown, and posts nothing', async () => {
    const a = await account();
    sandbox.bluesky.core.addFault({ operation: UPLOAD, account: a.did, fault: { kind: 'status', status: 503 } });
    const r = await blueskyConnector.publish(a.ctx, draft('after a 503', [image(), image()]));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true, outcomeUnknown: false });
    expect(served(a.did, CREATE)).toEqual([]);
    expect(records(a.did)).toEqual([]);
  });

  it('classifies an upload that does not answer in time as a timeout that is safe to retry', async () => {
    const a = await account();
    sandbox.bluesky.core.addFault({ operation: UPLOAD, account: a.did, fault: { kind: 'accept_then_timeout', ms: 1_000 } });
    a.ctx.signal = abortOnceServed(a.did, UPLOAD);
    const r = await blueskyConnector.publish(a.ctx, draft('slow upload', [image()]));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'PLATFORM_TIMEOUT', retryable: true, outcomeUnknown: false });
    expect(records(a.did)).toEqual([]);
  });

  it('classifies a 429 as rate limited with the wait the PDS asked for', async () => {
    const a = await account();
    sandbox.bluesky.core.addFault({ operation: UPLOAD, account: a.did, fault: { kind: 'rate_limit', retry_after_seconds: 7 } });
    const r = await blueskyConnector.publish(a.ctx, draft('rate limited', [image()]));
    expect(!r.ok && r.error).toMatchObject({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', platformCode: 'RateLimitExceeded', retryable: true, retryAfterMs: 7_000 });
  });

  it('refreshes an expired token during an upload, stores the rotated pair, sends the file again and publishes', async () => {
    const a = await account();
    const before = a.ctx.credentials.refreshJwt;
    sandbox.bluesky.core.addFault({ operation: UPLOAD, account: a.did, fault: { kind: 'expired_token' } });
    const r = await blueskyConnector.publish(a.ctx, draft('after a refresh', [image(), image()]));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(served(a.did, UPLOAD)).toEqual([400, 200, 200]);
    expect(a.saved).toHaveLength(1);
    expect(a.saved[0]!.refreshJwt).not.toBe(before);
    expect(a.ctx.credentials).toEqual(a.saved[0]);
    expect(records(a.did)).toHaveLength(1);
  });

  it('reports a file that cannot be opened, or is shorter than its size, as a media read error safe to retry', async () => {
    const a = await account();
    const unreadable = { ...image(), open: async () => Promise.reject(new Error('store unavailable')) };
    const short = { ...image(), size: jpeg.length + 10 };
    for (const file of [unreadable, short]) {
      const r = await blueskyConnector.publish(a.ctx, draft('unreadable', [file]));
      expect(!r.ok && r.error).toMatchObject({ category: 'transient', code: 'MEDIA_FAILED', retryable: true, outcomeUnknown: false });
    }
    expect(served(a.did, UPLOAD)).toEqual([]);
    expect(records(a.did)).toEqual([]);
  });

  it('reports a file over the PDS upload cap as a media error that is not retried', async () => {
    const a = await account();
    sandbox.bluesky.limits.uploadMaxBytes = 200_000;
    const big = Buffer.concat([mp4, Buffer.alloc(300_000)]);
    const started = Date.now();
    const r = await blueskyConnector.publish(a.ctx, draft('too big', [media(big, 'video', 'video/mp4', 320, 240)]));
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'PayloadTooLarge', retryable: false });
    // Refused from its Content-Length: the answer does not wait for the rest of the file.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(served(a.did, UPLOAD)).toEqual([413]);
  });

  it('reports an image over the embed limit, refused by the PDS when the post references it, as a media error', async () => {
    const a = await account();
    sandbox.bluesky.limits.imageMaxBytes = jpeg.length - 1;
    const r = await blueskyConnector.publish(a.ctx, draft('image too large', [image()]));
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'InvalidRequest', retryable: false });
    expect(!r.ok && r.error.message).toBe(`Invalid app.bsky.feed.post record: blob too big (maximum ${jpeg.length - 1}, got ${jpeg.length}) at $.record.embed.images[0].image`);
    expect(records(a.did)).toEqual([]);
  });

  it('reads back instead of posting twice after a createRecord that was applied but never answered', async () => {
    const a = await account();
    sandbox.bluesky.core.addFault({ operation: CREATE, account: a.did, fault: { kind: 'accept_then_timeout', ms: 1_000 } });
    a.ctx.signal = abortOnceServed(a.did, CREATE);
    const d = draft('posted, answer lost', [image('one'), image('two')]);
    const first = await blueskyConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ code: 'PLATFORM_TIMEOUT', outcomeUnknown: true });
    // The next attempt (a fresh signal, as the worker gives each attempt) reads back first and finds the post.
    a.ctx.signal = AbortSignal.timeout(10_000);
    const found = await blueskyConnector.findExisting!(a.ctx, d);
    expect(found.ok && found.value?.platformPostId).toBe(records(a.did)[0]!.uri);
    // Even a blind re-post makes no second copy: the record key is the publication's, the PDS refuses to
    // write it again, and the connector reads the key back and returns the post found there.
    const again = await blueskyConnector.publish(a.ctx, d);
    expect(again.ok && again.value).toMatchObject({ platformPostId: records(a.did)[0]!.uri });
    expect(records(a.did)).toHaveLength(1);
    expect((records(a.did)[0]!.value['embed'] as any).images.map((i: any) => i.alt)).toEqual(['one', 'two']);
  });
});

describe('the simulated PDS checks blobs like a real one', () => {
  const post = (embed: object) => ({ $type: 'app.bsky.feed.post', text: 'x', createdAt: new Date().toISOString(), embed });
  const create = (a: Account, embed: object) => xrpc(CREATE, a.ctx.credentials.accessJwt, { repo: a.did, collection: 'app.bsky.feed.post', record: post(embed) });
  const upload = async (a: Account, bytes: Buffer, type: string) => (await xrpc(UPLOAD, a.ctx.credentials.accessJwt, bytes, type)).body.blob;

  it('refuses a record that embeds a blob another account uploaded', async () => {
    const [a, b] = [await account(), await account()];
    const blob = await upload(a, jpeg, 'image/jpeg');
    const foreign = await create(b, { $type: 'app.bsky.embed.images', images: [{ image: blob, alt: '' }] });
    expect(foreign).toEqual({ status: 400, body: { error: 'BlobNotFound', message: `Could not find blob: ${blob.ref.$link}` } });
    expect((await create(a, { $type: 'app.bsky.embed.images', images: [{ image: blob, alt: '' }] })).status).toBe(200);
  });

  it('takes the type from the bytes, falls back to Content-Type, and names blobs by the CID of their content', async () => {
    const a = await account();
    expect(await upload(a, png, 'image/jpeg')).toEqual({ $type: 'blob', ref: { $link: blobCid(png) }, mimeType: 'image/png', size: png.length });
    expect((await upload(a, Buffer.from('WEBVTT\n'), 'text/vtt')).mimeType).toBe('text/vtt');
    expect(blobCid(png)).toMatch(/^bafkrei[a-z2-7]{52}$/);
    const none = await fetch(`${base}/xrpc/${UPLOAD}`, { method: 'POST', headers: { authorization: `Bearer ${a.ctx.credentials.accessJwt}` }, body: png });
    expect(none.status).toBe(400);
    const anon = await xrpc(UPLOAD, 'not-a-token', png, 'image/png');
    expect(anon).toMatchObject({ status: 400, body: { error: 'InvalidToken' } });
  });

  it('validates embeds as the lexicon says: ≤ 4 images, alt present, positive integer aspect ratio, matching blobs, mp4 video', async () => {
    const a = await account();
    const img = await upload(a, jpeg, 'image/jpeg');
    const vid = await upload(a, mp4, 'video/mp4');
    const images = (...list: object[]) => ({ $type: 'app.bsky.embed.images', images: list });
    const cases: [object, string, string][] = [
      [images(...Array(5).fill({ image: img, alt: '' })), 'InvalidRequest', 'Invalid app.bsky.feed.post record: array too big (maximum 4, got 5) at $.record.embed.images'],
      [images({ image: img }), 'InvalidRequest', 'Invalid app.bsky.feed.post record: Missing required key "alt" at $.record.embed.images[0]'],
      [images({ image: img, alt: '', aspectRatio: { width: 0, height: 3 } }), 'InvalidRequest', 'Invalid app.bsky.feed.post record: integer too small (minimum 1, got 0) at $.record.embed.images[0].aspectRatio.width'],
      [images({ image: img, alt: '', aspectRatio: { width: 4, height: 1.5 } }), 'InvalidRequest', 'Invalid app.bsky.feed.post record: Expected integer value type (got 1.5) at $.record.embed.images[0].aspectRatio.height'],
      [images({ image: vid, alt: '' }), 'InvalidRequest', 'Invalid app.bsky.feed.post record: Expected "image/*" (got "video/mp4") at $.record.embed.images[0].image.mimeType'],
      [{ $type: 'app.bsky.embed.video', video: img }, 'InvalidRequest', 'Invalid app.bsky.feed.post record: Expected "video/mp4" (got "image/jpeg") at $.record.embed.video.mimeType'],
      [images({ image: { ...img, mimeType: 'image/png' }, alt: '' }), 'InvalidMimeType', 'Referenced Mimetype does not match stored blob. Expected: image/jpeg, Got: image/png'],
      [images({ image: { ...img, size: img.size - 1 }, alt: '' }), 'InvalidSize', `Referenced Size does not match stored blob. Expected: ${img.size}, Got: ${img.size - 1}`],
    ];
    for (const [embed, error, message] of cases) expect(await create(a, embed)).toEqual({ status: 400, body: { error, message } });
    expect(records(a.did)).toEqual([]);
    expect((await create(a, { $type: 'app.bsky.embed.video', video: vid, alt: '', aspectRatio: { width: 4, height: 3 } })).status).toBe(200);
  });

  it('lets fault injection and the limits be driven over HTTP', async () => {
    const a = await account();
    const set = await fetch(`${base}/_sim/limits`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uploadMaxBytes: 10 }) });
    expect(((await set.json()) as any).uploadMaxBytes).toBe(10);
    expect(await xrpc(UPLOAD, a.ctx.credentials.accessJwt, jpeg, 'image/jpeg')).toEqual({ status: 413, body: { error: 'PayloadTooLarge', message: 'request entity too large' } });
    await fetch(`${base}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ operation: UPLOAD, fault: { kind: 'status', status: 502 } }) });
    expect(await xrpc(UPLOAD, a.ctx.credentials.accessJwt, Buffer.from('x'), 'text/plain')).toMatchObject({ status: 502, body: { error: 'UpstreamFailure' } });
  });
});
