// Queues of weekly timeslots. Every change that can move posts (a post added or removed, a post released
// now, slots or zone changed, a resume) re-runs the assignment for the queue's posts that have not started,
// under the queue's row lock (taken before any post lock, as everywhere: queue → posts → publications).
// Pinned posts keep their time and their slot stays taken. A paused queue keeps its posts but nothing of
// it is due until it resumes; on resume, posts whose time passed take new slots.
import { randomInt } from 'node:crypto';
import type { AppContext } from '../context.js';
import { DUE_CHANNEL } from '../context.js';
import type { Queryable, Tx } from '../db/pool.js';
import { assignSlots, withJitter, type Priority, type Timeslot } from '../domain/slots.js';
import { isValidTimeZone } from '../domain/time.js';
import { ApiError, notFound } from '../http/errors.js';
import { newId } from '../lib/ids.js';

export type QueueRow = {
  id: string;
  workspace_id: string;
  name: string;
  timezone: string;
  timeslots: Timeslot[];
  account_ids: string[];
  jitter_minutes: number;
  paused: boolean;
  created_at: Date;
  updated_at: Date;
};
const COLUMNS = 'id, workspace_id, name, timezone, timeslots, account_ids, jitter_minutes, paused, created_at, updated_at';

export type QueueInput = { name: string; timezone: string; timeslots: Timeslot[]; account_ids?: string[]; jitter_minutes?: number };

function checkQueue(q: Partial<QueueInput>): void {
  if (q.timezone !== undefined && !isValidTimeZone(q.timezone)) throw new ApiError('TIMEZONE_INVALID', `"${q.timezone}" is not an IANA time zone (e.g. "Europe/Berlin")`);
  if (q.timeslots) {
    const seen = new Set(q.timeslots.map((t) => `${t.day} ${t.time}`));
    if (seen.size !== q.timeslots.length) throw new ApiError('VALIDATION_FAILED', 'a timeslot is listed twice', [{ field: 'body.timeslots', message: 'duplicate timeslot' }]);
  }
}

async function checkAccounts(q: Queryable, workspaceId: string, ids: string[] | undefined): Promise<void> {
  if (!ids || ids.length === 0) return;
  const { rows } = await q.query<{ id: string }>(`SELECT id FROM accounts WHERE workspace_id = $1 AND id = ANY($2)`, [workspaceId, ids]);
  const missing = ids.filter((id) => !rows.some((r) => r.id === id));
  if (missing.length > 0) throw new ApiError('ACCOUNT_NOT_FOUND', `no such account in this workspace: ${missing.join(', ')}`);
}

export async function createQueue(tx: Tx, workspaceId: string, input: QueueInput): Promise<QueueRow> {
  checkQueue(input);
  await checkAccounts(tx, workspaceId, input.account_ids);
  const { rows } = await tx.query<QueueRow>(
    `INSERT INTO queues (id, workspace_id, name, timezone, timeslots, account_ids, jitter_minutes) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [newId('queue'), workspaceId, input.name, input.timezone, JSON.stringify(input.timeslots), input.account_ids ?? [], input.jitter_minutes ?? 0],
  );
  return rows[0]!;
}

export async function getQueue(q: Queryable, workspaceId: string, id: string, lock = false): Promise<QueueRow | undefined> {
  const { rows } = await q.query<QueueRow>(`SELECT ${COLUMNS} FROM queues WHERE workspace_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`, [workspaceId, id]);
  return rows[0];
}

export async function listQueues(q: Queryable, workspaceId: string, opts: { after?: string; limit: number }): Promise<QueueRow[]> {
  const { rows } = await q.query<QueueRow>(`SELECT ${COLUMNS} FROM queues WHERE workspace_id = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3`, [workspaceId, opts.after ?? null, opts.limit]);
  return rows;
}

export async function updateQueue(tx: Tx, ctx: AppContext, workspaceId: string, id: string, input: Partial<QueueInput>): Promise<QueueRow> {
  checkQueue(input);
  await checkAccounts(tx, workspaceId, input.account_ids);
  if (!(await getQueue(tx, workspaceId, id, true))) throw notFound('queue');
  await tx.query(
    `UPDATE queues SET name = coalesce($3, name), timezone = coalesce($4, timezone), timeslots = coalesce($5, timeslots),
       account_ids = coalesce($6, account_ids), jitter_minutes = coalesce($7, jitter_minutes), updated_at = now()
     WHERE workspace_id = $1 AND id = $2`,
    [workspaceId, id, input.name ?? null, input.timezone ?? null, input.timeslots ? JSON.stringify(input.timeslots) : null, input.account_ids ?? null, input.jitter_minutes ?? null],
  );
  await reslot(tx, workspaceId, id, ctx.clock.now(), wakeWithin(ctx));
  return (await getQueue(tx, workspaceId, id))!;
}

export async function deleteQueue(tx: Tx, workspaceId: string, id: string): Promise<void> {
  if (!(await getQueue(tx, workspaceId, id, true))) throw notFound('queue');
  const { rows } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM posts WHERE workspace_id = $1 AND queue_id = $2 AND status IN ('scheduled', 'draft', 'pending_approval')`,
    [workspaceId, id],
  );
  if (rows[0]!.n > 0) throw new ApiError('QUEUE_IN_USE', `${rows[0]!.n} post(s) still wait in this queue; delete or reschedule them first`);
  await tx.query('UPDATE posts SET queue_id = NULL WHERE workspace_id = $1 AND queue_id = $2', [workspaceId, id]);
  await tx.query('DELETE FROM queues WHERE workspace_id = $1 AND id = $2', [workspaceId, id]);
}

export async function setPaused(tx: Tx, ctx: AppContext, workspaceId: string, id: string, paused: boolean): Promise<QueueRow> {
  if (!(await getQueue(tx, workspaceId, id, true))) throw notFound('queue');
  await tx.query('UPDATE queues SET paused = $3, updated_at = now() WHERE workspace_id = $1 AND id = $2', [workspaceId, id, paused]);
  await reslot(tx, workspaceId, id, ctx.clock.now(), wakeWithin(ctx));
  return (await getQueue(tx, workspaceId, id))!;
}

const wakeWithin = (ctx: AppContext) => ctx.config.worker.pollMs * 2;

/**
 * Locks the queue of a post (if it has one) before the post itself is locked, keeping the lock order
 * queue → posts for every change that rearranges a queue. Returns the queue id.
 */
export async function lockQueueOfPost(tx: Tx, workspaceId: string, postId: string): Promise<string | null> {
  const { rows } = await tx.query<{ queue_id: string | null }>('SELECT queue_id FROM posts WHERE workspace_id = $1 AND id = $2', [workspaceId, postId]);
  const queueId = rows[0]?.queue_id ?? null;
  if (queueId) await tx.query('SELECT 1 FROM queues WHERE id = $1 FOR UPDATE', [queueId]);
  return queueId;
}

/** A new queued post's jitter, chosen once: a whole number of seconds within ±jitter_minutes. */
export function pickJitterMs(jitterMinutes: number): number {
  if (jitterMinutes <= 0) return 0;
  return randomInt(-jitterMinutes * 60, jitterMinutes * 60 + 1) * 1000;
}

type Movable = { id: string; priority: Priority; created_at: Date; jitter_ms: number; pinned: boolean; queue_slot_at: Date | null };

/**
 * Re-assigns the queue's posts that have not started to slots, and makes their publications due at the new
 * time (or not due at all while paused). Posts whose publications have started (or finished) stay as they
 * are. Call with the queue row locked (getQueue(..., lock = true)) or inside a transaction that locks it.
 */
export async function reslot(tx: Tx, workspaceId: string, queueId: string, at: Date, wakeWithinMs: number): Promise<void> {
  const queue = (await getQueue(tx, workspaceId, queueId, true))!;
  const now = at.getTime();
  // Waiting posts only: every publication still scheduled (or held for approval) and never attempted.
  const { rows } = await tx.query<Movable>(
    `SELECT p.id, coalesce(p.priority, 'medium') AS priority, p.created_at, p.jitter_ms, p.pinned, p.queue_slot_at
     FROM posts p
     WHERE p.workspace_id = $1 AND p.queue_id = $2 AND p.status IN ('scheduled', 'pending_approval')
       AND NOT EXISTS (SELECT 1 FROM publications x WHERE x.post_id = p.id AND (x.attempts > 0 OR x.status NOT IN ('scheduled', 'pending_approval', 'cancelled')))
     ORDER BY p.id
     FOR NO KEY UPDATE OF p`,
    [workspaceId, queueId],
  );
  const pinned = rows.filter((r) => r.pinned);
  const movable = rows.filter((r) => !r.pinned);
  const taken = new Set(pinned.filter((p) => p.queue_slot_at && p.queue_slot_at.getTime() >= now).map((p) => p.queue_slot_at!.getTime()));
  let slots: Map<string, number>;
  try {
    slots = assignSlots({ timeslots: queue.timeslots, timezone: queue.timezone }, movable.map((m) => ({ id: m.id, priority: m.priority, createdAt: m.created_at.getTime() })), now, taken);
  } catch (e) {
    throw new ApiError('QUEUE_FULL', `${(e as Error).message}: add timeslots or remove posts`);
  }
  const changes = movable.map((m) => ({ id: m.id, slot: slots.get(m.id)!, at: withJitter(slots.get(m.id)!, m.jitter_ms, now) }));
  if (changes.length > 0) {
    await tx.query(
      `UPDATE posts p SET queue_slot_at = v.slot, scheduled_at = v.at, timezone = $2, updated_at = now()
       FROM unnest($1::text[], $3::timestamptz[], $4::timestamptz[]) AS v(id, slot, at) WHERE p.id = v.id`,
      [changes.map((c) => c.id), queue.timezone, changes.map((c) => new Date(c.slot)), changes.map((c) => new Date(c.at))],
    );
  }
  // Publications follow their post's time; a paused queue's are not due (next_attempt_at NULL) until resumed.
  await tx.query(
    `UPDATE publications x SET scheduled_at = p.scheduled_at,
       next_attempt_at = CASE WHEN $3 OR x.status <> 'scheduled' OR x.waiting_for_media THEN NULL ELSE p.scheduled_at END, updated_at = now()
     FROM posts p WHERE p.id = x.post_id AND p.id = ANY($1) AND x.status IN ('scheduled', 'pending_approval') AND x.attempts = 0 AND p.workspace_id = $2`,
    [rows.map((r) => r.id), workspaceId, queue.paused],
  );
  const soonest = changes.reduce((min, c) => Math.min(min, c.at), Infinity);
  if (!queue.paused && soonest - now <= wakeWithinMs) await tx.query(`SELECT pg_notify('${DUE_CHANNEL}', '')`);
}
