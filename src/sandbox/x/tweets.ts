// The simulator's post endpoints (platforms.md §1 "Publishing"): POST /2/tweets with X's checks (body
// schema, weighted text length, media that belong to the user and finished processing, 4 images or 1 GIF
// or 1 video, poll limits, mutually exclusive parts, a reply target that exists, duplicate text), and the
// reads Crier uses to find a post again: a user's posts (newest first, by time window) and one post.
// Posts come back as X returns them: links shortened to t.co, & < > escaped, a link to the media appended.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import twitterText from 'twitter-text';
import { weightedLength } from '../../connectors/x/text.js';
import { mediaState, postKind } from './media.js';
import { DETAIL, blank, forbidden, invalidRequest, send } from './problems.js';
import type { SimMedia, SimTweet, UrlEntity, XSimState } from './state.js';

const ID = /^[0-9]{1,19}$/;
const FIELDS = ['text', 'media', 'poll', 'quote_tweet_id', 'reply', 'reply_settings', 'card_uri', 'community_id', 'direct_message_deep_link', 'edit_options', 'for_super_followers_only', 'geo', 'made_with_ai', 'nullcast', 'paid_partnership', 'share_with_followers'];
const REPLY_SETTINGS = ['following', 'mentionedUsers', 'subscribers', 'verified'];
const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const tco = () => `https://t.co/${[...randomBytes(10)].map((b) => B62[b % 62]).join('')}`;
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const codePoints = (s: string) => [...s].length;

/** X's stored text: each link shortened to t.co (entities keep what it expands to), the rest escaped. */
function render(raw: string, media: { key: string; kind: string } | undefined, username: string, id: string): { text: string; urls: UrlEntity[] } {
  let text = '';
  let at = 0;
  const urls: UrlEntity[] = [];
  for (const u of twitterText.extractUrlsWithIndices(raw)) {
    text += escape(raw.slice(at, u.indices[0]));
    const short = tco();
    const start = codePoints(text);
    text += short;
    urls.push({ start, end: start + codePoints(short), url: short, expanded_url: /^https?:\/\//i.test(u.url) ? u.url : `http://${u.url}`, display_url: u.url.replace(/^https?:\/\//i, '').slice(0, 26) });
    at = u.indices[1];
  }
  text += escape(raw.slice(at));
  if (media) {
    const short = tco();
    if (text.length > 0) text += ' ';
    const start = codePoints(text);
    text += short;
    const path = media.kind === 'image' ? 'photo' : 'video';
    urls.push({ start, end: start + codePoints(short), url: short, expanded_url: `https://x.com/${username}/status/${id}/${path}/1`, display_url: `pic.x.com/${short.slice(13)}`, media_key: media.key });
  }
  return { text, urls };
}

/** A post as the read endpoints return it, with the fields asked for (`tweet.fields`). */
function view(t: SimTweet, fields: Set<string>): Record<string, unknown> {
  const o: Record<string, unknown> = { id: t.id, text: t.text, edit_history_tweet_ids: [t.id] };
  if (fields.has('created_at')) o['created_at'] = t.createdAt;
  if (fields.has('author_id')) o['author_id'] = t.authorId;
  if (fields.has('conversation_id')) o['conversation_id'] = t.conversationId;
  if (fields.has('in_reply_to_user_id') && t.inReplyToUserId) o['in_reply_to_user_id'] = t.inReplyToUserId;
  if (fields.has('referenced_tweets') && t.referenced) o['referenced_tweets'] = t.referenced;
  if (fields.has('entities') && t.urls.length > 0) o['entities'] = { urls: t.urls };
  if (fields.has('reply_settings')) o['reply_settings'] = t.replySettings ?? 'everyone';
  if (fields.has('attachments') && (t.mediaKeys.length > 0 || t.poll)) {
    o['attachments'] = { ...(t.mediaKeys.length > 0 ? { media_keys: t.mediaKeys } : {}), ...(t.poll ? { poll_ids: [t.poll.id] } : {}) };
  }
  return o;
}

const fieldsOf = (q: Record<string, string | undefined>) => new Set((q['tweet.fields'] ?? q['post.fields'] ?? '').split(',').filter(Boolean));

type Body = {
  text?: unknown;
  media?: { media_ids?: unknown; tagged_user_ids?: unknown };
  poll?: { options?: unknown; duration_minutes?: unknown };
  quote_tweet_id?: unknown;
  reply?: { in_reply_to_tweet_id?: unknown };
  reply_settings?: unknown;
};

/** The request's shape (OpenAPI CreatePostsRequest); every failure is listed, as X does. */
function schemaProblems(b: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(b)) if (!FIELDS.includes(k)) out.push(`$.${k}: is not defined in the schema and the schema does not allow additional properties`);
  const body = b as Body;
  if (body.text !== undefined && typeof body.text !== 'string') out.push('$.text: string found, but expected');
  if (body.media !== undefined) {
    const ids = body.media?.media_ids;
    if (!Array.isArray(ids) || ids.length < 1 || ids.length > 4 || !ids.every((i) => typeof i === 'string' && ID.test(i))) out.push('$.media.media_ids: must be an array of 1 to 4 media ids');
  }
  if (body.poll !== undefined) {
    const { options, duration_minutes: d } = body.poll ?? {};
    if (!Array.isArray(options) || options.length < 2 || options.length > 4) out.push('$.poll.options: must have 2 to 4 items');
    else if (!options.every((o) => typeof o === 'string' && codePoints(o) >= 1 && codePoints(o) <= 25)) out.push('$.poll.options: each option must be 1 to 25 characters');
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 5 || d > 10080) out.push('$.poll.duration_minutes: must be an integer from 5 to 10080');
  }
  if (body.quote_tweet_id !== undefined && (typeof body.quote_tweet_id !== 'string' || !ID.test(body.quote_tweet_id))) out.push('$.quote_tweet_id: does not match the regex pattern ^[0-9]{1,19}$');
  if (body.reply !== undefined && (typeof body.reply?.in_reply_to_tweet_id !== 'string' || !ID.test(body.reply.in_reply_to_tweet_id))) out.push('$.reply.in_reply_to_tweet_id: does not match the regex pattern ^[0-9]{1,19}$');
  if (body.reply_settings !== undefined && !REPLY_SETTINGS.includes(body.reply_settings as string)) out.push(`$.reply_settings: does not have a value in the enumeration [${REPLY_SETTINGS.join(', ')}]`);
  return out;
}

export function tweetRoutes(app: FastifyInstance, state: XSimState): void {
  const live = (id: string) => {
    const t = state.tweets.get(id);
    return t && !t.deleted ? t : undefined;
  };

  /** Media a post may carry: the user's own (or shared with them), processed, and 4 images or 1 GIF or 1 video. */
  function mediaProblem(ids: string[], user: string): SimMedia[] | string {
    const media: SimMedia[] = [];
    for (const id of ids) {
      const m = state.media.get(id);
      if (!m || (m.owner !== user && !m.additionalOwners.includes(user)) || m.expiresAt <= Date.now()) return DETAIL.mediaIds;
      if (mediaState(m).state !== 'succeeded' || postKind(m) === 'other') return DETAIL.mediaIds;
      media.push(m);
    }
    const kinds = media.map(postKind);
    if (new Set(ids).size !== ids.length) return DETAIL.mediaIds;
    if (kinds.some((k) => k !== 'image') && media.length > 1) return DETAIL.mediaIds;
    return media;
  }

  app.post('/2/tweets', { config: { operation: 'tweets.create' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['tweet.read', 'tweet.write', 'users.read'], 'tweets');
    if (!grant) return reply;
    if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body)) return send(reply, invalidRequest('The request body must be a JSON object.'));
    const b = req.body as Body;
    const problems = schemaProblems(req.body as Record<string, unknown>);
    if (problems.length > 0) return send(reply, invalidRequest(...problems));
    const text = (b.text as string | undefined) ?? '';
    const mediaIds = (b.media?.media_ids as string[] | undefined) ?? [];
    if (b.poll && (mediaIds.length > 0 || b.quote_tweet_id)) return send(reply, invalidRequest(`[${b.poll && mediaIds.length > 0 ? 'media, poll' : 'poll, quote_tweet_id'}] are mutually exclusive`));
    if (text.trim().length === 0 && mediaIds.length === 0) return send(reply, invalidRequest('$.text: text is required unless media.media_ids is given'));
    if (weightedLength(text) > 280) return send(reply, invalidRequest(DETAIL.tooLong));
    const media = mediaProblem(mediaIds, grant.user.id);
    if (typeof media === 'string') return send(reply, invalidRequest(media));
    const replyTo = b.reply?.in_reply_to_tweet_id as string | undefined;
    const target = replyTo ? live(replyTo) : undefined;
    if (replyTo && !target) return send(reply, forbidden(DETAIL.replyTarget));
    const quoteOf = b.quote_tweet_id as string | undefined;
    if (quoteOf && !live(quoteOf)) return send(reply, forbidden(DETAIL.quoteTarget));
    const now = Date.now();
    if (text.trim().length > 0) {
      const dup = [...state.tweets.values()].some((t) => !t.deleted && t.authorId === grant.user.id && t.rawText === text && now - Date.parse(t.createdAt) < state.limits.duplicateWindowMs);
      if (dup) return send(reply, forbidden(DETAIL.duplicate));
    }
    const id = state.nextId();
    const first = media[0];
    const rendered = render(text, first ? { key: first.mediaKey, kind: postKind(first) } : undefined, grant.user.username, id);
    const referenced: SimTweet['referenced'] = [];
    if (replyTo) referenced.push({ type: 'replied_to', id: replyTo });
    if (quoteOf) referenced.push({ type: 'quoted', id: quoteOf });
    const tweet: SimTweet = {
      id,
      authorId: grant.user.id,
      rawText: text,
      text: rendered.text,
      urls: rendered.urls,
      createdAt: new Date(now).toISOString(),
      referenced: referenced.length > 0 ? referenced : undefined,
      inReplyToUserId: target?.authorId,
      conversationId: target?.conversationId ?? id,
      mediaIds,
      mediaKeys: media.map((m) => m.mediaKey),
      poll: b.poll ? { id: state.nextId(), options: b.poll.options as string[], duration_minutes: b.poll.duration_minutes as number } : undefined,
      replySettings: b.reply_settings as string | undefined,
    };
    state.tweets.set(id, tweet);
    return reply.code(201).send({ data: { id, text: tweet.text, edit_history_tweet_ids: [id] } });
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>('/2/users/:id/tweets', { config: { operation: 'users.tweets' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['tweet.read', 'users.read'], 'reads');
    if (!grant) return reply;
    const q = req.query;
    const problems: string[] = [];
    const max = q['max_results'] === undefined ? 10 : Number(q['max_results']);
    if (!Number.isInteger(max) || max < 5 || max > 100) problems.push(`The \`max_results\` query parameter value [${q['max_results']}] is not between 5 and 100`);
    for (const k of ['start_time', 'end_time'] as const) {
      if (q[k] !== undefined && (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(q[k]!) || Number.isNaN(Date.parse(q[k]!)))) problems.push(`Invalid '${k}':'${q[k]}'. '${k}' must be a valid RFC 3339 date-time.`);
    }
    const offset = q['pagination_token'] ? Number(Buffer.from(q['pagination_token'], 'base64url').toString()) : 0;
    if (!Number.isInteger(offset) || offset < 0) problems.push(`The \`pagination_token\` query parameter value [${q['pagination_token']}] is not valid`);
    if (problems.length > 0) return send(reply, invalidRequest(...problems));
    const exclude = new Set((q['exclude'] ?? '').split(',').filter(Boolean));
    const from = q['start_time'] ? Date.parse(q['start_time']) : -Infinity;
    const to = q['end_time'] ? Date.parse(q['end_time']) : Infinity;
    const all = [...state.tweets.values()]
      .filter((t) => !t.deleted && t.authorId === req.params.id && Date.parse(t.createdAt) >= from && Date.parse(t.createdAt) <= to)
      .filter((t) => !(exclude.has('replies') && t.referenced?.some((r) => r.type === 'replied_to')))
      .sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : -1))
      .slice(0, 3200); // the endpoint reaches back at most 3,200 posts
    const page = all.slice(offset, offset + max);
    if (page.length === 0) return { meta: { result_count: 0 } };
    const fields = fieldsOf(q);
    const meta: Record<string, unknown> = { result_count: page.length, newest_id: page[0]!.id, oldest_id: page.at(-1)!.id };
    if (offset + max < all.length) meta['next_token'] = Buffer.from(String(offset + max)).toString('base64url');
    return { data: page.map((t) => view(t, fields)), meta };
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>('/2/tweets/:id', { config: { operation: 'tweets.lookup' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['tweet.read', 'users.read'], 'reads');
    if (!grant) return reply;
    if (!ID.test(req.params.id)) return send(reply, invalidRequest(`The \`id\` query parameter value [${req.params.id}] does not match ^[0-9]{1,19}$`));
    const t = live(req.params.id);
    // Not found is a 200 with `errors` (a partial answer), as X does for lookups.
    if (!t) return { errors: [{ value: req.params.id, detail: `Could not find tweet with id: [${req.params.id}].`, title: 'Not Found Error', resource_type: 'tweet', parameter: 'id', resource_id: req.params.id, type: 'https://api.x.com/2/problems/resource-not-found' }] };
    return { data: view(t, fieldsOf(req.query)) };
  });

  app.delete<{ Params: { id: string } }>('/2/tweets/:id', { config: { operation: 'tweets.delete' } }, async (req, reply) => {
    const grant = await state.authenticate(req, reply, ['tweet.read', 'tweet.write', 'users.read'], 'tweets');
    if (!grant) return reply;
    const t = live(req.params.id);
    if (!t) return { data: { deleted: false } };
    if (t.authorId !== grant.user.id) return send(reply, blank(403, 'Forbidden', 'You are not authorized to delete this Tweet.'));
    t.deleted = true;
    return { data: { deleted: true } };
  });

  // What a sandbox post's URL shows.
  app.get<{ Params: { username: string; id: string } }>('/:username/status/:id', async (req, reply) => {
    const t = live(req.params.id);
    const userId = state.usernames.get(req.params.username.toLowerCase());
    if (!t || t.authorId !== userId) return reply.code(404).type('text/plain').send('Post not found on the X sandbox');
    return { sandbox: 'x', username: req.params.username, post: view(t, new Set(['created_at', 'referenced_tweets', 'entities', 'attachments', 'conversation_id'])), text_sent: t.rawText, poll: t.poll ?? null };
  });
}
