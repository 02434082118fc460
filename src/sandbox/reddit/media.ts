// Reddit's media upload lease and the S3 form it points at (platforms.md §10 "Media upload"; Reddit does not
// document it, the fields below are those clients see). POST /api/media/asset.json (scope submit, form:
// filepath, mimetype) answers an `args.action` (protocol-relative, here this simulator's own /_s3 path)
// and `args.fields`, among them a base64 `policy` (expiry, bucket, key, content type, size range) and its
// signature. The S3 route checks what S3 checks for a browser-form POST: every policy field present and
// unchanged, the signature, the expiry, the size range, and the file as the last part; it answers 201 with
// XML naming the <Location> that /api/submit then takes. S3's refusals are XML <Error> documents.
// Not reproduced: Reddit's asynchronous processing of the file (a file that is not an image fails there,
// after the post was accepted), videos and their poster images, the websocket that announces the post.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { boundaryOf, parseMultipart } from '../x/multipart.js';
import { httpError, type RedditSimState } from './simulator.js';

const BUCKET = 'reddit-uploaded-media';
const TYPES: Record<string, string> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/gif': 'gif' };

const s3Error = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply.code(status).type('application/xml').send(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${randomBytes(8).toString('hex').toUpperCase()}</RequestId></Error>`);

export function mediaRoutes(app: FastifyInstance, state: RedditSimState): void {
  const sign = (policy: string) => createHmac('sha256', state.secret).update(policy).digest('hex');

  app.post('/api/media/asset.json', { config: { operation: 'media.asset' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, 'submit');
    if (!grant) return reply;
    const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    const f = (isForm ? req.body ?? {} : {}) as Record<string, string | undefined>;
    const mimetype = f['mimetype'];
    if (!f['filepath'] || !mimetype) return httpError(reply, 400, { explanation: 'filepath and mimetype are required' });
    if (!TYPES[mimetype]) return httpError(reply, 400, { explanation: `mimetype ${mimetype} is not supported` });
    const id = randomBytes(8).toString('hex');
    const key = `rte_images/${id}`;
    const expiresAt = Date.now() + state.config.leaseTtlSec * 1000;
    const conditions = [{ bucket: BUCKET }, { key }, { 'content-type': mimetype }, { success_action_status: '201' }, ['content-length-range', 0, state.config.imageMaxBytes]];
    const policy = Buffer.from(JSON.stringify({ expiration: new Date(expiresAt).toISOString(), conditions })).toString('base64');
    state.assets.set(id, { id, owner: grant.user.id, key, filepath: f['filepath'], mimetype, expiresAt });
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const fields = [
      { name: 'acl', value: 'private' },
      { name: 'key', value: key },
      { name: 'X-Amz-Credential', value: `ASIASIMULATOR/${date.slice(0, 8)}/us-east-1/s3/aws4_request` },
      { name: 'X-Amz-Algorithm', value: 'AWS4-HMAC-SHA256' },
      { name: 'X-Amz-Date', value: date },
      { name: 'success_action_status', value: '201' },
      { name: 'content-type', value: mimetype },
      { name: 'x-amz-storage-class', value: 'STANDARD' },
      { name: 'x-amz-meta-ext', value: TYPES[mimetype]! },
      { name: 'policy', value: policy },
      { name: 'X-Amz-Signature', value: sign(policy) },
      { name: 'x-amz-security-token', value: randomBytes(16).toString('base64') },
    ];
    const action = `//${req.headers.host}${new URL(state.origin(req)).pathname.replace(/\/$/, "")}/_s3/${BUCKET}`;
    return { args: { action, fields }, asset: { asset_id: id, processing_state: 'incomplete', payload: { filepath: f['filepath'] }, websocket_url: `wss://ws-sim.redditmedia.com/rte_images/${id}` } };
  });

  app.register(async (raw) => {
    raw.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: 64 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    raw.post(`/_s3/${BUCKET}`, { config: { operation: 's3.upload' }, bodyLimit: 64 * 1024 * 1024 }, async (req, reply) => {
      const boundary = boundaryOf(req.headers['content-type']);
      const body = req.body as Buffer | undefined;
      if (!boundary || !Buffer.isBuffer(body)) return s3Error(reply, 412, 'PreconditionFailed', 'Bucket POST must be of the enclosure-type multipart/form-data');
      const form = parseMultipart(body, boundary);
      if (!form) return s3Error(reply, 400, 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.');
      const file = form.files['file'];
      // S3 ignores every field after the file: a field sent after it is as good as missing.
      const lastName = [...body.toString('latin1').matchAll(/Content-Disposition: form-data; name="([^"]*)"/gi)].pop()?.[1];
      if (!file || lastName !== 'file') return s3Error(reply, 400, 'InvalidArgument', 'POST requires exactly one file upload per request, as the last field.');
      const f = form.fields;
      const policy = f['policy'];
      const sig = f['X-Amz-Signature'] ?? '';
      if (!policy || !f['X-Amz-Credential'] || !f['X-Amz-Algorithm'] || !f['X-Amz-Date']) return s3Error(reply, 400, 'InvalidArgument', 'Bucket POST must contain the policy and the X-Amz-* fields');
      const want = Buffer.from(sign(policy));
      if (want.length !== Buffer.byteLength(sig) || !timingSafeEqual(want, Buffer.from(sig))) return s3Error(reply, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
      const doc = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as { expiration: string; conditions: unknown[] };
      if (Date.parse(doc.expiration) < Date.now()) return s3Error(reply, 403, 'AccessDenied', 'Invalid according to Policy: Policy expired.');
      for (const c of doc.conditions) {
        if (Array.isArray(c)) {
          const [, min, max] = c as [string, number, number];
          if (file.data.length < min || file.data.length > max) return s3Error(reply, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
          continue;
        }
        const [name, value] = Object.entries(c as Record<string, string>)[0]!;
        if (name === 'bucket') continue;
        if (f[name] !== value) return s3Error(reply, 403, 'AccessDenied', `Invalid according to Policy: Policy Condition failed: ["eq", "$${name}", "${value}"]`);
      }
      const asset = [...state.assets.values()].find((a) => a.key === f['key']);
      if (!asset) return s3Error(reply, 403, 'AccessDenied', 'Access Denied');
      asset.uploaded = { bytes: file.data, at: Date.now() };
      const location = `${state.origin(req)}/_s3/${BUCKET}/${encodeURIComponent(asset.key)}`;
      const etag = createHash('md5').update(file.data).digest('hex');
      return reply.code(201).type('application/xml').send(
        `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${location}</Location><Bucket>${BUCKET}</Bucket><Key>${asset.key}</Key><ETag>"${etag}"</ETag></PostResponse>`,
      );
    });
  });

  // The uploaded file, and Reddit's copy an image post links to (i.redd.it).
  const serve = (key: string | undefined, reply: FastifyReply) => {
    const asset = [...state.assets.values()].find((a) => a.key === key || a.key.endsWith(`/${key}`));
    if (!asset?.uploaded) return s3Error(reply, 404, 'NoSuchKey', 'The specified key does not exist.');
    return reply.type(asset.mimetype).send(asset.uploaded.bytes);
  };
  app.get<{ Params: { key: string } }>(`/_s3/${BUCKET}/:key`, async (req, reply) => serve(decodeURIComponent(req.params.key), reply));
  app.get<{ Params: { key: string } }>('/i/:key', async (req, reply) => serve(req.params.key, reply));
}
