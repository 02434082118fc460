// A LinkedIn post's files (platforms.md §2, Images / Videos / Documents APIs). Each file is registered with
// initializeUpload under the post's author, then its bytes are PUT to the upload URL LinkedIn gave: whole for
// an image or a document, in the byte ranges LinkedIn chose (4 MiB parts) for a video, whose parts' ETags
// then finalize it. Videos (and documents) are processed afterwards; the post may only name them once
// their status is AVAILABLE.
// Nothing here is visible to anyone: an upload no post uses is never shown, so every failure below is a
// definite one (never outcome-unknown) and a later attempt may simply upload again.
import type { Readable } from 'node:stream';
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, DraftMedia, Issue } from '../types.js';
import * as client from './client.js';
import { mapLinkedInError } from './errors.js';

export type LinkedInMediaKind = 'image' | 'video' | 'document';
export type WithToken = (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;

/** multiImage takes 2 to 20 images [doc MultiImage API]; a post has one video or one document. */
export const MEDIA_LIMITS = { images: 20, videos: 1, documents: 1 };

const COLLECTION = { image: 'images', video: 'videos', document: 'documents' } as const;

/**
 * Crier's media pipeline knows images and videos only (DraftMedia.kind); a PDF reaches LinkedIn as a
 * document when its kind says 'document' or its type is application/pdf.
 */
export function mediaKind(m: { kind: string; mimeType?: string }): LinkedInMediaKind {
  if (m.kind === 'document' || m.mimeType === 'application/pdf') return 'document';
  return m.kind === 'video' ? 'video' : 'image';
}

export function mediaIssues(media: { kind: string }[]): Issue[] {
  const count = { image: 0, video: 0, document: 0 };
  for (const m of media) count[mediaKind(m)]++;
  const issues: Issue[] = [];
  const kinds = Object.values(count).filter((n) => n > 0).length;
  if (kinds > 1) issues.push({ code: 'MEDIA_MIXED_KINDS', field: 'media', message: 'LinkedIn takes images, one video or one document in a post, not a mix' });
  if (count.image > MEDIA_LIMITS.images) {
    issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: MEDIA_LIMITS.images, actual: count.image, message: `LinkedIn takes at most ${MEDIA_LIMITS.images} images in a post; this post has ${count.image}` });
  }
  if (count.video > 1) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: 1, actual: count.video, message: `LinkedIn takes one video in a post; this post has ${count.video}` });
  if (count.document > 1) issues.push({ code: 'TOO_MANY_MEDIA', field: 'media', limit: 1, actual: count.document, message: `LinkedIn takes one document in a post; this post has ${count.document}` });
  return issues;
}

type Ctx = ConnectorCtx<{ accessToken: string }>;

const notSent = (e: ConnectorError): ConnectorError => ({ ...e, outcomeUnknown: false });
const fileError = (e: ConnectorError, i: number, m: DraftMedia): ConnectorError => notSent({ ...e, message: `file ${i + 1} (${m.mediaId}): ${e.message}` });
const broken = (message: string): ConnectorError => ({ category: 'transient', code: 'PLATFORM_ERROR', message, retryable: true, outcomeUnknown: false });

async function opened(m: DraftMedia, i: number): Promise<Result<Readable, ConnectorError>> {
  try {
    return ok(await m.open());
  } catch (error) {
    return err({ category: 'transient', code: 'MEDIA_FAILED', message: `could not open file ${i + 1} (${m.mediaId}): ${(error as Error).message}`, retryable: true, outcomeUnknown: false });
  }
}

/** Uploads one file under `owner` (the post's author) and returns its URN (urn:li:image|video|document:…). */
export async function uploadFile(ctx: Ctx, withToken: WithToken, m: DraftMedia, i: number, owner: string): Promise<Result<string, ConnectorError>> {
  const kind = mediaKind(m);
  return kind === 'video' ? uploadVideo(ctx, withToken, m, i, owner) : uploadWhole(ctx, withToken, m, i, owner, kind);
}

async function uploadWhole(ctx: Ctx, withToken: WithToken, m: DraftMedia, i: number, owner: string, kind: 'image' | 'document'): Promise<Result<string, ConnectorError>> {
  const init = await withToken((t) => client.initializeUpload(ctx.baseUrl, t, COLLECTION[kind], { owner }, ctx.signal));
  if (!init.ok) return err(notSent(init.error));
  if (init.value.status !== 200 && init.value.status !== 201) return err(fileError(mapLinkedInError(init.value, ctx.clock.now(), 'upload'), i, m));
  const v = (init.value.body as { value?: { uploadUrl?: string; image?: string; document?: string } } | undefined)?.value;
  const urn = kind === 'image' ? v?.image : v?.document;
  if (!v?.uploadUrl || !urn) return err(broken(`initializeUpload answered without an upload URL for file ${i + 1}`));
  // A fresh stream per try: a retry after a token refresh sends the file again from its start.
  const put = await withToken(async (t) => {
    const stream = await opened(m, i);
    if (!stream.ok) return stream;
    return client.putBytes(v.uploadUrl!, t, { stream: stream.value, length: m.size }, m.mimeType, ctx.signal);
  });
  if (!put.ok) return err(notSent(put.error));
  if (put.value.status < 200 || put.value.status > 299) return err(fileError(mapLinkedInError(put.value, ctx.clock.now(), 'upload'), i, m));
  return ok(urn);
}

type Instruction = { uploadUrl: string; firstByte: number; lastByte: number };

async function uploadVideo(ctx: Ctx, withToken: WithToken, m: DraftMedia, i: number, owner: string): Promise<Result<string, ConnectorError>> {
  const req = { owner, fileSizeBytes: m.size, uploadCaptions: false, uploadThumbnail: false };
  const init = await withToken((t) => client.initializeUpload(ctx.baseUrl, t, 'videos', req, ctx.signal));
  if (!init.ok) return err(notSent(init.error));
  if (init.value.status !== 200 && init.value.status !== 201) return err(fileError(mapLinkedInError(init.value, ctx.clock.now(), 'upload'), i, m));
  const v = (init.value.body as { value?: { video?: string; uploadToken?: string; uploadInstructions?: Instruction[] } } | undefined)?.value;
  const parts = v?.uploadInstructions ?? [];
  // The parts must cover the file from its first byte to its last, in order, for one pass over it to do.
  let next = 0;
  for (const p of parts) {
    if (p.firstByte !== next || p.lastByte < p.firstByte) return err(broken(`LinkedIn's upload instructions for file ${i + 1} are not consecutive byte ranges`));
    next = p.lastByte + 1;
  }
  if (!v?.video || parts.length === 0 || next !== m.size) return err(broken(`LinkedIn's upload instructions for file ${i + 1} do not cover its ${m.size} bytes`));
  const stream = await opened(m, i);
  if (!stream.ok) return stream;
  const etags: string[] = [];
  try {
    let n = 0;
    for await (const part of slices(stream.value, parts.map((p) => p.lastByte - p.firstByte + 1))) {
      const put = await withToken((t) => client.putBytes(parts[n]!.uploadUrl, t, part, 'application/octet-stream', ctx.signal));
      if (!put.ok) return err(notSent(put.error));
      if (put.value.status < 200 || put.value.status > 299) return err(fileError(mapLinkedInError(put.value, ctx.clock.now(), 'upload'), i, m));
      const etag = put.value.headers.get('etag');
      if (!etag) return err(broken(`LinkedIn answered part ${n + 1} of file ${i + 1} without an ETag`));
      etags.push(etag);
      n++;
    }
  } catch (error) {
    return err({ category: 'transient', code: 'MEDIA_FAILED', message: `could not read file ${i + 1} (${m.mediaId}): ${(error as Error).message}`, retryable: true, outcomeUnknown: false });
  } finally {
    stream.value.destroy();
  }
  const fin = await withToken((t) => client.finalizeVideo(ctx.baseUrl, t, { video: v.video!, uploadToken: v.uploadToken ?? '', uploadedPartIds: etags }, ctx.signal));
  if (!fin.ok) return err(notSent(fin.error));
  if (fin.value.status !== 200 && fin.value.status !== 201) return err(fileError(mapLinkedInError(fin.value, ctx.clock.now(), 'upload'), i, m));
  return ok(v.video);
}

/** The file cut into consecutive parts of these lengths, read once (one part in memory at a time). */
async function* slices(stream: Readable, lengths: number[]): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let have = 0;
  let i = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    held.push(chunk);
    have += chunk.length;
    while (i < lengths.length && have >= lengths[i]!) {
      const all = Buffer.concat(held);
      yield all.subarray(0, lengths[i]);
      const rest = all.subarray(lengths[i]);
      held = rest.length > 0 ? [rest] : [];
      have = rest.length;
      i++;
    }
  }
  if (i < lengths.length || have > 0) throw new Error('the file is not the size LinkedIn was told');
}

export type Processing = 'AVAILABLE' | 'PROCESSING' | 'UNREADABLE';

/**
 * A video's or document's processing status. Postiz reports that member tokens may not read a document's
 * (or an image's) status: a 403 here is 'UNREADABLE', and the post is tried anyway.
 */
export async function processingStatus(ctx: Ctx, withToken: WithToken, kind: 'video' | 'document', urn: string): Promise<Result<Processing, ConnectorError>> {
  const got = await withToken((t) => client.getMedia(ctx.baseUrl, t, COLLECTION[kind], urn, ctx.signal));
  if (!got.ok) return err(notSent(got.error));
  const res = got.value;
  if (res.status === 403) return ok('UNREADABLE');
  if (res.status !== 200) return err(notSent(mapLinkedInError(res, ctx.clock.now(), 'read')));
  const body = (res.body ?? {}) as { status?: string; processingFailureReason?: string };
  if (body.status === 'AVAILABLE') return ok('AVAILABLE');
  if (body.status === 'PROCESSING_FAILED') {
    return err({ category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'PROCESSING_FAILED', message: `LinkedIn could not process the ${kind} ${urn}: ${body.processingFailureReason ?? 'no reason given'}`, retryable: false, outcomeUnknown: false });
  }
  return ok('PROCESSING'); // WAITING_UPLOAD (just finalized) or PROCESSING
}

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Checks right away and a couple of times more (short files are ready in seconds); then the caller goes Pending. */
export async function awaitProcessing(ctx: Ctx, withToken: WithToken, kind: 'video' | 'document', urn: string, waitsMs = [0, 1_000, 2_000]): Promise<Result<Processing, ConnectorError>> {
  let last: Result<Processing, ConnectorError> = ok('PROCESSING');
  for (const wait of waitsMs) {
    await pause(wait, ctx.signal);
    last = await processingStatus(ctx, withToken, kind, urn);
    if (!last.ok || last.value !== 'PROCESSING') return last;
  }
  return last;
}

/** The post's `content` for its uploaded files (none: a text post). */
export function postContent(files: { kind: LinkedInMediaKind; urn: string; alt?: string }[], titles: { document?: string; video?: string }): Record<string, unknown> | undefined {
  if (files.length === 0) return undefined;
  const alt = (a?: string) => (a ? { altText: a } : {});
  if (files.length > 1) return { multiImage: { images: files.map((f) => ({ id: f.urn, ...alt(f.alt) })) } };
  const [f] = files;
  if (f!.kind === 'document') return { media: { id: f!.urn, title: titles.document ?? 'Document' } };
  if (f!.kind === 'video') return { media: { id: f!.urn, ...(titles.video ? { title: titles.video } : {}) } };
  return { media: { id: f!.urn, ...alt(f!.alt) } };
}
