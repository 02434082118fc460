// A simulator of the Threads API Crier uses (graph.threads.net, platforms.md §5), mounted at /threads: the
// OAuth code flow and Threads' long-lived token exchange and refresh (tokens.ts), media containers whose
// status moves IN_PROGRESS → FINISHED over time (files really pulled from their URLs, media.ts), carousels,
// threads_publish with the rolling 24-hour quotas, replies with reply_control, read-back of the account's
// posts and replies, and the publishing-limit endpoint. It refuses what Threads refuses with Graph error
// objects, keeps what was posted, and serves each post's permalink as a page of its own.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SANDBOX_APP } from '../../connectors/auth-types.js';
import { ALT_TEXT_MAX, CAROUSEL_MAX, CAROUSEL_MIN, LINKS_MAX, REPLY_CONTROLS, TEXT_MAX, TOPIC_TAG, threadsTextLength, uniqueLinks } from '../../connectors/threads/rules.js';
import { createSimulatorCore, installSimulatorCore, type SimulatorCore } from '../framework.js';
import { DEFAULT_CONFIG, accountOf, graphError, noSuchObject, params, select, type ThreadsSimConfig } from './graph.js';
import { pullMedia } from './media.js';
import { THREADS_SIM_SCOPES, createThreadsTokens, type Authorized, type ThreadsTokens } from './tokens.js';

export type { ThreadsSimConfig } from './graph.js';

type MediaType = 'TEXT' | 'IMAGE' | 'VIDEO' | 'CAROUSEL';

export type SimContainer = {
  id: string;
  userId: string;
  mediaType: MediaType;
  text?: string;
  url?: string;
  altText?: string;
  isCarouselItem: boolean;
  children?: string[];
  replyToId?: string;
  replyControl?: string;
  topicTag?: string;
  createdAt: number;
  /** When the file was pulled (media), after which processing takes `processingMs`. */
  fetchedAt?: number;
  errorMessage?: string;
  /** The simulator's own words for a failure (Threads only says error_message). */
  reason?: string;
  media?: { mimeType: string; size: number };
  usedBy?: string;
  publishedId?: string;
};

export type SimThread = {
  id: string;
  userId: string;
  username: string;
  mediaType: 'TEXT_POST' | 'IMAGE' | 'VIDEO' | 'CAROUSEL_ALBUM';
  text?: string;
  timestamp: number;
  shortcode: string;
  permalink: string;
  replyToId?: string;
  rootId: string;
  replyControl: string;
  topicTag?: string;
  altText?: string;
  containerId: string;
  mediaUrl?: string;
  children?: { id: string; mediaType: string; mediaUrl?: string }[];
};

export type ThreadsSimulator = {
  core: SimulatorCore;
  /** Changeable at run time (also through PUT /_sim/config). */
  config: ThreadsSimConfig;
  containers: Map<string, SimContainer>;
  threads: Map<string, SimThread>;
  profiles: Map<string, { id: string; username: string; name: string }>;
  tokens: ThreadsTokens;
  plugin: (app: FastifyInstance) => Promise<void>;
};

const PUBLISHED_TYPE = { TEXT: 'TEXT_POST', IMAGE: 'IMAGE', VIDEO: 'VIDEO', CAROUSEL: 'CAROUSEL_ALBUM' } as const;
const DAY_MS = 86_400_000;
/** Graph's timestamp format: "2024-07-05T12:34:56+0000". */
const graphTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');

export function createThreadsSimulator(opts: { secret?: string; config?: Partial<ThreadsSimConfig> } = {}): ThreadsSimulator {
  const config: ThreadsSimConfig = { ...DEFAULT_CONFIG, ...opts.config, processingMs: { ...DEFAULT_CONFIG.processingMs, ...opts.config?.processingMs } };
  const core = createSimulatorCore();
  const tokens = createThreadsTokens(opts.secret ?? randomBytes(32).toString('hex'), config);
  const containers = new Map<string, SimContainer>();
  const threads = new Map<string, SimThread>();
  const profiles = new Map<string, { id: string; username: string; name: string }>();
  let seq = 0;
  let prefix = ''; // where the plugin is mounted (/threads, or /sandbox/threads inside Crier), for permalinks
  const nextId = () => `${Date.now()}${String(seq++ % 10_000).padStart(4, '0')}`;

  const profile = (a: Authorized) => profiles.get(a.grant.user.id) ?? { id: a.grant.user.id, username: a.grant.user.username, name: a.grant.user.name };

  function statusOf(c: SimContainer): { status: string; error_message?: string } {
    if (c.publishedId) return { status: 'PUBLISHED' };
    if (Date.now() - c.createdAt > config.containerTtlSec * 1000) return { status: 'EXPIRED' };
    if (c.errorMessage) return { status: 'ERROR', error_message: c.errorMessage };
    const started = c.mediaType === 'IMAGE' || c.mediaType === 'VIDEO' ? c.fetchedAt : c.createdAt;
    return { status: started !== undefined && Date.now() >= started + config.processingMs[c.mediaType] ? 'FINISHED' : 'IN_PROGRESS' };
  }

  async function pull(c: SimContainer) {
    const kind = c.mediaType as 'IMAGE' | 'VIDEO';
    const got = await pullMedia(c.url!, kind, kind === 'VIDEO' ? config.videoMaxBytes : config.imageMaxBytes, config.fetchTimeoutMs);
    if (got.ok) c.media = { mimeType: got.mimeType, size: got.size };
    else [c.errorMessage, c.reason] = [got.errorMessage, got.reason];
    c.fetchedAt = Date.now();
  }

  const recent = (userId: string, replies: boolean) =>
    [...threads.values()].filter((t) => t.userId === userId && !!t.replyToId === replies && Date.now() - t.timestamp < DAY_MS).length;

  function mediaFields(t: SimThread | undefined): Record<string, unknown> {
    return {
      id: t?.id, media_product_type: 'THREADS', media_type: t?.mediaType, media_url: t?.mediaUrl, permalink: t?.permalink,
      owner: t && { id: t.userId }, username: t?.username, text: t?.text, timestamp: t && graphTime(t.timestamp), shortcode: t?.shortcode,
      thumbnail_url: undefined, children: t?.children && { data: t.children.map((c) => ({ id: c.id })) }, is_quote_post: false,
      alt_text: t?.altText, topic_tag: t?.topicTag, replied_to: t?.replyToId && { id: t.replyToId }, root_post: t && { id: t.rootId },
      is_reply: t && !!t.replyToId, hide_status: t?.replyToId ? 'NOT_HUSHED' : undefined,
    };
  }

  /** The token's user, who must be the path's user (or `me`), with these permissions. */
  async function asUser(req: FastifyRequest, reply: FastifyReply, scopes: string[]): Promise<Authorized | undefined> {
    const auth = await tokens.authorize(req, reply);
    if (!auth) return undefined;
    const id = (req.params as { id: string }).id;
    if (id !== 'me' && id !== auth.grant.user.id) {
      noSuchObject(reply, id);
      return undefined;
    }
    const missing = scopes.find((s) => !auth.grant.scopes.includes(s));
    if (missing) {
      graphError(reply, 403, 10, `(#10) The user has not granted the permission ${missing} to this app`);
      return undefined;
    }
    return auth;
  }

  const invalid = (reply: FastifyReply, message: string) => graphError(reply, 400, 100, message);
  const isUrl = (v: string | undefined) => !!v && /^https?:\/\/[^\s]+$/i.test(v);

  /** Who may reply to `target` (the sandbox has no follow graph: follower-based controls admit only the author). */
  function mayReply(target: SimThread, userId: string, username: string): boolean {
    if (target.userId === userId || target.replyControl === 'everyone') return true;
    if (target.replyControl === 'mentioned_only') return (target.text ?? '').toLowerCase().includes(`@${username.toLowerCase()}`);
    return false;
  }

  async function createContainer(req: FastifyRequest, reply: FastifyReply) {
    const auth = await asUser(req, reply, ['threads_basic', 'threads_content_publish']);
    if (!auth) return reply;
    const p = params(req);
    const type = p['media_type'] as MediaType;
    if (!['TEXT', 'IMAGE', 'VIDEO', 'CAROUSEL'].includes(type)) return invalid(reply, 'Param media_type must be one of {TEXT, IMAGE, VIDEO, CAROUSEL}');
    const item = p['is_carousel_item'] === 'true';
    const text = p['text'];
    if (text !== undefined) {
      if (threadsTextLength(text) > TEXT_MAX) return invalid(reply, `Param text must be at most ${TEXT_MAX} characters long.`);
      const links = uniqueLinks(text).length;
      if (links > LINKS_MAX) return graphError(reply, 400, 100, `THREADS_API__LINK_LIMIT_EXCEEDED: a post may contain at most ${LINKS_MAX} links; this one has ${links}.`);
    }
    if (type === 'TEXT' && !text?.trim()) return invalid(reply, 'Param text is required for media_type TEXT');
    if (item && (type === 'TEXT' || type === 'CAROUSEL')) return invalid(reply, 'Only IMAGE and VIDEO containers can be carousel items');
    if (type === 'IMAGE' && !isUrl(p['image_url'])) return invalid(reply, 'Param image_url must be a valid URL');
    if (type === 'VIDEO' && !isUrl(p['video_url'])) return invalid(reply, 'Param video_url must be a valid URL');
    if ((p['alt_text'] ?? '').length > ALT_TEXT_MAX) return invalid(reply, `Param alt_text must be at most ${ALT_TEXT_MAX} characters long.`);
    const control = p['reply_control'];
    if (control !== undefined && !(REPLY_CONTROLS as readonly string[]).includes(control)) return invalid(reply, `Param reply_control must be one of {${REPLY_CONTROLS.join(', ')}}`);
    if (p['topic_tag'] !== undefined && !TOPIC_TAG.test(p['topic_tag'])) return invalid(reply, 'Param topic_tag must be 1 to 50 characters without periods or ampersands');
    const replyTo = p['reply_to_id'];
    if (replyTo !== undefined) {
      if (!auth.grant.scopes.includes('threads_manage_replies')) return graphError(reply, 403, 10, '(#10) The user has not granted the permission threads_manage_replies to this app');
      const target = threads.get(replyTo);
      if (!target) return noSuchObject(reply, replyTo);
      if (!mayReply(target, auth.grant.user.id, profile(auth).username)) return invalid(reply, `The author of ${replyTo} does not allow this profile to reply (reply_control ${target.replyControl})`);
    }
    let children: string[] | undefined;
    if (type === 'CAROUSEL') {
      children = (p['children'] ?? '').split(',').map((c) => c.trim()).filter(Boolean);
      if (children.length < CAROUSEL_MIN || children.length > CAROUSEL_MAX) return invalid(reply, `A carousel needs ${CAROUSEL_MIN} to ${CAROUSEL_MAX} children; got ${children.length}`);
      if (new Set(children).size !== children.length) return invalid(reply, 'Param children lists a container twice');
      for (const childId of children) {
        const child = containers.get(childId);
        if (!child || child.userId !== auth.grant.user.id) return noSuchObject(reply, childId);
        if (!child.isCarouselItem) return invalid(reply, `Container ${childId} was not created with is_carousel_item=true`);
        if (child.usedBy) return invalid(reply, `Container ${childId} is already in carousel ${child.usedBy}`);
        const st = statusOf(child);
        // The items must be FINISHED first (Instagram's documented rule and code; unconfirmed for Threads).
        if (st.status === 'IN_PROGRESS') return graphError(reply, 400, 9007, `Carousel item ${childId} is not ready to be used (IN_PROGRESS); wait until it is FINISHED`);
        if (st.status !== 'FINISHED') return invalid(reply, `Carousel item ${childId} cannot be used (${st.status}${st.error_message ? `: ${st.error_message}` : ''})`);
      }
    }
    const c: SimContainer = {
      id: nextId(), userId: auth.grant.user.id, mediaType: type, text: item ? undefined : text,
      url: type === 'IMAGE' ? p['image_url'] : type === 'VIDEO' ? p['video_url'] : undefined, altText: p['alt_text'], isCarouselItem: item, children, replyToId: replyTo, replyControl: control, topicTag: p['topic_tag'], createdAt: Date.now(),
    };
    containers.set(c.id, c);
    for (const childId of children ?? []) containers.get(childId)!.usedBy = c.id;
    if (type === 'IMAGE' || type === 'VIDEO') void pull(c);
    return { id: c.id };
  }

  async function publish(req: FastifyRequest, reply: FastifyReply) {
    const auth = await asUser(req, reply, ['threads_basic', 'threads_content_publish']);
    if (!auth) return reply;
    const creation = params(req)['creation_id'];
    if (!creation) return invalid(reply, 'Param creation_id is required');
    const c = containers.get(creation);
    if (!c || c.userId !== auth.grant.user.id) return noSuchObject(reply, creation);
    if (c.isCarouselItem) return invalid(reply, 'A carousel item cannot be published on its own; publish the CAROUSEL container that holds it');
    const st = statusOf(c);
    if (st.status === 'IN_PROGRESS') return graphError(reply, 400, 9007, 'The media is not ready to be published. Please wait a moment.');
    if (st.status !== 'FINISHED') return invalid(reply, `The media container cannot be published (${st.status}${st.error_message ? `: ${st.error_message}` : ''})`);
    if (c.replyToId && !threads.has(c.replyToId)) return noSuchObject(reply, c.replyToId);
    const isReply = !!c.replyToId;
    const [used, quota] = [recent(c.userId, isReply), isReply ? config.replyQuota : config.publishQuota];
    // The code of this refusal is not documented for Threads; 9 is Instagram's for its publishing limit.
    if (used >= quota) return graphError(reply, 400, 9, `The user has reached the limit of ${quota} ${isReply ? 'replies' : 'posts'} published through the API in 24 hours.`);
    const me = profile(auth);
    const shortcode = randomBytes(8).toString('base64url').slice(0, 11);
    const id = nextId();
    const parent = c.replyToId ? threads.get(c.replyToId) : undefined;
    const children = c.children?.map((childId) => {
      const child = containers.get(childId)!;
      child.publishedId = nextId();
      return { id: child.publishedId, mediaType: child.mediaType, mediaUrl: child.url };
    });
    threads.set(id, {
      id, userId: c.userId, username: me.username, mediaType: PUBLISHED_TYPE[c.mediaType], text: c.text, timestamp: Date.now(), shortcode,
      permalink: `${req.protocol}://${req.headers.host}${prefix}/@${me.username}/post/${shortcode}`,
      replyToId: c.replyToId, rootId: parent?.rootId ?? id, replyControl: c.replyControl ?? 'everyone', topicTag: c.topicTag, altText: c.altText,
      containerId: c.id, mediaUrl: c.mediaType === 'IMAGE' || c.mediaType === 'VIDEO' ? c.url : undefined, children,
    });
    c.publishedId = id;
    return { id };
  }

  async function list(req: FastifyRequest, reply: FastifyReply, replies: boolean) {
    const auth = await asUser(req, reply, replies ? ['threads_basic', 'threads_read_replies'] : ['threads_basic']);
    if (!auth) return reply;
    const p = params(req);
    if (!select(reply, 'ThreadsMedia', mediaFields(undefined), p['fields'])) return reply;
    const instant = (v: string | undefined, fallback: number) => (v === undefined ? fallback : /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v));
    const [since, until] = [instant(p['since'], 0), instant(p['until'], Number.MAX_SAFE_INTEGER)];
    const limit = Math.min(100, Math.max(1, Number(p['limit'] ?? 25) || 25));
    const found = [...threads.values()]
      .filter((t) => t.userId === auth.grant.user.id && !!t.replyToId === replies && t.timestamp >= since && t.timestamp <= until)
      .sort((a, b) => b.timestamp - a.timestamp || (a.id < b.id ? 1 : -1))
      .slice(0, limit);
    const data = found.map((t) => select(reply, 'ThreadsMedia', mediaFields(t), p['fields'])!);
    return { data, paging: { cursors: { before: found[0]?.id ?? '', after: found.at(-1)?.id ?? '' } } };
  }

  async function plugin(app: FastifyInstance) {
    prefix = app.prefix;
    installSimulatorCore(
      app,
      core,
      {
        serverError: (status) => {
          const [code, message] = status >= 500 ? [2, 'An unexpected error has occurred. Please retry your request later.'] : status === 403 ? [200, '(#200) Permissions error'] : [100, '(#100) Invalid parameter'];
          return { status, body: { error: { message, type: 'OAuthException', code, ...(status >= 500 ? { is_transient: true } : {}), fbtrace_id: randomBytes(8).toString('base64url') } } };
        },
        // Meta documents no Retry-After for Threads; the simulator sends one, plus Graph's usage header.
        rateLimited: (s) => ({
          status: 429,
          body: { error: { message: '(#4) Application request limit reached', type: 'OAuthException', code: 4, is_transient: true, fbtrace_id: randomBytes(8).toString('base64url') } },
          headers: { 'retry-after': String(s), 'x-app-usage': JSON.stringify({ call_count: 100, total_cputime: 40, total_time: 40 }) },
        }),
        expiredToken: () => ({ status: 400, body: { error: { message: `Error validating access token: Session has expired on ${new Date().toUTCString()}.`, type: 'OAuthException', code: 190, error_subcode: 463, fbtrace_id: randomBytes(8).toString('base64url') } } }),
      },
      accountOf,
    );
    tokens.routes(app);

    app.get('/v1.0/:id', { config: { operation: 'node.get' } }, async (req, reply) => {
      const auth = await tokens.authorize(req, reply);
      if (!auth) return reply;
      const { id } = req.params as { id: string };
      const fields = params(req)['fields'];
      if (id === 'me' || id === auth.grant.user.id) {
        const me = profile(auth);
        return select(reply, 'ThreadsUser', { id: me.id, username: me.username, name: me.name, threads_profile_picture_url: undefined, threads_biography: '' }, fields) ?? reply;
      }
      const c = containers.get(id);
      if (c && c.userId === auth.grant.user.id) return select(reply, 'ThreadsMediaContainer', { id: c.id, error_message: undefined, ...statusOf(c) }, fields) ?? reply;
      const t = threads.get(id);
      if (t && t.userId === auth.grant.user.id) return select(reply, 'ThreadsMedia', mediaFields(t), fields) ?? reply;
      return noSuchObject(reply, id);
    });
    app.get('/v1.0/:id/threads', { config: { operation: 'threads.list' } }, (req, reply) => list(req, reply, false));
    app.get('/v1.0/:id/replies', { config: { operation: 'replies.list' } }, (req, reply) => list(req, reply, true));
    app.post('/v1.0/:id/threads', { config: { operation: 'threads.create' } }, createContainer);
    app.post('/v1.0/:id/threads_publish', { config: { operation: 'threads_publish' } }, publish);

    app.get('/v1.0/:id/threads_publishing_limit', { config: { operation: 'threads_publishing_limit' } }, async (req, reply) => {
      const fields = params(req)['fields'] ?? 'quota_usage,config';
      const auth = await asUser(req, reply, ['threads_basic', 'threads_content_publish', ...(/reply_/.test(fields) ? ['threads_manage_replies'] : [])]);
      if (!auth) return reply;
      const cfg = (total: number) => ({ quota_total: total, quota_duration: 86_400 });
      const usage = {
        quota_usage: recent(auth.grant.user.id, false), config: cfg(config.publishQuota),
        reply_quota_usage: recent(auth.grant.user.id, true), reply_config: cfg(config.replyQuota),
        delete_quota_usage: 0, delete_config: cfg(100), location_search_quota_usage: 0, location_search_config: cfg(500),
      };
      const data = select(reply, 'ThreadsPublishingLimit', usage, fields);
      return data ? { data: [data] } : reply;
    });

    // What a sandbox post's permalink shows.
    app.get('/@:username/post/:shortcode', async (req, reply) => {
      const { username, shortcode } = req.params as { username: string; shortcode: string };
      const t = [...threads.values()].find((x) => x.shortcode === shortcode && x.username === username);
      if (!t) return reply.code(404).type('text/plain').send('Post not found on the Threads sandbox');
      return { sandbox: 'threads', username, id: t.id, media_type: t.mediaType, text: t.text ?? '', timestamp: graphTime(t.timestamp), reply_to: t.replyToId ?? null };
    });

    // Sandbox accounts: a user with a long-lived token, as a finished connection would hold.
    app.post('/_sim/users', async (req, reply) => {
      const body = (req.body ?? {}) as { username?: unknown; name?: unknown; scopes?: unknown };
      const username = typeof body.username === 'string' ? body.username : '';
      if (!/^[a-z0-9._]{1,30}$/.test(username)) return invalid(reply, 'username must be 1–30 lowercase letters, digits, "." or "_"');
      const scopes = Array.isArray(body.scopes) ? body.scopes.filter((s): s is string => (THREADS_SIM_SCOPES as readonly string[]).includes(s)) : [...THREADS_SIM_SCOPES];
      const user = tokens.oauth.user(username);
      const entry = { id: user.id, username, name: typeof body.name === 'string' && body.name ? body.name : username };
      profiles.set(user.id, entry);
      const token = await tokens.issueLong(user, scopes, SANDBOX_APP.clientId);
      return reply.code(201).send({ ...entry, access_token: token, token_type: 'bearer', expires_in: config.longTtlSec });
    });
    app.get('/_sim/threads', async (req) => {
      const user = (req.query as { user?: string }).user;
      return { threads: [...threads.values()].filter((t) => !user || t.userId === user) };
    });
    app.get('/_sim/containers', async (req) => {
      const user = (req.query as { user?: string }).user;
      return { containers: [...containers.values()].filter((c) => !user || c.userId === user).map((c) => ({ ...c, ...statusOf(c) })) };
    });
    app.get('/_sim/config', async () => config);
    app.put('/_sim/config', async (req) => {
      const body = (req.body ?? {}) as Partial<ThreadsSimConfig>;
      const { processingMs, ...rest } = body;
      for (const [k, v] of Object.entries(rest)) if (k in config && typeof v === 'number' && v >= 0) (config as Record<string, unknown>)[k] = v;
      if (processingMs) Object.assign(config.processingMs, processingMs);
      return config;
    });
  }

  return { core, config, containers, threads, profiles, tokens, plugin };
}
