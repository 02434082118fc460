// The resumable upload (platforms.md §7): a session per video, then chunks of `uploadSettings.chunkBytes`
// (a multiple of 256 KiB) from where YouTube says its stored bytes end. The session URI is checkpointed
// before any byte is sent, so the next attempt (after a broken connection, a 5xx, a worker restart) asks
// the session what it has (`bytes */N`) and continues from there instead of uploading a second video; a
// session YouTube no longer knows (404/410) is started again. Only the last chunk makes the video, so only
// it may leave the outcome unknown.
import type { Readable } from 'node:stream';
import { err, ok, type Result } from '../../lib/result.js';
import { request, type HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, DraftMedia } from '../types.js';
import type { YouTubeCredentials } from './auth.js';
import { mapYouTubeError } from './errors.js';

/** 8 MiB chunks in production; tests lower it to exercise several chunks on small files. */
export const uploadSettings = { chunkBytes: 8 * 1024 * 1024 };

export type VideoResource = { id: string; status?: { uploadStatus?: string; privacyStatus?: string } };
type WithToken = (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;
type Progress = { session: string | null; video: VideoResource | null };

/** Bytes YouTube has stored, from a 308's `Range: bytes=0-N` (none stored: no Range). */
const storedBytes = (res: HttpResponse) => {
  const m = /bytes=0-(\d+)/.exec(res.headers.get('range') ?? '');
  return m ? Number(m[1]) + 1 : 0;
};

/** Asks a session what it has stored: the offset to continue from, the video when complete, or gone. */
export async function querySession(ctx: ConnectorCtx<YouTubeCredentials>, session: string, total: number, withToken: WithToken): Promise<Result<{ offset: number } | { video: VideoResource } | 'gone', ConnectorError>> {
  const got = await withToken((t) => request(session, { method: 'PUT', headers: { authorization: `Bearer ${t}`, 'content-range': `bytes */${total}` }, body: new Uint8Array(0), signal: ctx.signal }));
  if (!got.ok) return got;
  const res = got.value;
  if (res.status === 308) return ok({ offset: storedBytes(res) });
  if (res.status === 200 || res.status === 201) return ok({ video: res.body as VideoResource });
  if (res.status === 404 || res.status === 410) return ok('gone');
  return err(mapYouTubeError(res, ctx.clock.now(), 'checking the upload'));
}

/** Starts a session with the video's metadata; answers its URI (the Location header). */
export async function startSession(ctx: ConnectorCtx<YouTubeCredentials>, media: DraftMedia, metadata: unknown, notify: boolean, withToken: WithToken): Promise<Result<string, ConnectorError>> {
  const url = `${ctx.baseUrl}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status${notify ? '' : '&notifySubscribers=false'}`;
  const got = await withToken((t) => request(url, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'x-upload-content-length': String(media.size), 'x-upload-content-type': media.mimeType }, json: metadata, signal: ctx.signal }));
  if (!got.ok) return got;
  const location = got.value.headers.get('location');
  if (got.value.status !== 200 || !location) return err(mapYouTubeError(got.value, ctx.clock.now(), 'starting the upload'));
  return ok(location);
}

/** Sends the file from `offset` in chunks; answers the video once the last chunk is in. */
export async function sendChunks(ctx: ConnectorCtx<YouTubeCredentials>, session: string, media: DraftMedia, offset: number, withToken: WithToken): Promise<Result<VideoResource, ConnectorError>> {
  const total = media.size;
  let at = offset;
  for await (const chunk of chunksOf(await media.open(), uploadSettings.chunkBytes, offset)) {
    const last = at + chunk.length - 1;
    const final = last === total - 1;
    const got = await withToken((t) => request(session, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t}`, 'content-type': media.mimeType, 'content-range': `bytes ${at}-${last}/${total}` },
      body: chunk,
      signal: ctx.signal,
      // Only the last chunk creates the video.
      sideEffect: final,
    }));
    if (!got.ok) return got;
    const res = got.value;
    if (res.status === 200 || res.status === 201) return ok(res.body as VideoResource);
    if (res.status !== 308) return err(mapYouTubeError(res, ctx.clock.now(), 'uploading the video'));
    // Continue from what YouTube stored, not from what was sent.
    const stored = storedBytes(res);
    if (stored !== last + 1) return sendChunks(ctx, session, media, stored, withToken);
    at = stored;
  }
  return err({ category: 'transient', code: 'MEDIA_FAILED', message: `the video file ended before its ${total} bytes were sent`, retryable: true });
}

/** The stream in pieces of exactly `size` bytes (the last one shorter), starting at byte `skip`. */
async function* chunksOf(stream: Readable, size: number, skip: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let have = 0;
  let toSkip = skip;
  for await (const raw of stream) {
    let piece = raw as Buffer;
    if (toSkip > 0) {
      if (piece.length <= toSkip) {
        toSkip -= piece.length;
        continue;
      }
      piece = piece.subarray(toSkip);
      toSkip = 0;
    }
    pending.push(piece);
    have += piece.length;
    while (have >= size) {
      const all = Buffer.concat(pending);
      yield all.subarray(0, size);
      pending = [all.subarray(size)];
      have = pending[0]!.length;
    }
  }
  if (have > 0) yield Buffer.concat(pending);
}

export type { Progress };
