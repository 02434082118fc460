// The workspace's events, oldest first after a given event id, so a consumer that missed webhooks can
// catch up; and sample events per type for Zapier/Make trigger setup.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { isId } from '../../lib/ids.js';
import { EVENT_CATALOG, EVENT_TYPES, envelope } from '../../webhooks/catalog.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { ApiError } from '../errors.js';
import { errorResponses, literalUnion, nullable } from '../schemas.js';

const tags = ['events'];
const Event = Type.Object({
  id: Type.String({ description: 'Stable across deliveries; the `webhook-id` header of every delivery of it.' }),
  type: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  workspace_id: Type.String(),
  data: Type.Object({}, { additionalProperties: true }),
});

export function registerEventRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  app.get<{ Querystring: { type?: string; after?: string; limit?: number } }>(
    '/v1/events',
    {
      config: { auth: 'workspace' },
      schema: {
        tags,
        summary: 'List events, oldest first',
        description: 'Pass the last id you processed as `after` to get what came since; `next_after` is the id to pass next (null when you are up to date).',
        querystring: Type.Object(
          { type: Type.Optional(literalUnion(EVENT_TYPES)), after: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(Event), next_after: nullable(Type.String()) }), ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const { type, after } = req.query;
      const limit = req.query.limit ?? 100;
      if (after !== undefined && !isId('event', after)) throw new ApiError('CURSOR_INVALID', '`after` must be an event id');
      const { rows } = await ctx.db.query<{ id: string; type: string; created_at: Date; workspace_id: string; data: unknown }>(
        `SELECT id, type, created_at, workspace_id, data FROM events
         WHERE workspace_id = $1 AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR id > $3)
         ORDER BY id LIMIT $4`,
        [workspaceOf(req), type ?? null, after ?? null, limit + 1],
      );
      const data = rows.slice(0, limit);
      return { data: data.map(envelope), next_after: rows.length > limit ? data.at(-1)!.id : null };
    },
  );

  app.get<{ Querystring: { type?: string } }>(
    '/v1/events/samples',
    {
      config: { auth: 'workspace' },
      schema: {
        tags,
        summary: 'Sample events (for Zapier and Make trigger setup)',
        querystring: Type.Object({ type: Type.Optional(literalUnion(EVENT_TYPES)) }, { additionalProperties: false }),
        response: { 200: Type.Array(Event), ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      return (req.query.type ? [req.query.type] : EVENT_TYPES).map((type) => ({
        id: 'evt_01jd8x0000sample0000000000',
        type,
        created_at: '2026-12-01T09:00:01.204Z',
        workspace_id: workspaceId,
        data: EVENT_CATALOG[type]!.sample,
      }));
    },
  );
}
