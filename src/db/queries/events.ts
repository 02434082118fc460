// The outbox. Events are inserted in the transaction of the change they describe, and the same statement
// creates one webhook delivery per subscribed endpoint (so an event is never committed without its
// deliveries). `webhook.test` goes only to the endpoint it names.
import { newId } from '../../lib/ids.js';
import type { Queryable } from '../pool.js';

export type NewEvent = { workspaceId: string; type: string; data: Record<string, unknown> };

export async function insertEvents(q: Queryable, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await q.query(
    `WITH ev AS (
       INSERT INTO events (id, workspace_id, type, data)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
       RETURNING id, workspace_id, type, data
     ), dl AS (
       INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id)
       SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), e.workspace_id, w.id, e.id
       FROM ev e JOIN webhook_endpoints w ON w.workspace_id = e.workspace_id AND w.enabled
       WHERE (e.type <> 'webhook.test' AND (cardinality(w.events) = 0 OR e.type = ANY(w.events)))
          OR (e.type = 'webhook.test' AND e.data->>'endpoint_id' = w.id)
       RETURNING 1
     )
     SELECT pg_notify('crier_webhooks', '') FROM (SELECT 1 FROM dl LIMIT 1) AS any_delivery`,
    [events.map(() => newId('event')), events.map((e) => e.workspaceId), events.map((e) => e.type), events.map((e) => JSON.stringify(e.data))],
  );
}
