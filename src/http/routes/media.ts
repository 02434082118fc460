// Media: announce and complete uploads, upload small files directly, ingest by URL, read, list, delete.
// Two public routes carry a signature instead of an API key: the local store's upload target and the
// URLs platforms pull media from.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import { getMedia, getRenditions, listMedia } from '../../db/queries/media.js';
import { bodyAjv, paramsAjv } from '../../lib/ajv.js';
import { isId } from '../../lib/ids.js';
import { urlPolicy } from '../../services/media-files.js';
import { announceUpload, completeUpload, deleteMedia, ingestByUrl, receiveUpload, storeDirectUpload } from '../../services/media-files.js';
import { serveSignedMedia } from '../../services/media-delivery.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { idempotent } from '../idempotency.js';
import { Pagination, errorResponses, page } from '../schemas.js';
import { decodeCursor, encodeCursor, mediaView } from '../views.js';

const tags = ['media'];
const Params = Type.Object({ id: Type.String() });
const Signed = Type.Object({ exp: Type.Optional(Type.String()), kid: Type.Optional(Type.String()), sig: Type.Optional(Type.String()) });

const AnnounceUpload = Type.Object(
  {
    filename: Type.String({ minLength: 1, maxLength: 255 }),
    content_type: Type.String({ minLength: 3, maxLength: 100, pattern: '^[a-z]+/[a-zA-Z0-9.+-]+$' }),
    size: Type.Integer({ minimum: 1, description: 'Exact size in bytes; the upload must match it.' }),
  },
  { additionalProperties: false },
);
const Upload = Type.Object({
  method: Type.Literal('PUT'),
  url: Type.Optional(Type.String({ description: 'PUT the whole file here (with `headers`).' })),
  parts: Type.Optional(Type.Array(Type.Object({ part_number: Type.Integer(), url: Type.String(), size: Type.Integer() }), { description: 'Large files: PUT each part to its URL, keep each response\'s ETag, then complete with them.' })),
  part_size: Type.Optional(Type.Integer()),
  headers: Type.Record(Type.String(), Type.String()),
  expires_at: Type.String({ format: 'date-time' }),
});
const Complete = Type.Object(
  { parts: Type.Optional(Type.Array(Type.Object({ part_number: Type.Integer({ minimum: 1 }), etag: Type.String({ maxLength: 200 }) }, { additionalProperties: false }), { maxItems: 10_000 })) },
  { additionalProperties: false },
);
const Ingest = Type.Object({ url: Type.String({ maxLength: 2048, description: 'Fetched once by Crier (public http/https URLs only).' }) }, { additionalProperties: false });
const ListQuery = Type.Object({ status: Type.Optional(Type.Union(['awaiting_upload', 'processing', 'ready', 'failed'].map((s) => Type.Literal(s)))), ...Pagination }, { additionalProperties: false });

export function registerMediaRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  // Upload URLs go back to wherever the client reached this API (CRIER_PUBLIC_URL is for platforms).
  const selfUrl = (req: FastifyRequest) => `${req.protocol}://${req.host}`;
  const view = async (workspaceId: string, id: string) => {
    const m = await getMedia(ctx.db, workspaceId, id);
    if (!m) throw notFound('media');
    return mediaView(m, await getRenditions(ctx.db, [m.id]));
  };

  app.post<{ Body: { filename: string; content_type: string; size: number } }>(
    '/v1/media/uploads',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Start an upload: returns where to PUT the bytes',
        description: 'With S3 storage the URL is a presigned S3 URL (files over 64 MiB come as presigned parts); with the local store it is Crier\'s own signed upload URL. Then call POST /v1/media/{id}/complete.',
        body: AnnounceUpload,
        response: { 201: Type.Object({ media: Type.Ref('Media'), upload: Upload }), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
      },
    },
    async (req, reply) => {
      const workspaceId = workspaceOf(req);
      return idempotent(ctx.db, req, reply, async (tx) => {
        const { media, upload } = await announceUpload(ctx, tx, workspaceId, req.body, selfUrl(req));
        return { status: 201, body: { media: mediaView(media, []), upload } };
      });
    },
  );

  app.post<{ Params: { id: string }; Body: { parts?: { part_number: number; etag: string }[] } | undefined }>(
    '/v1/media/:id/complete',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Finish an upload: Crier checks the size, probes the file from its bytes and answers with what it is',
        params: Params,
        body: Complete,
        response: { 200: Type.Ref('Media'), ...errorResponses(400, 401, 403, 404, 409, 422, 429) },
      },
      // A single-PUT upload completes with no body at all.
      validatorCompiler: optionalBody,
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      if (!isId('media', req.params.id)) throw notFound('media');
      const m = await completeUpload(ctx, workspaceId, req.params.id, req.body?.parts);
      return view(workspaceId, m.id);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/media/:id',
    { config: { auth: 'workspace' }, schema: { tags, summary: 'Get a media file: what it is, its state and its renditions', params: Params, response: { 200: Type.Ref('Media'), ...errorResponses(401, 403, 404) } } },
    async (req) => {
      if (!isId('media', req.params.id)) throw notFound('media');
      return view(workspaceOf(req), req.params.id);
    },
  );

  app.get<{ Querystring: { status?: string; limit?: number; cursor?: string } }>(
    '/v1/media',
    { config: { auth: 'workspace' }, schema: { tags, summary: 'List media files, newest first', querystring: ListQuery, response: { 200: page(Type.Ref('Media')), ...errorResponses(400, 401, 403) } } },
    async (req) => {
      const workspaceId = workspaceOf(req);
      const limit = req.query.limit ?? 20;
      const before = req.query.cursor !== undefined ? decodeCursor(req.query.cursor, (id) => isId('media', id)) : undefined;
      if (req.query.cursor !== undefined && !before) throw new ApiError('CURSOR_INVALID', 'invalid cursor');
      const rows = await listMedia(ctx.db, workspaceId, { status: req.query.status, before, limit: limit + 1 });
      const items = rows.slice(0, limit);
      const renditions = await getRenditions(ctx.db, items.map((m) => m.id));
      return { data: items.map((m) => mediaView(m, renditions)), next_cursor: rows.length > limit ? encodeCursor(items.at(-1)!.id) : null };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/media/:id',
    { config: { auth: 'workspace', scope: 'write' }, schema: { tags, summary: 'Delete a media file no post refers to', params: Params, response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 409) } } },
    async (req, reply) => {
      if (!isId('media', req.params.id)) throw notFound('media');
      await deleteMedia(ctx, workspaceOf(req), req.params.id);
      return reply.code(204).send();
    },
  );

  // Direct upload (multipart/form-data) and ingest by URL (JSON) share the path; multipart parsing is
  // registered only here, so every other route stays JSON-only.
  app.register(async (scope) => {
    await scope.register(multipart, { limits: { files: 1, fields: 5, fileSize: ctx.config.media.directMaxBytes, fieldSize: 4096 } });
    scope.post(
      '/v1/media',
      {
        config: { auth: 'workspace', scope: 'write' },
        schema: {
          tags,
          summary: 'Add a file: multipart/form-data upload (field "file"), or JSON {"url"} for Crier to fetch',
          description: `A direct upload is stored and probed before the answer (201, up to CRIER_MEDIA_DIRECT_MAX_BYTES). A URL is fetched once by the worker (202, status "processing"): poll GET /v1/media/{id}, or put it in a post, which waits for it.`,
          body: Type.Optional(Ingest),
          response: { 201: Type.Ref('Media'), 202: Type.Ref('Media'), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
        },
        // A multipart request has no JSON body to validate (the form is read in the handler).
        validatorCompiler: optionalBody,
      },
      async (req, reply) => {
        const workspaceId = workspaceOf(req);
        if (req.isMultipart()) {
          const file = await req.file();
          if (!file) throw new ApiError('VALIDATION_FAILED', 'send the file in a form field named "file"', [{ field: 'body.file', message: 'missing' }]);
          const m = await storeDirectUpload(ctx, workspaceId, { stream: file.file, filename: file.filename, mimetype: file.mimetype });
          return reply.code(201).send(await view(workspaceId, m.id));
        }
        const body = req.body as { url?: string } | undefined;
        if (!body?.url) throw new ApiError('VALIDATION_FAILED', 'send {"url"} as JSON, or the file as multipart/form-data', [{ field: 'body.url', message: 'required' }]);
        return idempotent(ctx.db, req, reply, async (tx) => {
          const m = await ingestByUrl(tx, workspaceId, body.url!, urlPolicy(ctx.config.media));
          return { status: 202, body: mediaView(m, []) };
        });
      },
    );
  });

  // The local store's upload target: any content type, streamed to storage, authorized by its signature.
  app.register(async (scope) => {
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.put<{ Params: { id: string }; Querystring: { exp?: string; kid?: string; sig?: string } }>(
      '/v1/media/:id/content',
      {
        config: { auth: 'public' },
        bodyLimit: ctx.config.media.maxBytes,
        schema: { tags, summary: 'Upload target returned by POST /v1/media/uploads (local store); signed, expiring', params: Params, querystring: Signed, response: { 204: Type.Null(), ...errorResponses(403, 404, 409) } },
      },
      async (req, reply) => {
        if (!isId('media', req.params.id) || !ctx.media.signer.verify('upload', req.params.id, 'original', req.query, ctx.clock.now())) {
          throw new ApiError('FORBIDDEN', 'this upload URL is invalid or expired; start a new upload');
        }
        const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
        await receiveUpload(ctx, req.params.id, req.body as Readable, length);
        return reply.code(204).send();
      },
    );
  });

  // Media URLs platforms pull from (Instagram, Threads…): signed and expiring, Range supported.
  const serve = async (req: FastifyRequest<{ Params: { id: string; variant: string }; Querystring: { exp?: string; kid?: string; sig?: string } }>, reply: FastifyReply) =>
    serveSignedMedia(ctx, req, reply);
  const publicSchema = { hide: true, params: Type.Object({ id: Type.String(), variant: Type.String() }), querystring: Signed };
  app.get('/media/:id/:variant', { config: { auth: 'public' }, schema: publicSchema }, serve);
}

/** Validates a JSON body when there is one; no body (or a multipart form) passes to the handler. */
function optionalBody({ schema, httpPart }: { schema: object; httpPart?: string }) {
  const check = (httpPart === 'body' ? bodyAjv : paramsAjv).compile(schema);
  const validate = (data: unknown) => {
    const ok = (httpPart === 'body' && (data === undefined || data === null)) || check(data);
    validate.errors = ok ? null : check.errors;
    return ok;
  };
  validate.errors = null as typeof check.errors;
  return validate;
}
