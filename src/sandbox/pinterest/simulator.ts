// A simulator of the part of Pinterest API v5 Crier uses (platforms.md §8), mounted at `/pinterest`, so
// `https://api.pinterest.com/v5/pins` is `<sandbox>/pinterest/v5/pins` and the consent page
// `https://www.pinterest.com/oauth/` is `<sandbox>/pinterest/oauth/`. OAuth 2.0 is the shared simulated
// server (../oauth.ts) with Pinterest's rules: scopes joined by commas, HTTP Basic client authentication at
// /v5/oauth/token, 30-day access tokens, 365-day refresh tokens that rotate ("continuous refresh") and whose
// expiry is in the answer. Every API route checks the bearer token and the scopes the endpoint needs,
// counts the org_write category per user per minute (x-ratelimit-* headers), and refuses with Pinterest's
// `{code, message}` body. pins.ts and media.ts hold the publishing endpoints.
// Every user has one board ("Sandbox board") from the start; more boards and sections come from
// POST /v5/boards (boards:write) or POST /_sim/boards.
// Not reproduced: the 1,000-requests-a-day trial tier, ads, catalogs, analytics, and group boards.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { createSimOAuth, type SimGrant, type SimOAuth } from '../oauth.js';
import { mediaRoutes } from './media.js';
import { pinRoutes } from './pins.js';
import { DEFAULT_CONFIG, invalid, notFound, pinError, pinId, type PinterestSimConfig, type SimBoard, type SimMedia, type SimPin } from './state.js';

export type { SimBoard, SimMedia, SimPin, PinterestSimConfig } from './state.js';
export { DEFAULT_CONFIG } from './state.js';

export const PINTEREST_ALL_SCOPES = [
  'ads:read', 'ads:write', 'billing:read', 'billing:write', 'biz_access:read', 'biz_access:write', 'boards:read', 'boards:read_secret',
  'boards:write', 'boards:write_secret', 'catalogs:read', 'catalogs:write', 'pins:read', 'pins:read_secret', 'pins:write',
  'pins:write_secret', 'user_accounts:read',
] as const;

export type PinterestSimState = {
  config: PinterestSimConfig;
  boards: Map<string, SimBoard>;
  pins: Map<string, SimPin>;
  media: Map<string, SimMedia>;
  /** Checks the bearer token, the scopes and the rate limit; answers the request itself when refused. */
  authenticate(req: FastifyRequest, reply: FastifyReply, scopes: string[], kind: 'read' | 'write'): Promise<SimGrant | undefined>;
  /** One page of `items` by `page_size` (1–250, default 25) and `bookmark`; answers 400 itself when they are invalid. */
  page<T>(reply: FastifyReply, items: T[], query: Record<string, string>): { items: T[]; bookmark: string | null } | undefined;
};

export type PinterestSimulator = {
  core: SimulatorCore;
  oauth: SimOAuth;
  config: PinterestSimConfig;
  boards: Map<string, SimBoard>;
  pins: Map<string, SimPin>;
  media: Map<string, SimMedia>;
  /** Adds a board (or a section of one) for a user, as the user would in Pinterest's app. */
  addBoard(userId: string, board: { name: string; privacy?: SimBoard['privacy']; sections?: string[] }): SimBoard;
  plugin: (app: FastifyInstance) => Promise<void>;
};

const MINUTE = 60_000;
const numericId = (seed: string) => (BigInt(`0x${createHash('sha256').update(seed).digest('hex').slice(0, 14)}`) + 100_000_000_000_000_000n).toString();

export function createPinterestSimulator(opts: { secret?: string; config?: Partial<PinterestSimConfig> } = {}): PinterestSimulator {
  const config: PinterestSimConfig = { ...DEFAULT_CONFIG, ...opts.config };
  const core = createSimulatorCore();
  const oauth = createSimOAuth(
    {
      authorizePath: '/oauth/',
      tokenPath: '/v5/oauth/token',
      scopes: PINTEREST_ALL_SCOPES,
      scopeSeparator: ',',
      pkce: 'optional',
      clientAuth: 'basic',
      accessTtlSec: 30 * 86_400,
      refresh: { ttlSec: 365 * 86_400, rotate: true },
      userId: (username) => numericId(`user:${username.toLowerCase()}`),
      tokenExtras: () => ({ refresh_token_expires_at: Math.floor(Date.now() / 1000) + 365 * 86_400 }),
    },
    { secret: opts.secret },
  );
  const boards = new Map<string, SimBoard>();
  const pins = new Map<string, SimPin>();
  const media = new Map<string, SimMedia>();
  const writes = new Map<string, { start: number; count: number }>();

  function addBoard(userId: string, b: { name: string; privacy?: SimBoard['privacy']; sections?: string[] }): SimBoard {
    const board: SimBoard = { id: pinId(), ownerId: userId, name: b.name, description: '', privacy: b.privacy ?? 'PUBLIC', createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, ''), sections: (b.sections ?? []).map((name) => ({ id: pinId(), name })) };
    boards.set(board.id, board);
    return board;
  }
  /** Every user starts with one board, with a deterministic id (so it survives nothing but is easy to find). */
  function ensureBoards(userId: string) {
    const id = numericId(`board:${userId}`);
    if (!boards.has(id)) boards.set(id, { id, ownerId: userId, name: 'Sandbox board', description: 'Made by the Crier sandbox', privacy: 'PUBLIC', createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, ''), sections: [] });
  }

  const state: PinterestSimState = {
    config,
    boards,
    pins,
    media,
    async authenticate(req, reply, scopes, kind) {
      const check = await oauth.verify(req.headers.authorization);
      if (!check.ok) {
        pinError(reply, 401, 2, 'Authentication failed.');
        return undefined;
      }
      const g = check.grant;
      ensureBoards(g.user.id);
      const missing = scopes.filter((s) => !g.scopes.includes(s));
      if (missing.length > 0) {
        pinError(reply, 403, 3, `Authorization failed. The access token is missing the scope(s): ${missing.join(', ')}.`);
        return undefined;
      }
      if (kind === 'write') {
        const now = Date.now();
        let w = writes.get(g.user.id);
        if (!w || now - w.start >= MINUTE) writes.set(g.user.id, (w = { start: now, count: 0 }));
        const allowed = w.count < config.writesPerMinute;
        if (allowed) w.count++;
        reply.headers({ 'x-ratelimit-limit': String(config.writesPerMinute), 'x-ratelimit-remaining': String(config.writesPerMinute - w.count), 'x-ratelimit-reset': String(Math.ceil((w.start + MINUTE - now) / 1000)) });
        if (!allowed) {
          pinError(reply, 429, 29, 'You have exceeded your rate limit. Try again later.');
          return undefined;
        }
      }
      return g;
    },
    page(reply, items, query) {
      const size = query['page_size'] === undefined ? 25 : Number(query['page_size']);
      if (!Number.isInteger(size) || size < 1 || size > 250) {
        invalid(reply, 'page_size must be an integer between 1 and 250.');
        return undefined;
      }
      let from = 0;
      if (query['bookmark']) {
        from = Number(Buffer.from(query['bookmark'], 'base64url').toString());
        if (!Number.isInteger(from) || from < 0) {
          invalid(reply, 'Invalid bookmark.');
          return undefined;
        }
      }
      const slice = items.slice(from, from + size);
      return { items: slice, bookmark: from + size < items.length ? Buffer.from(String(from + size)).toString('base64url') : null };
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

  const boardJson = (b: SimBoard, owner: string) => ({ id: b.id, created_at: b.createdAt, board_pins_modified_at: b.createdAt, name: b.name, description: b.description, owner: { username: owner }, privacy: b.privacy, pin_count: [...pins.values()].filter((p) => p.boardId === b.id).length, follower_count: 0, collaborator_count: 0 });

  async function plugin(app: FastifyInstance) {
    installSimulatorCore(
      app,
      core,
      {
        serverError: (status) => ({ status, body: { code: status === 503 ? 503 : 500, message: status === 503 ? 'Service unavailable. Please try again later.' : 'Internal server error.' } }),
        rateLimited: (s) => ({ status: 429, body: { code: 29, message: 'You have exceeded your rate limit. Try again later.' }, headers: { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(s) } }),
        expiredToken: () => ({ status: 401, body: { code: 2, message: 'Authentication failed.' } }),
      },
      accountOf,
    );
    app.setErrorHandler((error: { statusCode?: number; message: string }, _req, reply) => {
      const status = error.statusCode ?? 500;
      return pinError(reply, status, status < 500 ? 1 : 500, status < 500 ? `Invalid request: ${error.message}` : 'Internal server error.');
    });

    oauth.routes(app);

    app.get('/v5/user_account', { config: { operation: 'user_account/get' } }, async (req, reply) => {
      const g = await state.authenticate(req, reply, ['user_accounts:read'], 'read');
      if (!g) return reply;
      const own = [...boards.values()].filter((b) => b.ownerId === g.user.id);
      return {
        account_type: 'PINNER', id: g.user.id, username: g.user.username, profile_image: `https://i.pinimg.com/75x75_RS/sandbox/${g.user.id}.jpg`,
        website_url: '', business_name: null, about: '', board_count: own.length, pin_count: [...pins.values()].filter((p) => p.ownerId === g.user.id).length,
        follower_count: 0, following_count: 0, monthly_views: 0,
      };
    });

    app.get<{ Querystring: Record<string, string> }>('/v5/boards', { config: { operation: 'boards/list' } }, async (req, reply) => {
      const g = await state.authenticate(req, reply, ['boards:read'], 'read');
      if (!g) return reply;
      const secret = g.scopes.includes('boards:read_secret');
      const own = [...boards.values()].filter((b) => b.ownerId === g.user.id && (secret || b.privacy !== 'SECRET'));
      const page = state.page(reply, own, req.query);
      if (!page) return reply;
      return { items: page.items.map((b) => boardJson(b, g.user.username)), bookmark: page.bookmark };
    });

    app.get<{ Params: { board_id: string } }>('/v5/boards/:board_id', { config: { operation: 'boards/get' } }, async (req, reply) => {
      const g = await state.authenticate(req, reply, ['boards:read'], 'read');
      if (!g) return reply;
      const b = boards.get(req.params.board_id);
      if (!b || b.ownerId !== g.user.id) return notFound(reply, 'Board');
      return boardJson(b, g.user.username);
    });

    app.post('/v5/boards', { config: { operation: 'boards/create' } }, async (req, reply) => {
      const g = await state.authenticate(req, reply, ['boards:write'], 'write');
      if (!g) return reply;
      const body = (req.body ?? {}) as { name?: unknown; description?: unknown; privacy?: unknown };
      if (typeof body.name !== 'string' || body.name.length === 0 || body.name.length > 180) return invalid(reply, 'name is required (at most 180 characters).');
      if (body.privacy !== undefined && !['PUBLIC', 'PROTECTED', 'SECRET'].includes(body.privacy as string)) return invalid(reply, 'privacy must be PUBLIC, PROTECTED or SECRET.');
      const b = addBoard(g.user.id, { name: body.name, privacy: body.privacy as SimBoard['privacy'] | undefined });
      if (typeof body.description === 'string') b.description = body.description;
      return reply.code(201).send(boardJson(b, g.user.username));
    });

    pinRoutes(app, state);
    mediaRoutes(app, state);

    // The sandbox's stand-in for https://www.pinterest.com/pin/{id}/.
    app.get<{ Params: { id: string } }>('/pin/:id/', async (req, reply) => {
      const p = pins.get(req.params.id);
      if (!p) return reply.code(404).type('text/html').send('<!doctype html><p>Pin not found.</p>');
      const esc = (s: string | null) => (s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      return reply.type('text/html').send(`<!doctype html><meta charset="utf-8"><title>${esc(p.title)}</title><h1>${esc(p.title)}</h1><p>${esc(p.description)}</p>`);
    });

    app.get<{ Querystring: { user?: string } }>('/_sim/pins', async (req) => ({ pins: [...pins.values()].filter((p) => !req.query.user || p.ownerId === req.query.user) }));
    app.get<{ Querystring: { user?: string } }>('/_sim/boards', async (req) => ({ boards: [...boards.values()].filter((b) => !req.query.user || b.ownerId === req.query.user) }));
    app.post<{ Body: { user_id: string; name: string; privacy?: SimBoard['privacy']; sections?: string[] } }>('/_sim/boards', {
      schema: { body: { type: 'object', required: ['user_id', 'name'], additionalProperties: false, properties: { user_id: { type: 'string' }, name: { type: 'string', minLength: 1 }, privacy: { enum: ['PUBLIC', 'PROTECTED', 'SECRET'] }, sections: { type: 'array', items: { type: 'string' } } } } },
    }, async (req, reply) => reply.code(201).send(addBoard(req.body.user_id, req.body)));
    app.get('/_sim/config', async () => config);
    app.put<{ Body: Partial<PinterestSimConfig> }>('/_sim/config', {
      schema: { body: { type: 'object', additionalProperties: false, properties: Object.fromEntries(Object.keys(DEFAULT_CONFIG).map((k) => [k, { type: 'integer', minimum: 0 }])) } },
    }, async (req) => Object.assign(config, req.body));
  }

  return { core, oauth, config, boards, pins, media, addBoard, plugin };
}
