// Claiming due publications. The publication row is the job: one transaction takes up to `limit` due rows
// (skipping rows and accounts another transaction holds), picking per account up to its free
// concurrency and skipping rate-limited accounts — so one account's backlog never starves the others —
// leases them to this worker and records the attempt, all before any network call.
import type { Db } from '../db/pool.js';
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
  // One statement (so no BEGIN/COMMIT round trips either): pick, lease, record the attempts, mark the posts
  // publishing, and read what the runs need. Round trips were most of the claim's cost in the burst
  // benchmark (bench/README.md "Bottlenecks"). Attempt ids are made here (TypeIDs), one per possible row.
  const attemptIds = Array.from({ length: limit }, () => newId('attempt'));
  const { rows } = await db.query<ClaimedJob>(
    `WITH due_accounts AS (
       SELECT DISTINCT account_id FROM publications
       WHERE status IN ('scheduled', 'retrying', 'processing') AND next_attempt_at <= now()
     ),
     -- Per account with due work and not rate-limited, up to its free concurrency, earliest first. Locks the
     -- accounts (so concurrent claims count in-flight work correctly) and the picked rows only.
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
     ),
     picked AS (
       SELECT p.id FROM publications p
       WHERE p.id = ANY (ARRAY(SELECT id FROM candidates ORDER BY next_attempt_at LIMIT $1))
         AND p.status IN ('scheduled', 'retrying', 'processing') AND p.next_attempt_at <= now()
       FOR NO KEY UPDATE OF p SKIP LOCKED
     ),
     -- A status check of a processing publication is recorded like an attempt but does not use up retries.
     claimed AS (
       UPDATE publications p
       SET status = 'publishing',
           attempts = p.attempts + CASE WHEN p.status = 'processing' THEN 0 ELSE 1 END,
           checks = p.checks + CASE WHEN p.status = 'processing' THEN 1 ELSE 0 END,
           lease_owner = $2,
           lease_expires_at = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()
       FROM picked WHERE p.id = picked.id
       RETURNING p.*, CASE WHEN p.needs_reconcile THEN 'reconcile' WHEN p.pending IS NOT NULL THEN 'check' ELSE 'publish' END AS kind
     ),
     numbered AS (
       SELECT c.*, ($4::text[])[row_number() OVER (ORDER BY c.id)] AS attempt_id FROM claimed c
     ),
     attempts AS (
       INSERT INTO publication_attempts (id, publication_id, workspace_id, number, kind, worker_id)
       SELECT attempt_id, id, workspace_id, attempts + checks, kind, $2 FROM numbered
     ),
     -- Posts in flight show "publishing" from now on. Best effort: a post an API call holds right now is
     -- skipped (never waited for, so no lock cycle with the API); its status is exact once the result is in.
     marked AS (
       UPDATE posts SET status = 'publishing', updated_at = now()
       WHERE id IN (SELECT po.id FROM posts po WHERE po.id IN (SELECT post_id FROM claimed)
                      AND po.status <> 'publishing' FOR NO KEY UPDATE SKIP LOCKED)
     )
     SELECT n.id, n.workspace_id, n.post_id, n.account_id, n.platform, n.attempts, n.needs_reconcile, n.scheduled_at,
            n.next_attempt_at, n.media_plan, n.pending, n.pending_since, n.checkpoint, n.attempt_id,
            po.text, po.options, po.media AS post_media, a.status AS account_status, a.sandbox AS account_sandbox,
            a.instance_url AS account_instance_url, a.app_id AS account_app_id, a.route AS account_route, a.credentials
     FROM numbered n JOIN posts po ON po.id = n.post_id JOIN accounts a ON a.id = n.account_id`,
    [limit, workerId, leaseMs, attemptIds],
  );
  return rows;
}

/** The earliest time something is waiting for (to sleep exactly until then when idle). */
export async function nextDueAt(db: Db): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>(
    `SELECT min(next_attempt_at) AS at FROM publications WHERE status IN ('scheduled', 'retrying', 'processing')`,
  );
  return rows[0]?.at ?? null;
}
