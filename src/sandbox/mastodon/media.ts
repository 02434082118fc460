// The simulator's media routes (docs methods/media): POST /api/v2/media takes a multipart `file` (its type
// read from its bytes, as Mastodon does), `description` and `focus`; an image is processed at once (200 with
// `url`), a video or a GIF (made into "gifv") answers 202 with `url` null and is ready `processingMs` later;
// GET /api/v1/media/:id answers 206 until then, 200 after, and 404 once the attachment belongs to a status
// (or to someone else). PUT changes the alt text or focus before the attachment is used.
// Not simulated: Mastodon's image and video dimension and frame-rate checks (the simulator does not decode
// files), audio, custom thumbnails.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { boundaryOf, parseMultipart } from '../x/multipart.js';
import { mastodonError, snowflake, type MastodonSimConfig, type SimMedia, type createGuard } from './state.js';

type Guard = ReturnType<typeof createGuard>;

/** Mastodon detects a file's type from its content, not from the name or the part's Content-Type. */
export function sniff(b: Buffer): { mimeType: string; type: SimMedia['type'] } | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { mimeType: 'image/jpeg', type: 'image' };
  if (b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return { mimeType: 'image/png', type: 'image' };
  if (b.subarray(0, 4).toString('latin1') === 'GIF8') return { mimeType: 'image/gif', type: 'gifv' };
  if (b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return { mimeType: 'image/webp', type: 'image' };
  if (b.subarray(4, 8).toString('latin1') === 'ftyp') return { mimeType: b.subarray(8, 10).toString('latin1') === 'qt' ? 'video/quicktime' : 'video/mp4', type: 'video' };
  if (b.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]))) return { mimeType: 'video/webm', type: 'video' };
  return undefined;
}

const human = (bytes: number) => (bytes >= 1_048_576 ? `${Math.round(bytes / 1_048_576)} MB` : `${Math.round(bytes / 1024)} KB`);

export function mediaRoutes(app: FastifyInstance, s: { config: MastodonSimConfig; media: Map<string, SimMedia>; guard: Guard; origin: (req: FastifyRequest) => string }): { entity: (req: FastifyRequest, m: SimMedia) => Record<string, unknown> } {
  const { config, media, guard } = s;

  function entity(req: FastifyRequest, m: SimMedia) {
    const ready = Date.now() >= m.readyAt;
    const file = `${s.origin(req)}/system/media_attachments/${m.id}`;
    return {
      id: m.id, type: m.type, url: ready ? `${file}/original` : null, preview_url: `${file}/small`, remote_url: null, preview_remote_url: null, text_url: null,
      meta: { focus: { x: 0, y: 0 } }, description: m.description, blurhash: null,
    };
  }

  /** The account's attachment not yet used by a status (`current_account.media_attachments.where(status_id: nil)`). */
  function unattached(req: FastifyRequest, reply: FastifyReply, accountId: string): SimMedia | undefined {
    const m = media.get((req.params as { id: string }).id);
    if (!m || m.accountId !== accountId || m.statusId) {
      mastodonError(reply, 404, 'Record not found');
      return undefined;
    }
    return m;
  }

  // A context of its own: a buffered multipart body (the X simulator's reader) up to a little over the video limit.
  app.register(async (raw) => {
    raw.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: 128 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    raw.post('/api/v2/media', { config: { operation: 'media.create' }, bodyLimit: 128 * 1024 * 1024 }, async (req, reply) => {
      const g = await guard.authorize(req, reply, ['write:media'], { media: true });
      if (!g) return reply;
      const boundary = boundaryOf(req.headers['content-type']);
      const form = Buffer.isBuffer(req.body) && boundary ? parseMultipart(req.body, boundary) : null;
      const file = form?.files['file'];
      if (!form || !file) return mastodonError(reply, 400, 'param is missing or the value is empty: file');
      const kind = sniff(file.data);
      if (!kind || !config.supportedMimeTypes.includes(kind.mimeType)) return mastodonError(reply, 422, 'Validation failed: File content type is invalid, File is invalid');
      const limit = kind.type === 'video' ? config.videoSizeLimit : config.imageSizeLimit;
      if (file.data.length > limit) return mastodonError(reply, 422, `Validation failed: File file size must be less than ${human(limit)}`);
      const description = form.fields['description'] ?? null;
      if (description !== null && description.length > config.descriptionLimit) {
        return mastodonError(reply, 422, `Validation failed: Description is too long (maximum is ${config.descriptionLimit} characters)`);
      }
      const focus = form.fields['focus'];
      if (focus !== undefined && !/^-?(0(\.\d+)?|1(\.0+)?),-?(0(\.\d+)?|1(\.0+)?)$/.test(focus)) return mastodonError(reply, 422, 'Validation failed: Focus is invalid');
      const now = Date.now();
      const m: SimMedia = {
        id: snowflake(), accountId: g.user.id, type: kind.type, mimeType: kind.mimeType, size: file.data.length,
        sha256: createHash('sha256').update(file.data).digest('hex'), description, createdAt: now, readyAt: kind.type === 'image' ? now : now + config.processingMs,
      };
      media.set(m.id, m);
      return reply.code(kind.type === 'image' ? 200 : 202).send(entity(req, m));
    });
  });

  app.get('/api/v1/media/:id', { config: { operation: 'media.get' } }, async (req, reply) => {
    const g = await guard.authorize(req, reply, ['write:media']);
    if (!g) return reply;
    const m = unattached(req, reply, g.user.id);
    if (!m) return reply;
    return reply.code(Date.now() >= m.readyAt ? 200 : 206).send(entity(req, m));
  });

  app.put('/api/v1/media/:id', { config: { operation: 'media.update' } }, async (req, reply) => {
    const g = await guard.authorize(req, reply, ['write:media']);
    if (!g) return reply;
    const m = unattached(req, reply, g.user.id);
    if (!m) return reply;
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body['description'] === 'string') {
      if (body['description'].length > config.descriptionLimit) return mastodonError(reply, 422, `Validation failed: Description is too long (maximum is ${config.descriptionLimit} characters)`);
      m.description = body['description'];
    }
    return reply.code(Date.now() >= m.readyAt ? 200 : 206).send(entity(req, m));
  });

  // What an attachment's URL shows in the sandbox (the simulator keeps a digest of the bytes, not the bytes).
  app.get('/system/media_attachments/:id/:style', async (req, reply) => {
    const m = media.get((req.params as { id: string }).id);
    if (!m) return reply.code(404).type('text/plain').send('Not found');
    return { sandbox: 'mastodon', id: m.id, type: m.type, mime_type: m.mimeType, size: m.size, sha256: m.sha256 };
  });
  return { entity };
}
