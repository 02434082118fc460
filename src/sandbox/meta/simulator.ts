// A simulator of the Graph API that Facebook Pages and Instagram (with Facebook Login) publish through
// (platforms.md §3, §4). One state, mounted twice (/facebook and /instagram), so a Page and the Instagram
// account linked to it work through either mount. It serves Graph's versioned paths, Facebook Login
// (tokens.ts), Pages and their posts, photos and videos (facebook.ts, facebook-video.ts), Instagram
// containers and media (instagram.ts), and refuses what Graph refuses with Graph's error objects.
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SANDBOX_APP } from '../../connectors/auth-types.js';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { actsFor, idParam, type SimDeps } from './access.js';
import { facebookRoutes, pageNode, pageStories, photoNode, postNode, versionCheck } from './facebook.js';
import { facebookVideoRoutes, videoNode } from './facebook-video.js';
import { freshConfig, invalidParam, noSuchObject, params, select, tokenOf, type MetaSimConfig } from './graph.js';
import { containerStatus, igStories, instagramRoutes, mediaNode } from './instagram.js';
import { ALL_TASKS, createPage, createState, ownerOf, type MetaState } from './state.js';
import { META_SIM_SCOPES, createMetaTokens, type MetaTokens } from './tokens.js';

export type { MetaSimConfig } from './graph.js';

export type MetaSimulator = MetaState & {
  core: SimulatorCore;
  /** Changeable at run time (also through PUT /_sim/config). */
  config: MetaSimConfig;
  tokens: MetaTokens;
  plugin: (app: FastifyInstance) => Promise<void>;
};

/** What a sandbox account is given when none is asked for: enough to publish and read back on both platforms. */
export const SANDBOX_SCOPES = [
  'pages_show_list', 'pages_manage_posts', 'pages_read_engagement', 'business_management', 'read_insights',
  'instagram_basic', 'instagram_content_publish', 'instagram_manage_comments', 'instagram_manage_insights',
];

const fbtrace = () => randomBytes(8).toString('base64url');

export function createMetaSimulator(opts: { secret?: string; config?: Partial<MetaSimConfig> } = {}): MetaSimulator {
  const config = freshConfig(opts.config);
  const core = createSimulatorCore();
  const state = createState();
  const tokens = createMetaTokens(opts.secret ?? randomBytes(32).toString('hex'), config, (userId, pageId) => !!state.pages.get(pageId)?.roles.has(userId));

  /** The Page or Instagram account behind a request (for per-account faults and the request log), else the token's user. */
  function accountOf(req: FastifyRequest): string | undefined {
    const id = (req.params as { id?: string } | undefined)?.id;
    const owner = id && id !== 'me' ? ownerOf(state, id) : undefined;
    if (owner) return owner;
    try {
      const token = tokenOf(req) ?? /^OAuth\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!token) return undefined;
      const claims = decodeJwt(token);
      return typeof claims['pid'] === 'string' ? claims['pid'] : claims.sub;
    } catch {
      return undefined;
    }
  }

  async function node(d: SimDeps, req: FastifyRequest, reply: FastifyReply) {
    const auth = await tokens.authorize(req, reply);
    if (!auth) return reply;
    const id = idParam(req);
    const fields = params(req)['fields'];
    const answer = (type: string, n: Record<string, unknown>) => select(reply, type, n, fields) ?? reply;
    if (id === 'me' || id === auth.user.id) {
      if (auth.kind === 'page' && id === 'me') return answer('Page', pageNode(state.pages.get(auth.pageId!)!));
      return answer('User', { id: auth.user.id, name: auth.user.name, first_name: auth.user.name, short_name: auth.user.username });
    }
    const page = state.pages.get(id);
    if (page) {
      // Any token may read a Page's public fields; its token is given to the person with a role on it.
      const token = auth.kind === 'user' && page.roles.has(auth.user.id) ? await tokens.pageToken(auth, page.id) : undefined;
      const ig = page.igUserId && actsFor(auth, page) ? state.igUsers.get(page.igUserId) : undefined;
      return answer('Page', { ...pageNode(page, token), tasks: auth.kind === 'user' ? page.roles.get(auth.user.id) : undefined, instagram_business_account: ig && { id: ig.id, username: ig.username, name: ig.name } });
    }
    const owner = ownerOf(state, id);
    const ownerPage = owner && (state.pages.get(owner) ?? state.pages.get(state.igUsers.get(owner)?.pageId ?? ''));
    if (!ownerPage || !actsFor(auth, ownerPage)) return noSuchObject(reply, id);
    const post = state.posts.get(id);
    if (post) return answer('Post', postNode(d, post));
    const photo = state.photos.get(id);
    if (photo) return answer('Photo', photoNode(photo));
    const video = state.videos.get(id);
    if (video) return answer('Video', videoNode(d, video));
    const ig = state.igUsers.get(id);
    if (ig) {
      const count = [...state.igMedia.values()].filter((m) => m.igUserId === ig.id && m.productType !== 'STORY').length;
      return answer('IGUser', { id: ig.id, username: ig.username, name: ig.name, media_count: count, followers_count: 0, follows_count: 0, biography: '', profile_picture_url: undefined, website: undefined });
    }
    const c = state.containers.get(id);
    if (c) return answer('IGContainer', { id: c.id, ...containerStatus(d, c), copyright_check_status: undefined });
    const m = state.igMedia.get(id);
    if (m) return answer('IGMedia', mediaNode(d, m));
    return noSuchObject(reply, id);
  }

  async function plugin(app: FastifyInstance) {
    const prefix = app.prefix;
    const d: SimDeps = { state, config, tokens, web: (req) => `${req.protocol}://${req.headers.host}${prefix}` };
    if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) {
      app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))));
    }
    installSimulatorCore(
      app,
      core,
      {
        serverError: (status) => {
          const [code, message] = status >= 500 ? [2, 'An unexpected error has occurred. Please retry your request later.'] : status === 403 ? [200, '(#200) Permissions error'] : [100, '(#100) Invalid parameter'];
          return { status, body: { error: { message, type: 'OAuthException', code, ...(status >= 500 ? { is_transient: true } : {}), fbtrace_id: fbtrace() } } };
        },
        // Graph throttles with HTTP 400 and code 80001 (Pages business use case), and names the wait in whole
        // minutes in X-Business-Use-Case-Usage; it sends no Retry-After.
        rateLimited: (s) => ({
          status: 400,
          body: { error: { message: '(#80001) There have been too many calls to this Page account. Wait a bit and try again.', type: 'OAuthException', code: 80001, is_transient: true, fbtrace_id: fbtrace() } },
          headers: { 'x-business-use-case-usage': JSON.stringify({ '0': [{ type: 'pages', call_count: 100, total_cputime: 30, total_time: 40, estimated_time_to_regain_access: Math.ceil(s / 60) }] }) },
        }),
        expiredToken: () => ({ status: 400, body: { error: { message: `Error validating access token: Session has expired on ${new Date().toUTCString()}.`, type: 'OAuthException', code: 190, error_subcode: 463, fbtrace_id: fbtrace() } } }),
      },
      accountOf,
    );
    app.addHook('onRequest', versionCheck(d));
    await tokens.routes(app);
    facebookRoutes(app, d);
    await facebookVideoRoutes(app, d);
    instagramRoutes(app, d);
    const fbStories = pageStories(d);
    const instaStories = igStories(d);
    app.get('/:version/:id/stories', { config: { operation: 'stories.list' } }, (req, reply) => (state.igUsers.has(idParam(req)) ? instaStories(req, reply) : fbStories(req, reply)));
    app.get('/:version/:id', { config: { operation: 'node.get' } }, (req, reply) => node(d, req, reply));
    simRoutes(app);
  }

  /** The control surface for tests and sandbox users. */
  function simRoutes(app: FastifyInstance) {
    const scopesFrom = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => (META_SIM_SCOPES as readonly string[]).includes(s)) : SANDBOX_SCOPES);
    // A sandbox account: a Facebook user with a long-lived token, a Page (with its token) and, unless
    // `instagram: false`, an Instagram professional account linked to the Page.
    app.post('/_sim/accounts', async (req, reply) => {
      const b = (req.body ?? {}) as { username?: unknown; name?: unknown; instagram?: unknown; scopes?: unknown; tasks?: unknown };
      const username = typeof b.username === 'string' ? b.username : '';
      if (!/^[A-Za-z0-9_.]{1,30}$/.test(username)) return invalidParam(reply, 'username must be 1–30 letters, digits, "." or "_"');
      const user = tokens.oauth.user(username);
      state.seeded.add(user.id);
      const name = typeof b.name === 'string' && b.name ? b.name : username;
      const igName = username.toLowerCase().replace(/[^a-z0-9._]/g, '_');
      const tasks = Array.isArray(b.tasks) ? b.tasks.filter((t): t is string => ALL_TASKS.includes(t)) : undefined;
      const { page, ig } = createPage(state, { name: `${name} Page`, ownerId: user.id, tasks, instagram: b.instagram === false ? undefined : { username: igName, name } });
      const scopes = scopesFrom(b.scopes);
      const long = await tokens.issueLong(user, scopes, SANDBOX_APP.clientId);
      const check = await tokens.check(long.token);
      if (!check.ok) throw new Error('the simulator refused its own token');
      return reply.code(201).send({
        user_id: user.id, user_access_token: long.token, user_expires_in: long.expiresIn, scopes,
        page_id: page.id, page_name: page.name, page_access_token: await tokens.pageToken(check.auth, page.id),
        ig_user_id: ig?.id, ig_username: ig?.username,
      });
    });
    // Another Page for an existing user (e.g. one who signed in through the dialog), with its tasks.
    app.post('/_sim/pages', async (req, reply) => {
      const b = (req.body ?? {}) as { user_id?: unknown; name?: unknown; tasks?: unknown; instagram?: unknown };
      const userId = typeof b.user_id === 'string' ? b.user_id : '';
      if (!tokens.oauth.users.has(userId)) return invalidParam(reply, `unknown user ${userId}`);
      const igName = typeof b.instagram === 'string' ? b.instagram : undefined;
      const tasks = Array.isArray(b.tasks) ? b.tasks.filter((t): t is string => ALL_TASKS.includes(t)) : undefined;
      const { page, ig } = createPage(state, { name: typeof b.name === 'string' && b.name ? b.name : 'Sandbox Page', ownerId: userId, tasks, instagram: igName ? { username: igName } : undefined });
      return reply.code(201).send({ page_id: page.id, ig_user_id: ig?.id });
    });
    // Tokens end as Graph ends them: 463 expired, 467 logged out, 460 password changed, 458 app removed.
    app.post('/_sim/users/:id/invalidate', async (req, reply) => {
      const subcode = Number((req.body as { subcode?: unknown } | undefined)?.subcode ?? 463);
      if (![458, 460, 463, 467].includes(subcode)) return invalidParam(reply, 'subcode must be 458, 460, 463 or 467');
      tokens.invalidate((req.params as { id: string }).id, subcode as 458 | 460 | 463 | 467);
      return reply.code(204).send();
    });
    app.get('/_sim/posts', async (req) => {
      const page = (req.query as { page?: string }).page;
      return { posts: [...state.posts.values()].filter((p) => !page || p.pageId === page) };
    });
    app.get('/_sim/media', async (req) => {
      const ig = (req.query as { ig?: string }).ig;
      return { media: [...state.igMedia.values()].filter((m) => !ig || m.igUserId === ig), containers: [...state.containers.values()].filter((c) => !ig || c.igUserId === ig) };
    });
    app.get('/_sim/config', async () => config);
    app.put('/_sim/config', async (req) => {
      const { processingMs, ...rest } = (req.body ?? {}) as Partial<MetaSimConfig>;
      for (const [k, v] of Object.entries(rest)) if (k in config && typeof v === 'number' && v >= 0) (config as Record<string, unknown>)[k] = v;
      if (processingMs) Object.assign(config.processingMs, processingMs);
      return config;
    });
  }

  return Object.assign(state, { core, config, tokens, plugin });
}
