// A simulator of the part of Reddit's API Crier uses (platforms.md §10), mounted at `/reddit`: both
// www.reddit.com (authorize, access_token) and oauth.reddit.com (the API) map to `<sandbox>/reddit`.
// OAuth comes from the shared server (../oauth.ts) with Reddit's rules: HTTP Basic client auth, no PKCE,
// 1-hour access tokens, and a refresh token only when the authorize request said `duration=permanent`
// (`duration` is required: temporary or permanent). Every API route wants a descriptive User-Agent (a
// missing or generic one is answered 429 as Reddit does), checks the bearer token (401 with
// `error="invalid_token"`) and the route's scope (403 with `error="insufficient_scope"`), and counts the
// user's requests in a window with X-Ratelimit-Used/Remaining/Reset (seconds left). posts.ts holds the
// subreddit, submit and listing routes; media.ts the upload lease and the simulated S3 form.
// Not reproduced: the token endpoint's own User-Agent check and Reddit's 200-with-error answers there (the
// shared server answers RFC 6749 errors), installed-app and script-app grants, the websocket of image posts.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { createSimOAuth, type SimGrant, type SimOAuth } from '../oauth.js';
import { mediaRoutes } from './media.js';
import { postRoutes } from './posts.js';
import { DEFAULT_CONFIG, DEFAULT_SUBREDDITS, makeSubreddit, type RedditSimConfig, type SimAsset, type SimPost, type SimSubreddit, type SubredditInput } from './state.js';

export type { SimPost, SimAsset, SimSubreddit, RedditSimConfig } from './state.js';

export const REDDIT_ALL_SCOPES = [
  'identity', 'edit', 'flair', 'history', 'modconfig', 'modflair', 'modlog', 'modposts', 'modwiki', 'mysubreddits',
  'privatemessages', 'read', 'report', 'save', 'submit', 'subscribe', 'vote', 'wikiedit', 'wikiread',
] as const;

const TOKEN_PATH = '/api/v1/access_token';
const AUTHORIZE_PATH = '/api/v1/authorize';

/** User-Agents Reddit throttles as generic (library defaults). */
const GENERIC_UA = /^(node|undici|node-fetch|axios|got|python-requests|python-urllib|curl|wget|okhttp|go-http-client|java|libwww|ruby|php)\b/i;

export type RedditSimState = {
  config: RedditSimConfig;
  subreddits: Map<string, SimSubreddit>;
  posts: Map<string, SimPost>;
  assets: Map<string, SimAsset>;
  /** HMAC key of lease policies. */
  secret: string;
  /** Authenticates an API call (User-Agent, token, scope, rate window); answers the request itself when refused. */
  authenticate(req: FastifyRequest, reply: FastifyReply, scope: string): Promise<SimGrant | undefined>;
  subreddit(name: string): SimSubreddit | undefined;
  /** Where this simulator is reachable, as seen by the request (origin + mount prefix). */
  origin(req: FastifyRequest): string;
};

export type RedditSimulator = {
  core: SimulatorCore;
  oauth: SimOAuth;
  config: RedditSimConfig;
  subreddits: Map<string, SimSubreddit>;
  posts: Map<string, SimPost>;
  assets: Map<string, SimAsset>;
  addSubreddit(input: SubredditInput): SimSubreddit;
  plugin: (app: FastifyInstance) => Promise<void>;
};

/** Reddit account ids are base36; a sandbox username always maps to the same one. */
function userIdOf(username: string): string {
  return BigInt(`0x${createHash('sha256').update(username.toLowerCase()).digest('hex').slice(0, 12)}`).toString(36).slice(0, 8);
}

export const httpError = (reply: FastifyReply, status: number, extra: Record<string, unknown> = {}) => {
  const message = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests' }[status] ?? 'Internal Server Error';
  return reply.code(status).send({ ...extra, message, error: status });
};

export function createRedditSimulator(opts: { secret?: string; config?: Partial<RedditSimConfig> } = {}): RedditSimulator {
  const config: RedditSimConfig = { ...DEFAULT_CONFIG, ...opts.config };
  const core = createSimulatorCore();
  const secret = opts.secret ?? createHash('sha256').update(String(Math.random())).digest('hex');
  const oauth = createSimOAuth(
    {
      authorizePath: AUTHORIZE_PATH,
      tokenPath: TOKEN_PATH,
      revokePath: '/api/v1/revoke_token',
      scopes: REDDIT_ALL_SCOPES,
      scopeSeparator: ' ',
      pkce: 'optional',
      clientAuth: 'basic',
      accessTtlSec: 3600,
      // Reddit's permanent refresh tokens do not expire and are not rotated.
      refresh: { ttlSec: 10 * 365 * 86_400, rotate: false },
      userId: userIdOf,
    },
    { secret },
  );
  const subreddits = new Map<string, SimSubreddit>();
  const posts = new Map<string, SimPost>();
  const assets = new Map<string, SimAsset>();
  const windows = new Map<string, { start: number; count: number }>();
  const temporaryCodes = new Set<string>();
  let prefix = '';
  const addSubreddit = (input: SubredditInput) => {
    const s = makeSubreddit(input);
    subreddits.set(s.name.toLowerCase(), s);
    return s;
  };
  for (const s of DEFAULT_SUBREDDITS) addSubreddit(s);

  function rateWindow(reply: FastifyReply, user: string): boolean {
    const now = Date.now();
    let w = windows.get(user);
    if (!w || now - w.start >= config.windowSec * 1000) windows.set(user, (w = { start: now, count: 0 }));
    const allowed = w.count < config.requestsPerWindow;
    if (allowed) w.count++;
    reply.headers({
      'x-ratelimit-used': String(w.count),
      'x-ratelimit-remaining': String(Math.max(0, config.requestsPerWindow - w.count)),
      'x-ratelimit-reset': String(Math.max(0, Math.ceil((w.start + config.windowSec * 1000 - now) / 1000))),
    });
    return allowed;
  }

  const state: RedditSimState = {
    config,
    subreddits,
    posts,
    assets,
    secret,
    subreddit: (name) => subreddits.get(name.replace(/^\/?r\//, '').toLowerCase()),
    origin(req) {
      return `${req.protocol}://${req.headers.host}${prefix}`;
    },
    async authenticate(req, reply, scope) {
      const ua = req.headers['user-agent'];
      if (!ua || ua.trim() === '' || GENERIC_UA.test(ua)) {
        httpError(reply, 429);
        return undefined;
      }
      const header = req.headers.authorization ?? '';
      const check = await oauth.verify(header.replace(/^bearer\s+/i, ''));
      if (!/^bearer\s+/i.test(header) || !check.ok) {
        reply.header('www-authenticate', 'Bearer realm="reddit", error="invalid_token"');
        httpError(reply, 401);
        return undefined;
      }
      if (!check.grant.scopes.includes(scope)) {
        reply.header('www-authenticate', 'Bearer realm="reddit", error="insufficient_scope"');
        httpError(reply, 403);
        return undefined;
      }
      if (!rateWindow(reply, check.grant.user.id)) {
        httpError(reply, 429);
        return undefined;
      }
      return check.grant;
    },
  };

  function accountOf(req: FastifyRequest): string | undefined {
    const m = /^bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    try {
      return decodeJwt(m[1]!).sub;
    } catch {
      return undefined;
    }
  }

  async function plugin(app: FastifyInstance) {
    installSimulatorCore(
      app,
      core,
      {
        serverError: (status) => ({ status, body: { message: status === 503 ? 'Service Unavailable' : 'Internal Server Error', error: status } }),
        rateLimited: (s) => ({
          status: 429,
          body: { message: 'Too Many Requests', error: 429 },
          headers: { 'x-ratelimit-used': String(config.requestsPerWindow), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(s) },
        }),
        expiredToken: () => ({ status: 401, body: { message: 'Unauthorized', error: 401 } }),
      },
      accountOf,
    );
    prefix = app.prefix;

    // Reddit requires `duration`; only `permanent` brings a refresh token.
    app.addHook('preHandler', async (req, reply) => {
      if (!req.routeOptions.url?.endsWith(AUTHORIZE_PATH)) return;
      const q = (req.method === 'GET' ? req.query : req.body) as Record<string, string> | undefined;
      if (q?.['duration'] !== 'temporary' && q?.['duration'] !== 'permanent') {
        return reply.code(400).type('text/html').send('<!doctype html><p>bad request (reddit.com): invalid duration parameter, use "temporary" or "permanent"</p>');
      }
    });
    app.addHook('onSend', async (req, reply, payload) => {
      const path = req.routeOptions.url ?? '';
      if (path.endsWith(AUTHORIZE_PATH) && req.method === 'POST' && reply.statusCode === 302) {
        const code = new URL(String(reply.getHeader('location')), 'http://x').searchParams.get('code');
        if (code && (req.body as Record<string, string>)['duration'] === 'temporary') temporaryCodes.add(code);
        return payload;
      }
      if (!path.endsWith(TOKEN_PATH) || typeof payload !== 'string' || reply.statusCode !== 200) return payload;
      try {
        const body = JSON.parse(payload) as Record<string, unknown>;
        delete body['refresh_token_expires_in'];
        const form = (req.body ?? {}) as Record<string, string>;
        if (form['grant_type'] === 'authorization_code' && temporaryCodes.delete(form['code'] ?? '')) delete body['refresh_token'];
        return JSON.stringify(body);
      } catch {
        return payload;
      }
    });

    oauth.routes(app);

    app.get('/api/v1/me', { config: { operation: 'me' } }, async (req, reply) => {
      const grant = await state.authenticate(req, reply, 'identity');
      if (!grant) return reply;
      const u = grant.user;
      return { id: u.id, name: u.username, created_utc: 1_600_000_000, icon_img: '', total_karma: 1, is_suspended: false, subreddit: { title: u.name, display_name_prefixed: `u/${u.username}` } };
    });

    postRoutes(app, state);
    mediaRoutes(app, state);

    app.get<{ Querystring: { user?: string } }>('/_sim/posts', async (req) => ({ posts: [...posts.values()].filter((p) => !req.query.user || p.authorId === req.query.user) }));
    app.post<{ Body: SubredditInput }>('/_sim/subreddits', async (req, reply) => {
      if (typeof req.body?.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_]{1,20}$/.test(req.body.name)) return reply.code(400).send({ error: 'name: 2-21 letters, digits or _' });
      const s = addSubreddit(req.body);
      return reply.code(201).send({ ...s, banned: [...s.banned], contributors: [...s.contributors] });
    });
    app.put<{ Body: Partial<RedditSimConfig> }>('/_sim/config', async (req) => Object.assign(config, req.body));
  }

  return { core, oauth, config, subreddits, posts, assets, addSubreddit, plugin };
}
