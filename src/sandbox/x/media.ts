// The simulator's media endpoints (platforms.md §1 "Media upload"): chunked upload (initialize, append in
// segment order, finalize with the announced total), STATUS while videos and GIFs process, the one-shot
// image upload, and alt text. Media belong to the user who uploaded them (and `additional_owners`).
// Not reproduced: X's checks of a video's duration, frame size, codecs and frame rate (the simulator reads
// only enough of the bytes to tell an MP4/MOV or GIF from anything else).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { boundaryOf, parseMultipart } from './multipart.js';
import { DETAIL, invalidRequest, notFound, send } from './problems.js';
import type { MediaCategory, SimMedia, XSimState } from './state.js';

const MEDIA_TYPES = ['video/mp4', 'video/webm', 'video/mp2t', 'video/quicktime', 'text/srt', 'text/vtt', 'image/jpeg', 'image/gif', 'image/bmp', 'image/png', 'image/webp', 'image/pjpeg', 'image/tiff'];
const CATEGORIES: MediaCategory[] = ['amplify_video', 'tweet_gif', 'tweet_image', 'tweet_video', 'dm_gif', 'dm_image', 'dm_video', 'subtitles'];
const EXPIRES_AFTER_SECS = 86_400;
const MEDIA_KEY_PREFIX: Record<string, string> = { image: '3', gif: '16', video: '7', amplify_video: '13' };

export type MediaState = { state: 'uploading' | 'succeeded' | 'pending' | 'in_progress' | 'failed'; progress: number };

const kindOf = (c: MediaCategory) => (c.endsWith('gif') ? 'gif' : c.endsWith('video') ? 'video' : c === 'subtitles' ? 'subtitles' : 'image');

/** Where a media file is now; processing advances with time after FINALIZE. */
export function mediaState(m: SimMedia, now = Date.now()): MediaState {
  if (m.finalizedAt === undefined) return { state: 'uploading', progress: 0 };
  if (m.image || kindOf(m.category) === 'subtitles') return { state: 'succeeded', progress: 100 };
  const elapsed = now - m.finalizedAt;
  if (elapsed >= m.processingMs) return { state: m.processable ? 'succeeded' : 'failed', progress: 100 };
  if (elapsed < m.processingMs / 3) return { state: 'pending', progress: 0 };
  return { state: 'in_progress', progress: Math.min(99, Math.floor((elapsed / m.processingMs) * 100)) };
}

/** The media_category and file kind X would post with: images, or one animated GIF, or one video. */
export function postKind(m: SimMedia): 'image' | 'gif' | 'video' | 'other' {
  const k = kindOf(m.category);
  return k === 'subtitles' ? 'other' : k;
}

export function mediaRoutes(app: FastifyInstance, state: XSimState): void {
  const owned = (id: string, user: string) => {
    const m = state.media.get(id);
    return m && (m.owner === user || m.additionalOwners.includes(user)) && m.expiresAt > Date.now() ? m : undefined;
  };

  function processingInfo(m: SimMedia) {
    const s = mediaState(m);
    if (s.state === 'succeeded' && m.image) return undefined;
    const info: Record<string, unknown> = { state: s.state, progress_percent: s.progress };
    if (s.state === 'pending' || s.state === 'in_progress') info['check_after_secs'] = state.limits.checkAfterSecs;
    if (s.state === 'failed') info['error'] = { code: 1, name: 'InvalidMedia', message: DETAIL.unsupportedMedia };
    return info;
  }

  function describe(m: SimMedia) {
    const data: Record<string, unknown> = { id: m.id, media_key: m.mediaKey, size: m.totalBytes, expires_after_secs: Math.max(0, Math.floor((m.expiresAt - Date.now()) / 1000)) };
    if (m.image) data['image'] = m.image;
    if (kindOf(m.category) === 'video' || kindOf(m.category) === 'gif') data['video'] = { video_type: m.mediaType === 'image/gif' ? 'video/mp4' : m.mediaType };
    const info = processingInfo(m);
    if (info) data['processing_info'] = info;
    return { data };
  }

  function create(user: string, mediaType: string, totalBytes: number, category: MediaCategory, additionalOwners: string[]): SimMedia {
    const id = state.nextId();
    const prefix = category === 'amplify_video' ? MEDIA_KEY_PREFIX['amplify_video'] : MEDIA_KEY_PREFIX[kindOf(category)] ?? '3';
    const m: SimMedia = { id, mediaKey: `${prefix}_${id}`, owner: user, additionalOwners, category, mediaType, totalBytes, segments: new Map(), bytes: [], head: Buffer.alloc(0), processingMs: state.limits.processingMs, expiresAt: Date.now() + EXPIRES_AFTER_SECS * 1000 };
    state.media.set(id, m);
    return m;
  }

  /** Category, type and size rules of INITIALIZE (and of the one-shot upload). */
  function checkNew(mediaType: unknown, totalBytes: unknown, category: MediaCategory): string | undefined {
    if (typeof mediaType !== 'string' || !MEDIA_TYPES.includes(mediaType)) return `$.media_type: must be one of ${MEDIA_TYPES.join(', ')}`;
    if (typeof totalBytes !== 'number' || !Number.isInteger(totalBytes) || totalBytes < 1) return '$.total_bytes: must be a positive integer';
    const kind = kindOf(category);
    const fits = kind === 'video' ? mediaType.startsWith('video/') : kind === 'gif' ? mediaType === 'image/gif' : kind === 'image' ? mediaType.startsWith('image/') : mediaType.startsWith('text/');
    if (!fits) return `media_type ${mediaType} does not match media_category ${category}`;
    const max = kind === 'video' ? state.limits.videoMaxBytes : kind === 'gif' ? state.limits.gifMaxBytes : state.limits.imageMaxBytes;
    if (totalBytes > max) return `File size exceeds ${max} bytes.`;
    return undefined;
  }

  /** Reads an image's type and size, or decides whether a video/GIF will process, once all bytes are in. */
  async function complete(m: SimMedia): Promise<string | undefined> {
    const kind = kindOf(m.category);
    if (kind === 'image') {
      try {
        const meta = await sharp(Buffer.concat(m.bytes)).metadata();
        m.image = { image_type: `image/${meta.format === 'jpeg' ? 'jpeg' : meta.format}`, w: meta.width ?? 0, h: meta.height ?? 0 };
      } catch {
        return DETAIL.unsupportedMedia;
      }
    } else {
      const h = m.head;
      m.processable = kind === 'gif' ? h.subarray(0, 4).toString('latin1') === 'GIF8' : kind === 'video' ? h.subarray(4, 8).toString('latin1') === 'ftyp' : true;
    }
    m.bytes = kind === 'image' ? m.bytes : [];
    m.finalizedAt = Date.now();
    return undefined;
  }

  /** Images keep their bytes (in order: their segments cannot be resent); every file keeps its first bytes. */
  function addBytes(m: SimMedia, index: number, chunk: Buffer) {
    if (index === 0) m.head = Buffer.from(chunk.subarray(0, 64));
    if (kindOf(m.category) === 'image') m.bytes.push(chunk);
  }

  app.post('/2/media/upload/initialize', { config: { operation: 'media.initialize' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['media.write'], 'media');
    if (!grant) return reply;
    const b = (req.body ?? {}) as Record<string, unknown>;
    const unknown = Object.keys(b).filter((k) => !['media_type', 'total_bytes', 'media_category', 'additional_owners', 'shared'].includes(k));
    if (unknown.length > 0) return send(reply, invalidRequest(...unknown.map((k) => `$.${k}: is not defined in the schema and the schema does not allow additional properties`)));
    const category = (b['media_category'] ?? ((b['media_type'] as string | undefined)?.startsWith('video/') ? 'tweet_video' : 'tweet_image')) as MediaCategory;
    if (!CATEGORIES.includes(category)) return send(reply, invalidRequest(`$.media_category: must be one of ${CATEGORIES.join(', ')}`));
    const problem = checkNew(b['media_type'], b['total_bytes'], category);
    if (problem) return send(reply, invalidRequest(problem));
    const owners = Array.isArray(b['additional_owners']) ? (b['additional_owners'] as unknown[]).map(String) : [];
    const m = create(grant.user.id, b['media_type'] as string, b['total_bytes'] as number, category, owners);
    return { data: { id: m.id, media_key: m.mediaKey, expires_after_secs: EXPIRES_AFTER_SECS } };
  });

  // Segments arrive as multipart (or JSON with base64): a context of their own with a buffered body parser.
  app.register(async (raw) => {
    raw.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: 8 * 1024 * 1024 }, (_req, body, done) => done(null, body));

    raw.post<{ Params: { id: string } }>('/2/media/upload/:id/append', { config: { operation: 'media.append' }, bodyLimit: 8 * 1024 * 1024 }, async (req, reply) => {
      const grant = await state.authenticate(req, reply, ['media.write'], 'media');
      if (!grant) return reply;
      const m = owned(req.params.id, grant.user.id);
      if (!m) return send(reply, notFound('media', req.params.id, 'id'));
      if (m.finalizedAt !== undefined) return send(reply, invalidRequest(`Media ${m.id} is already finalized; no more segments can be appended.`));
      const part = readPart(req);
      if ('error' in part) return send(reply, invalidRequest(part.error));
      const { index, data } = part;
      if (data.length > state.limits.segmentMaxBytes) return send(reply, invalidRequest(`Segment ${index} is ${data.length} bytes; a segment may be at most ${state.limits.segmentMaxBytes} bytes.`));
      // Segments go in order: the next index, or a resend of one already received (a retried request).
      if (index !== m.segments.size && !m.segments.has(index)) return send(reply, invalidRequest(`Segment index ${index} is out of order: expected ${m.segments.size}.`));
      if (m.segments.has(index) && kindOf(m.category) === 'image') return send(reply, invalidRequest(`Segment ${index} was already received.`));
      const received = [...m.segments.values()].reduce((a, b) => a + b, 0) - (m.segments.get(index) ?? 0) + data.length;
      if (received > m.totalBytes) return send(reply, invalidRequest(DETAIL.segmentsTotal));
      m.segments.set(index, data.length);
      addBytes(m, index, data);
      return { data: { expires_at: Math.floor(m.expiresAt / 1000) } };
    });

    raw.post('/2/media/upload', { config: { operation: 'media.upload' }, bodyLimit: 8 * 1024 * 1024 }, async (req, reply) => {
      const grant = await state.authenticate(req, reply, ['media.write'], 'media');
      if (!grant) return reply;
      const form = formOf(req);
      if (!form) return send(reply, invalidRequest('The request must be multipart/form-data with `media` and `media_category`.'));
      const file = form.files['media'];
      const category = form.fields['media_category'] as MediaCategory | undefined;
      if (!file || !category) return send(reply, invalidRequest(...(!file ? ['$.media: is missing but it is required'] : []), ...(!category ? ['$.media_category: is missing but it is required'] : [])));
      if (!CATEGORIES.includes(category)) return send(reply, invalidRequest(`$.media_category: must be one of ${CATEGORIES.join(', ')}`));
      if (kindOf(category) !== 'image') return send(reply, invalidRequest('Videos and animated GIFs go through the chunked upload (initialize, append, finalize).'));
      const type = file.contentType && MEDIA_TYPES.includes(file.contentType) ? file.contentType : 'image/jpeg';
      const problem = checkNew(type, file.data.length, category);
      if (problem) return send(reply, invalidRequest(problem));
      const m = create(grant.user.id, type, file.data.length, category, (form.fields['additional_owners'] ?? '').split(',').filter(Boolean));
      m.segments.set(0, file.data.length);
      addBytes(m, 0, file.data);
      const failed = await complete(m);
      if (failed) {
        state.media.delete(m.id);
        return send(reply, invalidRequest(failed));
      }
      return describe(m);
    });
  });

  app.post<{ Params: { id: string } }>('/2/media/upload/:id/finalize', { config: { operation: 'media.finalize' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['media.write'], 'media');
    if (!grant) return reply;
    const m = owned(req.params.id, grant.user.id);
    if (!m) return send(reply, notFound('media', req.params.id, 'id'));
    if (m.finalizedAt !== undefined) return send(reply, invalidRequest(`Media ${m.id} is already finalized.`));
    const total = [...m.segments.values()].reduce((a, b) => a + b, 0);
    if (m.segments.size === 0 || total !== m.totalBytes) return send(reply, invalidRequest(DETAIL.segmentsTotal));
    const failed = await complete(m);
    if (failed) return send(reply, invalidRequest(failed));
    return describe(m);
  });

  app.get<{ Querystring: { command?: string; media_id?: string } }>('/2/media/upload', { config: { operation: 'media.status' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['media.write'], 'status');
    if (!grant) return reply;
    const { command, media_id: id } = req.query;
    if (command !== undefined && command !== 'STATUS') return send(reply, invalidRequest(`The \`command\` query parameter value [${command}] is not one of [STATUS]`));
    if (!id || !/^[0-9]{1,19}$/.test(id)) return send(reply, invalidRequest('The `media_id` query parameter is missing or not a media id'));
    const m = owned(id, grant.user.id);
    if (!m || m.finalizedAt === undefined) return send(reply, notFound('media', id, 'media_id'));
    return describe(m);
  });

  app.post('/2/media/metadata', { config: { operation: 'media.metadata' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['media.write'], 'media');
    if (!grant) return reply;
    const b = (req.body ?? {}) as { id?: unknown; metadata?: { alt_text?: { text?: unknown } } };
    if (typeof b.id !== 'string' || !/^[0-9]{1,19}$/.test(b.id)) return send(reply, invalidRequest('$.id: is missing but it is required'));
    const alt = b.metadata?.alt_text?.text;
    if (b.metadata?.alt_text !== undefined && (typeof alt !== 'string' || [...alt].length > 1000)) return send(reply, invalidRequest('$.metadata.alt_text.text: must be a string of at most 1000 characters'));
    const m = owned(b.id, grant.user.id);
    if (!m) return send(reply, notFound('media', b.id, 'id'));
    if (typeof alt === 'string') m.alt = alt;
    return { data: { id: m.id, associated_metadata: { alt_text: { text: m.alt ?? '' } } } };
  });
}

function formOf(req: FastifyRequest) {
  const boundary = boundaryOf(req.headers['content-type']);
  return Buffer.isBuffer(req.body) && boundary ? parseMultipart(req.body, boundary) : null;
}

/** An APPEND body: multipart (`segment_index`, `media`), or JSON with the segment in base64. */
function readPart(req: FastifyRequest): { index: number; data: Buffer } | { error: string } {
  let index: unknown;
  let data: Buffer | undefined;
  const form = formOf(req);
  if (form) {
    index = form.fields['segment_index'];
    data = form.files['media']?.data ?? (form.fields['media'] !== undefined ? Buffer.from(form.fields['media'], 'binary') : undefined);
  } else if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) {
    const b = req.body as { segment_index?: unknown; media?: unknown };
    index = b.segment_index;
    if (typeof b.media === 'string') data = Buffer.from(b.media, 'base64');
  } else {
    return { error: 'The request must be multipart/form-data (or JSON) with `segment_index` and `media`.' };
  }
  const n = Number(index);
  if (index === undefined || index === '' || !Number.isInteger(n) || n < 0 || n > 999) return { error: '$.segment_index: must be an integer from 0 to 999' };
  if (!data || data.length === 0) return { error: '$.media: is missing but it is required' };
  return { index: n, data };
}
