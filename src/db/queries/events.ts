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
       SELECT id, workspace_id, type, data FROM jsonb_to_recordset($1::jsonb) AS x(id text, workspace_id text, type text, data jsonb)
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
    // One JSON document rather than parallel arrays: pg escapes every quote of every element of a text
    // array, which cost more CPU than the insert itself for publication events (bench/README.md).
    [JSON.stringify(events.map((e) => ({ id: newId('event'), workspace_id: e.workspaceId, type: e.type, data: e.data })))],
  );
}
