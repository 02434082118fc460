// A simulator of LATE's (now Zernio's) API as Crier uses it (platforms.md §12), mounted at `/late` so
// `https://getlate.dev/api/v1/…` is `<sandbox>/late/api/v1/…`. A post with `publishNow` is published while
// the create is answered (each platform entry with its post id and URL), except on platforms listed in
// `config.slowPlatforms`, whose entries stay pending for `config.processingMs`; accounts marked failing
// get a failed entry with the reason. The same content to the same account within 24 hours is a 409.
// Not reproduced: profiles beyond the key's one, queues, scheduling, analytics, webhooks, inbox.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { createProviderSimBase, installProviderBasics, platformPostUrl, type ProviderSimBase, type SimProviderKey } from './common.js';

type Entry = { platform: string; accountId: string; status: 'pending' | 'published' | 'failed'; platformPostId?: string; platformPostUrl?: string; errorMessage?: string; readyAt: number };
type SimPost = { _id: string; key: string; content: string; mediaItems: { url: string; type: string }[]; platforms: Entry[]; status: string; createdAt: string };

export type LateSimulator = ProviderSimBase & {
  core: SimulatorCore;
  config: { processingMs: number; slowPlatforms: string[] };
  posts: Map<string, SimPost>;
  plugin: (app: FastifyInstance) => Promise<void>;
};

const DUPLICATE_WINDOW_MS = 24 * 3600_000;

export function createLateSimulator(): LateSimulator {
  const base = createProviderSimBase('');
  const core = createSimulatorCore();
  const config = { processingMs: 300, slowPlatforms: [] as string[] };
  const posts = new Map<string, SimPost>();
  const bad = (reply: FastifyReply, status: number, error: string, code?: string) => reply.code(status).send({ error, ...(code ? { code } : {}) });

  function settle(p: SimPost, key: SimProviderKey): SimPost {
    for (const e of p.platforms) {
      if (e.status !== 'pending' || Date.now() < e.readyAt) continue;
      const failure = base.failing.get(e.accountId);
      if (failure) Object.assign(e, { status: 'failed', errorMessage: failure });
      else {
        const id = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
        Object.assign(e, { status: 'published', platformPostId: id, platformPostUrl: platformPostUrl(e.platform, key.accounts.get(e.accountId)?.username ?? 'user', id) });
      }
    }
    p.status = p.platforms.every((e) => e.status === 'published') ? 'published' : p.platforms.some((e) => e.status === 'pending') ? 'publishing' : p.platforms.some((e) => e.status === 'published') ? 'partial' : 'failed';
    return p;
  }
  const view = (p: SimPost) => ({ ...p, key: undefined, platforms: p.platforms.map(({ readyAt: _r, ...e }) => e) });

  async function plugin(app: FastifyInstance) {
    const prefix = app.prefix;
    installSimulatorCore(app, core, {
      serverError: (status) => ({ status, body: { error: 'Internal server error' } }),
      rateLimited: (s) => ({ status: 429, body: { error: 'Rate limit exceeded', code: 'rate_limited' }, headers: { 'retry-after': String(s) } }),
      expiredToken: () => ({ status: 401, body: { error: 'Unauthorized', code: 'unauthorized' } }),
    }, (req) => base.keyOf(req)?.projectId);
    const basics = installProviderBasics(app, base, 'LATE');
    app.addHook('preHandler', async (req, reply) => {
      if (!req.url.startsWith(`${prefix}/api/v1/`)) return;
      if (!base.keyOf(req)) return bad(reply, 401, 'Unauthorized', 'unauthorized');
    });
    const keyOf = (req: Parameters<ProviderSimBase['keyOf']>[0]) => base.keyOf(req)!;
    const platformName = (p: string) => (p === 'x' ? 'twitter' : p);

    app.get('/api/v1/accounts', { config: { operation: 'list_accounts' } }, async (req) => {
      const key = keyOf(req);
      return { accounts: [...key.accounts.values()].filter((a) => a.status === 'connected').map((a) => ({ _id: a.id, platform: platformName(a.platform), username: a.username, displayName: a.username, profileId: key.profileId, isActive: true })) };
    });

    app.get<{ Params: { platform: string }; Querystring: { profileId?: string; redirect_url?: string } }>('/api/v1/connect/:platform', { config: { operation: 'connect' } }, async (req, reply) => {
      const key = keyOf(req);
      if (req.query.profileId && req.query.profileId !== key.profileId) return bad(reply, 404, 'Profile not found');
      if (!req.query.redirect_url || !/^https?:\/\//.test(req.query.redirect_url)) return bad(reply, 400, 'redirect_url is required');
      const platform = req.params.platform === 'twitter' ? 'x' : req.params.platform;
      return { authUrl: basics.connectStart(req, key, platform, req.query.redirect_url, prefix), state: randomBytes(8).toString('hex') };
    });

    app.post<{ Body: { filename?: string; contentType?: string } }>('/api/v1/media/presign', { config: { operation: 'presign' } }, async (req, reply) => {
      const type = req.body?.contentType;
      if (!req.body?.filename || !type || !/^(image|video)\//.test(type)) return bad(reply, 400, 'filename and an image or video contentType are required');
      const p = basics.presign(req, prefix, type);
      return { uploadUrl: p.uploadUrl, publicUrl: p.publicUrl, key: p.id, type: type.split('/')[0] };
    });

    app.post<{ Body: { content?: unknown; platforms?: { platform?: string; accountId?: string }[]; mediaItems?: { url?: string; type?: string }[]; publishNow?: boolean; scheduledFor?: string } }>('/api/v1/posts', { config: { operation: 'create_post' } }, async (req, reply) => {
      const key = keyOf(req);
      const b = req.body ?? {};
      if (typeof b.content !== 'string' || (!b.content && !b.mediaItems?.length)) return bad(reply, 400, 'content is required', 'validation_error');
      if (!Array.isArray(b.platforms) || b.platforms.length === 0) return bad(reply, 400, 'platforms must name at least one account', 'validation_error');
      for (const t of b.platforms) {
        const a = t.accountId ? key.accounts.get(t.accountId) : undefined;
        if (!a || a.status !== 'connected' || platformName(a.platform) !== t.platform) return bad(reply, 400, `account ${t.accountId} is not a connected ${t.platform} account`, 'validation_error');
      }
      for (const m of b.mediaItems ?? []) {
        const id = /\/_media\/([0-9a-f]+)$/.exec(m.url ?? '')?.[1];
        if (!id || !base.media.get(id)?.bytes) return bad(reply, 400, `media ${m.url} could not be fetched`, 'validation_error');
      }
      const now = Date.now();
      const dup = [...posts.values()].find((p) => p.key === key.key && p.content === b.content && now - Date.parse(p.createdAt) < DUPLICATE_WINDOW_MS && p.platforms.some((e) => b.platforms!.some((t) => t.accountId === e.accountId)));
      if (dup) return bad(reply, 409, 'This exact content was already posted to this account within the last 24 hours.', 'duplicate_content');
      const post: SimPost = {
        _id: randomBytes(12).toString('hex'),
        key: key.key,
        content: b.content,
        mediaItems: (b.mediaItems ?? []).map((m) => ({ url: m.url!, type: m.type ?? 'image' })),
        platforms: b.platforms.map((t) => ({ platform: t.platform!, accountId: t.accountId!, status: 'pending', readyAt: b.publishNow && !config.slowPlatforms.includes(t.platform!) ? now : now + config.processingMs })),
        status: 'publishing',
        createdAt: new Date(now).toISOString(),
      };
      posts.set(post._id, post);
      return reply.code(201).send({ post: view(settle(post, key)), message: 'Post created' });
    });

    app.get<{ Querystring: { limit?: string; page?: string } }>('/api/v1/posts', { config: { operation: 'list_posts' } }, async (req) => {
      const key = keyOf(req);
      const limit = Math.min(Number(req.query.limit ?? 10), 100);
      const pageNo = Math.max(Number(req.query.page ?? 1), 1);
      const mine = [...posts.values()].filter((p) => p.key === key.key).reverse();
      return { posts: mine.slice((pageNo - 1) * limit, pageNo * limit).map((p) => view(settle(p, key))), pagination: { page: pageNo, limit, total: mine.length, pages: Math.ceil(mine.length / limit) } };
    });

    app.get<{ Params: { id: string } }>('/api/v1/posts/:id', { config: { operation: 'get_post' } }, async (req, reply) => {
      const p = posts.get(req.params.id);
      if (!p || p.key !== keyOf(req).key) return bad(reply, 404, 'Post not found', 'not_found');
      return { post: view(settle(p, keyOf(req))) };
    });
  }

  return Object.assign(base, { core, config, posts, plugin });
}
