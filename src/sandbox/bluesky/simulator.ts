// A simulator of the part of a Bluesky PDS that Crier uses (XRPC, platforms.md §9): accounts and
// sessions with rotating refresh tokens (and a DID document naming the account's PDS), resolveHandle,
// createRecord with app.bsky.feed.post validation (records.ts: facets, replies; blobs.ts: image, video and
// link-card embeds), getRecord, listRecords, deleteRecord, uploadBlob. It rejects what a real PDS rejects
// (plus two sandbox checks records.ts explains) and keeps what was posted.
// Tokens are HS256 JWTs, so sessions survive a restart of the sandbox when the secret is kept.
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SignJWT, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { TID_PATTERN, encodeTid } from '../../connectors/bluesky/tid.js';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { DEFAULT_LIMITS, cidFor, readUpload, resolveBlobRefs, sniffMime, validateEmbed, type BlueskySimLimits, type SimBlob } from './blobs.js';
import { POST, sandboxChecks, validatePost, type Strictness } from './records.js';

export type { BlueskySimLimits, SimBlob } from './blobs.js';

export type SimRecord = { uri: string; cid: string; collection: string; rkey: string; value: Record<string, unknown>; indexedAt: string };
/** `pds`: the #atproto_pds endpoint of its DID document (default: this simulator's own URL). */
type SimAccount = { did: string; handle: string; password: string; pds?: string };

export type BlueskySimulator = {
  core: SimulatorCore;
  accounts: Map<string, SimAccount>;
  /** did → "collection/rkey" → record */
  repos: Map<string, Map<string, SimRecord>>;
  /** did → CID → uploaded blob (a real PDS garbage-collects unreferenced ones; the sandbox keeps them). */
  blobs: Map<string, Map<string, SimBlob>>;
  /** Size limits, changeable at run time (also through PUT /_sim/limits). */
  limits: BlueskySimLimits;
  /** The checks beyond the real PDS (records.ts), on by default; changeable at run time. */
  strict: Strictness;
  plugin: (app: FastifyInstance) => Promise<void>;
};

const ACCESS_TTL = '2h';
const REFRESH_TTL = '90d';

export function createBlueskySimulator(opts: { secret?: string; limits?: Partial<BlueskySimLimits> } = {}): BlueskySimulator {
  const limits: BlueskySimLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const strict: Strictness = { facetRanges: true, replyTargets: true };
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

  /** What a PDS with didDocWithSession returns: the account's DID document, naming its PDS. */
  function didDoc(account: SimAccount, req: FastifyRequest) {
    const self = `${req.protocol}://${req.host}${req.url.slice(0, req.url.indexOf('/xrpc/'))}`;
    return {
      '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
      id: account.did,
      alsoKnownAs: [`at://${account.handle}`],
      service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: account.pds ?? self }],
    };
  }

  async function issueSession(account: SimAccount, req: FastifyRequest) {
    const now = Math.floor(Date.now() / 1000);
    const accessJwt = await new SignJWT({ scope: 'com.atproto.access', handle: account.handle })
      .setProtectedHeader({ alg: 'HS256' }).setSubject(account.did).setIssuedAt(now).setExpirationTime(ACCESS_TTL).sign(key);
    const refreshJwt = await new SignJWT({ scope: 'com.atproto.refresh', handle: account.handle })
      .setProtectedHeader({ alg: 'HS256' }).setSubject(account.did).setJti(randomBytes(12).toString('hex'))
      .setIssuedAt(now).setExpirationTime(REFRESH_TTL).sign(key);
    return { did: account.did, handle: account.handle, didDoc: didDoc(account, req), accessJwt, refreshJwt, active: true };
  }

  // Tokens already verified, with their claims: an HMAC check and two JSON parses per request were a third of
  // the simulator's CPU in the 10,000-publication burst (bench/README.md). Expiry is still checked each time.
  const verified = new Map<string, JWTPayload>();
  async function verifyToken(token: string): Promise<JWTPayload> {
    const known = verified.get(token);
    if (known) {
      if ((known.exp ?? 0) * 1000 <= Date.now()) throw Object.assign(new Error('token expired'), { code: 'ERR_JWT_EXPIRED' });
      return known;
    }
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'] });
    if (verified.size >= 20_000) verified.clear();
    verified.set(token, payload);
    return payload;
  }

  /** Verifies a bearer token of the given scope; answers the request itself when it is not valid. */
  async function authenticate(req: FastifyRequest, reply: FastifyReply, scope: 'com.atproto.access' | 'com.atproto.refresh') {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) {
      xrpcError(reply, 401, 'AuthMissing', 'Authentication Required');
      return undefined;
    }
    try {
      const payload = await verifyToken(header.slice(7));
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
      return verified.get(header.slice(7))?.sub ?? decodeJwt(header.slice(7)).sub;
    } catch {
      return undefined;
    }
  }

  function nextTid(): string {
    return encodeTid(BigInt(Date.now()) * 1000n + BigInt(tidCounter++ % 1000), 0);
  }

  /** A record by its at:// URI, for the reply checks; 'not_local' for repos this simulator does not hold. */
  function lookupUri(uri: string) {
    const m = /^at:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(uri);
    const did = m ? (m[1]!.startsWith('did:') ? m[1]! : handles.get(m[1]!)) : undefined;
    if (!m || !did || !repos.has(did)) return 'not_local' as const;
    return repos.get(did)!.get(`${m[2]}/${m[3]}`);
  }

  function recordsUsing(did: string, cid: string): string[] {
    return [...(repos.get(did)?.values() ?? [])].filter((r) => JSON.stringify(r.value).includes(`"$link":"${cid}"`)).map((r) => r.uri);
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
        return issueSession(account, req);
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
        return issueSession(account, req);
      },
    );

    app.post('/xrpc/com.atproto.server.refreshSession', { config: { operation: 'com.atproto.server.refreshSession' } }, async (req, reply) => {
      const auth = await authenticate(req, reply, 'com.atproto.refresh');
      if (!auth) return reply;
      spentRefresh.add(auth.jti ?? ''); // rotation: the presented refresh token is now spent
      return issueSession(auth.account, req);
    });

    app.get<{ Querystring: { handle?: string } }>(
      '/xrpc/com.atproto.identity.resolveHandle',
      { config: { operation: 'com.atproto.identity.resolveHandle' } },
      async (req, reply) => {
        const handle = (req.query.handle ?? '').toLowerCase();
        if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(handle)) {
          return xrpcError(reply, 400, 'InvalidRequest', `Invalid com.atproto.identity.resolveHandle params: Invalid handle (got ${JSON.stringify(req.query.handle ?? '')})`);
        }
        const did = handles.get(handle);
        return did ? { did } : xrpcError(reply, 400, 'HandleNotFound', 'Unable to resolve handle');
      },
    );

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
          const problem = validatePost(record) ?? sandboxChecks(record, strict, lookupUri);
          if (problem) return xrpcError(reply, 400, problem.error, problem.message);
          const embed = validateEmbed(record['embed'], limits);
          if (embed.problem) return xrpcError(reply, 400, embed.problem.error, embed.problem.message);
          if (rkey !== undefined && !TID_PATTERN.test(rkey)) return xrpcError(reply, 400, 'InvalidRequest', `Invalid TID: ${rkey}`);
          // Blobs are resolved when the write is applied, after the record itself validated.
          const missing = resolveBlobRefs(embed.refs, blobs.get(auth.account.did)!);
          if (missing) return xrpcError(reply, 400, missing.error, missing.message);
        }
        const key = rkey ?? nextTid();
        const repoRecords = repos.get(auth.account.did)!;
        // A real PDS fails inside its repository tree ("There is already a value at key") with a 500.
        if (repoRecords.has(`${collection}/${key}`)) return xrpcError(reply, 500, 'InternalServerError', 'Internal Server Error');
        const value = record;
        const cid = cidFor(0x71, createHash('sha256').update(JSON.stringify(value)).digest());
        const uri = `at://${auth.account.did}/${collection}/${key}`;
        repoRecords.set(`${collection}/${key}`, { uri, cid, collection, rkey: key, value, indexedAt: new Date().toISOString() });
        return { uri, cid, commit: { cid: cidFor(0x71, randomBytes(32)), rev: nextTid() }, validationStatus: 'valid' };
      },
    );

    // uploadBlob takes a raw body of any type, streamed (a video may be tens of MB): in a context of its
    // own, so no other route parses bodies that way.
    await app.register(async (raw) => {
      raw.removeAllContentTypeParsers();
      raw.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
      raw.post('/xrpc/com.atproto.repo.uploadBlob', { config: { operation: 'com.atproto.repo.uploadBlob' } }, async (req, reply) => {
        const auth = await authenticate(req, reply, 'com.atproto.access');
        if (!auth) return reply;
        const declared = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!declared) return xrpcError(reply, 400, 'InvalidRequest', 'Request encoding (Content-Type) required but not provided');
        const length = Number(req.headers['content-length'] ?? Number.NaN);
        if (length > limits.uploadMaxBytes) return xrpcError(reply, 413, 'PayloadTooLarge', 'request entity too large');
        const read = await readUpload(req.body as Readable | undefined, limits.uploadMaxBytes);
        if (read === 'too_large') return xrpcError(reply, 413, 'PayloadTooLarge', 'request entity too large');
        const mimeType = sniffMime(read.head) ?? declared;
        const cid = cidFor(0x55, read.sha256);
        blobs.get(auth.account.did)!.set(cid, { cid, mimeType, size: read.size, createdAt: new Date().toISOString() });
        return { blob: { $type: 'blob', ref: { $link: cid }, mimeType, size: read.size } };
      });
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
        return { commit: { cid: cidFor(0x71, randomBytes(32)), rev: nextTid() } };
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

    // Uploaded blobs per repo, with the records that use them (a real PDS would have garbage-collected
    // the ones no record uses; the sandbox keeps them so a test can see every upload).
    app.get<{ Querystring: { repo?: string } }>('/_sim/blobs', async (req) => {
      const dids = req.query.repo ? [req.query.repo] : [...blobs.keys()];
      return {
        blobs: dids.flatMap((did) =>
          [...(blobs.get(did)?.values() ?? [])].map((b) => ({ repo: did, ...b, records: recordsUsing(did, b.cid) })),
        ),
      };
    });

    app.get('/_sim/limits', async () => limits);
    app.put<{ Body: Partial<BlueskySimLimits> }>(
      '/_sim/limits',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            properties: Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((k) => [k, { type: 'integer', minimum: 1 }])),
          },
        },
      },
      async (req) => Object.assign(limits, req.body),
    );
  }

  return { core, accounts, repos, blobs, limits, strict, plugin };
}
