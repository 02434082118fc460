// Mastodon attachments against the simulator over real HTTP: images processed at once (200), a video and a
// GIF processed in the background (202, 206 until ready), Pending and checkStatus without uploading twice,
// an upload that fails half-way resumed from the checkpoint, and what the instance refuses.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MASTODON_SCOPES } from '../src/connectors/mastodon/auth.js';
import { mastodonConnector, type MastodonCredentials } from '../src/connectors/mastodon/connector.js';
import { forgetInstanceLimits } from '../src/connectors/mastodon/instance.js';
import { isPending, type ConnectorCtx, type DraftMedia, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_CONFIG } from '../src/sandbox/mastodon/state.js';
import { silentLog } from './support/contract.js';

const UPLOAD = 'media.create';
let sandbox: SandboxServer;
let base: string;
let jpeg: Buffer;
let png: Buffer;
let gif: Buffer;
let mp4: Buffer;
let tmp: string;

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/mastodon`;
  tmp = await mkdtemp(path.join(tmpdir(), 'crier-masto-'));
  const video = path.join(tmp, 'clip.mp4');
  const run = promisify(execFile);
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10:duration=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', video]);
  [jpeg, png, gif, mp4] = await Promise.all([
    sharp({ create: { width: 400, height: 300, channels: 3, background: '#3366aa' } }).jpeg().toBuffer(),
    sharp({ create: { width: 300, height: 600, channels: 4, background: '#aa336680' } }).png().toBuffer(),
    sharp({ create: { width: 64, height: 64, channels: 3, background: '#00aa00' } }).gif().toBuffer(),
    readFile(video),
  ]);
});
afterAll(async () => {
  await sandbox?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  sandbox.mastodon.core.clearFaults();
  Object.assign(sandbox.mastodon.config, { ...DEFAULT_CONFIG, processingMs: 300 });
  forgetInstanceLimits();
});

function file(bytes: Buffer, kind: 'image' | 'video', mimeType: string, alt?: string): DraftMedia {
  return { mediaId: newId('media'), kind, mimeType, size: bytes.length, width: 1, height: 1, alt, url: null, open: async () => Readable.from([bytes]) };
}

type Account = { ctx: ConnectorCtx<MastodonCredentials>; id: string; token: string };

async function account(): Promise<Account> {
  const res = await fetch(`${base}/_sim/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `v${Math.random().toString(36).slice(2, 10)}`, scopes: MASTODON_SCOPES }) });
  const a = (await res.json()) as { id: string; username: string; access_token: string };
  const ctx: ConnectorCtx<MastodonCredentials> = {
    credentials: { accessToken: a.access_token, accountId: a.id, username: `@${a.username}@sandbox` },
    saveCredentials: async () => {},
    checkpoint: async () => {},
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silentLog,
    signal: AbortSignal.timeout(15_000),
  };
  return { ctx, id: a.id, token: a.access_token };
}

function draft(a: Account, text: string, media: DraftMedia[], options: Record<string, unknown> = {}): PublicationDraft {
  const id = newId('publication');
  const d: PublicationDraft = { publicationId: id, marker: id, text, options, media, checkpoint: null };
  a.ctx.checkpoint = async (state) => {
    d.checkpoint = structuredClone(state);
  };
  return d;
}

const statusesOf = (id: string) => [...sandbox.mastodon.statuses.values()].filter((s) => s.accountId === id);
const mediaOf = (id: string) => [...sandbox.mastodon.media.values()].filter((m) => m.accountId === id);
const uploads = (id: string) => sandbox.mastodon.core.log.filter((r) => r.account === id && r.operation === UPLOAD).map((r) => r.status);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('Mastodon attachments', () => {
  it('uploads images with their alt text (processed at once) and attaches them in order', async () => {
    const a = await account();
    const r = await mastodonConnector.publish(a.ctx, draft(a, 'two pictures', [file(jpeg, 'image', 'image/jpeg', 'a blue square'), file(png, 'image', 'image/png', 'a pink one')], { sensitive: true }));
    expect(r.ok && !isPending(r.value)).toBe(true);
    const [s] = statusesOf(a.id);
    expect(s!.sensitive).toBe(true);
    const attached = s!.mediaIds.map((id) => sandbox.mastodon.media.get(id)!);
    expect(attached.map((m) => [m.type, m.mimeType, m.description, m.sha256])).toEqual([
      ['image', 'image/jpeg', 'a blue square', sha(jpeg)],
      ['image', 'image/png', 'a pink one', sha(png)],
    ]);
    expect(uploads(a.id)).toEqual([200, 200]);
  });

  it('waits for a video processed in the background (202, then 206 until ready) and publishes it', async () => {
    const a = await account();
    const r = await mastodonConnector.publish(a.ctx, draft(a, '', [file(mp4, 'video', 'video/mp4', 'test pattern')]));
    expect(r.ok && !isPending(r.value)).toBe(true);
    expect(uploads(a.id)).toEqual([202]);
    const polls = sandbox.mastodon.core.log.filter((x) => x.account === a.id && x.operation === 'media.get').map((x) => x.status);
    expect(polls.at(-1)).toBe(200);
    expect(polls.slice(0, -1).every((st) => st === 206)).toBe(true);
    const [s] = statusesOf(a.id);
    expect(s!.text).toBe('');
    expect(sandbox.mastodon.media.get(s!.mediaIds[0]!)).toMatchObject({ type: 'video', mimeType: 'video/mp4', description: 'test pattern' });
  });

  it('hands a slow video over as Pending, and checkStatus continues with the same attachment', async () => {
    const a = await account();
    sandbox.mastodon.config.processingMs = 60_000;
    const d = draft(a, 'a slow one', [file(gif, 'image', 'image/gif')]);
    const first = await mastodonConnector.publish(a.ctx, d);
    if (!first.ok || !isPending(first.value)) throw new Error(JSON.stringify(first));
    const ref = first.value.pending.ref as { uploads: { id: string; ready: boolean }[] };
    expect(ref.uploads).toEqual([{ id: expect.any(String), ready: false }]);
    expect(sandbox.mastodon.media.get(ref.uploads[0]!.id)!.type).toBe('gifv');
    const early = await mastodonConnector.checkStatus!(a.ctx, d, ref);
    expect(early.ok && isPending(early.value)).toBe(true);
    sandbox.mastodon.media.get(ref.uploads[0]!.id)!.readyAt = Date.now(); // the instance finished processing
    const done = await mastodonConnector.checkStatus!(a.ctx, d, ref);
    if (!done.ok || isPending(done.value)) throw new Error(JSON.stringify(done));
    expect(statusesOf(a.id)).toEqual([expect.objectContaining({ id: done.value.platformPostId, mediaIds: [ref.uploads[0]!.id] })]);
    expect(uploads(a.id)).toEqual([202]);
  });

  it('resumes after a failed upload without sending the first file again', async () => {
    const a = await account();
    const d = draft(a, 'three pictures', [file(jpeg, 'image', 'image/jpeg'), file(png, 'image', 'image/png'), file(jpeg, 'image', 'image/jpeg')]);
    let uploaded = 0;
    const save = a.ctx.checkpoint;
    a.ctx.checkpoint = async (state) => {
      await save(state);
      if ((state['uploads'] as unknown[] | undefined)?.length === 1 && uploaded++ === 0) sandbox.mastodon.core.addFault({ operation: UPLOAD, account: a.id, fault: { kind: 'status', status: 503 } });
    };
    const first = await mastodonConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ category: 'transient', retryable: true, outcomeUnknown: false });
    const second = await mastodonConnector.publish(a.ctx, d);
    expect(second.ok && !isPending(second.value)).toBe(true);
    expect(uploads(a.id)).toEqual([200, 503, 200, 200]);
    expect(mediaOf(a.id)).toHaveLength(3);
    expect(statusesOf(a.id)[0]!.mediaIds).toHaveLength(3);
  });

  it('reads "not finished processing" at POST as Pending, and a refused file as the file\'s problem', async () => {
    const a = await account();
    sandbox.mastodon.core.addFault({ operation: 'statuses.create', account: a.id, fault: { kind: 'status', status: 422, body: { error: 'Cannot attach files that have not finished processing. Try again in a moment!' } } });
    const d = draft(a, 'not yet', [file(jpeg, 'image', 'image/jpeg')]);
    const r = await mastodonConnector.publish(a.ctx, d);
    expect(r.ok && isPending(r.value)).toBe(true);
    const after = await mastodonConnector.checkStatus!(a.ctx, d, (r.ok && isPending(r.value) ? r.value.pending.ref : {}));
    expect(after.ok && !isPending(after.value)).toBe(true);
    expect(uploads(a.id)).toEqual([200]);

    const text = Buffer.from('this is not a picture at all');
    const bad = await mastodonConnector.publish(a.ctx, draft(a, 'broken', [file(text, 'image', 'image/jpeg')]));
    expect(!bad.ok && bad.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', retryable: false });
    expect(!bad.ok && bad.error.message).toMatch(/File content type is invalid/);
  });

  it("refuses files over the instance's limits before uploading them", async () => {
    const a = await account();
    sandbox.mastodon.config.imageSizeLimit = 100;
    sandbox.mastodon.config.maxMediaAttachments = 1;
    const big = await mastodonConnector.publish(a.ctx, draft(a, 'too big', [file(jpeg, 'image', 'image/jpeg')]));
    expect(!big.ok && big.error).toMatchObject({ category: 'media_error', code: 'MEDIA_INVALID', retryable: false, message: expect.stringMatching(/images up to 100 bytes/) });
    forgetInstanceLimits();
    sandbox.mastodon.config.imageSizeLimit = DEFAULT_CONFIG.imageSizeLimit;
    const many = await mastodonConnector.publish(a.ctx, draft(a, 'two', [file(jpeg, 'image', 'image/jpeg'), file(png, 'image', 'image/png')]));
    expect(!many.ok && many.error).toMatchObject({ code: 'MEDIA_INVALID', message: expect.stringMatching(/allows 1 attachments/) });
    expect(uploads(a.id)).toEqual([]);
  });
});

describe('what the simulated instance enforces on attachments', () => {
  const post = (token: string, body: unknown) =>
    fetch(`${base}/api/v1/statuses`, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  async function upload(token: string, bytes: Buffer, type: string): Promise<{ status: number; id: string }> {
    const form = new FormData();
    form.append('file', new Blob([bytes], { type }), 'f');
    const r = await fetch(`${base}/api/v2/media`, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, body: form });
    return { status: r.status, id: ((await r.json()) as { id: string }).id };
  }

  it("takes only the account's own, unattached, processed attachments, one video alone, at most the instance's number", async () => {
    const [a, b] = [await account(), await account()];
    const img = await upload(a.token, jpeg, 'image/jpeg');
    const foreign = await post(b.token, { status: 'not mine', media_ids: [img.id] });
    expect([foreign.status, await foreign.json()]).toEqual([422, { error: `Media ${img.id} not found or already attached to another post` }]);
    expect((await post(a.token, { status: 'mine', media_ids: [img.id] })).status).toBe(200);
    expect((await post(a.token, { status: 'again', media_ids: [img.id] })).status).toBe(422);
    sandbox.mastodon.config.processingMs = 60_000;
    const vid = await upload(a.token, mp4, 'video/mp4');
    expect(vid.status).toBe(202);
    const early = await post(a.token, { status: 'too soon', media_ids: [vid.id] });
    expect(await early.json()).toEqual({ error: 'Cannot attach files that have not finished processing. Try again in a moment!' });
    const media = await fetch(`${base}/api/v1/media/${vid.id}`, { headers: { authorization: `Bearer ${a.token}`, accept: 'application/json' } });
    expect([media.status, ((await media.json()) as { url: unknown }).url]).toEqual([206, null]);
    const other = await upload(a.token, png, 'image/png');
    const mixed = await post(a.token, { status: 'mixed', media_ids: [other.id, vid.id] });
    expect(await mixed.json()).toEqual({ error: 'Cannot attach a video to a post that already contains images' });
    const ids = await Promise.all([1, 2, 3, 4, 5].map(async () => (await upload(a.token, jpeg, 'image/jpeg')).id));
    expect(await (await post(a.token, { status: 'five', media_ids: ids })).json()).toEqual({ error: 'Cannot attach more than 4 files' });
    // Uploading needs write:media.
    const readOnly = await fetch(`${base}/_sim/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'readonly_media', scopes: ['read', 'write:statuses'] }) });
    const token = ((await readOnly.json()) as { access_token: string }).access_token;
    const form = new FormData();
    form.append('file', new Blob([jpeg], { type: 'image/jpeg' }), 'f');
    const denied = await fetch(`${base}/api/v2/media`, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, body: form });
    expect([denied.status, await denied.json()]).toEqual([403, { error: 'This action is outside the authorized scopes' }]);
  });
});
