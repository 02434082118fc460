// Claiming due publications. The publication row is the job: one transaction takes up to `limit` due rows
// (skipping rows and accounts another transaction holds), picking per account up to its free
// concurrency and skipping rate-limited accounts — so one account's backlog never starves the others —
// leases them to this worker and records the attempt, all before any network call.
import type { Db } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { newId } from '../lib/ids.js';
import type { PlanEntry, PostMediaItem } from '../media/readiness.js';

export type ClaimedJob = {
  id: string;
  workspace_id: string;
  post_id: string;
  account_id: string;
  platform: string;
  attempts: number;
  needs_reconcile: boolean;
  scheduled_at: Date | null;
  next_attempt_at: Date;
  attempt_id: string;
  text: string;
  options: Record<string, Record<string, unknown>>;
  account_status: string;
  account_sandbox: boolean;
  /** Mastodon: the account's instance, where its API is. */
  account_instance_url: string | null;
  /** The account's own OAuth app (oauth_apps.id); null for the operator's app or a sandbox account. */
  account_app_id: string | null;
  /** 'direct', or 'provider:<name>' for an account connected on an aggregator provider. */
  account_route: string;
  credentials: Buffer | null;
  post_media: PostMediaItem[];
  media_plan: PlanEntry[] | null;
  /** Set while the platform processes an earlier attempt's work: this claim checks on it (no new publish). */
  pending: { ref: Record<string, unknown>; note?: string } | null;
  pending_since: Date | null;
  checkpoint: Record<string, unknown> | null;
};

export async function claimDue(db: Db, workerId: string, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
  if (limit <= 0) return [];
  return withTransaction(db, async (tx) => {
    // Pick: per account with due work and not rate-limited, up to its free concurrency, earliest first.
    // Locks the accounts (so concurrent claims count in-flight work correctly) and the picked rows only.
    const { rows: picked } = await tx.query<{ id: string }>(
      `WITH due_accounts AS (
         SELECT DISTINCT account_id FROM publications
         WHERE status IN ('scheduled', 'retrying', 'processing') AND next_attempt_at <= now()
       ),
       accts AS (
         SELECT a.id,
                a.max_concurrency - (SELECT count(*) FROM publications x WHERE x.account_id = a.id AND x.status = 'publishing') AS free
         FROM accounts a
         WHERE a.id IN (SELECT account_id FROM due_accounts)
           AND (a.blocked_until IS NULL OR a.blocked_until <= now())
         FOR NO KEY UPDATE OF a SKIP LOCKED
       ),
       candidates AS (
         SELECT c.id, c.next_attempt_at
         FROM accts a
         CROSS JOIN LATERAL (
           SELECT p.id, p.next_attempt_at FROM publications p
           WHERE p.account_id = a.id AND p.status IN ('scheduled', 'retrying', 'processing') AND p.next_attempt_at <= now()
           ORDER BY p.next_attempt_at
           LIMIT greatest(a.free, 0)
         ) c
       )
       SELECT p.id FROM publications p
       WHERE p.id = ANY (ARRAY(SELECT id FROM candidates ORDER BY next_attempt_at LIMIT $1))
         AND p.status IN ('scheduled', 'retrying', 'processing') AND p.next_attempt_at <= now()
       FOR NO KEY UPDATE OF p SKIP LOCKED`,
      [limit],
    );
    if (picked.length === 0) return [];
    // A status check of a processing publication is recorded like an attempt but does not use up retries.
    const { rows: claimed } = await tx.query<{ id: string; attempts: number; number: number; kind: string; workspace_id: string; next_attempt_at: Date }>(
      `UPDATE publications
       SET status = 'publishing',
           attempts = attempts + CASE WHEN status = 'processing' THEN 0 ELSE 1 END,
           checks = checks + CASE WHEN status = 'processing' THEN 1 ELSE 0 END,
           lease_owner = $1,
           lease_expires_at = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()
       WHERE id = ANY($2)
       RETURNING id, attempts, attempts + checks AS number, workspace_id, next_attempt_at,
                 CASE WHEN needs_reconcile THEN 'reconcile' WHEN pending IS NOT NULL THEN 'check' ELSE 'publish' END AS kind`,
      [workerId, picked.map((p) => p.id), leaseMs],
    );
    if (claimed.length === 0) return [];
    const attemptIds = claimed.map(() => newId('attempt'));
    await tx.query(
      `INSERT INTO publication_attempts (id, publication_id, workspace_id, number, kind, worker_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], array_fill($6::text, ARRAY[cardinality($1::text[])]))`,
      [
        attemptIds,
        claimed.map((c) => c.id),
        claimed.map((c) => c.workspace_id),
        claimed.map((c) => c.number),
        claimed.map((c) => c.kind),
        workerId,
      ],
    );
    // Posts in flight show "publishing" from now on. Best effort: a post an API call holds right now is
    // skipped (never waited for, so no lock cycle with the API); its status is exact once the result is in.
    await tx.query(
      `UPDATE posts SET status = 'publishing', updated_at = now()
       WHERE id IN (SELECT po.id FROM posts po WHERE po.id IN (SELECT post_id FROM publications WHERE id = ANY($1))
                      AND po.status <> 'publishing' FOR NO KEY UPDATE SKIP LOCKED)`,
      [claimed.map((c) => c.id)],
    );
    const { rows } = await tx.query<Omit<ClaimedJob, 'attempt_id'>>(
      `SELECT p.id, p.workspace_id, p.post_id, p.account_id, p.platform, p.attempts, p.needs_reconcile, p.scheduled_at,
              p.next_attempt_at, p.media_plan, p.pending, p.pending_since, p.checkpoint, po.text, po.options, po.media AS post_media, a.status AS account_status, a.sandbox AS account_sandbox, a.instance_url AS account_instance_url, a.app_id AS account_app_id, a.route AS account_route, a.credentials
       FROM publications p JOIN posts po ON po.id = p.post_id JOIN accounts a ON a.id = p.account_id
       WHERE p.id = ANY($1)`,
      [claimed.map((c) => c.id)],
    );
    const attemptOf = new Map(claimed.map((c, i) => [c.id, attemptIds[i]!]));
    return rows.map((r) => ({ ...r, attempt_id: attemptOf.get(r.id)! }));
  });
}

/** The earliest time something is waiting for (to sleep exactly until then when idle). */
export async function nextDueAt(db: Db): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>(
    `SELECT min(next_attempt_at) AS at FROM publications WHERE status IN ('scheduled', 'retrying', 'processing')`,
  );
  return rows[0]?.at ?? null;
}
