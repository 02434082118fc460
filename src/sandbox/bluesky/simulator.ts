// A simulator of the part of a Bluesky PDS that Crier uses (XRPC, platforms.md §9): accounts and
// sessions with rotating refresh tokens, createRecord with app.bsky.feed.post validation, getRecord,
// listRecords, deleteRecord. It rejects what a real PDS rejects and keeps what was posted.
// Tokens are HS256 JWTs, so sessions survive a restart of the sandbox when the secret is kept.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SignJWT, decodeJwt, jwtVerify } from 'jose';
import { graphemeCount, utf8Bytes } from '../../domain/text.js';
import { TID_PATTERN, encodeTid } from '../../connectors/bluesky/tid.js';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';

export type SimRecord = { uri: string; cid: string; collection: string; rkey: string; value: Record<string, unknown>; indexedAt: string };
type SimAccount = { did: string; handle: string; password: string };

export type BlueskySimulator = {
  core: SimulatorCore;
  accounts: Map<string, SimAccount>;
  /** did → "collection/rkey" → record */
  repos: Map<string, Map<string, SimRecord>>;
  /** did → CID → uploaded blob (a real PDS garbage-collects unreferenced ones; the sandbox keeps them). */
  blobs: Map<string, Map<string, SimBlob>>;
  plugin: (app: FastifyInstance) => Promise<void>;
};

const ACCESS_TTL = '2h';
const REFRESH_TTL = '90d';
const POST = 'app.bsky.feed.post';

export type SimBlob = { cid: string; mimeType: string; size: number };

/** Older PDSes and clients enforce 1,000,000 bytes per image (the 2026 lexicon allows 2,000,000). */
const IMAGE_MAX_BYTES = 1_000_000;
/** The lexicon's video blob limit. */
const BLOB_MAX_BYTES = 300_000_000;

function sniffMime(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'image/jpeg';
  if (bytes.subarray(0, 4).toString('latin1') === '\x89PNG') return 'image/png';
  if (bytes.subarray(0, 3).toString('latin1') === 'GIF') return 'image/gif';
  if (bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  if (bytes.subarray(4, 8).toString('latin1') === 'ftyp') return 'video/mp4';
  if (bytes[0] === 0x1a && bytes[1] === 0x45) return 'video/webm';
  return 'application/octet-stream';
}

export function createBlueskySimulator(opts: { secret?: string } = {}): BlueskySimulator {
  const key = new TextEncoder().encode(opts.secret ?? randomBytes(32).toString('hex'));
  const core = createSimulatorCore();
  const accounts = new Map<string, SimAccount>();
  const handles = new Map<string, string>();
  const repos = new Map<string, Map<string, SimRecord>>();
  const blobs = new Map<string, Map<string, SimBlob>>();
  const spentRefresh = new Set<string>();
  let tidCounter = 0;

  const xrpcError = (reply: FastifyReply, status: number, error: string, message: string) =>
    reply.code(status).send({ error, message });

  async function issueSession(account: SimAccount) {
    const now = Math.floor(Date.now() / 1000);
    const accessJwt = await new SignJWT({ scope: 'com.atproto.access', handle: account.handle })
      .setProtectedHeader({ alg: 'HS256' }).setSubject(account.did).setIssuedAt(now).setExpirationTime(ACCESS_TTL).sign(key);
    const refreshJwt = await new SignJWT({ scope: 'com.atproto.refresh', handle: account.handle })
      .setProtectedHeader({ alg: 'HS256' }).setSubject(account.did).setJti(randomBytes(12).toString('hex'))
      .setIssuedAt(now).setExpirationTime(REFRESH_TTL).sign(key);
    return { did: account.did, handle: account.handle, accessJwt, refreshJwt, active: true };
  }

  /** Verifies a bearer token of the given scope; answers the request itself when it is not valid. */
  async function authenticate(req: FastifyRequest, reply: FastifyReply, scope: 'com.atproto.access' | 'com.atproto.refresh') {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) {
      xrpcError(reply, 401, 'AuthMissing', 'Authentication Required');
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(header.slice(7), key, { algorithms: ['HS256'] });
      if (payload['scope'] !== scope) {
        xrpcError(reply, 400, 'InvalidToken', 'Bad token scope');
        return undefined;
      }
      if (scope === 'com.atproto.refresh' && spentRefresh.has(payload.jti ?? '')) {
        xrpcError(reply, 400, 'ExpiredToken', 'Token has been revoked');
        return undefined;
      }
      const did = payload.sub!;
      // A sandbox restarted with the same secret knows the token but not the account: recreate it.
      if (!accounts.has(did)) addAccount({ did, handle: String(payload['handle']), password: randomBytes(12).toString('hex') });
      return { account: accounts.get(did)!, jti: payload.jti };
    } catch (error) {
      const expired = (error as { code?: string }).code === 'ERR_JWT_EXPIRED';
      xrpcError(reply, 400, expired ? 'ExpiredToken' : 'InvalidToken', expired ? 'Token has expired' : 'Token could not be verified');
      return undefined;
    }
  }

  function addAccount(account: SimAccount) {
    accounts.set(account.did, account);
    handles.set(account.handle, account.did);
    if (!repos.has(account.did)) repos.set(account.did, new Map());
    if (!blobs.has(account.did)) blobs.set(account.did, new Map());
  }

  function accountOf(req: FastifyRequest): string | undefined {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return undefined;
    try {
      return decodeJwt(header.slice(7)).sub;
    } catch {
      return undefined;
    }
  }

  function nextTid(): string {
    return encodeTid(BigInt(Date.now()) * 1000n + BigInt(tidCounter++ % 1000), 0);
  }

  /** The embed rules a PDS applies (lexicons app.bsky.embed.images / .video): blobs of this repo, sizes, types. */
  function validateEmbed(did: string, embed: unknown): string | undefined {
    if (embed === undefined) return undefined;
    const e = embed as { $type?: string; images?: unknown; video?: unknown; alt?: unknown };
    const known = blobs.get(did)!;
    const checkBlob = (where: string, b: unknown, kind: 'image' | 'video'): string | undefined => {
      const blob = b as { $type?: string; ref?: { $link?: string }; mimeType?: string; size?: number } | undefined;
      if (blob?.$type !== 'blob' || typeof blob.ref?.$link !== 'string') return `Invalid ${POST} record: ${where} should be a blob ref`;
      const stored = known.get(blob.ref.$link);
      if (!stored || stored.mimeType !== blob.mimeType || stored.size !== blob.size) return `Could not find blob: ${blob.ref.$link}`;
      if (!stored.mimeType.startsWith(`${kind}/`)) return `Invalid ${POST} record: ${where} mimeType is not accepted (${stored.mimeType})`;
      if (kind === 'image' && stored.size > IMAGE_MAX_BYTES) return `Invalid ${POST} record: ${where} file too large. ${IMAGE_MAX_BYTES} bytes maximum, got: ${stored.size}`;
      return undefined;
    };
    if (e.$type === 'app.bsky.embed.images') {
      if (!Array.isArray(e.images) || e.images.length === 0) return `Invalid ${POST} record: Record/embed/images must be an array`;
      if (e.images.length > 4) return `Invalid ${POST} record: Record/embed/images must not have more than 4 elements`;
      for (const [i, img] of (e.images as { image?: unknown; alt?: unknown; aspectRatio?: { width?: unknown; height?: unknown } }[]).entries()) {
        if (typeof img.alt !== 'string') return `Invalid ${POST} record: Record/embed/images/${i}/alt must be a string`;
        const ar = img.aspectRatio;
        if (ar && !(Number.isInteger(ar.width) && Number.isInteger(ar.height) && (ar.width as number) > 0 && (ar.height as number) > 0)) {
          return `Invalid ${POST} record: Record/embed/images/${i}/aspectRatio must have positive integer width and height`;
        }
        const problem = checkBlob(`Record/embed/images/${i}/image`, img.image, 'image');
        if (problem) return problem;
      }
      return undefined;
    }
    if (e.$type === 'app.bsky.embed.video') return checkBlob('Record/embed/video', e.video, 'video');
    return `Invalid ${POST} record: Record/embed $type ${String(e.$type)} is not supported by the sandbox`;
  }

  function validatePost(record: Record<string, unknown>): string | undefined {
    if (record['$type'] !== POST) return `Invalid ${POST} record: Record/$type must be ${POST}`;
    const text = record['text'];
    if (typeof text !== 'string') return `Invalid ${POST} record: Record/text must be a string`;
    const graphemes = graphemeCount(text);
    if (graphemes > 300) return `Invalid ${POST} record: Record/text grapheme too big (maximum 300, got ${graphemes})`;
    if (utf8Bytes(text) > 3000) return `Invalid ${POST} record: Record/text must not be longer than 3000 characters`;
    const createdAt = record['createdAt'];
    if (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt)) || !/[zZ]|[+-]\d{2}:\d{2}$/.test(createdAt)) {
      return `Invalid ${POST} record: Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)`;
    }
    const langs = record['langs'];
    if (langs !== undefined && (!Array.isArray(langs) || langs.length > 3)) return `Invalid ${POST} record: Record/langs must not have more than 3 elements`;
    return undefined;
  }

  async function plugin(app: FastifyInstance) {
    installSimulatorCore(
      app,
      core,
      {
        serverError: (status) => ({ status, body: { error: status === 502 ? 'UpstreamFailure' : 'InternalServerError', message: 'Internal Server Error' } }),
        rateLimited: (s) => ({
          status: 429,
          body: { error: 'RateLimitExceeded', message: 'Rate Limit Exceeded' },
          headers: { 'retry-after': String(s), 'ratelimit-limit': '5000', 'ratelimit-remaining': '0', 'ratelimit-reset': String(Math.ceil(Date.now() / 1000) + s), 'ratelimit-policy': '5000;w=3600' },
        }),
        expiredToken: () => ({ status: 400, body: { error: 'ExpiredToken', message: 'Token has expired' } }),
      },
      accountOf,
    );

    app.post<{ Body: { handle?: string; password?: string; email?: string } }>(
      '/xrpc/com.atproto.server.createAccount',
      { config: { operation: 'com.atproto.server.createAccount' } },
      async (req, reply) => {
        const { handle, password } = req.body ?? {};
        if (typeof handle !== 'string' || !/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$/.test(handle)) {
          return xrpcError(reply, 400, 'InvalidHandle', 'Handle is not valid');
        }
        if (typeof password !== 'string' || password.length < 8) return xrpcError(reply, 400, 'InvalidRequest', 'Password is required');
        if (handles.has(handle)) return xrpcError(reply, 400, 'HandleNotAvailable', `Handle already taken: ${handle}`);
        const did = `did:plc:${createHash('sha256').update(handle + randomBytes(8).toString('hex')).digest('hex').slice(0, 24)}`;
        const account = { did, handle, password };
        addAccount(account);
        return issueSession(account);
      },
    );

    app.post<{ Body: { identifier?: string; password?: string } }>(
      '/xrpc/com.atproto.server.createSession',
      { config: { operation: 'com.atproto.server.createSession' } },
      async (req, reply) => {
        const { identifier, password } = req.body ?? {};
        const did = identifier?.startsWith('did:') ? identifier : handles.get(identifier ?? '');
        const account = did ? accounts.get(did) : undefined;
        if (!account || account.password !== password) return xrpcError(reply, 401, 'AuthenticationRequired', 'Invalid identifier or password');
        return issueSession(account);
      },
    );

    app.post('/xrpc/com.atproto.server.refreshSession', { config: { operation: 'com.atproto.server.refreshSession' } }, async (req, reply) => {
      const auth = await authenticate(req, reply, 'com.atproto.refresh');
      if (!auth) return reply;
      spentRefresh.add(auth.jti ?? ''); // rotation: the presented refresh token is now spent
      return issueSession(auth.account);
    });

    app.get('/xrpc/com.atproto.server.getSession', { config: { operation: 'com.atproto.server.getSession' } }, async (req, reply) => {
      const auth = await authenticate(req, reply, 'com.atproto.access');
      if (!auth) return reply;
      return { did: auth.account.did, handle: auth.account.handle, active: true };
    });

    app.post<{ Body: { repo?: string; collection?: string; rkey?: string; record?: Record<string, unknown> } }>(
      '/xrpc/com.atproto.repo.createRecord',
      { config: { operation: 'com.atproto.repo.createRecord' } },
      async (req, reply) => {
        const auth = await authenticate(req, reply, 'com.atproto.access');
        if (!auth) return reply;
        const { repo, collection, rkey, record } = req.body ?? {};
        if (repo !== auth.account.did && repo !== auth.account.handle) return xrpcError(reply, 400, 'InvalidRequest', 'Invalid repo');
        if (typeof collection !== 'string' || !record || typeof record !== 'object') return xrpcError(reply, 400, 'InvalidRequest', 'Input must have the properties "repo", "collection" and "record"');
        if (collection === POST) {
          const problem = validatePost(record) ?? validateEmbed(auth.account.did, record['embed']);
          if (problem) return xrpcError(reply, 400, 'InvalidRequest', problem);
          if (rkey !== undefined && !TID_PATTERN.test(rkey)) return xrpcError(reply, 400, 'InvalidRequest', `Invalid TID: ${rkey}`);
        }
        const key = rkey ?? nextTid();
        const repoRecords = repos.get(auth.account.did)!;
        // A real PDS fails inside its repository tree ("There is already a value at key") with a 500.
        if (repoRecords.has(`${collection}/${key}`)) return xrpcError(reply, 500, 'InternalServerError', 'Internal Server Error');
        const value = record;
        const cid = `bafyrei${createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 52)}`;
        const uri = `at://${auth.account.did}/${collection}/${key}`;
        repoRecords.set(`${collection}/${key}`, { uri, cid, collection, rkey: key, value, indexedAt: new Date().toISOString() });
        return { uri, cid, commit: { cid: `bafyrei${randomBytes(20).toString('hex')}`, rev: nextTid() }, validationStatus: 'valid' };
      },
    );

    // Raw bytes of any type for uploadBlob; every other route stays JSON.
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BLOB_MAX_BYTES + 1 }, (_req, body, done) => done(null, body));
    app.post('/xrpc/com.atproto.repo.uploadBlob', { config: { operation: 'com.atproto.repo.uploadBlob' }, bodyLimit: BLOB_MAX_BYTES + 1 }, async (req, reply) => {
      const auth = await authenticate(req, reply, 'com.atproto.access');
      if (!auth) return reply;
      const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (bytes.length === 0) return xrpcError(reply, 400, 'InvalidRequest', 'Request body is empty');
      if (bytes.length > BLOB_MAX_BYTES) return xrpcError(reply, 400, 'BlobTooLarge', `This file is too large. It is ${bytes.length} bytes but the maximum size is ${BLOB_MAX_BYTES} bytes.`);
      const sniffed = sniffMime(bytes);
      const mimeType = sniffed === 'application/octet-stream' ? String(req.headers['content-type'] ?? sniffed).split(';')[0]! : sniffed;
      const cid = `bafkrei${createHash('sha256').update(bytes).digest('hex').slice(0, 52)}`;
      blobs.get(auth.account.did)!.set(cid, { cid, mimeType, size: bytes.length });
      return { blob: { $type: 'blob', ref: { $link: cid }, mimeType, size: bytes.length } };
    });

    app.get<{ Querystring: { repo?: string; collection?: string; rkey?: string } }>(
      '/xrpc/com.atproto.repo.getRecord',
      { config: { operation: 'com.atproto.repo.getRecord' } },
      async (req, reply) => {
        const { repo = '', collection = '', rkey = '' } = req.query;
        const did = repo.startsWith('did:') ? repo : handles.get(repo);
        const found = did ? repos.get(did)?.get(`${collection}/${rkey}`) : undefined;
        if (!found) return xrpcError(reply, 400, 'RecordNotFound', `Could not locate record: at://${repo}/${collection}/${rkey}`);
        return { uri: found.uri, cid: found.cid, value: found.value };
      },
    );

    app.get<{ Querystring: { repo?: string; collection?: string; limit?: string } }>(
      '/xrpc/com.atproto.repo.listRecords',
      { config: { operation: 'com.atproto.repo.listRecords' } },
      async (req, reply) => {
        const { repo = '', collection = '' } = req.query;
        const did = repo.startsWith('did:') ? repo : handles.get(repo);
        if (!did || !repos.has(did)) return xrpcError(reply, 400, 'InvalidRequest', `Could not find repo: ${repo}`);
        const limit = Math.min(100, Math.max(1, Number(req.query.limit ?? 50) || 50));
        const records = [...repos.get(did)!.values()].filter((r) => r.collection === collection).sort((a, b) => (a.rkey < b.rkey ? 1 : -1)).slice(0, limit);
        return { records: records.map((r) => ({ uri: r.uri, cid: r.cid, value: r.value })) };
      },
    );

    app.post<{ Body: { repo?: string; collection?: string; rkey?: string } }>(
      '/xrpc/com.atproto.repo.deleteRecord',
      { config: { operation: 'com.atproto.repo.deleteRecord' } },
      async (req, reply) => {
        const auth = await authenticate(req, reply, 'com.atproto.access');
        if (!auth) return reply;
        repos.get(auth.account.did)!.delete(`${req.body?.collection}/${req.body?.rkey}`);
        return { commit: { cid: `bafyrei${randomBytes(20).toString('hex')}`, rev: nextTid() } };
      },
    );

    // What a sandbox post's URL shows.
    app.get<{ Params: { handle: string; rkey: string } }>('/profile/:handle/post/:rkey', async (req, reply) => {
      const did = handles.get(req.params.handle);
      const found = did ? repos.get(did)?.get(`${POST}/${req.params.rkey}`) : undefined;
      if (!found) return reply.code(404).type('text/plain').send('Post not found on the Bluesky sandbox');
      return { sandbox: 'bluesky', handle: req.params.handle, uri: found.uri, record: found.value, indexed_at: found.indexedAt };
    });

    app.get<{ Querystring: { repo?: string } }>('/_sim/records', async (req) => {
      const all = req.query.repo ? [repos.get(req.query.repo) ?? new Map()] : [...repos.values()];
      return { records: all.flatMap((m) => [...m.values()]) };
    });
  }

  return { core, accounts, repos, blobs, plugin };
}
