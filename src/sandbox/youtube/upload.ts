// The resumable upload protocol (platforms.md §7 "Publishing: resumable upload"), as Google serves it:
// POST …/videos?uploadType=resumable with the metadata starts a session (200, session URI in Location);
// PUT <session> with `Content-Range: bytes a-b/N` appends a chunk (multiples of 256 KiB except the last;
// it must start where the stored bytes end), answering 308 with `Range: bytes=0-<last stored>` until the
// last byte, then 201 with the video; `Content-Range: bytes */N` with no body asks what is stored. An
// expired session answers 404. Thumbnails: POST /upload/youtube/v3/thumbnails/set?videoId (≤ 2 MB).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { YouTubeSimState } from './simulator.js';
import { CATEGORY_IDS, CHUNK_GRANULARITY, gError, THUMBNAIL_MAX, type SimSession, type SimVideo } from './state.js';

type Metadata = { snippet?: { title?: unknown; description?: unknown; tags?: unknown; categoryId?: unknown }; status?: { privacyStatus?: unknown; publishAt?: unknown; selfDeclaredMadeForKids?: unknown } };

const AUTH = 'https://www.googleapis.com/auth/';
const UPLOAD = [AUTH + 'youtube', AUTH + 'youtube.upload', AUTH + 'youtube.force-ssl'];

/** What YouTube refuses in the metadata, as [reason, message]; null when it is acceptable. */
function checkMetadata(m: Metadata): [string, string] | null {
  const title = m.snippet?.title;
  if (typeof title !== 'string' || title.trim() === '') return ['invalidTitle', 'The request metadata specifies an invalid or empty video title.'];
  if ([...title].length > 100 || /[<>]/.test(title)) return ['invalidTitle', 'The request metadata specifies an invalid video title.'];
  const description = m.snippet?.description ?? '';
  if (typeof description !== 'string' || Buffer.byteLength(description) > 5000 || /[<>]/.test(description)) return ['invalidDescription', 'The request metadata specifies an invalid video description.'];
  const tags = m.snippet?.tags ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string') || (tags as string[]).join(',').length > 500) return ['invalidTags', 'The request metadata specifies invalid video keywords.'];
  const category = m.snippet?.categoryId ?? '22';
  if (typeof category !== 'string' || !CATEGORY_IDS.has(category)) return ['invalidCategoryId', 'The snippet.categoryId property specifies an invalid category ID.'];
  const privacy = m.status?.privacyStatus ?? 'public';
  if (!['public', 'unlisted', 'private'].includes(privacy as string)) return ['invalidVideoMetadata', 'The request metadata is invalid.'];
  const publishAt = m.status?.publishAt;
  if (publishAt !== undefined && (privacy !== 'private' || typeof publishAt !== 'string' || !(Date.parse(publishAt) > Date.now()))) return ['invalidPublishAt', 'The request metadata specifies an invalid scheduled publishing time.'];
  return null;
}

export function uploadRoutes(app: FastifyInstance, s: YouTubeSimState, cost: { insert: number; thumbnails: number }): void {
  // Video and image bytes arrive raw.
  app.addContentTypeParser(/^(video|image)\/|^application\/octet-stream/, { parseAs: 'buffer', bodyLimit: 1024 * 1024 * 1024 }, (_req, body, done) => done(null, body));

  app.post<{ Querystring: { uploadType?: string; part?: string } }>('/upload/youtube/v3/videos', { config: { operation: 'videos.insert' } }, async (req, reply) => {
    if (req.query.uploadType !== 'resumable') return gError(reply, 400, 'invalidParameter', 'Crier\'s simulator takes resumable uploads only (uploadType=resumable).', 'global');
    const g = await s.authenticate(req, reply, UPLOAD, cost.insert);
    if (!g) return reply;
    if (!s.hasChannel(g)) return gError(reply, 401, 'youtubeSignupRequired', 'The user does not have a YouTube channel.', 'youtube.header');
    const total = Number(req.headers['x-upload-content-length']);
    const type = String(req.headers['x-upload-content-type'] ?? '');
    if (!Number.isInteger(total) || total <= 0) return gError(reply, 400, 'mediaBodyRequired', 'The request does not include the video content (X-Upload-Content-Length).');
    if (!/^video\/|^application\/octet-stream$/.test(type)) return gError(reply, 400, 'invalidVideoMetadata', 'X-Upload-Content-Type must be video/* or application/octet-stream.');
    const m = (req.body ?? {}) as Metadata;
    const bad = checkMetadata(m);
    if (bad) return gError(reply, 400, bad[0], bad[1]);
    const session: SimSession = {
      id: randomBytes(12).toString('base64url'),
      channelId: g.user.id,
      clientId: g.clientId,
      metadata: {
        title: m.snippet!.title as string,
        description: (m.snippet?.description as string | undefined) ?? '',
        tags: (m.snippet?.tags as string[] | undefined) ?? [],
        categoryId: (m.snippet?.categoryId as string | undefined) ?? '22',
        privacyStatus: s.config.unverifiedProject ? 'private' : ((m.status?.privacyStatus as string | undefined) ?? 'public'),
        publishAt: (m.status?.publishAt as string | undefined) ?? null,
        madeForKids: m.status?.selfDeclaredMadeForKids === true,
      },
      total,
      contentType: type,
      received: [],
      receivedBytes: 0,
      expired: false,
      videoId: null,
    };
    s.sessions.set(session.id, session);
    return reply.code(200).header('location', `${s.origin(req)}/upload/youtube/v3/videos?uploadType=resumable&upload_id=${session.id}`).send();
  });

  app.put<{ Querystring: { upload_id?: string } }>('/upload/youtube/v3/videos', { config: { operation: 'videos.upload' } }, async (req, reply) => {
    const session = s.sessions.get(req.query.upload_id ?? '');
    if (!session || session.expired) return gError(reply, 404, 'notFound', 'The upload session was not found or has expired; start a new one.', 'global');
    const range = String(req.headers['content-range'] ?? '');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const stored = () => (session.receivedBytes > 0 ? { range: `bytes=0-${session.receivedBytes - 1}` } : {});
    const status = /^bytes \*\/(\d+)$/.exec(range);
    if (status) {
      if (Number(status[1]) !== session.total) return gError(reply, 400, 'badRequest', 'The total in Content-Range does not match the upload.', 'global');
      if (session.videoId) return reply.code(201).send(videoOf(session));
      return reply.code(308).headers(stored()).send();
    }
    let first = 0;
    let last = session.total - 1;
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range);
    if (m) [first, last] = [Number(m[1]), Number(m[2])];
    else if (range) return gError(reply, 400, 'badRequest', 'Failed to parse Content-Range header.', 'global');
    if ((m && Number(m[3]) !== session.total) || last < first || body.length !== last - first + 1) return gError(reply, 400, 'badRequest', 'The chunk does not match its Content-Range.', 'global');
    if (first !== session.receivedBytes) return gError(reply, 400, 'badRequest', `Content-Range starts at ${first} but ${session.receivedBytes} bytes are stored; ask with bytes */${session.total} and resume from there.`, 'global');
    const final = last === session.total - 1;
    if (!final && body.length % CHUNK_GRANULARITY !== 0) return gError(reply, 400, 'badRequest', 'A chunk other than the last must be a multiple of 256 KiB.', 'global');
    session.received.push(body);
    session.receivedBytes += body.length;
    if (!final) return reply.code(308).headers(stored()).send();
    const v: SimVideo = {
      id: randomBytes(8).toString('base64url').slice(0, 11),
      channelId: session.channelId,
      ...session.metadata,
      size: session.total,
      contentType: session.contentType,
      uploadedAt: Date.now(),
      uploadStatus: 'uploaded',
      failure: null,
      thumbnail: null,
    };
    s.videos.set(v.id, v);
    session.videoId = v.id;
    session.received = []; // the bytes are "on YouTube" now; the simulator keeps only their count
    return reply.code(201).send(videoOf(session));
  });

  function videoOf(session: SimSession) {
    const v = s.settle(s.videos.get(session.videoId!)!);
    return { kind: 'youtube#video', id: v.id, snippet: { channelId: v.channelId, title: v.title, description: v.description }, status: { uploadStatus: v.uploadStatus, privacyStatus: v.privacyStatus } };
  }

  app.post<{ Querystring: { videoId?: string } }>('/upload/youtube/v3/thumbnails/set', { config: { operation: 'thumbnails.set' } }, async (req: FastifyRequest<{ Querystring: { videoId?: string } }>, reply) => {
    const g = await s.authenticate(req, reply, UPLOAD, cost.thumbnails);
    if (!g) return reply;
    const v = s.videos.get(req.query.videoId ?? '');
    if (!v) return gError(reply, 404, 'videoNotFound', 'The video that you are trying to update cannot be found.');
    if (v.channelId !== g.user.id) return gError(reply, 403, 'forbidden', 'The thumbnail can\'t be set for the specified video.');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const type = String(req.headers['content-type'] ?? '');
    if (!/^image\/(jpeg|png)$/.test(type) || body.length === 0) return gError(reply, 400, 'invalidImage', 'The provided image content is invalid.', 'youtube.thumbnail');
    if (body.length > THUMBNAIL_MAX) return gError(reply, 400, 'mediaBodyTooLarge', 'The thumbnail is larger than 2 MB.', 'youtube.thumbnail');
    v.thumbnail = { bytes: body.length, contentType: type };
    return { kind: 'youtube#thumbnailSetResponse', items: [{ default: { url: `${s.origin(req)}/vi/${v.id}/default.jpg`, width: 120, height: 90 } }] };
  });
}
