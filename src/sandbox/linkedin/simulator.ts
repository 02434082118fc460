// A simulator of the LinkedIn APIs Crier uses (platforms.md §2), mounted at /linkedin: OAuth 2.0 at
// LinkedIn's paths (/oauth/v2/authorization, /oauth/v2/accessToken; no PKCE, client secret in the body;
// 60-day access tokens; refresh tokens optional, 365 days and never extended), OpenID userinfo, page roles
// (organizationAcls) and pages (organizations), the Posts API (create, find by author, get), and the
// Images, Videos and Documents APIs (media-routes.ts). Every /rest call checks the version headers and the
// token (rest.ts); posting checks who may post as the author (w_member_social for oneself,
// w_organization_social and a page role for a page), the content and the duplicate rule (posts.ts).
// Sandbox members (POST /_sim/members, or the consent page) each administer one page of their own, so a
// sign-in shows both kinds of account; /_sim/organizations adds pages and roles.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { createSimOAuth, type SimOAuth, type SimUser } from '../oauth.js';
import { registerMediaRoutes } from './media-routes.js';
import { AUTHOR, checkCommentary, checkContent, checkShape, duplicateOf, postView, type SimPost } from './posts.js';
import { accessDenied, caller, liError, TOKEN_ERRORS, type Caller } from './rest.js';
import { DEFAULT_LIMITS, type LinkedInSimLimits, type SimAsset } from './uploads.js';

export type { LinkedInSimLimits, SimAsset } from './uploads.js';
export type { SimPost } from './posts.js';

export type SimOrg = { id: string; localizedName: string; vanityName: string; roles: Map<string, { role: string; state: string }> };

export type LinkedInSimulator = {
  core: SimulatorCore;
  oauth: SimOAuth;
  /** Post URN → post. */
  posts: Map<string, SimPost>;
  /** Asset URN → uploaded image, video or document. */
  assets: Map<string, SimAsset>;
  /** Numeric id → page. */
  organizations: Map<string, SimOrg>;
  limits: LinkedInSimLimits;
  plugin: (app: FastifyInstance) => Promise<void>;
};

export const SCOPES = ['openid', 'profile', 'email', 'w_member_social', 'r_member_social', 'w_organization_social', 'r_organization_social', 'rw_organization_admin', 'r_organization_admin'] as const;
/** What a sandbox member's token carries: an app with every product, r_member_social included. */
const SANDBOX_SCOPES = ['openid', 'profile', 'w_member_social', 'r_member_social', 'w_organization_social', 'r_organization_social', 'rw_organization_admin'];
/** Page roles that may post as the page (Posts API, w_organization_social). */
const POSTING_ROLES = new Set(['ADMINISTRATOR', 'CONTENT_ADMIN', 'DIRECT_SPONSORED_CONTENT_POSTER']);
const DAY = 86_400;

const hash = (s: string) => createHash('sha256').update(s).digest();

export function createLinkedInSimulator(opts: { secret?: string; limits?: Partial<LinkedInSimLimits>; refreshTokens?: boolean } = {}): LinkedInSimulator {
  const limits: LinkedInSimLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const core = createSimulatorCore();
  const posts = new Map<string, SimPost>();
  const assets = new Map<string, SimAsset>();
  const uploadUrls = new Map<string, { urn: string; part: number }>();
  const organizations = new Map<string, SimOrg>();
  const members = new Set<string>();
  // A refresh token's 365 days run from the first sign-in: a refresh answers the time left (platforms.md).
  const refreshDeadline = new Map<string, number>();
  let nextShare = 7_300_000_000_000_000_000n + BigInt(randomBytes(4).readUInt32BE());

  const oauth = createSimOAuth(
    {
      authorizePath: '/oauth/v2/authorization',
      tokenPath: '/oauth/v2/accessToken',
      scopes: SCOPES,
      scopeSeparator: ' ',
      pkce: 'optional',
      clientAuth: 'body',
      accessTtlSec: 60 * DAY,
      // Most apps get no refresh token; the sandbox app is one LinkedIn approved (opts.refreshTokens false: the common case).
      refresh: opts.refreshTokens === false ? null : { ttlSec: 365 * DAY, rotate: false },
      userId: (username) => hash(`linkedin:${username}`).toString('base64url').slice(0, 10),
      tokenExtras(grant) {
        // LinkedIn lists the granted scopes comma-separated in its token answer.
        const extras: Record<string, unknown> = { scope: grant.scopes.join(',') };
        if (opts.refreshTokens !== false) {
          const now = Math.floor(Date.now() / 1000);
          const deadline = refreshDeadline.get(grant.family) ?? now + 365 * DAY;
          refreshDeadline.set(grant.family, deadline);
          extras['refresh_token_expires_in'] = deadline - now;
        }
        return extras;
      },
    },
    { secret: opts.secret },
  );

  function addOrganization(name: string, vanity: string, roles: [string, string][], id?: string): SimOrg {
    const orgId = id ?? String(10_000_000 + (hash(`org:${vanity}:${randomBytes(4).toString('hex')}`).readUInt32BE() % 90_000_000));
    const org: SimOrg = { id: orgId, localizedName: name, vanityName: vanity, roles: new Map(roles.map(([p, role]) => [p, { role, state: 'APPROVED' }])) };
    organizations.set(orgId, org);
    return org;
  }

  /** A member seen for the first time administers a page of their own (its id derived from theirs, so it survives a restart). */
  function ensureMember(user: SimUser) {
    if (members.has(user.id)) return;
    members.add(user.id);
    const id = String(10_000_000 + (hash(`page:${user.id}`).readUInt32BE() % 90_000_000));
    if (!organizations.has(id)) addOrganization(`${user.name} Company`, `${user.username.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-company`, [[user.id, 'ADMINISTRATOR']], id);
  }

  async function who(req: FastifyRequest, reply: FastifyReply, versioned = true): Promise<Caller | undefined> {
    const c = await caller(req, reply, oauth, versioned);
    if (c) ensureMember(c.grant.user);
    return c;
  }

  const orgOf = (urn: string) => organizations.get(/^urn:li:organization:(\d+)$/.exec(urn)?.[1] ?? '');
  const roleIn = (c: Caller, urn: string) => {
    const r = orgOf(urn)?.roles.get(c.personId);
    return r?.state === 'APPROVED' && POSTING_ROLES.has(r.role);
  };
  const mayPostAs = (c: Caller, author: string) =>
    author.startsWith('urn:li:person:') ? author === c.person && c.scopes.has('w_member_social') : c.scopes.has('w_organization_social') && roleIn(c, author);
  const mayReadPosts = (c: Caller, author: string) =>
    author.startsWith('urn:li:person:') ? author === c.person && c.scopes.has('r_member_social') : c.scopes.has('r_organization_social') && roleIn(c, author);
  const mayReadAsset = (c: Caller, owner: string) => (owner.startsWith('urn:li:person:') ? owner === c.person : roleIn(c, owner));
  const version = (req: FastifyRequest) => `${String(req.headers['linkedin-version'] ?? '').replace('.', '')}01`.slice(0, 8);

  /** Whose request it is, for per-account faults and the log: the author or owner it acts for, else the member. */
  function accountOf(req: FastifyRequest): string | undefined {
    const b = req.body as Record<string, any> | undefined;
    const owner = b?.['author'] ?? b?.['initializeUploadRequest']?.['owner'] ?? assets.get(b?.['finalizeUploadRequest']?.['video'])?.owner
      ?? (req.query as Record<string, string>)['author'];
    if (typeof owner === 'string') return owner;
    const params = (req.params ?? {}) as Record<string, string>;
    const upload = uploadUrls.get(params['token'] ?? '');
    if (upload) return assets.get(upload.urn)?.owner;
    const named = assets.get(params['urn'] ?? '')?.owner ?? posts.get(params['urn'] ?? '')?.author;
    if (named) return named;
    try {
      const sub = decodeJwt((req.headers.authorization ?? '').replace(/^Bearer\s+/i, '')).sub;
      return sub ? `urn:li:person:${sub}` : undefined;
    } catch {
      return undefined;
    }
  }

  async function plugin(app: FastifyInstance) {
    installSimulatorCore(
      app,
      core,
      {
        serverError: (status) => ({ status, body: { status, message: status === 503 ? 'Service Unavailable' : status === 504 ? 'Gateway Timeout' : 'Internal Server Error' } }),
        // LinkedIn sends no Retry-After nor rate-limit headers: the fault's seconds cannot be told to the client.
        rateLimited: () => ({ status: 429, headers: {}, body: { status: 429, serviceErrorCode: 101, code: 'TOO_MANY_REQUESTS', message: 'Resource level throttle APPLICATION DAY limit for calls to this resource is reached.' } }),
        expiredToken: () => ({ status: 401, body: TOKEN_ERRORS.expired }),
      },
      accountOf,
    );
    oauth.routes(app);
    const web = (req: FastifyRequest) => `${String(req.headers['x-forwarded-proto'] ?? req.protocol)}://${req.headers.host}${app.prefix}`;
    await registerMediaRoutes(app, { oauth, assets, uploadUrls, limits, mayPostAs, mayReadAsset, web });

    app.post('/rest/posts', { config: { operation: 'posts.create' } }, async (req, reply) => {
      const c = await who(req, reply);
      if (!c) return reply;
      const shape = checkShape(req.body);
      if (shape) return liError(reply, shape);
      const b = req.body as Record<string, unknown>;
      const author = b['author'] as string;
      if (!mayPostAs(c, author)) return liError(reply, accessDenied(`partnerApiPostsExternal.CREATE.${version(req)}`));
      const content = checkContent(b['content'], author, assets);
      if (content) return liError(reply, content);
      const commentary = checkCommentary(b, limits);
      if ('status' in commentary) return liError(reply, commentary);
      const dup = duplicateOf(posts.values(), author, (b['commentary'] as string | undefined) ?? '');
      if (dup) return liError(reply, dup);
      const id = `urn:li:share:${nextShare++}`;
      const now = Date.now();
      posts.set(id, {
        id, author, commentary: (b['commentary'] as string | undefined) ?? '', visibility: b['visibility'] as string, distribution: b['distribution'] as Record<string, unknown>,
        ...(b['content'] ? { content: b['content'] as Record<string, unknown> } : {}), lifecycleState: b['lifecycleState'] as string,
        isReshareDisabledByAuthor: b['isReshareDisabledByAuthor'] === true, createdAt: now, lastModifiedAt: now,
        ...(b['lifecycleState'] === 'PUBLISHED' ? { publishedAt: now } : {}), text: commentary.text,
      });
      return reply.code(201).header('x-restli-id', id).send();
    });

    app.get<{ Querystring: Record<string, string | undefined> }>('/rest/posts', { config: { operation: 'posts.finder' } }, async (req, reply) => {
      const c = await who(req, reply);
      if (!c) return reply;
      const { q, author, sortBy } = req.query;
      if (q !== 'author') return liError(reply, { status: 400, message: `Unsupported finder ${q ?? '(none)'} on /rest/posts` });
      if (!author || !AUTHOR.test(author)) return liError(reply, { status: 400, message: 'The author finder needs an author person or organization URN' });
      if (!mayReadPosts(c, author)) return liError(reply, accessDenied(`partnerApiPostsExternal.FINDER-author.${version(req)}`));
      const start = Math.max(0, Number(req.query.start ?? 0) || 0);
      const count = Math.min(100, Math.max(1, Number(req.query.count ?? 10) || 10));
      const key = sortBy === 'CREATED' ? 'createdAt' : 'lastModifiedAt';
      const mine = [...posts.values()].filter((p) => p.author === author).sort((x, y) => y[key] - x[key] || (y.id > x.id ? 1 : -1));
      return { paging: { start, count, links: [], total: mine.length }, elements: mine.slice(start, start + count).map(postView) };
    });

    app.get<{ Params: { urn: string } }>('/rest/posts/:urn', { config: { operation: 'posts.get' } }, async (req, reply) => {
      const c = await who(req, reply);
      if (!c) return reply;
      const p = posts.get(req.params.urn);
      if (!p) return liError(reply, { status: 404, message: `Post ${req.params.urn} not found` });
      if (!mayReadPosts(c, p.author)) return liError(reply, accessDenied(`partnerApiPostsExternal.GET.${version(req)}`));
      return postView(p);
    });

    app.get('/v2/userinfo', { config: { operation: 'userinfo' } }, async (req, reply) => {
      const c = await who(req, reply, false);
      if (!c) return reply;
      if (!c.scopes.has('openid')) return liError(reply, accessDenied('userinfo.GET.NO_VERSION'));
      const name = c.grant.user.name;
      const [given, ...family] = name.split(' ');
      return {
        sub: c.personId, name, given_name: given, family_name: family.join(' ') || given, locale: { country: 'US', language: 'en' },
        ...(c.scopes.has('email') ? { email: `${c.grant.user.username.toLowerCase()}@sandbox.example`, email_verified: true } : {}),
      };
    });

    app.get<{ Querystring: Record<string, string | undefined> }>('/rest/organizationAcls', { config: { operation: 'organizationAcls.finder' } }, async (req, reply) => {
      const c = await who(req, reply);
      if (!c) return reply;
      if (!['rw_organization_admin', 'r_organization_admin', 'w_organization_social', 'r_organization_social'].some((s) => c.scopes.has(s))) {
        return liError(reply, accessDenied(`organizationAcls.FINDER-roleAssignee.${version(req)}`));
      }
      if (req.query.q !== 'roleAssignee') return liError(reply, { status: 400, message: `Unsupported finder ${req.query.q ?? '(none)'} on /rest/organizationAcls` });
      const start = Math.max(0, Number(req.query.start ?? 0) || 0);
      const count = Math.min(100, Math.max(1, Number(req.query.count ?? 10) || 10));
      const acls = [...organizations.values()].flatMap((o) => {
        const r = o.roles.get(c.personId);
        return r ? [{ roleAssignee: c.person, role: r.role, state: r.state, organization: `urn:li:organization:${o.id}` }] : [];
      }).filter((a) => (!req.query.role || a.role === req.query.role) && (!req.query.state || a.state === req.query.state));
      return { paging: { start, count, links: [], total: acls.length }, elements: acls.slice(start, start + count) };
    });

    app.get<{ Querystring: { ids?: string } }>('/rest/organizations', { config: { operation: 'organizations.batchGet' } }, async (req, reply) => {
      const c = await who(req, reply);
      if (!c) return reply;
      const ids = /^List\(([\d,]*)\)$/.exec(req.query.ids ?? '')?.[1]?.split(',').filter(Boolean);
      if (!ids) return liError(reply, { status: 400, message: 'ids must be List(id1,id2,…) (Rest.li protocol 2.0.0)' });
      const results: Record<string, unknown> = {};
      const statuses: Record<string, number> = {};
      const errors: Record<string, unknown> = {};
      for (const id of ids) {
        const o = organizations.get(id);
        if (o) [results[id], statuses[id]] = [{ id: Number(id), localizedName: o.localizedName, vanityName: o.vanityName, name: { localized: { en_US: o.localizedName } } }, 200];
        else [errors[id], statuses[id]] = [{ status: 404, message: `Organization ${id} not found` }, 404];
      }
      return { results, statuses, errors };
    });

    // What a sandbox post's URL shows.
    app.get<{ Params: { urn: string } }>('/feed/update/:urn', async (req, reply) => {
      const p = posts.get(req.params.urn);
      if (!p) return reply.code(404).type('text/plain').send('Post not found on the LinkedIn sandbox');
      return { sandbox: 'linkedin', post: postView(p), text: p.text };
    });

    // Sandbox and test controls.
    app.post<{ Body: { username?: string; scopes?: string[] } }>('/_sim/members', async (req, reply) => {
      const username = req.body?.username ?? '';
      if (!/^[A-Za-z0-9_-]{1,30}$/.test(username)) return reply.code(400).send({ message: 'username: 1 to 30 letters, digits, _ or -' });
      const scopes = req.body?.scopes ?? SANDBOX_SCOPES;
      if (scopes.some((s) => !(SCOPES as readonly string[]).includes(s))) return reply.code(400).send({ message: 'unknown scope' });
      // A fresh member each time (two workspaces naming the same sandbox user must not share posts).
      const user = oauth.user(`${username}_${randomBytes(4).toString('hex')}`);
      user.name = username;
      ensureMember(user);
      return reply.code(201).send({ sub: user.id, name: user.name, token: await oauth.issue(user, scopes) });
    });
    app.post<{ Body: { name?: string; vanity_name?: string; roles?: { person: string; role: string; state?: string }[] } }>('/_sim/organizations', async (req, reply) => {
      const name = req.body?.name;
      if (!name) return reply.code(400).send({ message: 'name is required' });
      const org = addOrganization(name, req.body.vanity_name ?? name.toLowerCase().replace(/[^a-z0-9]+/g, '-'), []);
      for (const r of req.body.roles ?? []) org.roles.set(r.person.replace(/^urn:li:person:/, ''), { role: r.role, state: r.state ?? 'APPROVED' });
      return reply.code(201).send({ id: org.id, urn: `urn:li:organization:${org.id}` });
    });
    app.get<{ Querystring: { author?: string } }>('/_sim/posts', async (req) => ({
      posts: [...posts.values()].filter((p) => !req.query.author || p.author === req.query.author),
    }));
    app.get<{ Params: { urn: string } }>('/_sim/assets/:urn', async (req, reply) => {
      const a = assets.get(req.params.urn);
      if (!a) return reply.code(404).send({ message: 'no such asset' });
      const { parts, ...rest } = a;
      return { ...rest, parts: parts.map((p) => ({ firstByte: p.firstByte, lastByte: p.lastByte, uploaded: p.used, etag: p.etag })) };
    });
    app.get('/_sim/limits', async () => limits);
    app.put<{ Body: Partial<LinkedInSimLimits> }>(
      '/_sim/limits',
      { schema: { body: { type: 'object', additionalProperties: false, properties: Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((k) => [k, { type: 'integer', minimum: 0 }])) } } },
      async (req) => Object.assign(limits, req.body),
    );
  }

  return { core, oauth, posts, assets, organizations, limits, plugin };
}
