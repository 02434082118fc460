// The outbox. Events are inserted in the transaction of the change they describe.
import { newId } from '../../lib/ids.js';
import type { Queryable } from '../pool.js';

export type NewEvent = { workspaceId: string; type: string; data: Record<string, unknown> };

export async function insertEvents(q: Queryable, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await q.query(
    `INSERT INTO events (id, workspace_id, type, data)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])`,
    [events.map(() => newId('event')), events.map((e) => e.workspaceId), events.map((e) => e.type), events.map((e) => JSON.stringify(e.data))],
  );
}
