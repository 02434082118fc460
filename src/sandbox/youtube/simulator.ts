// A simulator of the part of the YouTube Data API v3 Crier uses (platforms.md §7), mounted at `/youtube`:
// Google's OAuth endpoints (`accounts.google.com/o/oauth2/v2/auth`, `oauth2.googleapis.com/token`) and
// `www.googleapis.com` (`/youtube/v3/…`, `/upload/youtube/v3/…`) all map to `<sandbox>/youtube`. OAuth is
// the shared simulated server with Google's rules (PKCE optional, 1-hour access tokens, refresh tokens that
// do not rotate). Every API call checks the token and its scopes and spends the project's daily quota
// (the OAuth client is the project; 10,000 units a Pacific day; insert 1,600, thumbnails 50, reads 1;
// over it: 403 quotaExceeded). upload.ts holds the resumable upload protocol.
// A sandbox username starting with "nochannel" has a Google account but no channel.
// Not reproduced: captions, playlists beyond the uploads list, live streams, the Analytics API, comments.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { createSimOAuth, type SimGrant, type SimOAuth } from '../oauth.js';
import { SANDBOX_APP } from '../../connectors/auth-types.js';
import { uploadRoutes } from './upload.js';
import { COST, DEFAULT_CONFIG, gError, pacificDay, type SimSession, type SimVideo, type YouTubeSimConfig } from './state.js';

export { DEFAULT_CONFIG } from './state.js';
export type { SimVideo, YouTubeSimConfig } from './state.js';

const AUTH = 'https://www.googleapis.com/auth/';
export const YOUTUBE_ALL_SCOPES = ['youtube', 'youtube.upload', 'youtube.readonly', 'youtube.force-ssl', 'yt-analytics.readonly'].map((s) => AUTH + s);
const WRITE = [AUTH + 'youtube', AUTH + 'youtube.upload', AUTH + 'youtube.force-ssl'];
const READ = [AUTH + 'youtube', AUTH + 'youtube.readonly', AUTH + 'youtube.force-ssl'];

export type YouTubeSimState = {
  config: YouTubeSimConfig;
  videos: Map<string, SimVideo>;
  sessions: Map<string, SimSession>;
  /** Checks the token and one of `scopes`, and spends `units` of its project's quota; answers the request itself when refused. */
  authenticate(req: FastifyRequest, reply: FastifyReply, scopes: string[], units: number): Promise<SimGrant | undefined>;
  hasChannel(g: SimGrant): boolean;
  settle(v: SimVideo): SimVideo;
  origin(req: FastifyRequest): string;
};

export type YouTubeSimulator = {
  core: SimulatorCore;
  oauth: SimOAuth;
  config: YouTubeSimConfig;
  videos: Map<string, SimVideo>;
  sessions: Map<string, SimSession>;
  /** Units spent per project and Pacific day. */
  quota: Map<string, number>;
  plugin: (app: FastifyInstance) => Promise<void>;
};

/** Channel ids look like Google's: "UC" + 22 URL-safe characters, the same for a username every time. */
const channelIdOf = (username: string) => `UC${createHash('sha256').update(`channel:${username.toLowerCase()}`).digest('base64url').slice(0, 22)}`;

export function createYouTubeSimulator(opts: { secret?: string; config?: Partial<YouTubeSimConfig> } = {}): YouTubeSimulator {
  const config: YouTubeSimConfig = { ...DEFAULT_CONFIG, ...opts.config };
  const core = createSimulatorCore();
  const oauth = createSimOAuth(
    {
      authorizePath: '/o/oauth2/v2/auth',
      tokenPath: '/token',
      revokePath: '/revoke',
      scopes: YOUTUBE_ALL_SCOPES,
      scopeSeparator: ' ',
      pkce: 'optional',
      clientAuth: 'either',
      accessTtlSec: 3599,
      refresh: { ttlSec: 10 * 365 * 86_400, rotate: false },
      userId: channelIdOf,
    },
    { secret: opts.secret },
  );
  const videos = new Map<string, SimVideo>();
  const sessions = new Map<string, SimSession>();
  const quota = new Map<string, number>();
  let prefix = '';

  const state: YouTubeSimState = {
    config,
    videos,
    sessions,
    origin: (req) => `${req.protocol}://${req.headers.host}${prefix}`,
    hasChannel: (g) => !g.user.username.toLowerCase().startsWith('nochannel'),
    async authenticate(req, reply, scopes, units) {
      const check = await oauth.verify(req.headers.authorization);
      if (!check.ok) {
        gError(reply, 401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token.', 'global');
        return undefined;
      }
      const g = check.grant;
      if (!scopes.some((s) => g.scopes.includes(s))) {
        gError(reply, 403, 'insufficientPermissions', 'Request had insufficient authentication scopes.', 'global');
        return undefined;
      }
      // A project's quota; the sandbox app is every sandbox user's, so there each user counts as its own project.
      const project = g.clientId === SANDBOX_APP.clientId ? `${g.clientId}/${g.user.id}` : g.clientId;
      const key = `${project}:${pacificDay(Date.now())}`;
      const used = quota.get(key) ?? 0;
      if (used + units > config.dailyQuota) {
        gError(reply, 403, 'quotaExceeded', `The request cannot be completed because you have exceeded your quota.`, 'youtube.quota');
        return undefined;
      }
      quota.set(key, used + units);
      return g;
    },
    settle(v) {
      if (v.uploadStatus === 'uploaded' && Date.now() - v.uploadedAt >= config.processingMs) {
        if (config.failNext) {
          v.uploadStatus = config.failNext.uploadStatus;
          v.failure = config.failNext.reason;
          config.failNext = null;
        } else v.uploadStatus = 'processed';
      }
      return v;
    },
  };

  const videoJson = (v: SimVideo) => ({
    kind: 'youtube#video',
    id: v.id,
    snippet: { publishedAt: new Date(v.uploadedAt).toISOString(), channelId: v.channelId, title: v.title, description: v.description, tags: v.tags, categoryId: v.categoryId },
    status: {
      uploadStatus: v.uploadStatus,
      ...(v.uploadStatus === 'failed' ? { failureReason: v.failure } : {}),
      ...(v.uploadStatus === 'rejected' ? { rejectionReason: v.failure } : {}),
      privacyStatus: v.privacyStatus,
      ...(v.publishAt ? { publishAt: v.publishAt } : {}),
      selfDeclaredMadeForKids: v.madeForKids,
      embeddable: true,
    },
    processingDetails: { processingStatus: v.uploadStatus === 'uploaded' ? 'processing' : v.uploadStatus === 'processed' ? 'succeeded' : 'failed' },
  });

  async function plugin(app: FastifyInstance) {
    prefix = app.prefix;
    installSimulatorCore(
      app,
      core,
      {
        serverError: (status) => ({ status, body: { error: { code: status, message: 'Backend Error', errors: [{ message: 'Backend Error', domain: 'global', reason: 'backendError' }], status: status === 503 ? 'UNAVAILABLE' : 'INTERNAL' } } }),
        rateLimited: (s) => ({ status: 429, body: { error: { code: 429, message: 'Rate Limit Exceeded', errors: [{ message: 'Rate Limit Exceeded', domain: 'usageLimits', reason: 'rateLimitExceeded' }], status: 'RESOURCE_EXHAUSTED' } }, headers: { 'retry-after': String(s) } }),
        expiredToken: () => ({ status: 401, body: { error: { code: 401, message: 'Request had invalid authentication credentials.', errors: [{ message: 'Invalid Credentials', domain: 'global', reason: 'authError', location: 'Authorization' }], status: 'UNAUTHENTICATED' } } }),
      },
      (req) => {
        const h = req.headers.authorization;
        try {
          return h?.startsWith('Bearer ') ? decodeJwt(h.slice(7)).sub : undefined;
        } catch {
          return undefined;
        }
      },
    );
    oauth.routes(app);

    app.get<{ Querystring: { part?: string; mine?: string } }>('/youtube/v3/channels', { config: { operation: 'channels.list' } }, async (req, reply) => {
      const g = await state.authenticate(req, reply, READ.concat(WRITE), 1);
      if (!g) return reply;
      if (req.query.mine !== 'true') return gError(reply, 400, 'missingRequiredParameter', 'No filter selected. Expected one of: mine, id, forHandle.', 'youtube.parameter');
      const items = state.hasChannel(g)
        ? [{ kind: 'youtube#channel', id: g.user.id, snippet: { title: g.user.username, customUrl: `@${g.user.username.toLowerCase()}` }, contentDetails: { relatedPlaylists: { uploads: `UU${g.user.id.slice(2)}` } } }]
        : [];
      return { kind: 'youtube#channelListResponse', pageInfo: { totalResults: items.length, resultsPerPage: 5 }, items };
    });

    app.get<{ Querystring: { id?: string; part?: string } }>('/youtube/v3/videos', { config: { operation: 'videos.list' } }, async (req, reply) => {
      const g = await state.authenticate(req, reply, READ.concat(WRITE), 1);
      if (!g) return reply;
      if (!req.query.id) return gError(reply, 400, 'missingRequiredParameter', 'No filter selected. Expected one of: id, myRating, chart.', 'youtube.parameter');
      const ids = req.query.id.split(',').slice(0, 50);
      // Another channel's private video is not listed, as on YouTube.
      const items = ids.map((id) => videos.get(id)).filter((v): v is SimVideo => !!v && (v.channelId === g.user.id || v.privacyStatus === 'public')).map((v) => videoJson(state.settle(v)));
      return { kind: 'youtube#videoListResponse', pageInfo: { totalResults: items.length, resultsPerPage: items.length }, items };
    });

    app.get<{ Querystring: { playlistId?: string; maxResults?: string } }>('/youtube/v3/playlistItems', { config: { operation: 'playlistItems.list' } }, async (req, reply) => {
      const g = await state.authenticate(req, reply, READ.concat(WRITE), 1);
      if (!g) return reply;
      const channel = req.query.playlistId?.startsWith('UU') ? `UC${req.query.playlistId.slice(2)}` : undefined;
      if (!channel) return gError(reply, 404, 'playlistNotFound', 'The playlist identified with the request\'s playlistId parameter cannot be found.');
      const max = Math.min(Number(req.query.maxResults ?? 5), 50);
      const mine = [...videos.values()].filter((v) => v.channelId === channel && (channel === g.user.id || v.privacyStatus === 'public')).reverse().slice(0, max);
      return {
        kind: 'youtube#playlistItemListResponse',
        items: mine.map((v) => ({ kind: 'youtube#playlistItem', snippet: { publishedAt: new Date(v.uploadedAt).toISOString(), title: v.title, description: v.description, resourceId: { kind: 'youtube#video', videoId: v.id } } })),
      };
    });

    uploadRoutes(app, state, COST);

    // The sandbox's stand-ins for https://www.youtube.com/watch?v={id} and /shorts/{id}.
    const page = (reply: FastifyReply, id: string) => {
      const v = videos.get(id);
      if (!v) return reply.code(404).type('text/html').send('<!doctype html><p>Video unavailable.</p>');
      const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      return reply.type('text/html').send(`<!doctype html><meta charset="utf-8"><title>${esc(v.title)}</title><h1>${esc(v.title)}</h1><p>${esc(v.description)}</p>`);
    };
    app.get<{ Querystring: { v?: string } }>('/watch', async (req, reply) => page(reply, req.query.v ?? ''));
    app.get<{ Params: { id: string } }>('/shorts/:id', async (req, reply) => page(reply, req.params.id));

    app.get('/_sim/videos', async () => ({ videos: [...videos.values()] }));
    app.get('/_sim/config', async () => config);
    app.put<{ Body: Partial<YouTubeSimConfig> }>('/_sim/config', async (req) => Object.assign(config, req.body));
    app.post<{ Params: { id: string } }>('/_sim/sessions/:id/expire', async (req, reply) => {
      const s = sessions.get(req.params.id);
      if (!s) return reply.code(404).send({ error: 'no such session' });
      s.expired = true;
      return reply.code(204).send();
    });
  }

  return { core, oauth, config, videos, sessions, quota, plugin };
}

export const newVideoId = () => randomBytes(8).toString('base64url').slice(0, 11);
