// Facebook video on the simulator (platforms.md §3): Page videos pulled from `file_url` (POST /{page}/videos),
// Reels (video_reels: start → rupload → finish) and video Stories (video_stories, the same three phases).
// rupload takes a hosted file (`file_url` header, fetched here) or the bytes themselves (`offset: 0`,
// `file_size`, the body). A video's status moves over time: uploading → processing → ready (or error), and a
// video asked to be published becomes a Page post once processed. Reels are limited to 30 per Page per
// rolling 24 hours and 3–90 s; a Story video to 60 s.
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PAGE_READ, PAGE_WRITE, asPage, type SimDeps } from './access.js';
import { graphError, graphTime, invalidParam, params, select, type Node } from './graph.js';
import { probe, pull, type Pulled } from './media.js';
import { addPost } from './facebook.js';
import { recentReels, type SimPage, type SimVideo } from './state.js';

type Phase = 'not_started' | 'in_progress' | 'complete' | 'error';

/** When processing of an uploaded video ends (the video's own kind decides how long it takes). */
const processedAt = (d: SimDeps, v: SimVideo) => (v.uploadedAt ?? Number.POSITIVE_INFINITY) + (v.kind === 'reel' ? d.config.processingMs.reel : d.config.processingMs.video);

/** The limits a processed video must meet, checked when processing ends (Graph reports them then). */
function processingProblem(d: SimDeps, v: SimVideo): string | undefined {
  const ms = v.media?.durationMs;
  if (ms === undefined) return undefined;
  if (v.kind === 'reel' && (ms < d.config.reelMinMs || ms > d.config.reelMaxMs)) return `Reels must be ${d.config.reelMinMs / 1000}–${d.config.reelMaxMs / 1000} seconds long; this video is ${ms / 1000} s`;
  if (v.kind === 'story' && ms > d.config.storyVideoMaxMs) return `Story videos must be at most ${d.config.storyVideoMaxMs / 1000} seconds long; this video is ${ms / 1000} s`;
  return undefined;
}

/** Moves a video on by the clock: processing ends, and a video asked to be published becomes a post. */
function settle(d: SimDeps, v: SimVideo): void {
  const now = Date.now();
  if (v.uploadError || v.uploadedAt === undefined || now < processedAt(d, v)) return;
  if (v.processingError === undefined) v.processingError = processingProblem(d, v) ?? '';
  if (v.processingError || v.postId || v.kind === 'story' || v.videoState !== 'PUBLISHED' || v.publishRequestedAt === undefined) return;
  const page = d.state.pages.get(v.pageId);
  if (!page) return;
  // A video's post is the video itself: its permalink is the video's (a reel's /reel/{id}).
  const post = addPost(d, '', page, { kind: v.kind === 'reel' ? 'reel' : 'video', message: v.description, videoId: v.id, createdAt: Math.max(processedAt(d, v), v.publishRequestedAt), permalink: v.permalink });
  v.postId = post.id;
}

export function settleVideos(d: SimDeps, pageId: string): void {
  for (const v of d.state.videos.values()) if (v.pageId === pageId) settle(d, v);
}

function status(d: SimDeps, v: SimVideo): Node {
  const uploading: Phase = v.uploadError ? 'error' : v.uploadedAt !== undefined ? 'complete' : v.fileUrl ? 'in_progress' : 'not_started';
  const processing: Phase = uploading !== 'complete' ? 'not_started' : Date.now() < processedAt(d, v) ? 'in_progress' : v.processingError ? 'error' : 'complete';
  const publishing: Phase = v.postId || (v.kind === 'story' && v.publishRequestedAt) ? 'complete' : v.publishRequestedAt && processing !== 'error' ? 'in_progress' : 'not_started';
  const videoStatus = uploading === 'error' || processing === 'error' ? 'error' : processing === 'complete' ? 'ready' : uploading === 'complete' ? 'processing' : 'upload_complete';
  const errors = (m: string | undefined) => (m ? [{ code: 1363008, message: m }] : undefined);
  return {
    video_status: uploading === 'not_started' || uploading === 'in_progress' ? 'uploading' : videoStatus,
    uploading_phase: { status: uploading, errors: errors(v.uploadError) },
    processing_phase: { status: processing, errors: errors(v.processingError || undefined) },
    publishing_phase: { status: publishing, publish_status: v.postId || (v.kind === 'story' && v.publishRequestedAt) ? 'published' : 'not_published', publish_time: v.publishRequestedAt && graphTime(v.publishRequestedAt) },
  };
}

export function videoNode(d: SimDeps, v: SimVideo): Node {
  settle(d, v);
  return {
    id: v.id, title: v.title, description: v.description, created_time: graphTime(v.createdAt), updated_time: graphTime(v.createdAt),
    permalink_url: v.permalink, published: !!v.postId || (v.kind === 'story' && !!v.publishRequestedAt), status: status(d, v),
    length: v.media?.durationMs !== undefined ? v.media.durationMs / 1000 : undefined, post_id: v.postId, from: { id: v.pageId },
  };
}

function newVideo(d: SimDeps, req: FastifyRequest, page: SimPage, kind: SimVideo['kind']): SimVideo {
  const id = d.state.nextId();
  const permalink = kind === 'reel' ? `${d.web(req)}/web/reel/${id}` : `${d.web(req)}/web/${page.id}/videos/${id}`;
  const v: SimVideo = { id, pageId: page.id, kind, createdAt: Date.now(), permalink };
  d.state.videos.set(id, v);
  return v;
}

function take(v: SimVideo, got: Pulled) {
  if (got.ok) v.media = { mimeType: got.mimeType, size: got.size, durationMs: got.durationMs };
  else v.uploadError = got.reason;
  v.uploadedAt = Date.now();
}

/** Reads a raw body up to `max` bytes, keeping the first MiB. */
async function readBody(body: Readable | undefined, max: number): Promise<{ head: Buffer; size: number } | 'too_large'> {
  const head: Buffer[] = [];
  let size = 0;
  let kept = 0;
  for await (const chunk of body ?? []) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > max) return 'too_large';
    if (kept < 1 << 20) {
      head.push(b.subarray(0, (1 << 20) - kept));
      kept += Math.min(b.length, (1 << 20) - kept);
    }
  }
  return { head: Buffer.concat(head), size };
}

export async function facebookVideoRoutes(app: FastifyInstance, d: SimDeps): Promise<void> {
  const { state } = d;
  const uploadUrl = (req: FastifyRequest, v: SimVideo) => `${d.web(req)}/video-upload/${(req.params as { version: string }).version}/${v.id}`;

  app.post('/:version/:id/videos', { config: { operation: 'page.videos' } }, async (req, reply) => {
    const a = await asPage(d, req, reply, PAGE_WRITE, true);
    if (!a) return reply;
    const p = params(req);
    if (p['source'] !== undefined || p['upload_phase'] !== undefined || /multipart/i.test(String(req.headers['content-type']))) {
      return invalidParam(reply, 'The simulator takes Page videos by file_url only (Meta fetches them); source and chunked uploads are not simulated');
    }
    if (!p['file_url'] || !/^https?:\/\//i.test(p['file_url'])) return invalidParam(reply, 'Param file_url must be a valid URL');
    const v = newVideo(d, req, a.page, 'video');
    Object.assign(v, { fileUrl: p['file_url'], title: p['title'], description: p['description'], videoState: 'PUBLISHED', publishRequestedAt: Date.now() });
    // Meta fetches the file after answering; the status tells how it went.
    void pull(p['file_url'], 'video', d.config.videoMaxBytes, d.config.fetchTimeoutMs).then((got) => take(v, got));
    return { id: v.id };
  });

  app.get('/:version/:id/videos', { config: { operation: 'page.videos.list' } }, async (req, reply) => {
    const a = await asPage(d, req, reply, PAGE_READ, false);
    if (!a) return reply;
    const p = params(req);
    const limit = Math.min(100, Math.max(1, Number(p['limit'] ?? 25) || 25));
    const videos = [...state.videos.values()].filter((v) => v.pageId === a.page.id && v.kind !== 'story').sort((x, y) => y.createdAt - x.createdAt).slice(0, limit);
    const data: Node[] = [];
    for (const v of videos) {
      const picked = select(reply, 'Video', videoNode(d, v), p['fields']);
      if (!picked) return reply;
      data.push(picked);
    }
    return { data };
  });

  /** video_reels and video_stories: start → {video_id, upload_url}; finish → publish. */
  const phased = (kind: 'reel' | 'story') => async (req: FastifyRequest, reply: FastifyReply) => {
    const a = await asPage(d, req, reply, PAGE_WRITE, true);
    if (!a) return reply;
    const p = params(req);
    if (p['upload_phase'] === 'start') {
      if (kind === 'reel' && recentReels(state, a.page.id, Date.now()) >= d.config.reelsPerDay) {
        // The documented limit; the code Graph answers it with is not documented (unconfirmed).
        return graphError(reply, 400, 9, `(#9) This Page has published ${d.config.reelsPerDay} reels through the API in the last 24 hours, the most allowed`);
      }
      const v = newVideo(d, req, a.page, kind);
      return { video_id: v.id, upload_url: uploadUrl(req, v) };
    }
    if (p['upload_phase'] !== 'finish') return invalidParam(reply, 'Param upload_phase must be one of {start, finish}');
    const v = p['video_id'] ? state.videos.get(p['video_id']) : undefined;
    if (!v || v.pageId !== a.page.id || v.kind !== kind) return invalidParam(reply, `Invalid video_id ${p['video_id'] ?? '(missing)'}`);
    if (v.publishRequestedAt) return invalidParam(reply, `Video ${v.id} was already finished`);
    if (v.uploadedAt === undefined) return graphError(reply, 400, 6000, '(#6000) There was a problem uploading your video file. The upload has not completed; upload the file to upload_url first.');
    if (v.uploadError) return graphError(reply, 400, 6000, `(#6000) There was a problem uploading your video file: ${v.uploadError}`);
    if (kind === 'reel') {
      const state_ = p['video_state'];
      if (state_ !== 'PUBLISHED' && state_ !== 'DRAFT' && state_ !== 'SCHEDULED') return invalidParam(reply, 'Param video_state must be one of {PUBLISHED, DRAFT, SCHEDULED}');
      if (state_ === 'SCHEDULED') return invalidParam(reply, 'Scheduled reels are not simulated; Crier schedules posts itself');
      Object.assign(v, { videoState: state_, description: p['description'], title: p['title'], publishRequestedAt: Date.now() });
      settle(d, v);
      return { success: true };
    }
    const problem = processingProblem(d, v);
    if (problem) return invalidParam(reply, problem);
    v.publishRequestedAt = Date.now();
    const post = addPost(d, d.web(req), a.page, { kind: 'story', videoId: v.id });
    v.postId = post.id;
    return { success: true, post_id: post.id };
  };
  app.post('/:version/:id/video_reels', { config: { operation: 'page.video_reels' } }, phased('reel'));
  app.post('/:version/:id/video_stories', { config: { operation: 'page.video_stories' } }, phased('story'));

  // rupload.facebook.com/video-upload/{version}/{video-id}: raw bytes of any type, so in a context of its own.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    raw.post('/video-upload/:version/:id', { config: { operation: 'rupload' } }, async (req, reply) => {
      const body = req.body as Readable | undefined;
      const drain = async () => void (await readBody(body, Number.MAX_SAFE_INTEGER).catch(() => undefined));
      const refuse = async (status: number, type: string, message: string, retriable = false) => (await drain(), reply.code(status).send({ debug_info: { retriable, type, message } }));
      const token = /^OAuth\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!token) return refuse(401, 'AuthError', 'An Authorization: OAuth <token> header is required');
      const check = await d.tokens.check(token);
      if (!check.ok) return refuse(401, 'AuthError', check.refusal.message);
      const v = state.videos.get((req.params as { id: string }).id);
      if (!v || (v.kind !== 'reel' && v.kind !== 'story')) return refuse(404, 'NotFoundError', 'No upload session for this video id');
      if (check.auth.kind !== 'page' || check.auth.pageId !== v.pageId) return refuse(403, 'AuthError', 'The token is not this Page\'s token');
      if (v.uploadedAt !== undefined) return refuse(400, 'UploadAlreadyCompleted', 'This video was already uploaded');
      const offset = req.headers['offset'];
      const fileSize = Number(req.headers['file_size']);
      if (offset === undefined || !Number.isFinite(fileSize)) return refuse(400, 'MissingHeaders', 'The offset and file_size headers are required');
      if (offset !== '0') return refuse(400, 'InvalidOffset', 'Uploads start at offset 0');
      const fileUrl = req.headers['file_url'];
      if (typeof fileUrl === 'string') {
        await drain();
        v.fileUrl = fileUrl;
        const got = await pull(fileUrl, 'video', d.config.videoMaxBytes, d.config.fetchTimeoutMs);
        take(v, got);
        if (!got.ok) return reply.code(400).send({ debug_info: { retriable: got.failure === 'download', type: 'ProcessingFailedError', message: got.reason } });
        return { success: true };
      }
      const got = await readBody(body, d.config.videoMaxBytes);
      if (got === 'too_large') return refuse(413, 'FileTooLarge', `The file is over ${d.config.videoMaxBytes} bytes`);
      if (got.size !== fileSize) return refuse(400, 'PartialRequestError', `file_size says ${fileSize} bytes but ${got.size} arrived`, true);
      const probed = probe('video', got.head, got.size, d.config.videoMaxBytes);
      take(v, probed);
      if (!probed.ok) return reply.code(400).send({ debug_info: { retriable: false, type: 'ProcessingFailedError', message: probed.reason } });
      return { success: true };
    });
  });

  app.get('/web/reel/:id', async (req, reply) => {
    const v = state.videos.get((req.params as { id: string }).id);
    if (!v || !v.postId) return reply.code(404).type('text/plain').send('Reel not found on the Facebook sandbox');
    return { sandbox: 'facebook', kind: 'reel', id: v.id, description: v.description ?? '' };
  });
  app.get('/web/:pageId/videos/:id', async (req, reply) => {
    const v = state.videos.get((req.params as { id: string }).id);
    if (!v || !v.postId) return reply.code(404).type('text/plain').send('Video not found on the Facebook sandbox');
    return { sandbox: 'facebook', kind: v.kind, id: v.id, title: v.title ?? '', description: v.description ?? '' };
  });
}
