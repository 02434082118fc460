// A simulator of Post for Me's API as Crier uses it (platforms.md §12; the shapes of its published SDK),
// mounted at `/postforme` so `https://api.postforme.dev/v1/…` is `<sandbox>/postforme/v1/…`. Posts are
// processed after `config.processingMs`: then each account has a post result (success with the
// platform's id and URL, or failure with the reason, for accounts marked failing). `external_id` is
// stored and filterable, as on the real service.
// Not reproduced: scheduling, drafts, platform configurations, webhooks, account feeds, previews.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { createProviderSimBase, installProviderBasics, platformPostUrl, type ProviderSimBase, type SimProviderKey } from './common.js';

type SimPost = { id: string; key: string; caption: string; social_accounts: string[]; media: { url: string }[]; external_id: string | null; created_at: string };
type SimResult = { id: string; post_id: string; social_account_id: string; success: boolean; error: string | null; platform_data: { id?: string; url?: string }; details: Record<string, unknown> };

export type PostForMeSimulator = ProviderSimBase & {
  core: SimulatorCore;
  config: { processingMs: number };
  posts: Map<string, SimPost>;
  plugin: (app: FastifyInstance) => Promise<void>;
};

const PLATFORMS = new Set(['bluesky', 'facebook', 'instagram', 'linkedin', 'pinterest', 'threads', 'tiktok', 'x', 'twitter', 'youtube']);

export function createPostForMeSimulator(): PostForMeSimulator {
  const base = createProviderSimBase('spc_');
  const core = createSimulatorCore();
  const config = { processingMs: 300 };
  const posts = new Map<string, SimPost>();
  const results = new Map<string, SimResult[]>();

  const bad = (reply: FastifyReply, status: number, message: string) => reply.code(status).send({ statusCode: status, message, error: status === 400 ? 'Bad Request' : status === 404 ? 'Not Found' : 'Error' });

  /** Results appear once the post has been processed; fixed from then on. */
  function resultsOf(p: SimPost, key: SimProviderKey): SimResult[] {
    if (Date.now() - Date.parse(p.created_at) < config.processingMs) return [];
    if (!results.has(p.id)) {
      results.set(p.id, p.social_accounts.map((accountId) => {
        const a = key.accounts.get(accountId)!;
        const failure = base.failing.get(accountId);
        const platformId = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
        return { id: `spr_${randomBytes(8).toString('hex')}`, post_id: p.id, social_account_id: accountId, success: !failure, error: failure ?? null, platform_data: failure ? {} : { id: platformId, url: platformPostUrl(a.platform, a.username, platformId) }, details: {} };
      }));
    }
    return results.get(p.id)!;
  }

  async function plugin(app: FastifyInstance) {
    const prefix = app.prefix;
    installSimulatorCore(app, core, {
      serverError: (status) => ({ status, body: { statusCode: status, message: 'Internal server error' } }),
      rateLimited: (s) => ({ status: 429, body: { statusCode: 429, message: 'ThrottlerException: Too Many Requests' }, headers: { 'retry-after': String(s) } }),
      expiredToken: () => ({ status: 401, body: { statusCode: 401, message: 'Unauthorized' } }),
    }, (req) => base.keyOf(req)?.projectId);
    const basics = installProviderBasics(app, base, 'Post for Me');

    // Every /v1 route needs a known API key.
    app.addHook('preHandler', async (req, reply) => {
      if (!req.url.startsWith(`${prefix}/v1/`)) return;
      if (!base.keyOf(req)) return bad(reply, 401, 'Unauthorized');
    });
    const keyOf = (req: Parameters<ProviderSimBase['keyOf']>[0]) => base.keyOf(req)!;

    app.post<{ Body: { platform?: string; redirect_url?: string } }>('/v1/social-accounts/auth-url', { config: { operation: 'auth_url' } }, async (req, reply) => {
      const { platform, redirect_url: redirect } = req.body ?? {};
      if (!platform || !PLATFORMS.has(platform)) return bad(reply, 400, `platform must be one of ${[...PLATFORMS].join(', ')}`);
      if (!redirect || !/^https?:\/\//.test(redirect)) return bad(reply, 400, 'redirect_url must be a URL');
      return { url: basics.connectStart(req, keyOf(req), platform === 'twitter' ? 'x' : platform, redirect, prefix) };
    });

    app.get<{ Querystring: { limit?: string; offset?: string } }>('/v1/social-accounts', { config: { operation: 'list_accounts' } }, async (req) => {
      const all = [...keyOf(req).accounts.values()].map((a) => ({ id: a.id, platform: a.platform, username: a.username, status: a.status, user_id: a.id.slice(4), profile_photo_url: null, external_id: null }));
      const limit = Math.min(Number(req.query.limit ?? 50), 100);
      const offset = Number(req.query.offset ?? 0);
      return { data: all.slice(offset, offset + limit), meta: { limit, offset, total: all.length, next: offset + limit < all.length ? `?offset=${offset + limit}` : null } };
    });

    app.post<{ Body: { content_type?: string; mime_type?: string } }>('/v1/media/create-upload-url', { config: { operation: 'create_upload_url' } }, async (req, reply) => {
      const type = req.body?.content_type ?? req.body?.mime_type;
      if (!type || !/^(image|video)\//.test(type)) return bad(reply, 400, 'content_type must be an image or video type');
      const p = basics.presign(req, prefix, type);
      return { upload_url: p.uploadUrl, media_url: p.publicUrl };
    });

    app.post<{ Body: { caption?: unknown; social_accounts?: unknown; media?: { url?: string }[]; external_id?: string; scheduled_at?: string } }>('/v1/social-posts', { config: { operation: 'create_post' } }, async (req, reply) => {
      const key = keyOf(req);
      const b = req.body ?? {};
      if (typeof b.caption !== 'string') return bad(reply, 400, 'caption must be a string');
      if (!Array.isArray(b.social_accounts) || b.social_accounts.length === 0) return bad(reply, 400, 'social_accounts must contain at least one account id');
      const unknown = b.social_accounts.filter((id) => typeof id !== 'string' || key.accounts.get(id)?.status !== 'connected');
      if (unknown.length) return bad(reply, 400, `social account(s) not found or disconnected: ${unknown.join(', ')}`);
      for (const m of b.media ?? []) {
        const id = /\/_media\/([0-9a-f]+)$/.exec(m.url ?? '')?.[1];
        if (!id || !base.media.get(id)?.bytes) return bad(reply, 400, `media url ${m.url} has not been uploaded`);
      }
      const post: SimPost = { id: `sp_${randomBytes(10).toString('hex')}`, key: key.key, caption: b.caption, social_accounts: b.social_accounts as string[], media: (b.media ?? []).map((m) => ({ url: m.url! })), external_id: b.external_id ?? null, created_at: new Date().toISOString() };
      posts.set(post.id, post);
      return reply.code(200).send({ ...post, key: undefined, status: 'processing', scheduled_at: null, platform_configurations: null, account_configurations: null, updated_at: post.created_at });
    });

    const view = (p: SimPost, key: SimProviderKey) => ({ ...p, key: undefined, status: resultsOf(p, key).length ? 'processed' : 'processing', updated_at: p.created_at });

    app.get<{ Querystring: { external_id?: string; limit?: string; offset?: string } }>('/v1/social-posts', { config: { operation: 'list_posts' } }, async (req) => {
      const key = keyOf(req);
      const mine = [...posts.values()].filter((p) => p.key === key.key && (!req.query.external_id || p.external_id === req.query.external_id)).reverse();
      const limit = Math.min(Number(req.query.limit ?? 50), 100);
      const offset = Number(req.query.offset ?? 0);
      return { data: mine.slice(offset, offset + limit).map((p) => view(p, key)), meta: { limit, offset, total: mine.length, next: null } };
    });

    app.get<{ Params: { id: string } }>('/v1/social-posts/:id', { config: { operation: 'get_post' } }, async (req, reply) => {
      const p = posts.get(req.params.id);
      if (!p || p.key !== keyOf(req).key) return bad(reply, 404, 'Post not found');
      return view(p, keyOf(req));
    });

    app.get<{ Querystring: { post_id?: string; social_account_id?: string } }>('/v1/social-post-results', { config: { operation: 'list_results' } }, async (req) => {
      const key = keyOf(req);
      const mine = [...posts.values()].filter((p) => p.key === key.key && (!req.query.post_id || p.id === req.query.post_id));
      const data = mine.flatMap((p) => resultsOf(p, key)).filter((r) => !req.query.social_account_id || r.social_account_id === req.query.social_account_id);
      return { data, meta: { limit: 50, offset: 0, total: data.length, next: null } };
    });
  }

  return Object.assign(base, { core, config, posts, plugin });
}
