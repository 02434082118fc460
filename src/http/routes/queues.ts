// Queues of weekly timeslots: create, read, change (which rearranges their posts), pause, resume, delete,
// and the upcoming slots with the post in each.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DateTime } from 'luxon';
import { Type } from 'typebox';
import { withTransaction } from '../../db/pool.js';
import { WEEKDAYS, upcomingSlots } from '../../domain/slots.js';
import { resolveInstant } from '../../domain/time.js';
import { isId } from '../../lib/ids.js';
import { createQueue, deleteQueue, getQueue, listQueues, setPaused, updateQueue, type QueueInput, type QueueRow } from '../../services/queues.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { idempotent } from '../idempotency.js';
import { Pagination, errorResponses, instant, literalUnion, nullable } from '../schemas.js';
import { decodeCursor, encodeCursor } from '../views.js';

const tags = ['queues'];
const Params = Type.Object({ id: Type.String() });
const Timeslot = Type.Object(
  { day: literalUnion(WEEKDAYS), time: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'Wall-clock HH:MM in the queue\'s time zone.' }) },
  { additionalProperties: false },
);
const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  timezone: Type.String({ maxLength: 64, description: 'IANA zone, e.g. "Europe/Berlin". Slots stay at their wall-clock time across DST changes.' }),
  timeslots: Type.Array(Timeslot, { minItems: 1, maxItems: 200 }),
  account_ids: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 50, description: 'Accounts a post added without `account_ids` goes to.' }),
  jitter_minutes: Type.Integer({ minimum: 0, maximum: 60, description: 'Shift each post by a random offset within ± this, chosen once and shown as its time.' }),
};
const CreateQueue = Type.Object(
  { name: fields.name, timezone: fields.timezone, timeslots: fields.timeslots, account_ids: Type.Optional(fields.account_ids), jitter_minutes: Type.Optional(fields.jitter_minutes) },
  { additionalProperties: false },
);
const UpdateQueue = Type.Partial(CreateQueue, { additionalProperties: false, minProperties: 1 });
const Queue = Type.Object({
  id: Type.String(),
  name: Type.String(),
  timezone: Type.String(),
  timeslots: Type.Array(Timeslot),
  account_ids: Type.Array(Type.String()),
  jitter_minutes: Type.Integer(),
  paused: Type.Boolean(),
  created_at: instant('UTC'),
  updated_at: instant('UTC'),
});
const Slot = Type.Object({
  at: instant('The slot (UTC).'),
  local: Type.String({ description: "The slot in the queue's zone, with its offset." }),
  post_id: nullable(Type.String()),
  scheduled_at: nullable(instant('When that post publishes: the slot plus its jitter.')),
});

const view = (q: QueueRow) => ({ ...q, workspace_id: undefined, created_at: q.created_at.toISOString(), updated_at: q.updated_at.toISOString() });
const MAX_WINDOW_DAYS = 92;

export function registerQueueRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  const found = async (workspaceId: string, id: string) => {
    const q = isId('queue', id) ? await getQueue(ctx.db, workspaceId, id) : undefined;
    if (!q) throw notFound('queue');
    return q;
  };

  app.post<{ Body: QueueInput }>(
    '/v1/queues',
    { config: { auth: 'workspace', scope: 'write' }, schema: { tags, summary: 'Create a queue of weekly timeslots', body: CreateQueue, response: { 201: Queue, ...errorResponses(400, 401, 403, 422) } } },
    async (req, reply) => {
      const workspaceId = workspaceOf(req);
      return idempotent(ctx.db, req, reply, async (tx) => ({ status: 201, body: view(await createQueue(tx, workspaceId, req.body)) }));
    },
  );

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/v1/queues',
    {
      config: { auth: 'workspace' },
      schema: { tags, summary: 'List queues', querystring: Type.Object(Pagination, { additionalProperties: false }), response: { 200: Type.Object({ data: Type.Array(Queue), next_cursor: nullable(Type.String()) }), ...errorResponses(400, 401, 403) } },
    },
    async (req) => {
      const limit = req.query.limit ?? 20;
      const after = req.query.cursor !== undefined ? decodeCursor(req.query.cursor, (id) => isId('queue', id)) : undefined;
      if (req.query.cursor !== undefined && !after) throw new ApiError('CURSOR_INVALID', 'invalid cursor');
      const rows = await listQueues(ctx.db, workspaceOf(req), { after, limit: limit + 1 });
      const data = rows.slice(0, limit);
      return { data: data.map(view), next_cursor: rows.length > limit ? encodeCursor(data.at(-1)!.id) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/queues/:id',
    { config: { auth: 'workspace' }, schema: { tags, summary: 'Get a queue', params: Params, response: { 200: Queue, ...errorResponses(401, 403, 404) } } },
    async (req) => view(await found(workspaceOf(req), req.params.id)),
  );

  app.patch<{ Params: { id: string }; Body: Partial<QueueInput> }>(
    '/v1/queues/:id',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: { tags, summary: 'Change a queue (its waiting posts are rearranged)', params: Params, body: UpdateQueue, response: { 200: Queue, ...errorResponses(400, 401, 403, 404, 409, 422) } },
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      await found(workspaceId, req.params.id);
      return view(await withTransaction(ctx.db, (tx) => updateQueue(tx, ctx, workspaceId, req.params.id, req.body)));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/queues/:id',
    { config: { auth: 'workspace', scope: 'write' }, schema: { tags, summary: 'Delete a queue with no waiting posts', params: Params, response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 409) } } },
    async (req, reply) => {
      const workspaceId = workspaceOf(req);
      await found(workspaceId, req.params.id);
      await withTransaction(ctx.db, (tx) => deleteQueue(tx, workspaceId, req.params.id));
      return reply.code(204).send();
    },
  );

  const pauseOrResume = (paused: boolean) => async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const workspaceId = workspaceOf(req);
    await found(workspaceId, req.params.id);
    return view(await withTransaction(ctx.db, (tx) => setPaused(tx, ctx, workspaceId, req.params.id, paused)));
  };
  app.post<{ Params: { id: string } }>(
    '/v1/queues/:id/pause',
    { config: { auth: 'workspace', scope: 'write' }, schema: { tags, summary: 'Pause a queue: its posts stay, none publishes', params: Params, response: { 200: Queue, ...errorResponses(401, 403, 404) } } },
    pauseOrResume(true),
  );
  app.post<{ Params: { id: string } }>(
    '/v1/queues/:id/resume',
    { config: { auth: 'workspace', scope: 'write' }, schema: { tags, summary: 'Resume a queue: posts whose time passed take new slots', params: Params, response: { 200: Queue, ...errorResponses(401, 403, 404, 409) } } },
    pauseOrResume(false),
  );

  app.get<{ Params: { id: string }; Querystring: { from?: string; to?: string } }>(
    '/v1/queues/:id/slots',
    {
      config: { auth: 'workspace' },
      schema: {
        tags,
        summary: 'Upcoming slots with the post in each (or free)',
        params: Params,
        querystring: Type.Object({ from: Type.Optional(Type.String({ maxLength: 64, description: 'Default now.' })), to: Type.Optional(Type.String({ maxLength: 64, description: `Default 14 days after from; at most ${MAX_WINDOW_DAYS} days.` })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ data: Type.Array(Slot) }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      const queue = await found(workspaceId, req.params.id);
      const parse = (v: string | undefined, fallback: number) => {
        if (v === undefined) return fallback;
        const r = resolveInstant(v);
        if (!r.ok) throw new ApiError(r.problem.code, r.problem.message);
        return r.at.getTime();
      };
      const from = parse(req.query.from, ctx.clock.now().getTime());
      const to = parse(req.query.to, from + 14 * 86_400_000);
      if (to <= from || to - from > MAX_WINDOW_DAYS * 86_400_000) throw new ApiError('VALIDATION_FAILED', `"to" must be after "from", at most ${MAX_WINDOW_DAYS} days later`, [{ field: 'querystring.to', message: 'out of range' }]);
      const { rows } = await ctx.db.query<{ id: string; queue_slot_at: Date; scheduled_at: Date }>(
        `SELECT id, queue_slot_at, scheduled_at FROM posts WHERE workspace_id = $1 AND queue_id = $2 AND queue_slot_at >= $3 AND queue_slot_at < $4 AND status <> 'cancelled'`,
        [workspaceId, queue.id, new Date(from), new Date(to)],
      );
      const bySlot = new Map(rows.map((r) => [r.queue_slot_at.getTime(), r]));
      const data = [];
      for (let n = upcomingSlots(queue.timeslots, queue.timezone, from), s = n.next(); !s.done && s.value < to; s = n.next()) {
        const post = bySlot.get(s.value);
        data.push({
          at: new Date(s.value).toISOString(),
          local: DateTime.fromMillis(s.value, { zone: queue.timezone }).toISO({ suppressMilliseconds: true })!,
          post_id: post?.id ?? null,
          scheduled_at: post?.scheduled_at.toISOString() ?? null,
        });
      }
      return { data };
    },
  );
}
