// Posts: create (publish now, schedule, or draft), read, list, edit, cancel.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { getPost, getPublicationsOfPosts, listPosts } from '../../db/queries/posts.js';
import { withSnapshot, withTransaction } from '../../db/pool.js';
import { POST_STATUSES } from '../../domain/lifecycle.js';
import { isId } from '../../lib/ids.js';
import { cancelPost } from '../../services/cancel-post.js';
import { createPost, type CreatePostInput } from '../../services/create-post.js';
import { postMediaOptions } from '../../services/media-files.js';
import { updatePost, type UpdatePostInput } from '../../services/edit-post.js';
import { resolveInstant } from '../../domain/time.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { idempotent } from '../idempotency.js';
import { Pagination, errorResponses, page } from '../schemas.js';
import { decodeCursor, encodeCursor, postView } from '../views.js';

const tags = ['posts'];
const Params = Type.Object({ id: Type.String() });

export const ScheduledAt = Type.String({
  maxLength: 64,
  description: 'RFC 3339 with an offset ("2026-12-01T09:00:00+01:00", "…Z"), or a local time ("2026-12-01T09:00:00") together with `timezone`.',
});
export const Timezone = Type.String({ maxLength: 64, description: 'IANA zone (e.g. "Europe/Berlin") for a local `scheduled_at`.' });
const Options = Type.Record(Type.String({ pattern: '^[a-z]+$' }), Type.Record(Type.String(), Type.Unknown()), {
  description: 'Per-platform options keyed by platform, e.g. {"bluesky": {"langs": ["en"], "text": "shorter text"}}.',
});
const Text = Type.String({ maxLength: 100_000, description: 'Checked against each target platform\'s limit when the post is created; may be empty when the post has media and the platform allows it.' });
export const MediaItems = Type.Array(
  Type.Object(
    {
      id: Type.Optional(Type.String({ maxLength: 64, description: 'A file uploaded or ingested before (`med_…`).' })),
      url: Type.Optional(Type.String({ maxLength: 2048, description: 'Crier fetches the file once (public http/https URLs only); the post waits for it.' })),
      alt_text: Type.Optional(Type.String({ maxLength: 2000 })),
      adapt: Type.Optional(Type.Boolean({ default: true, description: 'Let Crier convert, downscale or re-encode the file where a platform needs it (default true).' })),
      pad: Type.Optional(Type.Boolean({ default: false, description: 'Fit an aspect ratio a platform refuses by padding (default false: refuse instead).' })),
    },
    { additionalProperties: false },
  ),
  { maxItems: 20, description: 'Give each file by `id` or by `url`; checked against each platform\'s limits when the post is created (files fetched from a URL: once fetched).' },
);
const AccountIds = Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 50 });

const CreatePost = Type.Object(
  {
    text: Text,
    account_ids: Type.Optional(AccountIds),
    queue_id: Type.Optional(Type.String({ maxLength: 64, description: 'Add the post to a queue: it takes the next free slot (or, with `scheduled_at`, is pinned to that time). `account_ids` defaults to the queue\'s.' })),
    requires_approval: Type.Optional(Type.Boolean({ description: "Wait for an approval before publishing (default: the workspace's setting)." })),
    priority: Type.Optional(Type.Union([Type.Literal('high'), Type.Literal('medium'), Type.Literal('low')], { description: 'Order within the queue (default medium): higher first, then first in, first out.' })),
    scheduled_at: Type.Optional(ScheduledAt),
    timezone: Type.Optional(Timezone),
    draft: Type.Optional(Type.Boolean({ description: 'Store without publishing; publish later with /publish or /schedule.' })),
    media: Type.Optional(MediaItems),
    options: Type.Optional(Options),
  },
  { additionalProperties: false },
);

const UpdatePost = Type.Object(
  {
    text: Type.Optional(Text),
    account_ids: Type.Optional(AccountIds),
    scheduled_at: Type.Optional(Type.Union([ScheduledAt, Type.Null()])),
    timezone: Type.Optional(Type.Union([Timezone, Type.Null()])),
    media: Type.Optional(MediaItems),
    options: Type.Optional(Options),
  },
  { additionalProperties: false, minProperties: 1 },
);

const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(POST_STATUSES.map((s) => Type.Literal(s)))),
    account_id: Type.Optional(Type.String({ maxLength: 64 })),
    from: Type.Optional(Type.String({ description: 'Posts due at or after this instant (RFC 3339 with offset).' })),
    to: Type.Optional(Type.String({ description: 'Posts due before this instant (RFC 3339 with offset).' })),
    ...Pagination,
  },
  { additionalProperties: false },
);

function instantParam(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const r = resolveInstant(value);
  if (!r.ok) throw new ApiError('VALIDATION_FAILED', `${name}: ${r.problem.message}`, [{ field: `querystring.${name}`, message: r.problem.message }]);
  return r.at;
}

export function registerPostRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {

  app.post<{ Body: CreatePostInput }>(
    '/v1/posts',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Create a post: publish now, schedule it, or keep it as a draft',
        description: 'Send `Idempotency-Key` to make retries safe: the same key and body replay the first response; the same key with another body is 409.',
        body: CreatePost,
        response: { 201: Type.Ref('Post'), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
      },
    },
    async (req, reply) => {
      const workspaceId = workspaceOf(req);
      return idempotent(ctx.db, req, reply, async (tx) => {
        const { post, publications } = await createPost(tx, workspaceId, req.body, ctx.clock.now(), postMediaOptions(ctx));
        return { status: 201, body: postView(post, publications) };
      });
    },
  );

  app.get<{ Querystring: { status?: string; account_id?: string; from?: string; to?: string; limit?: number; cursor?: string } }>(
    '/v1/posts',
    { config: { auth: 'workspace' }, schema: { tags, summary: 'List posts, newest first', querystring: ListQuery, response: { 200: page(Type.Ref('Post')), ...errorResponses(400, 401, 403) } } },
    async (req) => {
      const workspaceId = workspaceOf(req);
      const q = req.query;
      const limit = q.limit ?? 20;
      const before = q.cursor !== undefined ? decodeCursor(q.cursor, (id) => isId('post', id)) : undefined;
      if (q.cursor !== undefined && !before) throw new ApiError('CURSOR_INVALID', 'invalid cursor');
      // A well-formed but unknown account id simply matches nothing; a malformed one is a 400.
      if (q.account_id !== undefined && !isId('account', q.account_id)) {
        throw new ApiError('VALIDATION_FAILED', 'account_id is not an account id', [{ field: 'querystring.account_id', message: 'expected acct_…' }]);
      }
      const filter = { status: q.status, accountId: q.account_id, from: instantParam('from', q.from), to: instantParam('to', q.to), before, limit: limit + 1 };
      const { rows, posts, pubs } = await withSnapshot(ctx.db, async (tx) => {
        const rows = await listPosts(tx, workspaceId, filter);
        const posts = rows.slice(0, limit);
        return { rows, posts, pubs: await getPublicationsOfPosts(tx, workspaceId, posts.map((p) => p.id)) };
      });
      return { data: posts.map((p) => postView(p, pubs)), next_cursor: rows.length > limit ? encodeCursor(posts.at(-1)!.id) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/posts/:id',
    { config: { auth: 'workspace' }, schema: { tags, summary: 'Get a post with the outcome on each account', params: Params, response: { 200: Type.Ref('Post'), ...errorResponses(401, 403, 404) } } },
    async (req) => {
      const workspaceId = workspaceOf(req);
      if (!isId('post', req.params.id)) throw notFound('post');
      const found = await withSnapshot(ctx.db, async (tx) => {
        const post = await getPost(tx, workspaceId, req.params.id);
        return post && { post, pubs: await getPublicationsOfPosts(tx, workspaceId, [post.id]) };
      });
      if (!found) throw notFound('post');
      return postView(found.post, found.pubs);
    },
  );

  app.patch<{ Params: { id: string }; Body: UpdatePostInput }>(
    '/v1/posts/:id',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Change a post that has not started publishing',
        description: 'Text, options, target accounts and time. Refused with POST_NOT_EDITABLE once any publication has been attempted.',
        params: Params,
        body: UpdatePost,
        response: { 200: Type.Ref('Post'), ...errorResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      if (!isId('post', req.params.id)) throw notFound('post');
      const { post, publications } = await withTransaction(ctx.db, (tx) => updatePost(tx, workspaceId, req.params.id, req.body, ctx.clock.now(), postMediaOptions(ctx)));
      return postView(post, publications);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/posts/:id',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Cancel what has not published',
        description: 'Draft, scheduled and waiting-to-retry publications become cancelled. Published ones stay; one being published right now finishes and reports its outcome. The post remains readable.',
        params: Params,
        response: { 200: Type.Ref('Post'), ...errorResponses(401, 403, 404) },
      },
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      if (!isId('post', req.params.id)) throw notFound('post');
      const { post, publications } = await withTransaction(ctx.db, (tx) => cancelPost(tx, workspaceId, req.params.id, ctx.clock.now(), postMediaOptions(ctx).wakeWithinMs));
      return postView(post, publications);
    },
  );
}
