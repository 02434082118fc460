// What the two aggregator-provider simulators (Post for Me, LATE) share: API keys each holding the social
// accounts connected on that provider account, a connect page that adds one (the provider's own OAuth,
// reduced to "who are you on <platform>"), and uploads by presigned PUT served back at a public URL.
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export type SimSocialAccount = { id: string; platform: string; username: string; status: 'connected' | 'disconnected' };
export type SimProviderKey = { key: string; projectId: string; profileId: string; accounts: Map<string, SimSocialAccount> };

export type ProviderSimBase = {
  keys: Map<string, SimProviderKey>;
  media: Map<string, { bytes: Buffer | null; contentType: string }>;
  /** Accounts whose next post results fail, with the platform's reason as the provider relays it. */
  failing: Map<string, string>;
  keyOf(req: FastifyRequest): SimProviderKey | undefined;
  newKey(): SimProviderKey;
  addAccount(key: SimProviderKey, platform: string, username: string): SimSocialAccount;
};

export function createProviderSimBase(accountPrefix: string): ProviderSimBase {
  const base: ProviderSimBase = {
    keys: new Map(),
    media: new Map(),
    failing: new Map(),
    keyOf(req) {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      return m ? base.keys.get(m[1]!) : undefined;
    },
    newKey() {
      const k: SimProviderKey = { key: `sk_sim_${randomBytes(16).toString('hex')}`, projectId: `proj_${randomBytes(6).toString('hex')}`, profileId: randomBytes(12).toString('hex'), accounts: new Map() };
      base.keys.set(k.key, k);
      return k;
    },
    addAccount(key, platform, username) {
      const existing = [...key.accounts.values()].find((a) => a.platform === platform && a.username === username);
      if (existing) return Object.assign(existing, { status: 'connected' as const });
      const a: SimSocialAccount = { id: `${accountPrefix}${randomBytes(8).toString('hex')}`, platform, username, status: 'connected' };
      key.accounts.set(a.id, a);
      return a;
    },
  };
  return base;
}

const page = (title: string, body: string) => `<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1>${body}`;
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Routes every provider simulator has: the control surface (/_sim/keys), the connect page and the upload
 * target. `connectStart` registers a pending connect and returns the page URL.
 */
export function installProviderBasics(app: FastifyInstance, base: ProviderSimBase, title: string) {
  const connects = new Map<string, { key: SimProviderKey; platform: string; redirect: string }>();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))));
  // Uploads are raw bytes of any type.
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 512 * 1024 * 1024 }, (_req, body, done) => done(null, body));

  app.post('/_sim/keys', async (_req, reply) => {
    const k = base.newKey();
    return reply.code(201).send({ api_key: k.key, project_id: k.projectId, profileId: k.profileId });
  });
  app.post<{ Params: { key: string }; Body: { platform: string; username: string } }>('/_sim/keys/:key/accounts', async (req, reply) => {
    const k = base.keys.get(req.params.key);
    if (!k) return reply.code(404).send({ error: 'no such key' });
    return reply.code(201).send(base.addAccount(k, req.body.platform, req.body.username));
  });
  app.post<{ Params: { id: string }; Body: { error?: string } }>('/_sim/accounts/:id/fail', async (req, reply) => {
    base.failing.set(req.params.id, req.body?.error ?? 'The platform refused the post');
    return reply.code(204).send();
  });

  app.get<{ Params: { token: string } }>('/connect/:token', async (req, reply) => {
    const c = connects.get(req.params.token);
    if (!c) return reply.code(404).type('text/html').send(page('Link expired', '<p>Start again from the app.</p>'));
    return reply.type('text/html').send(page(`${title}: connect ${esc(c.platform)}`, `<form method="post"><label>Your ${esc(c.platform)} username <input name="username" required></label><button name="decision" value="allow">Connect</button><button name="decision" value="deny">Cancel</button></form>`));
  });
  app.post<{ Params: { token: string }; Body: { username?: string; decision?: string } }>('/connect/:token', async (req, reply) => {
    const c = connects.get(req.params.token);
    if (!c) return reply.code(404).type('text/html').send(page('Link expired', '<p>Start again from the app.</p>'));
    connects.delete(req.params.token);
    const back = new URL(c.redirect);
    if (req.body?.decision === 'deny' || !req.body?.username) {
      back.searchParams.set('error', 'access_denied');
      return reply.redirect(back.toString(), 302);
    }
    const a = base.addAccount(c.key, c.platform, req.body.username.replace(/^@/, ''));
    back.searchParams.set('account_id', a.id);
    back.searchParams.set('platform', c.platform);
    return reply.redirect(back.toString(), 302);
  });

  app.put<{ Params: { id: string } }>('/_upload/:id', async (req, reply) => {
    const m = base.media.get(req.params.id);
    if (!m || m.bytes) return reply.code(403).send('<Error><Code>AccessDenied</Code><Message>Request has expired or was already used</Message></Error>');
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) return reply.code(400).send('<Error><Code>MissingContent</Code></Error>');
    m.bytes = req.body;
    return reply.code(200).send();
  });
  app.get<{ Params: { id: string } }>('/_media/:id', async (req, reply) => {
    const m = base.media.get(req.params.id);
    if (!m?.bytes) return reply.code(404).send('<Error><Code>NoSuchKey</Code></Error>');
    return reply.type(m.contentType).send(m.bytes);
  });

  return {
    connectStart(req: FastifyRequest, key: SimProviderKey, platform: string, redirect: string, prefix: string): string {
      const token = randomUUID();
      connects.set(token, { key, platform, redirect });
      return `${req.protocol}://${req.headers.host}${prefix}/connect/${token}`;
    },
    presign(req: FastifyRequest, prefix: string, contentType: string) {
      const id = randomBytes(10).toString('hex');
      base.media.set(id, { bytes: null, contentType });
      const at = `${req.protocol}://${req.headers.host}${prefix}`;
      return { id, uploadUrl: `${at}/_upload/${id}`, publicUrl: `${at}/_media/${id}` };
    },
  };
}

/** A post URL of the shape each platform uses, for a simulated result. */
export function platformPostUrl(platform: string, username: string, id: string): string {
  switch (platform) {
    case 'x': case 'twitter': return `https://x.com/${username}/status/${id}`;
    case 'linkedin': return `https://www.linkedin.com/feed/update/urn:li:share:${id}`;
    case 'bluesky': return `https://bsky.app/profile/${username}/post/${id}`;
    case 'threads': return `https://www.threads.net/@${username}/post/${id}`;
    case 'instagram': return `https://www.instagram.com/p/${id}/`;
    case 'facebook': return `https://www.facebook.com/${id}`;
    case 'tiktok': return `https://www.tiktok.com/@${username}/video/${id}`;
    case 'youtube': return `https://www.youtube.com/watch?v=${id}`;
    case 'pinterest': return `https://www.pinterest.com/pin/${id}/`;
    default: return `https://${platform}.example/${username}/${id}`;
  }
}
