// Video uploads (platforms.md §8 "Video upload"): POST /v5/media registers an upload and answers an S3
// upload_url with upload_parameters; the file goes there as an S3 form POST (every parameter first, then
// `file`); GET /v5/media/{id} reports registered → processing → succeeded|failed over time. The S3 side is
// served by the simulator at `<mount>/_s3/pinterest-media-upload/` (the real one is
// https://pinterest-media-upload.s3-accelerate.amazonaws.com/) and answers as S3 does: 204 on success, XML
// errors otherwise. It checks the policy fields come back unchanged, before the file, and the size limit;
// processing succeeds for MP4/MOV bytes (an `ftyp` box) and fails for anything else.
// Not reproduced: S3's signature arithmetic (the fields are compared to what was issued), the policy's
// expiry, and Pinterest's checks of a video's duration, codecs and dimensions.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { boundaryOf, parseMultipart } from '../x/multipart.js';
import type { PinterestSimState } from './simulator.js';
import { invalid, mediaStatus, notFound, pinId, type SimMedia } from './state.js';

export const S3_PATH = '/_s3/pinterest-media-upload/';

function s3Error(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).type('application/xml').send(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${randomBytes(8).toString('hex').toUpperCase()}</RequestId></Error>`);
}

const isVideo = (head: Buffer) => head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp';

export function mediaRoutes(app: FastifyInstance, state: PinterestSimState): void {
  app.post('/v5/media', { config: { operation: 'media/create' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['pins:write'], 'write');
    if (!grant) return reply;
    const b = req.body as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object') return invalid(reply, 'Invalid request body: expected a JSON object.');
    const unknown = Object.keys(b).filter((k) => k !== 'media_type');
    if (unknown.length > 0) return invalid(reply, `Invalid parameters: ${unknown.join(', ')} is not a valid field.`);
    if (b['media_type'] !== 'video') return invalid(reply, 'media_type must be video.');
    const id = pinId();
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const uploadParameters: Record<string, string> = {
      'x-amz-date': date,
      'x-amz-signature': randomBytes(32).toString('hex'),
      'x-amz-security-token': randomBytes(48).toString('base64'),
      'x-amz-algorithm': 'AWS4-HMAC-SHA256',
      key: `uploads/${randomBytes(4).toString('hex')}/${id}`,
      policy: Buffer.from(JSON.stringify({ expiration: new Date(Date.now() + 3600_000).toISOString(), conditions: [{ bucket: 'pinterest-media-upload' }] })).toString('base64'),
      'x-amz-credential': `ASIA${randomBytes(8).toString('hex').toUpperCase()}/${date.slice(0, 8)}/us-east-1/s3/aws4_request`,
      'Content-Type': 'multipart/form-data',
    };
    const m: SimMedia = { id, ownerId: grant.user.id, mediaType: 'video', uploadParameters, registeredAt: Date.now(), processingMs: state.config.processingMs };
    state.media.set(id, m);
    const uploadUrl = `${req.protocol}://${req.headers.host}${app.prefix}${S3_PATH}`;
    return reply.code(201).send({ media_id: id, media_type: 'video', upload_url: uploadUrl, upload_parameters: uploadParameters });
  });

  app.get<{ Params: { media_id: string } }>('/v5/media/:media_id', { config: { operation: 'media/get' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['pins:read'], 'read');
    if (!grant) return reply;
    const m = state.media.get(req.params.media_id);
    if (!m || m.ownerId !== grant.user.id) return notFound(reply, 'Media');
    return { media_id: m.id, media_type: m.mediaType, status: mediaStatus(m) };
  });

  // S3's form POST: a context of its own with a buffered multipart body.
  app.register(async (raw) => {
    const limit = () => state.config.videoMaxBytes + 1024 * 1024;
    // Crier's app may have a multipart parser of its own: this context replaces it with a buffered one.
    if (raw.hasContentTypeParser('multipart/form-data')) raw.removeContentTypeParser('multipart/form-data');
    raw.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: 2_100 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    raw.post(S3_PATH, { config: { operation: 's3/upload' }, bodyLimit: 2_100 * 1024 * 1024 }, async (req: FastifyRequest, reply) => {
      const boundary = boundaryOf(req.headers['content-type']);
      if (!Buffer.isBuffer(req.body) || !boundary) return s3Error(reply, 412, 'PreconditionFailed', 'Bucket POST must be of the enclosure-type multipart/form-data');
      if (req.body.length > limit()) return s3Error(reply, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
      const form = parseMultipart(req.body, boundary);
      if (!form) return s3Error(reply, 400, 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.');
      const key = form.fields['key'];
      const m = [...state.media.values()].find((x) => x.uploadParameters['key'] === key);
      if (!m) return s3Error(reply, 403, 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "uploads/"]');
      for (const [name, value] of Object.entries(m.uploadParameters)) {
        if (form.fields[name] !== value) return s3Error(reply, 403, 'AccessDenied', `Invalid according to Policy: Policy Condition failed: ["eq", "$${name}", "${value}"]`);
      }
      const file = form.files['file'];
      if (!file) return s3Error(reply, 400, 'InvalidArgument', 'POST requires exactly one file upload per request.');
      // S3 ignores every field after the file: policy fields sent after it are missing as far as S3 knows.
      const fileAt = req.body.indexOf(Buffer.from('name="file"'));
      for (const name of Object.keys(m.uploadParameters)) {
        if (req.body.indexOf(Buffer.from(`name="${name}"`)) > fileAt) return s3Error(reply, 400, 'InvalidArgument', `Bucket POST must contain a field named '${name}' before the file.`);
      }
      if (m.uploadedAt !== undefined) return s3Error(reply, 403, 'AccessDenied', 'Invalid according to Policy: the upload was already used.');
      if (file.data.length > state.config.videoMaxBytes) return s3Error(reply, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
      m.uploadedAt = Date.now();
      m.size = file.data.length;
      m.processable = isVideo(file.data.subarray(0, 12));
      m.processingMs = state.config.processingMs;
      return reply.code(204).send();
    });
  });
}
