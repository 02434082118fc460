// Routes of the LinkedIn simulator's media APIs (uploads.ts has the rules): /rest/images, /rest/videos and
// /rest/documents (Rest.li ACTIONs initializeUpload and finalizeUpload, and GET by URN), and the upload
// URLs (real: https://www.linkedin.com/dms-uploads/…; here <simulator>/dms-uploads/…).
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SimOAuth } from '../oauth.js';
import { caller, liError, TOKEN_ERRORS, type Caller } from './rest.js';
import { assetView, finalizeVideo, newAsset, processWhole, readBody, type AssetKind, type LinkedInSimLimits, type SimAsset } from './uploads.js';

export type MediaDeps = {
  oauth: SimOAuth;
  assets: Map<string, SimAsset>;
  /** Upload URL token → the asset and which of its parts. */
  uploadUrls: Map<string, { urn: string; part: number }>;
  limits: LinkedInSimLimits;
  /** The caller may post as `owner` (scope and page role). */
  mayPostAs(c: Caller, owner: string): boolean;
  /** The caller may read an asset of `owner` (its own, or a page it has a role in). */
  mayReadAsset(c: Caller, owner: string): boolean;
  /** The simulator's own base URL as the client reached it. */
  web(req: FastifyRequest): string;
};

const COLLECTIONS: Record<AssetKind, 'images' | 'videos' | 'documents'> = { image: 'images', video: 'videos', document: 'documents' };

export async function registerMediaRoutes(app: FastifyInstance, d: MediaDeps): Promise<void> {
  const forbidden = (kind: AssetKind) =>
    kind === 'video'
      ? { status: 403, message: 'Accessing this video resource is forbidden. Please check your permissions for this resource' }
      : { status: 403, serviceErrorCode: 100, code: 'ACCESS_DENIED', message: `Not enough permissions to access: ${COLLECTIONS[kind]}.ACTION` };

  function initialize(kind: AssetKind, req: FastifyRequest, reply: FastifyReply, c: Caller) {
    const r = (req.body as { initializeUploadRequest?: Record<string, unknown> } | undefined)?.initializeUploadRequest;
    if (!r || typeof r !== 'object') return liError(reply, { status: 400, message: 'Missing required field: initializeUploadRequest' });
    const owner = r['owner'];
    if (typeof owner !== 'string' || !/^urn:li:(person|organization):[^:\s]+$/.test(owner)) return liError(reply, { status: 422, message: 'ERROR :: /initializeUploadRequest/owner :: invalid owner URN' });
    if (!d.mayPostAs(c, owner)) return liError(reply, forbidden(kind));
    let size: number | undefined;
    if (kind === 'video') {
      size = r['fileSizeBytes'] as number;
      if (!Number.isInteger(size) || size < 1) return liError(reply, { status: 422, message: 'ERROR :: /initializeUploadRequest/fileSizeBytes :: must be a positive integer' });
      if (size > d.limits.videoMaxBytes) return liError(reply, { status: 400, message: `Video file size ${size} exceeds the maximum of ${d.limits.videoMaxBytes} bytes` });
    }
    const a = newAsset(kind, owner, d.limits, size);
    d.assets.set(a.urn, a);
    a.parts.forEach((p, i) => d.uploadUrls.set(p.token, { urn: a.urn, part: i }));
    const url = (token: string) => `${d.web(req)}/dms-uploads/${token}`;
    if (kind !== 'video') return { value: { uploadUrlExpiresAt: a.uploadUrlExpiresAt, uploadUrl: url(a.parts[0]!.token), [kind]: a.urn } };
    const extra: Record<string, string> = {};
    // Captions and a thumbnail are taken (and ignored) when asked for, as their own single-use URLs.
    for (const [flag, field] of [['uploadCaptions', 'captionsUploadUrl'], ['uploadThumbnail', 'thumbnailUploadUrl']] as const) {
      if (r[flag] !== true) continue;
      const token = randomBytes(18).toString('base64url');
      d.uploadUrls.set(token, { urn: a.urn, part: -1 });
      extra[field] = url(token);
    }
    return {
      value: {
        uploadUrlsExpireAt: a.uploadUrlExpiresAt, video: a.urn, uploadToken: a.uploadToken, ...extra,
        uploadInstructions: a.parts.map((p) => ({ uploadUrl: url(p.token), firstByte: p.firstByte, lastByte: p.lastByte })),
      },
    };
  }

  for (const kind of ['image', 'video', 'document'] as const) {
    const collection = COLLECTIONS[kind];
    app.post<{ Querystring: { action?: string } }>(`/rest/${collection}`, { config: { operation: `${collection}.action` } }, async (req, reply) => {
      const c = await caller(req, reply, d.oauth);
      if (!c) return reply;
      if (req.query.action === 'initializeUpload') return initialize(kind, req, reply, c);
      if (kind === 'video' && req.query.action === 'finalizeUpload') {
        const f = (req.body as { finalizeUploadRequest?: Record<string, unknown> } | undefined)?.finalizeUploadRequest;
        const a = typeof f?.['video'] === 'string' ? d.assets.get(f['video']) : undefined;
        if (!f || !a || a.kind !== 'video') return liError(reply, { status: 404, message: `Video ${String(f?.['video'])} not found` });
        if (!d.mayPostAs(c, a.owner)) return liError(reply, forbidden('video'));
        const refused = finalizeVideo(a, f['uploadToken'], f['uploadedPartIds'], d.limits);
        if (refused) return liError(reply, { status: 400, message: refused });
        return reply.code(200).send();
      }
      return liError(reply, { status: 400, message: `Unsupported action ${req.query.action ?? '(none)'} on /rest/${collection}` });
    });

    app.get<{ Params: { urn: string } }>(`/rest/${collection}/:urn`, { config: { operation: `${collection}.get` } }, async (req, reply) => {
      const c = await caller(req, reply, d.oauth);
      if (!c) return reply;
      const a = d.assets.get(req.params.urn);
      if (!a || a.kind !== kind) return liError(reply, { status: 404, message: `${req.params.urn} not found` });
      // Member tokens cannot read a document's status (Postiz's experience, platforms.md §2).
      if (!d.mayReadAsset(c, a.owner) || (kind === 'document' && a.owner.startsWith('urn:li:person:'))) return liError(reply, forbidden(kind));
      return assetView(a, d.web(req));
    });
  }

  // Upload URLs take raw bytes of any type, streamed: in a context of their own, so no other route parses
  // bodies that way.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    raw.put<{ Params: { token: string } }>('/dms-uploads/:token', { config: { operation: 'dms-uploads.put' } }, async (req, reply) => {
      const drain = async () => void (await readBody(req.body as Readable | undefined, 0));
      const target = d.uploadUrls.get(req.params.token);
      const a = target ? d.assets.get(target.urn) : undefined;
      if (!target || !a) return (await drain(), liError(reply, { status: 404, message: 'Upload URL not found' }));
      if (req.headers.authorization) {
        const check = await d.oauth.verify(req.headers.authorization);
        if (!check.ok) return (await drain(), liError(reply, TOKEN_ERRORS[check.reason]));
      }
      if (Date.now() > a.uploadUrlExpiresAt) return (await drain(), liError(reply, { status: 400, message: 'The upload URL has expired' }));
      if (target.part === -1) return (await drain(), reply.code(201).send()); // captions or thumbnail: taken, not checked
      const part = a.parts[target.part]!;
      if (part.used) return (await drain(), liError(reply, { status: 400, message: 'This upload URL was already used' }));
      if (a.kind === 'video') {
        const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
        if (type !== 'application/octet-stream') return (await drain(), liError(reply, { status: 400, message: `Video parts must be sent as application/octet-stream, not ${type || '(none)'}` }));
        const expected = part.lastByte - part.firstByte + 1;
        const got = await readBody(req.body as Readable | undefined, expected);
        if (got === 'too_large' || got.size !== expected) {
          return liError(reply, { status: 400, message: `Part ${target.part + 1} must be bytes ${part.firstByte}-${part.lastByte} (${expected} bytes)` });
        }
        part.used = true;
        part.head = got.head;
        part.etag = `/${randomBytes(24).toString('base64url')}`;
        return reply.code(201).header('etag', part.etag).send();
      }
      const max = a.kind === 'image' ? d.limits.imageMaxBytes : d.limits.documentMaxBytes;
      const got = await readBody(req.body as Readable | undefined, max);
      if (got === 'too_large') return liError(reply, { status: 413, message: `The file is over the ${max}-byte limit for ${COLLECTIONS[a.kind]}` });
      part.used = true;
      processWhole(a, got);
      return reply.code(201).send();
    });
  });
}
