// The LinkedIn connector's media against the simulator over real HTTP: images (one, or several as
// multiImage), a video uploaded in parts with their ETags and finalized, a slow video left Pending and
// finished by checkStatus without uploading again, PDF documents, and how upload failures are classified.
// PDFs do not pass Crier's media pipeline yet (it probes images and videos only), so documents are tested
// here, at the connector.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { linkedinConnector, type LinkedInCredentials } from '../src/connectors/linkedin/connector.js';
import { LINKEDIN_VERSION } from '../src/connectors/linkedin/client.js';
import { parseTokenAnswer } from '../src/connectors/oauth/client.js';
import { isPending, type ConnectorCtx, type DraftMedia, type PublicationDraft } from '../src/connectors/types.js';
import { systemClock } from '../src/lib/clock.js';
import { newId } from '../src/lib/ids.js';
import { startSandboxServer, type SandboxServer } from '../src/sandbox/index.js';
import { DEFAULT_LIMITS } from '../src/sandbox/linkedin/uploads.js';

const silent = { info() {}, warn() {}, error() {} };
let sandbox: SandboxServer;
let base: string;
let jpeg: Buffer;
let png: Buffer;
let gif: Buffer;
let mp4: Buffer;
let tmp: string;
// A one-page PDF, written out by hand (the simulator, like LinkedIn, looks at what the bytes are).
const pdf = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');

beforeAll(async () => {
  sandbox = await startSandboxServer();
  base = `${sandbox.url}/linkedin`;
  tmp = await mkdtemp(path.join(tmpdir(), 'crier-li-'));
  const video = path.join(tmp, 'clip.mp4');
  // Noisy frames, so three seconds make a few hundred KB (LinkedIn's minimum is 75 KB).
  await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=3', '-vf', 'noise=alls=60:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', video]);
  [jpeg, png, gif, mp4] = await Promise.all([
    sharp({ create: { width: 400, height: 300, channels: 3, background: '#0a66c2' } }).jpeg().toBuffer(),
    sharp({ create: { width: 300, height: 600, channels: 4, background: '#aa336680' } }).png().toBuffer(),
    sharp({ create: { width: 64, height: 64, channels: 3, background: '#33aa66' } }).gif().toBuffer(),
    readFile(video),
  ]);
}, 60_000);
afterAll(async () => {
  await sandbox?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  sandbox.linkedin.core.clearFaults();
  Object.assign(sandbox.linkedin.limits, DEFAULT_LIMITS, { videoPartBytes: 64 * 1024 });
});

type Account = { ctx: ConnectorCtx<LinkedInCredentials>; person: string; personId: string; checkpoints: Record<string, unknown>[] };

async function member(): Promise<Account> {
  const r = await fetch(`${base}/_sim/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `v${Math.random().toString(36).slice(2, 8)}` }) });
  const body = (await r.json()) as { sub: string; token: Record<string, unknown> };
  const { raw: _raw, ...tokens } = parseTokenAnswer(body.token, new Date());
  const person = `urn:li:person:${body.sub}`;
  const checkpoints: Record<string, unknown>[] = [];
  const ctx: ConnectorCtx<LinkedInCredentials> = {
    credentials: { ...tokens, author: person },
    saveCredentials: async () => {},
    checkpoint: async (s) => void checkpoints.push(structuredClone(s)),
    baseUrl: base,
    sandbox: true,
    clock: systemClock,
    log: silent,
    signal: AbortSignal.timeout(20_000),
  };
  return { ctx, person, personId: body.sub, checkpoints };
}

function media(bytes: Buffer, kind: string, mimeType: string, alt?: string): DraftMedia {
  return { mediaId: newId('media'), kind: kind as DraftMedia['kind'], mimeType, size: bytes.length, width: 1, height: 1, alt, url: null, open: async () => Readable.from([bytes]) };
}
const draft = (text: string, files: DraftMedia[], options: Record<string, unknown> = {}): PublicationDraft => {
  const id = newId('publication');
  return { publicationId: id, marker: id, text, options, media: files, checkpoint: null };
};
const unique = (what: string) => `${what} ${Math.random().toString(36).slice(2, 10)}`;
const postsOf = (author: string) => [...sandbox.linkedin.posts.values()].filter((p) => p.author === author);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const served = (account: string, operation: string) => sandbox.linkedin.core.log.filter((r) => r.account === account && r.operation === operation).length;

describe('LinkedIn images', () => {
  it('uploads one image under the author and posts it as media with its alt text', async () => {
    const a = await member();
    const r = await linkedinConnector.publish(a.ctx, draft(unique('one picture'), [media(jpeg, 'image', 'image/jpeg', 'a blue field')]));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const [post] = postsOf(a.person);
    const id = (post!.content as { media: { id: string } }).media.id;
    expect(post!.content).toEqual({ media: { id, altText: 'a blue field' } });
    expect(sandbox.linkedin.assets.get(id)).toMatchObject({ kind: 'image', owner: a.person, status: 'AVAILABLE', mimeType: 'image/jpeg', size: jpeg.length, sha256: sha(jpeg) });
  });

  it('posts two or more images as multiImage, in order, alt text where given', async () => {
    const a = await member();
    const r = await linkedinConnector.publish(a.ctx, draft(unique('three pictures'), [media(jpeg, 'image', 'image/jpeg', 'first'), media(png, 'image', 'image/png'), media(gif, 'image', 'image/gif', 'third')]));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const images = (postsOf(a.person)[0]!.content as { multiImage: { images: { id: string; altText?: string }[] } }).multiImage.images;
    expect(images.map((i) => [sandbox.linkedin.assets.get(i.id)!.sha256, i.altText])).toEqual([[sha(jpeg), 'first'], [sha(png), undefined], [sha(gif), 'third']]);
  });

  it('classifies a 503 while registering an upload as transient, never outcome-unknown, and a file over the size limit as refused', async () => {
    const a = await member();
    sandbox.linkedin.core.addFault({ operation: 'images.action', account: a.person, fault: { kind: 'status', status: 503 } });
    const r = await linkedinConnector.publish(a.ctx, draft(unique('503'), [media(jpeg, 'image', 'image/jpeg')]));
    expect(!r.ok && r.error).toMatchObject({ category: 'transient', retryable: true, outcomeUnknown: false });
    sandbox.linkedin.limits.imageMaxBytes = jpeg.length - 1;
    const s = await linkedinConnector.publish(a.ctx, draft(unique('too big'), [media(jpeg, 'image', 'image/jpeg')]));
    expect(!s.ok && s.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', retryable: false, outcomeUnknown: false });
    expect(!s.ok && s.error.message).toMatch(/^file 1 \(med_/);
    expect(postsOf(a.person)).toHaveLength(0);
  });

  it('reuses the files an earlier attempt uploaded (from its checkpoint) and publishes once', async () => {
    const a = await member();
    sandbox.linkedin.core.addFault({ operation: 'posts.create', account: a.person, fault: { kind: 'status', status: 503 } });
    const d = draft(unique('second attempt'), [media(jpeg, 'image', 'image/jpeg'), media(png, 'image', 'image/png')]);
    const first = await linkedinConnector.publish(a.ctx, d);
    expect(!first.ok && first.error).toMatchObject({ code: 'PLATFORM_UNAVAILABLE', outcomeUnknown: false });
    const uploads = served(a.person, 'images.action');
    expect(uploads).toBe(2);
    const second = await linkedinConnector.publish(a.ctx, { ...d, checkpoint: a.checkpoints.at(-1)! });
    expect(second.ok, JSON.stringify(second)).toBe(true);
    expect(served(a.person, 'images.action')).toBe(uploads);
    expect(postsOf(a.person)).toHaveLength(1);
  });
});

describe('LinkedIn videos', () => {
  it('uploads a video in LinkedIn\'s byte ranges, finalizes it with the parts\' ETags in order, and posts it once AVAILABLE', async () => {
    const a = await member();
    const r = await linkedinConnector.publish(a.ctx, draft(unique('a video'), [media(mp4, 'video', 'video/mp4')], { video_title: 'Test pattern' }));
    expect(r.ok && !isPending(r.value), JSON.stringify(r)).toBe(true);
    const content = postsOf(a.person)[0]!.content as { media: { id: string; title: string } };
    expect(content.media).toMatchObject({ id: expect.stringMatching(/^urn:li:video:/), title: 'Test pattern' });
    const asset = (await (await fetch(`${base}/_sim/assets/${encodeURIComponent(content.media.id)}`)).json()) as { parts: { uploaded: boolean; etag: string }[]; size: number; status: string };
    expect(asset.parts.length).toBe(Math.ceil(mp4.length / (64 * 1024)));
    expect(asset.parts.every((p) => p.uploaded && p.etag)).toBe(true);
    expect(asset).toMatchObject({ size: mp4.length, status: 'AVAILABLE' });
  });

  it('leaves a slow video Pending with its URN, and checkStatus posts it once processed, never uploading again', async () => {
    const a = await member();
    sandbox.linkedin.limits.videoProcessingMs = 600_000;
    const d = draft(unique('slow video'), [media(mp4, 'video', 'video/mp4')]);
    const r = await linkedinConnector.publish(a.ctx, d);
    expect(r.ok && isPending(r.value), JSON.stringify(r)).toBe(true);
    if (!r.ok || !isPending(r.value)) return;
    const ref = r.value.pending.ref;
    expect(ref).toMatchObject({ kind: 'video', urn: expect.stringMatching(/^urn:li:video:/) });
    expect(postsOf(a.person)).toHaveLength(0);
    const again = await linkedinConnector.checkStatus!(a.ctx, { ...d, checkpoint: a.checkpoints.at(-1)! }, ref);
    expect(again.ok && isPending(again.value)).toBe(true);
    sandbox.linkedin.assets.get(ref['urn'] as string)!.availableAt = 0;
    const done = await linkedinConnector.checkStatus!(a.ctx, { ...d, checkpoint: a.checkpoints.at(-1)! }, ref);
    expect(done.ok && !isPending(done.value), JSON.stringify(done)).toBe(true);
    expect(postsOf(a.person).map((p) => (p.content as { media: { id: string } }).media.id)).toEqual([ref['urn']]);
    expect(served(a.person, 'videos.action')).toBe(2); // one initializeUpload, one finalizeUpload
  });

  it('reports a video LinkedIn could not process as a refused file, and posts nothing', async () => {
    const a = await member();
    const notVideo = Buffer.concat([jpeg, Buffer.alloc(100_000)]);
    const r = await linkedinConnector.publish(a.ctx, draft(unique('not a video'), [media(notVideo, 'video', 'video/mp4')]));
    expect(!r.ok && r.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'PROCESSING_FAILED', retryable: false });
    expect(postsOf(a.person)).toHaveLength(0);
  });

  it('has a simulator that refuses wrong ETags, a second PUT to an upload URL, and parts sent with another type', async () => {
    const a = await member();
    const headers = { authorization: `Bearer ${a.ctx.credentials.accessToken}`, 'linkedin-version': LINKEDIN_VERSION, 'x-restli-protocol-version': '2.0.0', 'content-type': 'application/json' };
    const call = async (url: string, init: RequestInit) => { const res = await fetch(url, init); const t = await res.text(); return { status: res.status, etag: res.headers.get('etag'), body: t ? JSON.parse(t) : undefined }; };
    const size = 100 * 1024;
    const init = await call(`${base}/rest/videos?action=initializeUpload`, { method: 'POST', headers, body: JSON.stringify({ initializeUploadRequest: { owner: a.person, fileSizeBytes: size, uploadCaptions: false, uploadThumbnail: false } }) });
    const { video, uploadToken, uploadInstructions: parts } = init.body.value as { video: string; uploadToken: string; uploadInstructions: { uploadUrl: string; firstByte: number; lastByte: number }[] };
    expect(parts.map((p) => [p.firstByte, p.lastByte])).toEqual([[0, 65535], [65536, size - 1]]);
    const bytes = Buffer.concat([mp4.subarray(0, 64), Buffer.alloc(size - 64)]);
    const put = (i: number, type = 'application/octet-stream') => call(parts[i]!.uploadUrl, { method: 'PUT', headers: { 'content-type': type }, body: bytes.subarray(parts[i]!.firstByte, parts[i]!.lastByte + 1) });
    expect((await put(0, 'video/mp4')).status).toBe(400);
    const [p1, p2] = [await put(0), await put(1)];
    expect([p1.status, p2.status]).toEqual([201, 201]);
    expect((await put(1)).status).toBe(400); // single use
    const finalize = (ids: unknown[]) => call(`${base}/rest/videos?action=finalizeUpload`, { method: 'POST', headers, body: JSON.stringify({ finalizeUploadRequest: { video, uploadToken, uploadedPartIds: ids } }) });
    expect(await finalize([p2.etag, p1.etag])).toMatchObject({ status: 400, body: { message: 'uploadedPartIds[0] is not the ETag of part 1' } });
    expect((await finalize([p1.etag])).status).toBe(400);
    expect((await finalize([p1.etag, p2.etag])).status).toBe(200);
    // A post may name the video only once it is processed, and only as its owner.
    sandbox.linkedin.limits.videoProcessingMs = 600_000;
    const post = (author: string, token: string, id: string) => call(`${base}/rest/posts`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body: JSON.stringify({ author, commentary: unique('v'), visibility: 'PUBLIC', distribution: { feedDistribution: 'MAIN_FEED' }, lifecycleState: 'PUBLISHED', content: { media: { id } } }) });
    sandbox.linkedin.assets.get(video)!.availableAt = 0;
    const b = await member();
    expect((await post(b.person, b.ctx.credentials.accessToken, video)).status).toBe(403);
    expect((await post(a.person, a.ctx.credentials.accessToken, video)).status).toBe(201);
  });
});

describe('LinkedIn documents', () => {
  it('posts a PDF as a member with its title (a member cannot read the document\'s status, so the post goes ahead)', async () => {
    const a = await member();
    const r = await linkedinConnector.publish(a.ctx, draft(unique('the report'), [media(pdf, 'document', 'application/pdf')], { document_title: 'Q3 report' }));
    expect(r.ok && !isPending(r.value), JSON.stringify(r)).toBe(true);
    const content = postsOf(a.person)[0]!.content as { media: { id: string; title: string } };
    expect(content.media).toMatchObject({ id: expect.stringMatching(/^urn:li:document:/), title: 'Q3 report' });
    expect(sandbox.linkedin.assets.get(content.media.id)).toMatchObject({ owner: a.person, mimeType: 'application/pdf', sha256: sha(pdf), status: 'AVAILABLE' });
  });

  it('as a page reads the document\'s status, and refuses a file that is not a document', async () => {
    const a = await member();
    const page = [...sandbox.linkedin.organizations.values()].find((o) => o.roles.has(a.personId))!;
    a.ctx.credentials = { ...a.ctx.credentials, author: `urn:li:organization:${page.id}` };
    const ok = await linkedinConnector.publish(a.ctx, draft(unique('page report'), [media(pdf, 'document', 'application/pdf')], { document_title: 'Annual' }));
    expect(ok.ok, JSON.stringify(ok)).toBe(true);
    expect(served(`urn:li:organization:${page.id}`, 'documents.get')).toBe(1);
    const bad = await linkedinConnector.publish(a.ctx, draft(unique('fake pdf'), [media(jpeg, 'document', 'application/pdf')], { document_title: 'Fake' }));
    expect(!bad.ok && bad.error).toMatchObject({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'PROCESSING_FAILED' });
    expect(postsOf(`urn:li:organization:${page.id}`)).toHaveLength(1);
  });
});
