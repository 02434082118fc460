// A simulator of the part of the X API v2 that Crier uses (platforms.md §1), mounted at `/x` so that
// `https://api.x.com/2/tweets` is `<sandbox>/x/2/tweets` and the consent page `https://x.com/i/oauth2/authorize`
// is `<sandbox>/x/i/oauth2/authorize`. OAuth 2.0 comes from the shared simulated server (../oauth.ts) with
// X's rules: PKCE required, 2-hour access tokens, refresh tokens only with offline.access, single use and
// rotating; X's own answer to a spent or unknown token ("invalid_request", "Value passed for the token was
// invalid.") replaces the RFC wording. Every API route checks the bearer token and the scopes X requires
// for it (OpenAPI `security`), counts X's 15-minute rate limits with x-rate-limit-* headers, and answers
// refusals with X's problem JSON. tweets.ts and media.ts hold the endpoints.
// Not reproduced: the 30-second life of an authorization code (the shared server gives 10 minutes), the
// 24-hour per-user and per-app post caps, usage caps, and OAuth 1.0a.
import { createHash } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { createSimOAuth, type SimGrant, type SimOAuth } from '../oauth.js';
import { mediaRoutes } from './media.js';
import { forbidden, invalidRequest, send, serverError, tooManyRequests, unauthorized, type Problem } from './problems.js';
import { DEFAULT_LIMITS, snowflakes, type RateGroup, type SimMedia, type SimTweet, type XSimLimits, type XSimState } from './state.js';
import { tweetRoutes } from './tweets.js';

export type { XSimLimits, SimTweet, SimMedia } from './state.js';

export type XSimulator = {
  core: SimulatorCore;
  oauth: SimOAuth;
  tweets: Map<string, SimTweet>;
  media: Map<string, SimMedia>;
  limits: XSimLimits;
  plugin: (app: FastifyInstance) => Promise<void>;
};

export const X_ALL_SCOPES = [
  'tweet.read', 'tweet.write', 'tweet.moderate.write', 'users.read', 'users.email', 'follows.read', 'follows.write', 'offline.access',
  'space.read', 'mute.read', 'mute.write', 'like.read', 'like.write', 'list.read', 'list.write', 'block.read', 'block.write',
  'bookmark.read', 'bookmark.write', 'media.write', 'dm.read', 'dm.write',
] as const;

const WINDOW_MS = 15 * 60_000;
const TOKEN_PATH = '/2/oauth2/token';
const LIMIT_OF: Record<RateGroup, keyof XSimLimits> = { tweets: 'tweetsPer15Min', media: 'mediaPer15Min', status: 'statusPer15Min', reads: 'readsPer15Min' };

/** X user ids are numeric; a sandbox username always maps to the same one. */
function userIdOf(username: string): string {
  const n = BigInt(`0x${createHash('sha256').update(username.toLowerCase()).digest('hex').slice(0, 15)}`);
  return (n % 9_000_000_000_000_000n + 1_000_000_000_000_000n).toString();
}

export function createXSimulator(opts: { secret?: string; limits?: Partial<XSimLimits> } = {}): XSimulator {
  const limits: XSimLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const core = createSimulatorCore();
  const oauth = createSimOAuth(
    {
      authorizePath: '/i/oauth2/authorize',
      tokenPath: TOKEN_PATH,
      revokePath: '/2/oauth2/revoke',
      scopes: X_ALL_SCOPES,
      scopeSeparator: ' ',
      pkce: 'required',
      clientAuth: 'either',
      accessTtlSec: 7200,
      // X gives no lifetime for refresh tokens; they last while used ("until you revoke access").
      refresh: { ttlSec: 180 * 86_400, rotate: true, requiresScope: 'offline.access' },
      userId: userIdOf,
    },
    { secret: opts.secret },
  );
  const tweets = new Map<string, SimTweet>();
  const media = new Map<string, SimMedia>();
  const usernames = new Map<string, string>();
  const windows = new Map<string, { start: number; count: number }>();

  /** Takes one request from the user's 15-minute window of this group; sets X's headers. */
  function rateLimit(reply: FastifyReply, user: string, group: RateGroup): boolean {
    const now = Date.now();
    const key = `${user}:${group}`;
    let w = windows.get(key);
    if (!w || now - w.start >= WINDOW_MS) windows.set(key, (w = { start: now, count: 0 }));
    const limit = limits[LIMIT_OF[group]];
    const allowed = w.count < limit;
    if (allowed) w.count++;
    reply.headers({ 'x-rate-limit-limit': String(limit), 'x-rate-limit-remaining': String(limit - w.count), 'x-rate-limit-reset': String(Math.ceil((w.start + WINDOW_MS) / 1000)) });
    return allowed;
  }

  const state: XSimState = {
    limits,
    tweets,
    media,
    usernames,
    nextId: snowflakes(),
    async authenticate(req: FastifyRequest, reply: FastifyReply, scopes: string[], group: RateGroup): Promise<SimGrant | undefined> {
      const check = await oauth.verify(req.headers.authorization);
      if (!check.ok) {
        send(reply, unauthorized());
        return undefined;
      }
      const g = check.grant;
      usernames.set(g.user.username.toLowerCase(), g.user.id);
      if (!scopes.every((s) => g.scopes.includes(s))) {
        send(reply, forbidden());
        return undefined;
      }
      if (!rateLimit(reply, g.user.id, group)) {
        send(reply, tooManyRequests());
        return undefined;
      }
      return g;
    },
  };

  function accountOf(req: FastifyRequest): string | undefined {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return undefined;
    try {
      return decodeJwt(header.slice(7)).sub;
    } catch {
      return undefined;
    }
  }

  async function plugin(app: FastifyInstance) {
    installSimulatorCore(
      app,
      core,
      {
        serverError: (status) => serverError(status),
        rateLimited: (s) => ({
          ...tooManyRequests(),
          headers: { 'x-rate-limit-limit': '100', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(Math.ceil(Date.now() / 1000) + s), 'content-type': 'application/problem+json' },
        }),
        expiredToken: () => unauthorized(),
      },
      accountOf,
    );

    // Body and parse errors in X's words rather than Fastify's.
    app.setErrorHandler((error: FastifyError, _req, reply) => {
      const p: Problem = (error.statusCode ?? 500) < 500 ? invalidRequest(error.message) : serverError(500);
      if (error.statusCode === 413) p.status = 413;
      return send(reply, p);
    });

    // X's token endpoint: its own error for any token it will not take, and no refresh-token lifetime.
    app.addHook('onSend', async (req, reply, payload) => {
      if (!req.routeOptions.url?.endsWith(TOKEN_PATH) || typeof payload !== 'string') return payload;
      try {
        const body = JSON.parse(payload) as Record<string, unknown>;
        if (body['error'] === 'invalid_grant') return JSON.stringify({ error: 'invalid_request', error_description: 'Value passed for the token was invalid.' });
        if (reply.statusCode === 200) {
          delete body['refresh_token_expires_in'];
          return JSON.stringify(body);
        }
      } catch {
        // not JSON: leave it
      }
      return payload;
    });

    oauth.routes(app);

    app.get('/2/users/me', { config: { operation: 'users.me' } }, async (req, reply) => {
      const grant = await state.authenticate(req, reply, ['tweet.read', 'users.read'], 'reads');
      if (!grant) return reply;
      return { data: { id: grant.user.id, name: grant.user.name, username: grant.user.username } };
    });

    tweetRoutes(app, state);
    mediaRoutes(app, state);

    app.get<{ Querystring: { user?: string } }>('/_sim/tweets', async (req) => ({
      tweets: [...tweets.values()].filter((t) => !req.query.user || t.authorId === req.query.user),
    }));
    app.get<{ Querystring: { user?: string } }>('/_sim/media', async (req) => ({
      media: [...media.values()]
        .filter((m) => !req.query.user || m.owner === req.query.user)
        .map(({ bytes: _b, head: _h, segments, ...m }) => ({ ...m, segments: segments.size })),
    }));
    app.get('/_sim/limits', async () => limits);
    app.put<{ Body: Partial<XSimLimits> }>(
      '/_sim/limits',
      {
        schema: {
          body: { type: 'object', additionalProperties: false, properties: Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((k) => [k, { type: 'integer', minimum: 0 }])) },
        },
      },
      async (req) => Object.assign(limits, req.body),
    );
  }

  return { core, oauth, tweets, media, limits, plugin };
}
