// A simulator of the Mastodon API Crier uses (platforms.md §11), mounted at /mastodon: the simulated instance
// is `<sandbox>/mastodon`. No Mastodon server installs here (test-peers.md), so it is built from the official
// API documentation: app registration (POST /api/v1/apps) whose redirect URIs and scopes bind the OAuth
// flow, the shared OAuth server at Mastodon's paths (PKCE S256 optional as in 4.3+, client secret in the
// form body or Basic, tokens that never expire, no refresh tokens), scopes per route with Mastodon's
// hierarchy (read covers read:*), the per-account rate limits with X-RateLimit-* headers, the instance's
// limits from GET /api/v2/instance (changeable through PUT /_sim/config), media processed over time,
// statuses with idempotency keys, visibility and reply targets (statuses.ts, media.ts), and Mastodon's
// habit of answering errors with HTML pages to a client that did not ask for JSON.
// Simplified: every error of an API route turns into HTML without `Accept: application/json` (Mastodon does
// so for errors Rails renders, while Doorkeeper's 401 and Rack::Attack's 429 stay JSON); no follow graph
// (private statuses are visible to their author only); no polls, scheduled statuses, edits or federation.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { SANDBOX_APP } from '../../connectors/auth-types.js';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { createSimOAuth, type SimOAuth } from '../oauth.js';
import { mediaRoutes } from './media.js';
import {
  DEFAULT_CONFIG, SCOPES, acceptsJson, accountIdFor, createGuard, grants, htmlErrorPage, mastodonError, rateLimitedAnswer, snowflake,
  type MastodonSimConfig, type SimAccount, type SimMedia, type SimStatus,
} from './state.js';
import { statusRoutes } from './statuses.js';

export type { MastodonSimConfig } from './state.js';

export type SimApp = { name: string; website: string | null; scopes: string[]; redirectUris: string[] };

export type MastodonSimulator = {
  core: SimulatorCore;
  config: MastodonSimConfig;
  oauth: SimOAuth;
  apps: Map<string, SimApp>;
  accounts: Map<string, SimAccount>;
  statuses: Map<string, SimStatus>;
  media: Map<string, SimMedia>;
  plugin: (app: FastifyInstance) => Promise<void>;
};

const TEN_YEARS = 10 * 365 * 86_400;
const FORM = 'application/x-www-form-urlencoded';

/** Rails' form decoding: a repeated key, or one ending in "[]", is a list. */
function parseForm(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const list = rawKey.endsWith('[]');
    const key = list ? rawKey.slice(0, -2) : rawKey;
    const prev = out[key];
    if (prev === undefined) out[key] = list ? [value] : value;
    else out[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

const scopeList = (v: unknown) => (typeof v === 'string' ? v.split(/[\s+]+/).filter(Boolean) : []);

export function createMastodonSimulator(opts: { secret?: string; config?: Partial<MastodonSimConfig> } = {}): MastodonSimulator {
  const config: MastodonSimConfig = { ...DEFAULT_CONFIG, ...opts.config };
  const core = createSimulatorCore();
  const oauth = createSimOAuth(
    {
      authorizePath: '/oauth/authorize', tokenPath: '/oauth/token', revokePath: '/oauth/revoke', scopes: SCOPES, scopeSeparator: ' ',
      pkce: 'optional', clientAuth: 'either', accessTtlSec: TEN_YEARS, refresh: null, userId: accountIdFor,
    },
    { secret: opts.secret },
  );
  const apps = new Map<string, SimApp>([[SANDBOX_APP.clientId, { name: 'Crier sandbox', website: null, scopes: [...SCOPES], redirectUris: [] }]]);
  const accounts = new Map<string, SimAccount>();
  const statuses = new Map<string, SimStatus>();
  const media = new Map<string, SimMedia>();
  const idempotency = new Map<string, { statusId: string; at: number }>();
  const guard = createGuard(oauth, config);
  let prefix = '';
  const origin = (req: FastifyRequest) => `${req.protocol}://${req.headers.host}${prefix}`;

  /** Accounts made through /_sim, or users who signed in on the consent page. */
  function account(id: string): SimAccount | undefined {
    const known = accounts.get(id);
    if (known) return known;
    const u = oauth.users.get(id);
    if (!u) return undefined;
    const a: SimAccount = { id: u.id, username: u.username, displayName: u.name, createdAt: Date.now() };
    accounts.set(a.id, a);
    return a;
  }

  function accountOf(req: FastifyRequest): string | undefined {
    const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return undefined;
    try {
      return decodeJwt(token).sub;
    } catch {
      return undefined;
    }
  }

  async function registerApp(req: FastifyRequest, reply: FastifyReply) {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const name = typeof b['client_name'] === 'string' ? b['client_name'].trim() : '';
    if (!name) return mastodonError(reply, 422, "Validation failed: Application name can't be blank");
    const raw = b['redirect_uris'] ?? b['redirect_uri'];
    const uris = (Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/\s+/) : []).map(String).filter(Boolean);
    if (uris.length === 0) return mastodonError(reply, 422, "Validation failed: Redirect URI can't be blank");
    for (const u of uris) {
      if (u === 'urn:ietf:wg:oauth:2.0:oob') continue;
      try {
        if (new URL(u).hash) throw new Error('fragment');
      } catch {
        return mastodonError(reply, 422, 'Validation failed: Redirect URI must be an absolute URI.');
      }
    }
    const scopes = b['scopes'] === undefined ? ['read'] : scopeList(b['scopes']);
    // Unconfirmed wording: Doorkeeper refuses scopes the server does not know.
    if (scopes.length === 0 || scopes.some((s) => !(SCOPES as readonly string[]).includes(s))) return mastodonError(reply, 422, 'Validation failed: Scopes must be a subset of the scopes the server supports');
    const clientId = randomBytes(32).toString('base64url');
    const clientSecret = randomBytes(32).toString('base64url');
    const website = typeof b['website'] === 'string' && b['website'] ? b['website'] : null;
    apps.set(clientId, { name, website, scopes, redirectUris: uris });
    oauth.apps.set(clientId, { clientSecret, redirectUris: uris });
    return {
      id: snowflake(), name, website, scopes, redirect_uri: uris.join('\n'), redirect_uris: uris,
      client_id: clientId, client_secret: clientSecret, client_secret_expires_at: 0,
    };
  }

  function instanceEntity(req: FastifyRequest) {
    return {
      domain: req.headers.host, title: 'Mastodon (Crier sandbox)', version: '4.5.0+crier-sandbox', source_url: 'https://github.com/mastodon/mastodon',
      description: 'A simulated Mastodon instance for sandbox accounts.', usage: { users: { active_month: accounts.size } }, languages: ['en'],
      configuration: {
        urls: { streaming: null, status: null },
        accounts: { max_featured_tags: 10, max_pinned_statuses: 5 },
        statuses: { max_characters: config.maxCharacters, max_media_attachments: config.maxMediaAttachments, characters_reserved_per_url: config.charactersReservedPerUrl },
        media_attachments: {
          supported_mime_types: config.supportedMimeTypes, description_limit: config.descriptionLimit, image_size_limit: config.imageSizeLimit, image_matrix_limit: 33_177_600,
          video_size_limit: config.videoSizeLimit, video_frame_rate_limit: 120, video_matrix_limit: 8_294_400,
        },
        polls: { max_options: 4, max_characters_per_option: 50, min_expiration: 300, max_expiration: 2_629_746 },
        translation: { enabled: false },
      },
      registrations: { enabled: false, approval_required: false, message: null }, api_versions: { mastodon: 7 },
      contact: { email: '', account: null }, rules: [],
    };
  }

  async function plugin(app: FastifyInstance) {
    prefix = app.prefix;
    if (app.hasContentTypeParser(FORM)) app.removeContentTypeParser(FORM);
    app.addContentTypeParser(FORM, { parseAs: 'string' }, (_req, body, done) => done(null, parseForm(body as string)));
    installSimulatorCore(
      app,
      core,
      {
        serverError: (status) => ({ status, body: status === 503 ? { error: 'There was a temporary problem serving your request, please try again' } : { error: 'We\'re sorry, but something went wrong on our end.' } }),
        rateLimited: rateLimitedAnswer,
        // Mastodon tokens do not expire: a token that stopped working is answered like any invalid one.
        expiredToken: () => ({ status: 401, body: { error: 'The access token is invalid' } }),
      },
      accountOf,
    );

    // Mastodon's token answer: no expires_in (tokens never expire), token_type "Bearer", created_at.
    app.addHook('onSend', async (req, reply, payload) => {
      const op = req.routeOptions.config.operation;
      if (op === 'oauth.token' && reply.statusCode === 200 && typeof payload === 'string') {
        const { expires_in: _e, refresh_token: _r, refresh_token_expires_in: _x, ...rest } = JSON.parse(payload) as Record<string, unknown>;
        return JSON.stringify({ ...rest, token_type: 'Bearer', created_at: Math.floor(Date.now() / 1000) });
      }
      if (op && !op.startsWith('oauth.') && reply.statusCode >= 400 && !acceptsJson(req)) {
        reply.type('text/html; charset=utf-8');
        return htmlErrorPage(reply.statusCode);
      }
      return payload;
    });
    // The scopes asked for must be among those the app registered (docs methods/oauth#authorize).
    app.addHook('preHandler', async (req, reply) => {
      if (req.routeOptions.config.operation !== 'oauth.authorize') return;
      const q = { ...(req.query as Record<string, string>), ...((req.body as Record<string, string>) ?? {}) };
      const registered = apps.get(q['client_id'] ?? '');
      const redirect = q['redirect_uri'];
      if (!registered || !redirect || (registered.redirectUris.length > 0 && !registered.redirectUris.includes(redirect))) return;
      const asked = scopeList(q['scope'] ?? 'read');
      if (asked.every((s) => grants(registered.scopes, s))) return;
      const back = new URL(redirect);
      back.searchParams.set('error', 'invalid_scope');
      back.searchParams.set('error_description', 'The requested scope is invalid, unknown, or malformed.');
      if (q['state']) back.searchParams.set('state', q['state']);
      return reply.redirect(back.toString(), 302);
    });
    oauth.routes(app);

    const { entity: mediaEntity } = mediaRoutes(app, { config, media, guard, origin });
    const { entity } = statusRoutes(app, { config, statuses, media, idempotency, guard, account, origin, mediaEntity, appName: (id) => apps.get(id)?.name ?? id });

    app.post('/api/v1/apps', { config: { operation: 'apps.create' } }, registerApp);
    app.get('/api/v2/instance', { config: { operation: 'instance' } }, async (req) => instanceEntity(req));
    app.get('/api/v1/accounts/verify_credentials', { config: { operation: 'accounts.verify_credentials' } }, async (req, reply) => {
      const g = await guard.authorize(req, reply, ['profile', 'read:accounts']);
      if (!g) return reply;
      const a = account(g.user.id)!;
      const statusesCount = [...statuses.values()].filter((s) => s.accountId === a.id && !s.deletedAt).length;
      return {
        id: a.id, username: a.username, acct: a.username, display_name: a.displayName, locked: false, bot: false, created_at: new Date(a.createdAt).toISOString(),
        note: '', url: `${origin(req)}/@${a.username}`, followers_count: 0, following_count: 0, statuses_count: statusesCount, emojis: [], fields: [],
        source: { privacy: 'public', sensitive: false, language: '', note: '', fields: [], follow_requests_count: 0 },
      };
    });

    // What a status's URL shows in the sandbox.
    app.get('/@:username/:id', async (req, reply) => {
      const { username, id } = req.params as { username: string; id: string };
      const st = statuses.get(id);
      const a = st && account(st.accountId);
      if (!st || !a || a.username !== username || st.deletedAt || st.visibility === 'private' || st.visibility === 'direct') {
        return reply.code(404).type('text/html').send(htmlErrorPage(404));
      }
      return reply.type('text/html; charset=utf-8').send(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>@${a.username} (Mastodon sandbox)</title></head><body><article>${entity(req, st)['content']}</article></body></html>`);
    });

    // Sandbox accounts: a user with a token of the given scopes, as a finished connection holds.
    app.post('/_sim/accounts', async (req, reply) => {
      const b = (req.body ?? {}) as { username?: unknown; display_name?: unknown; scopes?: unknown };
      const username = typeof b.username === 'string' ? b.username : '';
      if (!/^[a-z0-9_]{1,30}$/i.test(username)) return mastodonError(reply, 422, 'Validation failed: Username must contain only letters, numbers and underscores');
      const scopes = Array.isArray(b.scopes) ? b.scopes.filter((s): s is string => (SCOPES as readonly string[]).includes(s)) : ['read', 'write'];
      const user = oauth.user(username);
      const a: SimAccount = { id: user.id, username, displayName: typeof b.display_name === 'string' && b.display_name ? b.display_name : username, createdAt: accounts.get(user.id)?.createdAt ?? Date.now() };
      accounts.set(a.id, a);
      const tokens = await oauth.issue(user, scopes, SANDBOX_APP.clientId);
      return reply.code(201).send({ id: a.id, username, acct: username, display_name: a.displayName, access_token: tokens['access_token'], scope: scopes.join(' ') });
    });
    // A status of another server, as search with resolve=true would fetch it into this instance.
    app.post('/_sim/remote_statuses', async (req, reply) => {
      const b = (req.body ?? {}) as { url?: unknown; text?: unknown };
      if (typeof b.url !== 'string' || !/^https:\/\/[^/]+\/@([a-z0-9_]+)\/\d+$/i.test(b.url)) return mastodonError(reply, 422, 'url must look like https://host/@user/123');
      const u = new URL(b.url);
      const username = u.pathname.split('/')[1]!.slice(1);
      const id = accountIdFor(`${username}@${u.host}`);
      if (!accounts.has(id)) accounts.set(id, { id, username, displayName: username, createdAt: Date.now(), remote: u.host });
      const st: SimStatus = {
        id: snowflake(), accountId: id, text: typeof b.text === 'string' ? b.text : '', spoilerText: '', sensitive: false, visibility: 'public', language: 'en',
        inReplyToId: null, inReplyToAccountId: null, mediaIds: [], createdAt: Date.now(), application: null, remoteUrl: b.url,
      };
      statuses.set(st.id, st);
      return reply.code(201).send({ id: st.id });
    });
    app.post('/_sim/accounts/:id/revoke', async (req, reply) => {
      oauth.revokeUser((req.params as { id: string }).id);
      return reply.code(204).send();
    });
    app.get('/_sim/statuses', async (req) => {
      const who = (req.query as { account?: string }).account;
      return { statuses: [...statuses.values()].filter((s) => !who || s.accountId === who) };
    });
    app.get('/_sim/media', async (req) => {
      const who = (req.query as { account?: string }).account;
      return { media: [...media.values()].filter((m) => !who || m.accountId === who) };
    });
    app.get('/_sim/apps', async () => ({ apps: [...apps.entries()].map(([client_id, a]) => ({ client_id, ...a })) }));
    app.get('/_sim/config', async () => config);
    app.put('/_sim/config', async (req) => {
      const body = (req.body ?? {}) as Partial<MastodonSimConfig>;
      for (const [k, v] of Object.entries(body)) {
        if (k === 'supportedMimeTypes' && Array.isArray(v)) config.supportedMimeTypes = v.map(String);
        else if (k in config && typeof v === 'number' && v >= 0) (config as Record<string, unknown>)[k] = v;
      }
      return config;
    });
  }

  return { core, config, oauth, apps, accounts, statuses, media, plugin };
}
