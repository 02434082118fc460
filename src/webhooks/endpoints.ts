// Webhook endpoints of a workspace: create (secret shown once), change, rotate the secret (the old one keeps
// signing for 24 h), delete, send a test event; and the deliveries of an endpoint with their attempts.
import type { AppContext } from '../context.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import { insertEvents } from '../db/queries/events.js';
import { ApiError, notFound } from '../http/errors.js';
import { openJson, sealJson } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';
import { checkUrl, UrlNotAllowedError, type UrlPolicy } from '../lib/ssrf.js';
import { EVENT_TYPES } from './catalog.js';
import { endpointSecretAad, previousSecretAad } from './delivery.js';
import { newSigningSecret } from './signing.js';

export const PREVIOUS_SECRET_GRACE_MS = 24 * 3600_000;

export type EndpointRow = {
  id: string;
  workspace_id: string;
  url: string;
  description: string | null;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  previous_secret_until: Date | null;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
};
const COLUMNS = 'id, workspace_id, url, description, events, enabled, disabled_reason, previous_secret_until, failing_since, created_at, updated_at';

export function checkEndpointUrl(url: string, policy: UrlPolicy): void {
  try {
    checkUrl(url, policy);
  } catch (e) {
    if (e instanceof UrlNotAllowedError) throw new ApiError('URL_NOT_ALLOWED', e.message);
    throw e;
  }
}

function checkEvents(events: string[]): void {
  const unknown = events.filter((e) => !EVENT_TYPES.includes(e));
  if (unknown.length > 0) throw new ApiError('VALIDATION_FAILED', `unknown event types: ${unknown.join(', ')} (GET /v1/events/samples lists them)`, unknown.map((e) => ({ field: 'body.events', message: `unknown event type ${e}` })));
}

export async function createEndpoint(ctx: AppContext, workspaceId: string, b: { url: string; events: string[]; description?: string }, policy: UrlPolicy): Promise<{ endpoint: EndpointRow; secret: string }> {
  checkEndpointUrl(b.url, policy);
  checkEvents(b.events);
  const id = newId('webhook');
  const secret = newSigningSecret();
  const { rows } = await ctx.db.query<EndpointRow>(
    `INSERT INTO webhook_endpoints (id, workspace_id, url, description, events, secret) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [id, workspaceId, b.url, b.description ?? null, b.events, sealJson(ctx.keyRing, secret, endpointSecretAad(id))],
  );
  return { endpoint: rows[0]!, secret };
}

export async function getEndpoint(q: Queryable, workspaceId: string, id: string): Promise<EndpointRow | undefined> {
  const { rows } = await q.query<EndpointRow>(`SELECT ${COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2`, [workspaceId, id]);
  return rows[0];
}

export async function listEndpoints(q: Queryable, workspaceId: string, opts: { after?: string; limit: number }): Promise<EndpointRow[]> {
  const { rows } = await q.query<EndpointRow>(
    `SELECT ${COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3`,
    [workspaceId, opts.after ?? null, opts.limit],
  );
  return rows;
}

export async function updateEndpoint(
  ctx: AppContext,
  workspaceId: string,
  id: string,
  b: { url?: string; events?: string[]; enabled?: boolean; description?: string | null },
  policy: UrlPolicy,
): Promise<EndpointRow> {
  if (b.url !== undefined) checkEndpointUrl(b.url, policy);
  if (b.events !== undefined) checkEvents(b.events);
  const { rows } = await ctx.db.query<EndpointRow>(
    `UPDATE webhook_endpoints SET url = coalesce($3, url), events = coalesce($4, events),
       description = CASE WHEN $6 THEN $5 ELSE description END,
       enabled = coalesce($7, enabled),
       -- Re-enabling starts a fresh failure count and forgets why it was disabled.
       disabled_reason = CASE WHEN $7 IS TRUE THEN NULL ELSE disabled_reason END,
       failing_since = CASE WHEN $7 IS TRUE THEN NULL ELSE failing_since END,
       updated_at = now()
     WHERE workspace_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [workspaceId, id, b.url ?? null, b.events ?? null, b.description ?? null, 'description' in b, b.enabled ?? null],
  );
  if (!rows[0]) throw notFound('webhook endpoint');
  return rows[0];
}

export async function rotateSecret(ctx: AppContext, workspaceId: string, id: string): Promise<{ endpoint: EndpointRow; secret: string }> {
  return withTransaction(ctx.db, async (tx) => {
    const { rows } = await tx.query<{ secret: Buffer }>('SELECT secret FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2 FOR UPDATE', [workspaceId, id]);
    if (!rows[0]) throw notFound('webhook endpoint');
    const old = openJson<string>(ctx.keyRing, rows[0].secret, endpointSecretAad(id));
    const secret = newSigningSecret();
    const { rows: updated } = await tx.query<EndpointRow>(
      `UPDATE webhook_endpoints SET secret = $2, previous_secret = $3, previous_secret_until = $4, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, sealJson(ctx.keyRing, secret, endpointSecretAad(id)), sealJson(ctx.keyRing, old, previousSecretAad(id)), new Date(ctx.clock.now().getTime() + PREVIOUS_SECRET_GRACE_MS)],
    );
    return { endpoint: updated[0]!, secret };
  });
}

export async function deleteEndpoint(ctx: AppContext, workspaceId: string, id: string): Promise<void> {
  const { rowCount } = await ctx.db.query('DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2', [workspaceId, id]);
  if (!rowCount) throw notFound('webhook endpoint');
}

/** A `webhook.test` event; insertEvents delivers it to this endpoint only. Returns the event id. */
export async function sendTestEvent(ctx: AppContext, workspaceId: string, id: string): Promise<string> {
  return withTransaction(ctx.db, async (tx) => {
    const ep = await getEndpoint(tx, workspaceId, id);
    if (!ep) throw notFound('webhook endpoint');
    if (!ep.enabled) throw new ApiError('ENDPOINT_DISABLED', `this endpoint is disabled (${ep.disabled_reason ?? 'by request'}); enable it with PATCH {"enabled": true}`);
    await insertEvents(tx, [{ workspaceId, type: 'webhook.test', data: { endpoint_id: id, message: 'This is a test event from Crier.' } }]);
    const { rows } = await tx.query<{ id: string }>(`SELECT id FROM events WHERE workspace_id = $1 AND type = 'webhook.test' AND data->>'endpoint_id' = $2 ORDER BY id DESC LIMIT 1`, [workspaceId, id]);
    return rows[0]!.id;
  });
}

export type DeliveryRow = {
  id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
  attempt_log: { number: number; started_at: string; latency_ms: number | null; status: number | null; error: string | null; response: string | null }[];
};

export async function listDeliveries(q: Queryable, workspaceId: string, endpointId: string, opts: { before?: string; limit: number }): Promise<DeliveryRow[]> {
  const { rows } = await q.query<DeliveryRow>(
    `SELECT d.id, d.event_id, e.type AS event_type, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, d.created_at,
            coalesce((SELECT json_agg(json_build_object('number', a.number, 'started_at', a.started_at, 'latency_ms', a.latency_ms, 'status', a.status, 'error', a.error, 'response', a.response) ORDER BY a.number)
                      FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS attempt_log
     FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
     WHERE d.workspace_id = $1 AND d.endpoint_id = $2 AND ($3::text IS NULL OR d.id < $3)
     ORDER BY d.id DESC LIMIT $4`,
    [workspaceId, endpointId, opts.before ?? null, opts.limit],
  );
  return rows;
}

/** Sends a delivery again now (a finished one too: receivers dedupe by the event id, which stays the same). */
export async function retryDelivery(ctx: AppContext, workspaceId: string, endpointId: string, deliveryId: string): Promise<void> {
  const { rowCount } = await ctx.db.query(
    `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), updated_at = now()
     WHERE workspace_id = $1 AND endpoint_id = $2 AND id = $3 AND status <> 'delivering'`,
    [workspaceId, endpointId, deliveryId],
  );
  if (!rowCount) {
    const exists = await ctx.db.query('SELECT 1 FROM webhook_deliveries WHERE workspace_id = $1 AND endpoint_id = $2 AND id = $3', [workspaceId, endpointId, deliveryId]);
    if (exists.rowCount) throw new ApiError('DELIVERY_IN_PROGRESS', 'this delivery is being sent right now');
    throw notFound('delivery');
  }
  await ctx.db.query(`SELECT pg_notify('crier_webhooks', '')`);
}
