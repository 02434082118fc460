// The simulator's status routes (docs methods/statuses, methods/accounts#statuses, methods/search): posting
// with Mastodon's checks in PostStatusService's order (idempotency key, reply target, attachments, then the
// record's validations), reading a status, its source, an account's statuses, deleting, and search with
// resolve=true for statuses of "other servers" seeded through /_sim. Answers are Mastodon's entities.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { statusLength, urlsIn, mentionsIn } from '../../connectors/mastodon/text.js';
import type { SimGrant } from '../oauth.js';
import { mastodonError, snowflake, type MastodonSimConfig, type SimAccount, type SimMedia, type SimStatus, type createGuard } from './state.js';

type Guard = ReturnType<typeof createGuard>;
export type StatusStore = {
  config: MastodonSimConfig;
  statuses: Map<string, SimStatus>;
  media: Map<string, SimMedia>;
  /** Account id + key → status id and when the key was stored. */
  idempotency: Map<string, { statusId: string; at: number }>;
  guard: Guard;
  account(id: string): SimAccount | undefined;
  origin(req: FastifyRequest): string;
  mediaEntity(req: FastifyRequest, m: SimMedia): Record<string, unknown>;
  /** The registered name of the app a token belongs to. */
  appName(clientId: string): string;
};

const VISIBILITIES = ['public', 'unlisted', 'private', 'direct'] as const;
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Plain text as Mastodon renders it: paragraphs, line breaks, links and mentions. */
function html(text: string, origin: string): string {
  let out = '';
  let at = 0;
  for (const u of urlsIn(text)) {
    out += esc(text.slice(at, u.start)) + `<a href="${esc(u.url)}" rel="nofollow noopener" target="_blank">${esc(u.url)}</a>`;
    at = u.end;
  }
  out += esc(text.slice(at));
  for (const acct of new Set(mentionsIn(text))) {
    const user = acct.split('@')[0]!;
    out = out.split(`@${esc(acct)}`).join(`<span class="h-card"><a href="${origin}/@${esc(acct)}" class="u-url mention">@<span>${esc(user)}</span></a></span>`);
  }
  return out.split(/\n{2,}/).map((p) => `<p>${p.replace(/\n/g, '<br />')}</p>`).join('');
}

export function statusRoutes(app: FastifyInstance, s: StatusStore) {
  const { config, statuses, media, guard } = s;

  function accountEntity(req: FastifyRequest, a: SimAccount) {
    const acct = a.remote ? `${a.username}@${a.remote}` : a.username;
    return {
      id: a.id, username: a.username, acct, display_name: a.displayName, locked: false, bot: false, discoverable: true, group: false,
      created_at: new Date(a.createdAt).toISOString(), note: '', url: a.remote ? `https://${a.remote}/@${a.username}` : `${s.origin(req)}/@${a.username}`,
      avatar: `${s.origin(req)}/avatars/original/missing.png`, header: `${s.origin(req)}/headers/original/missing.png`,
      followers_count: 0, following_count: 0, statuses_count: [...statuses.values()].filter((x) => x.accountId === a.id && !x.deletedAt).length, emojis: [], fields: [],
    };
  }

  function entity(req: FastifyRequest, st: SimStatus): Record<string, unknown> {
    const a = s.account(st.accountId)!;
    const url = st.remoteUrl ?? `${s.origin(req)}/@${a.username}/${st.id}`;
    return {
      id: st.id, created_at: new Date(st.createdAt).toISOString(), in_reply_to_id: st.inReplyToId, in_reply_to_account_id: st.inReplyToAccountId,
      sensitive: st.sensitive, spoiler_text: st.spoilerText, visibility: st.visibility, language: st.language,
      uri: st.remoteUrl ?? `${s.origin(req)}/users/${a.username}/statuses/${st.id}`, url, replies_count: [...statuses.values()].filter((x) => x.inReplyToId === st.id && !x.deletedAt).length,
      reblogs_count: 0, favourites_count: 0, edited_at: null, favourited: false, reblogged: false, muted: false, bookmarked: false, pinned: false,
      content: html(st.text, s.origin(req)), filtered: [], reblog: null, application: st.application ? { name: st.application, website: null } : null,
      account: accountEntity(req, a), media_attachments: st.mediaIds.map((id) => s.mediaEntity(req, media.get(id)!)),
      mentions: [], tags: [], emojis: [], card: null, poll: null,
    };
  }

  /** Who may see a status: its author always; anyone a public or unlisted one (there is no follow graph here). */
  const visibleTo = (st: SimStatus, viewer: string | undefined) => !st.deletedAt && (st.accountId === viewer || st.visibility === 'public' || st.visibility === 'unlisted');

  /** An optional token must, when sent, carry read:statuses (authorize_if_got_token!). */
  async function optionalReader(req: FastifyRequest, reply: FastifyReply): Promise<SimGrant | null | undefined> {
    if (!req.headers.authorization) return null;
    return guard.authorize(req, reply, ['read:statuses']);
  }

  app.post('/api/v1/statuses', { config: { operation: 'statuses.create' } }, async (req, reply) => {
    const g = await guard.authorize(req, reply, ['write:statuses']);
    if (!g) return reply;
    const p = (req.body ?? {}) as Record<string, unknown>;
    const key = req.headers['idempotency-key'];
    const idemKey = typeof key === 'string' && key ? `${g.user.id}:${key}` : undefined;
    if (idemKey) {
      const seen = s.idempotency.get(idemKey);
      if (seen && Date.now() - seen.at < config.idempotencyTtlSec * 1000) {
        const earlier = statuses.get(seen.statusId);
        // Status.find(existing_id): a deleted status is no longer found.
        if (!earlier || earlier.deletedAt) return mastodonError(reply, 404, 'Record not found');
        return entity(req, earlier);
      }
    }
    const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? undefined : String(v));
    const replyTo = str(p['in_reply_to_id']);
    let parent: SimStatus | undefined;
    if (replyTo) {
      parent = statuses.get(replyTo);
      if (!parent || !visibleTo(parent, g.user.id)) return mastodonError(reply, 404, 'The post you are trying to reply to does not appear to exist.');
    }
    if (p['poll'] !== undefined || p['scheduled_at'] !== undefined) return mastodonError(reply, 422, 'Validation failed: polls and scheduled statuses are not simulated by the Crier sandbox');
    const rawIds = p['media_ids'] ?? p['media_ids[]'];
    const ids = rawIds === undefined ? [] : (Array.isArray(rawIds) ? rawIds : [rawIds]).map(String);
    if (ids.length > config.maxMediaAttachments) return mastodonError(reply, 422, `Cannot attach more than ${config.maxMediaAttachments} files`);
    const attached = ids.map((id) => media.get(id)).filter((m): m is SimMedia => !!m && m.accountId === g.user.id && !m.statusId);
    const missing = ids.filter((id) => !attached.some((m) => m.id === id));
    if (missing.length > 0) return mastodonError(reply, 422, `Media ${missing.join(', ')} not found or already attached to another post`);
    if (attached.length > 1 && attached.some((m) => m.type === 'video' || m.type === 'gifv')) return mastodonError(reply, 422, 'Cannot attach a video to a post that already contains images');
    if (attached.some((m) => Date.now() < m.readyAt)) return mastodonError(reply, 422, 'Cannot attach files that have not finished processing. Try again in a moment!');
    const visibility = str(p['visibility']) ?? 'public';
    // Unconfirmed wording: Mastodon refuses an unknown visibility with a 422.
    if (!(VISIBILITIES as readonly string[]).includes(visibility)) return mastodonError(reply, 422, `Validation failed: Visibility '${visibility}' is not a valid visibility`);
    const text = str(p['status']) ?? '';
    const spoiler = str(p['spoiler_text']) ?? '';
    if (text.trim().length === 0 && attached.length === 0) return mastodonError(reply, 422, "Validation failed: Text can't be blank");
    if (statusLength(text, spoiler, config.charactersReservedPerUrl) > config.maxCharacters) return mastodonError(reply, 422, `Validation failed: Text character limit of ${config.maxCharacters} exceeded`);
    const language = str(p['language']);
    const sensitive = p['sensitive'] === true || p['sensitive'] === 'true' || spoiler.length > 0;
    const st: SimStatus = {
      id: snowflake(), accountId: g.user.id, text, spoilerText: spoiler, sensitive, visibility: visibility as SimStatus['visibility'],
      language: language && /^[a-z]{2,3}$/.test(language) ? language : 'en', inReplyToId: parent?.id ?? null, inReplyToAccountId: parent?.accountId ?? null,
      mediaIds: attached.map((m) => m.id), createdAt: Date.now(), application: s.appName(g.clientId), idempotencyKey: idemKey,
    };
    statuses.set(st.id, st);
    for (const m of attached) m.statusId = st.id;
    // Stored once the status exists (as Mastodon does, after its transaction).
    if (idemKey) s.idempotency.set(idemKey, { statusId: st.id, at: Date.now() });
    return entity(req, st);
  });

  app.get('/api/v1/statuses/:id', { config: { operation: 'statuses.get' } }, async (req, reply) => {
    const g = await optionalReader(req, reply);
    if (g === undefined) return reply;
    const st = statuses.get((req.params as { id: string }).id);
    if (!st || !visibleTo(st, g?.user.id)) return mastodonError(reply, 404, 'Record not found');
    return entity(req, st);
  });

  app.get('/api/v1/statuses/:id/source', { config: { operation: 'statuses.source' } }, async (req, reply) => {
    const g = await guard.authorize(req, reply, ['read:statuses']);
    if (!g) return reply;
    const st = statuses.get((req.params as { id: string }).id);
    if (!st || st.deletedAt || st.accountId !== g.user.id) return mastodonError(reply, 404, 'Record not found');
    return { id: st.id, text: st.text, spoiler_text: st.spoilerText };
  });

  app.delete('/api/v1/statuses/:id', { config: { operation: 'statuses.delete' } }, async (req, reply) => {
    const g = await guard.authorize(req, reply, ['write:statuses']);
    if (!g) return reply;
    const st = statuses.get((req.params as { id: string }).id);
    if (!st || st.deletedAt || st.accountId !== g.user.id) return mastodonError(reply, 404, 'Record not found');
    const answer = { ...entity(req, st), text: st.text };
    // Gone from the API at once; its removal from other servers happens later (not simulated).
    st.deletedAt = Date.now();
    return answer;
  });

  app.get('/api/v1/accounts/:id/statuses', { config: { operation: 'accounts.statuses' } }, async (req, reply) => {
    const g = await optionalReader(req, reply);
    if (g === undefined) return reply;
    const id = (req.params as { id: string }).id;
    if (!s.account(id)) return mastodonError(reply, 404, 'Record not found');
    const q = req.query as Record<string, string | undefined>;
    const limit = Math.min(40, Math.max(1, Number(q['limit'] ?? 20) || 20));
    const after = (a: string, b: string) => BigInt(a) > BigInt(b);
    const found = [...statuses.values()]
      .filter((st) => st.accountId === id && visibleTo(st, g?.user.id))
      .filter((st) => (!q['max_id'] || after(q['max_id'], st.id)) && (!q['since_id'] || after(st.id, q['since_id'])) && (!q['min_id'] || after(st.id, q['min_id'])))
      .filter((st) => q['only_media'] !== 'true' || st.mediaIds.length > 0)
      .filter((st) => q['exclude_replies'] !== 'true' || !st.inReplyToAccountId || st.inReplyToAccountId === id)
      .sort((a, b) => (after(a.id, b.id) ? -1 : 1));
    // min_id pages forward: the statuses just after it, still answered newest first.
    const page = q['min_id'] ? found.slice(-limit) : found.slice(0, limit);
    return page.map((st) => entity(req, st));
  });

  app.get('/api/v2/search', { config: { operation: 'search' } }, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const g = req.headers.authorization ? await guard.authorize(req, reply, ['read:search']) : null;
    if (g === undefined) return reply;
    // Unauthenticated search may not resolve remote content.
    if (q['resolve'] === 'true' && !g) return mastodonError(reply, 401, 'The access token is invalid');
    const term = (q['q'] ?? '').trim();
    const matches = [...statuses.values()].filter((st) => {
      if (!visibleTo(st, g?.user.id)) return false;
      // A status of another server is found only when the instance may fetch it (resolve=true).
      if (st.remoteUrl && q['resolve'] !== 'true') return false;
      const local = entity(req, st);
      return term === st.remoteUrl || term === local['url'] || term === local['uri'];
    });
    const wanted = !q['type'] || q['type'] === 'statuses';
    return { accounts: [], statuses: wanted ? matches.slice(0, Number(q['limit'] ?? 20) || 20).map((st) => entity(req, st)) : [], hashtags: [] };
  });

  return { entity, accountEntity };
}
