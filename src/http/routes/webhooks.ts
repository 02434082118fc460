// Webhook endpoints and their deliveries. `target_url` is accepted as an alias of `url` so Zapier and Make
// REST hooks can subscribe (POST) and unsubscribe (DELETE) directly.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { isId } from '../../lib/ids.js';
import { urlPolicy } from '../../services/media-files.js';
import { EVENT_TYPES } from '../../webhooks/catalog.js';
import {
  createEndpoint, deleteEndpoint, getEndpoint, listDeliveries, listEndpoints, retryDelivery, rotateSecret, sendTestEvent, updateEndpoint,
  type DeliveryRow, type EndpointRow,
} from '../../webhooks/endpoints.js';
import type { RouteDeps } from '../app.js';
import { workspaceOf } from '../auth.js';
import { ApiError, notFound } from '../errors.js';
import { idempotent } from '../idempotency.js';
import { Pagination, errorResponses, instant, literalUnion, nullable } from '../schemas.js';
import { decodeCursor, encodeCursor } from '../views.js';

const tags = ['webhooks'];
const Params = Type.Object({ id: Type.String() });
const EventTypes = Type.Array(literalUnion(EVENT_TYPES), { uniqueItems: true, maxItems: EVENT_TYPES.length, description: 'Event types to receive; empty or absent = all.' });
const Url = Type.String({ maxLength: 2000, description: 'An https (or http) URL reachable from the internet; private and loopback addresses are refused.' });

const Endpoint = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: nullable(Type.String()),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  disabled_reason: nullable(Type.String()),
  failing_since: nullable(instant('Start of the current run of failed deliveries; null while healthy.')),
  secret: Type.Optional(Type.String({ description: 'The whsec_ signing secret: returned only when created or rotated.' })),
  previous_secret_valid_until: nullable(instant('After a rotation, the old secret also signs until then.')),
  created_at: instant('UTC'),
  updated_at: instant('UTC'),
});

const Delivery = Type.Object({
  id: Type.String(),
  event_id: Type.String({ description: 'Also the `webhook-id` header: the same on every attempt, for deduplication.' }),
  event_type: Type.String(),
  status: literalUnion(['pending', 'delivering', 'succeeded', 'failed']),
  attempts: Type.Integer(),
  next_attempt_at: nullable(instant('When a pending delivery is tried next.')),
  last_status: nullable(Type.Integer()),
  last_error: nullable(Type.String()),
  delivered_at: nullable(instant('When it succeeded.')),
  created_at: instant('UTC'),
  attempt_log: Type.Array(Type.Object({ number: Type.Integer(), started_at: Type.String(), latency_ms: nullable(Type.Integer()), status: nullable(Type.Integer()), error: nullable(Type.String()), response: nullable(Type.String({ description: 'The first 1 KB of the answer.' })) })),
});

function view(e: EndpointRow, secret?: string) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    enabled: e.enabled,
    disabled_reason: e.disabled_reason,
    failing_since: e.failing_since?.toISOString() ?? null,
    ...(secret ? { secret } : {}),
    previous_secret_valid_until: e.previous_secret_until && e.previous_secret_until > new Date() ? e.previous_secret_until.toISOString() : null,
    created_at: e.created_at.toISOString(),
    updated_at: e.updated_at.toISOString(),
  };
}

const deliveryView = (d: DeliveryRow) => ({
  ...d,
  next_attempt_at: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
  delivered_at: d.delivered_at?.toISOString() ?? null,
  created_at: d.created_at.toISOString(),
});

const isDeliveryId = (id: string) => /^dlv_[0-9a-f]{32}$/.test(id);

export function registerWebhookRoutes(app: FastifyInstance, { ctx }: RouteDeps): void {
  const policy = () => urlPolicy(ctx.config.media);
  const found = async (workspaceId: string, id: string) => {
    const ep = isId('webhook', id) ? await getEndpoint(ctx.db, workspaceId, id) : undefined;
    if (!ep) throw notFound('webhook endpoint');
    return ep;
  };

  app.post<{ Body: { url?: string; target_url?: string; events?: string[]; event?: string; description?: string } }>(
    '/v1/webhooks',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Register a webhook endpoint',
        description: 'Returns the signing secret once. Deliveries follow the Standard Webhooks spec (webhook-id, webhook-timestamp, webhook-signature). `target_url` (and `event` for one type) are accepted for Zapier/Make REST hooks.',
        body: Type.Object({ url: Type.Optional(Url), target_url: Type.Optional(Url), events: Type.Optional(EventTypes), event: Type.Optional(literalUnion(EVENT_TYPES)), description: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
        response: { 201: Endpoint, ...errorResponses(400, 401, 403, 422) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const url = b.url ?? b.target_url;
      if (!url || (b.url && b.target_url && b.url !== b.target_url)) throw new ApiError('VALIDATION_FAILED', 'give the endpoint as "url" (or "target_url"), once', [{ field: 'body.url', message: 'required' }]);
      const workspaceId = workspaceOf(req);
      return idempotent(ctx.db, req, reply, async () => {
        const created = await createEndpoint(ctx, workspaceId, { url, events: b.events ?? (b.event ? [b.event] : []), description: b.description }, policy());
        return { status: 201, body: view(created.endpoint, created.secret) };
      });
    },
  );

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/v1/webhooks',
    {
      config: { auth: 'workspace' },
      schema: { tags, summary: 'List webhook endpoints', querystring: Type.Object(Pagination, { additionalProperties: false }), response: { 200: Type.Object({ data: Type.Array(Endpoint), next_cursor: nullable(Type.String()) }), ...errorResponses(400, 401, 403) } },
    },
    async (req) => {
      const limit = req.query.limit ?? 20;
      const after = req.query.cursor !== undefined ? decodeCursor(req.query.cursor, (id) => isId('webhook', id)) : undefined;
      if (req.query.cursor !== undefined && !after) throw new ApiError('CURSOR_INVALID', 'invalid cursor');
      const rows = await listEndpoints(ctx.db, workspaceOf(req), { after, limit: limit + 1 });
      const data = rows.slice(0, limit);
      return { data: data.map((e) => view(e)), next_cursor: rows.length > limit ? encodeCursor(data.at(-1)!.id) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    { config: { auth: 'workspace' }, schema: { tags, summary: 'Get a webhook endpoint', params: Params, response: { 200: Endpoint, ...errorResponses(401, 403, 404) } } },
    async (req) => view(await found(workspaceOf(req), req.params.id)),
  );

  app.patch<{ Params: { id: string }; Body: { url?: string; events?: string[]; enabled?: boolean; description?: string | null } }>(
    '/v1/webhooks/:id',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: {
        tags,
        summary: 'Change a webhook endpoint (url, events, enabled, description)',
        params: Params,
        body: Type.Object({ url: Type.Optional(Url), events: Type.Optional(EventTypes), enabled: Type.Optional(Type.Boolean()), description: Type.Optional(nullable(Type.String({ maxLength: 500 }))) }, { additionalProperties: false }),
        response: { 200: Endpoint, ...errorResponses(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      await found(workspaceId, req.params.id);
      return view(await updateEndpoint(ctx, workspaceId, req.params.id, req.body, policy()));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    { config: { auth: 'workspace', scope: 'write' }, schema: { tags, summary: 'Delete a webhook endpoint (also unsubscribes a REST hook)', params: Params, response: { 204: Type.Null(), ...errorResponses(401, 403, 404) } } },
    async (req, reply) => {
      const workspaceId = workspaceOf(req);
      await found(workspaceId, req.params.id);
      await deleteEndpoint(ctx, workspaceId, req.params.id);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/webhooks/:id/rotate_secret',
    { config: { auth: 'workspace', scope: 'write' }, schema: { tags, summary: 'Rotate the signing secret (the old one also signs for 24 hours)', params: Params, response: { 200: Endpoint, ...errorResponses(401, 403, 404) } } },
    async (req) => {
      const workspaceId = workspaceOf(req);
      await found(workspaceId, req.params.id);
      const r = await rotateSecret(ctx, workspaceId, req.params.id);
      return view(r.endpoint, r.secret);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/webhooks/:id/test',
    { config: { auth: 'workspace', scope: 'write' }, schema: { tags, summary: 'Send a webhook.test event to this endpoint', params: Params, response: { 202: Type.Object({ event_id: Type.String() }), ...errorResponses(401, 403, 404, 409) } } },
    async (req, reply) => {
      const workspaceId = workspaceOf(req);
      await found(workspaceId, req.params.id);
      return reply.code(202).send({ event_id: await sendTestEvent(ctx, workspaceId, req.params.id) });
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit?: number; cursor?: string } }>(
    '/v1/webhooks/:id/deliveries',
    {
      config: { auth: 'workspace' },
      schema: { tags, summary: "An endpoint's deliveries, newest first, each with its attempts", params: Params, querystring: Type.Object(Pagination, { additionalProperties: false }), response: { 200: Type.Object({ data: Type.Array(Delivery), next_cursor: nullable(Type.String()) }), ...errorResponses(400, 401, 403, 404) } },
    },
    async (req) => {
      const workspaceId = workspaceOf(req);
      await found(workspaceId, req.params.id);
      const limit = req.query.limit ?? 20;
      const before = req.query.cursor !== undefined ? decodeCursor(req.query.cursor, isDeliveryId) : undefined;
      if (req.query.cursor !== undefined && !before) throw new ApiError('CURSOR_INVALID', 'invalid cursor');
      const rows = await listDeliveries(ctx.db, workspaceId, req.params.id, { before, limit: limit + 1 });
      const data = rows.slice(0, limit);
      return { data: data.map(deliveryView), next_cursor: rows.length > limit ? encodeCursor(data.at(-1)!.id) : null };
    },
  );

  app.post<{ Params: { id: string; delivery_id: string } }>(
    '/v1/webhooks/:id/deliveries/:delivery_id/retry',
    {
      config: { auth: 'workspace', scope: 'write' },
      schema: { tags, summary: 'Send a delivery again now (same event id)', params: Type.Object({ id: Type.String(), delivery_id: Type.String() }), response: { 202: Type.Object({ delivery_id: Type.String() }), ...errorResponses(401, 403, 404, 409) } },
    },
    async (req, reply) => {
      const workspaceId = workspaceOf(req);
      await found(workspaceId, req.params.id);
      if (!isDeliveryId(req.params.delivery_id)) throw notFound('delivery');
      await retryDelivery(ctx, workspaceId, req.params.id, req.params.delivery_id);
      return reply.code(202).send({ delivery_id: req.params.delivery_id });
    },
  );
}
