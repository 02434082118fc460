// Media files: announce an upload (presigned S3 URL, S3 multipart, or Crier's own signed upload URL for
// the local store), receive bytes, complete (probe from the bytes and record), ingest by URL, delete.
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { MEDIA_CHANNEL, type AppContext } from '../context.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import { getMedia, insertMedia, markMediaFailed, markMediaReady, mediaInUse, type MediaRow } from '../db/queries/media.js';
import { ApiError, notFound } from '../http/errors.js';
import { newId } from '../lib/ids.js';
import { checkUrl, UrlNotAllowedError, type UrlPolicy } from '../lib/ssrf.js';
import type { MediaConfig } from '../config.js';
import { sha256File, withTempFile } from '../media/context.js';
import { MediaProbeError, probeFile } from '../media/probe.js';
import { settleMediaWaiters, type PostMediaOptions } from './post-media.js';

/** Files above this go to S3 in parts (each part one presigned PUT), so no single request carries gigabytes. */
export const MULTIPART_THRESHOLD = 64 * 1024 ** 2;
const MIN_PART = 16 * 1024 ** 2;
const MAX_PARTS = 10_000;

/** Platforms that pull media can be served: by the S3 store's presigned URLs, or under CRIER_PUBLIC_URL. */
export function canServePublicUrls(ctx: AppContext): boolean {
  return ctx.media.storage.kind === 's3' || ctx.config.publicUrl !== undefined;
}

/** What post creation and editing need to know about media on this instance. */
export function postMediaOptions(ctx: AppContext): PostMediaOptions {
  return { wakeWithinMs: ctx.config.worker.pollMs, urlPolicy: urlPolicy(ctx.config.media), publicUrls: canServePublicUrls(ctx) };
}

/** The SSRF policy media URLs are fetched under. */
export function urlPolicy(cfg: MediaConfig): UrlPolicy {
  return { allowPrivate: cfg.allowPrivateUrls, allowHosts: cfg.allowedHosts };
}

/** Refuses at once URLs that can never be fetched safely; names are checked again when fetched. */
export function checkMediaUrl(raw: string, policy: UrlPolicy): void {
  try {
    checkUrl(raw, policy);
  } catch (error) {
    if (error instanceof UrlNotAllowedError) throw new ApiError('URL_NOT_ALLOWED', error.message);
    throw error;
  }
}

export type UploadTarget =
  | { method: 'PUT'; url: string; headers: Record<string, string>; expires_at: string }
  | { method: 'PUT'; parts: { part_number: number; url: string; size: number }[]; part_size: number; headers: Record<string, string>; expires_at: string };

export async function announceUpload(
  ctx: AppContext,
  q: Queryable,
  workspaceId: string,
  input: { filename: string; content_type: string; size: number },
  selfUrl: string,
): Promise<{ media: MediaRow; upload: UploadTarget }> {
  const { storage, signer } = ctx.media;
  if (input.size > ctx.config.media.maxBytes) {
    throw new ApiError('MEDIA_TOO_LARGE', `files up to ${ctx.config.media.maxBytes} bytes are accepted; this one is ${input.size}`, [{ field: 'body.size', limit: ctx.config.media.maxBytes, message: 'over the instance limit' }]);
  }
  const id = newId('media');
  const expiresAt = new Date(ctx.clock.now().getTime() + ctx.config.media.urlTtlSec * 1000);
  const key = `media/${workspaceId}/${id}/original`;
  const headers = { 'content-type': input.content_type };
  let upload: UploadTarget;
  let uploadId: string | null = null;
  const multipart = storage.kind === 's3' && input.size > MULTIPART_THRESHOLD ? await storage.createMultipart(key, { contentType: input.content_type }) : null;
  if (multipart) {
    uploadId = multipart;
    const partSize = Math.max(MIN_PART, Math.ceil(input.size / MAX_PARTS));
    const count = Math.ceil(input.size / partSize);
    const parts = [];
    for (let n = 1; n <= count; n++) {
      parts.push({ part_number: n, url: await storage.presignPart(key, multipart, n, ctx.config.media.urlTtlSec), size: Math.min(partSize, input.size - (n - 1) * partSize) });
    }
    upload = { method: 'PUT', parts, part_size: partSize, headers: {}, expires_at: expiresAt.toISOString() };
  } else {
    const presigned = await storage.presignPut(key, { contentType: input.content_type, size: input.size, expiresInSec: ctx.config.media.urlTtlSec });
    const url = presigned ?? `${selfUrl}/v1/media/${id}/content?${signer.sign('upload', id, 'original', expiresAt)}`;
    upload = { method: 'PUT', url, headers, expires_at: expiresAt.toISOString() };
  }
  const media = await insertMedia(q, { id, workspaceId, status: 'awaiting_upload', source: 'upload', filename: input.filename, declaredType: input.content_type, declaredSize: input.size, uploadId });
  return { media, upload };
}

/** The local store's upload target: streams the body into storage, refusing more bytes than announced. */
export async function receiveUpload(ctx: AppContext, mediaId: string, body: Readable, contentLength: number | undefined): Promise<void> {
  const { rows } = await ctx.db.query<MediaRow>(`SELECT * FROM media WHERE id = $1`, [mediaId]);
  const media = rows[0];
  if (!media) throw notFound('media');
  if (media.status !== 'awaiting_upload') throw new ApiError('UPLOAD_INCOMPLETE', `this upload is already ${media.status}`);
  const limit = Number(media.declared_size);
  // Refused before reading, so the client gets the answer instead of a reset connection.
  if (contentLength !== undefined && contentLength !== limit) {
    body.resume();
    throw new ApiError('UPLOAD_INCOMPLETE', `this upload was announced as ${limit} bytes; the request carries ${contentLength}`);
  }
  await withTempFile(ctx.media, async (file) => {
    let received = 0;
    body.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) body.destroy(new ApiError('UPLOAD_INCOMPLETE', `more bytes than the announced size (${limit})`));
    });
    await pipeline(body, createWriteStream(file));
    await ctx.media.storage.put(media.storage_key, createReadStream(file), { contentType: media.declared_type ?? 'application/octet-stream', size: received });
  });
}

export async function completeUpload(ctx: AppContext, workspaceId: string, id: string, parts: { part_number: number; etag: string }[] | undefined): Promise<MediaRow> {
  const media = await getMedia(ctx.db, workspaceId, id);
  if (!media) throw notFound('media');
  if (media.status !== 'awaiting_upload') return media; // completing twice answers with the current state
  const { storage } = ctx.media;
  if (media.upload_id) {
    if (!parts?.length) throw new ApiError('UPLOAD_INCOMPLETE', 'a multipart upload completes with "parts": [{"part_number", "etag"}] for every part', [{ field: 'body.parts', message: 'required for multipart uploads' }]);
    try {
      await storage.completeMultipart(media.storage_key, media.upload_id, parts.map((p) => ({ partNumber: p.part_number, etag: p.etag })));
    } catch (error) {
      throw new ApiError('UPLOAD_INCOMPLETE', `the store refused to assemble the parts: ${(error as Error).message}`);
    }
  }
  const head = await storage.head(media.storage_key);
  if (!head) throw new ApiError('UPLOAD_INCOMPLETE', 'no bytes were uploaded for this media yet');
  if (media.declared_size !== null && head.size !== Number(media.declared_size)) {
    throw new ApiError('UPLOAD_INCOMPLETE', `the upload has ${head.size} bytes; ${media.declared_size} were announced`);
  }
  return withTempFile(ctx.media, async (file) => {
    await storage.download(media.storage_key, file);
    return recordProbe(ctx, media, file, { throwOnFailure: true });
  });
}

/** Direct multipart/form-data upload of a small file: stored, probed and ready in one request. */
export async function storeDirectUpload(ctx: AppContext, workspaceId: string, file: { stream: Readable; filename: string; mimetype: string }): Promise<MediaRow> {
  return withTempFile(ctx.media, async (tmp) => {
    await pipeline(file.stream, createWriteStream(tmp));
    if ((file.stream as Readable & { truncated?: boolean }).truncated) {
      throw new ApiError('MEDIA_TOO_LARGE', `direct uploads take files up to ${ctx.config.media.directMaxBytes} bytes; use POST /v1/media/uploads for bigger ones`);
    }
    const media = await insertMedia(ctx.db, { id: newId('media'), workspaceId, status: 'processing', source: 'upload', filename: file.filename, declaredType: file.mimetype });
    await ctx.media.storage.put(media.storage_key, createReadStream(tmp), { contentType: file.mimetype });
    return recordProbe(ctx, media, tmp, { throwOnFailure: true });
  });
}

/**
 * Probes a file from its bytes and records the result (ready with what it is, or failed with why), then
 * settles any post waiting for it. `throwOnFailure` answers an API call with the failure as a 422.
 */
export async function recordProbe(ctx: AppContext, media: MediaRow, file: string, opts: { throwOnFailure: boolean; filename?: string | null }): Promise<MediaRow> {
  const { sha256, size } = await sha256File(file);
  try {
    const info = await probeFile(file);
    return await withTransaction(ctx.db, async (tx) => {
      const row = await markMediaReady(tx, media.id, { size, sha256, info, filename: opts.filename });
      await settleMediaWaiters(tx, [media.id], canServePublicUrls(ctx));
      return row;
    });
  } catch (error) {
    if (!(error instanceof MediaProbeError)) throw error;
    await failMedia(ctx, media.id, { code: error.code, message: error.message });
    if (opts.throwOnFailure) throw new ApiError('MEDIA_UNSUPPORTED', error.message, [{ media_id: media.id, code: error.code, message: error.message }]);
    return (await getMedia(ctx.db, media.workspace_id, media.id))!;
  }
}

export async function failMedia(ctx: AppContext, mediaId: string, error: { code: string; message: string }): Promise<void> {
  await withTransaction(ctx.db, async (tx) => {
    await markMediaFailed(tx, mediaId, error);
    await settleMediaWaiters(tx, [mediaId], canServePublicUrls(ctx));
  });
}

/** POST /v1/media {"url"}: recorded now, fetched once by the worker. */
export async function ingestByUrl(q: Queryable, workspaceId: string, url: string, policy: UrlPolicy): Promise<MediaRow> {
  checkMediaUrl(url, policy);
  const media = await insertMedia(q, { id: newId('media'), workspaceId, status: 'processing', source: 'url', sourceUrl: url });
  await q.query(`SELECT pg_notify('${MEDIA_CHANNEL}', '')`);
  return media;
}

export async function deleteMedia(ctx: AppContext, workspaceId: string, id: string): Promise<void> {
  const keys = await withTransaction(ctx.db, async (tx) => {
    const media = await getMedia(tx, workspaceId, id, { lock: true });
    if (!media) throw notFound('media');
    if (await mediaInUse(tx, id)) throw new ApiError('MEDIA_IN_USE', 'a post refers to this media file; it is deleted with the retention once no post does');
    const { rows } = await tx.query<{ storage_key: string }>('DELETE FROM media_renditions WHERE media_id = $1 RETURNING storage_key', [id]);
    await tx.query('DELETE FROM media WHERE id = $1', [id]);
    return { media, renditions: rows.map((r) => r.storage_key) };
  });
  if (keys.media.upload_id) await ctx.media.storage.abortMultipart(keys.media.storage_key, keys.media.upload_id).catch(() => undefined);
  for (const key of [keys.media.storage_key, ...keys.renditions]) await ctx.media.storage.delete(key).catch((e) => ctx.log.warn({ err: e, key }, 'deleting a stored file failed'));
}
