// Housekeeping that keeps "never lose a post" true when processes die: publications whose worker died
// (expired lease) are handed on for a read-back, or marked unconfirmed where the platform cannot be read
// back; overdue ones are reported; expired idempotency keys and stale heartbeats are removed.
// One worker sweeps at a time (advisory lock); sweeping twice would be harmless, only wasteful.
import type { AppContext } from '../context.js';
import { getConnector, supportedPlatforms } from '../connectors/registry.js';
import { withTransaction } from '../db/pool.js';
import { insertEvents } from '../db/queries/events.js';
import type { PublicationRow } from '../db/queries/posts.js';
import { lockPosts, publicationEvent, refreshPostStatuses } from '../db/queries/publications.js';
import { IDEMPOTENCY_TTL_HOURS } from '../http/idempotency.js';
import { runTokenChecks } from '../services/account-tokens.js';
import { recoverDeliveries } from '../webhooks/delivery.js';
import { deleteExpiredMedia } from './media-retention.js';

const SWEEP_LOCK = 0x63727377; // "crsw"

export type SweepReport = { leasesRecovered: number; unconfirmed: number; overdue: number; mediaDeleted: number; tokensChecked: number; deliveriesRecovered: number };

export async function sweep(ctx: AppContext): Promise<SweepReport | undefined> {
  const report = await withTransaction(ctx.db, async (tx) => {
    const { rows: lock } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [SWEEP_LOCK]);
    if (!lock[0]!.ok) return undefined;

    const { rows: expired } = await tx.query<{ post_id: string }>(
      `SELECT DISTINCT post_id FROM publications WHERE status = 'publishing' AND lease_expires_at < now() LIMIT 500`,
    );
    let recovered: PublicationRow[] = [];
    if (expired.length > 0) {
      const postIds = expired.map((e) => e.post_id);
      await lockPosts(tx, postIds);
      const readable = supportedPlatforms().filter((p) => getConnector(p)?.findExisting);
      const lost = { code: 'WORKER_LOST', category: 'transient', message: 'the worker publishing this stopped mid-attempt', retryable: true };
      const unknown = { code: 'OUTCOME_UNKNOWN', category: 'transient', message: 'the worker publishing this stopped mid-attempt and this platform cannot be read back; check the account before posting again', retryable: false };
      // Readable: the platform's connector can read back, or the account publishes through providers
      // (whose connector always can).
      ({ rows: recovered } = await tx.query<PublicationRow>(
        `UPDATE publications p SET
           status = CASE WHEN r.readable THEN 'retrying' ELSE 'unconfirmed' END,
           needs_reconcile = r.readable,
           error = CASE WHEN r.readable THEN $3::jsonb ELSE $4::jsonb END,
           next_attempt_at = CASE WHEN r.readable THEN now() END,
           finished_at = CASE WHEN r.readable THEN NULL ELSE now() END,
           lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
         FROM (SELECT x.id, (x.platform = ANY($2) OR a.route <> 'direct') AND x.attempts < $5 AS readable
               FROM publications x JOIN accounts a ON a.id = x.account_id
               WHERE x.post_id = ANY($1) AND x.status = 'publishing' AND x.lease_expires_at < now()) r
         WHERE p.id = r.id AND p.status = 'publishing' AND p.lease_expires_at < now()
         RETURNING p.*`,
        [postIds, readable, JSON.stringify(lost), JSON.stringify(unknown), ctx.config.worker.maxAttempts + 2],
      ));
      await tx.query(
        `UPDATE publication_attempts SET finished_at = now(), outcome = 'unknown', error = $2::jsonb
         WHERE publication_id = ANY($1) AND finished_at IS NULL`,
        [recovered.map((r) => r.id), JSON.stringify(lost)],
      );
      await insertEvents(tx, recovered.map(publicationEvent));
      await refreshPostStatuses(tx, postIds);
    }

    const { rows: overdue } = await tx.query<{ n: number }>(
      `SELECT count(*) AS n FROM publications
       WHERE status IN ('scheduled', 'retrying', 'processing') AND next_attempt_at < now() - make_interval(secs => $1::double precision / 1000)`,
      [ctx.config.worker.overdueAfterMs],
    );
    await tx.query(`DELETE FROM idempotency_keys WHERE created_at < now() - interval '${IDEMPOTENCY_TTL_HOURS} hours'`);
    await tx.query(`DELETE FROM worker_heartbeats WHERE last_seen_at < now() - interval '1 day'`);
    return {
      leasesRecovered: recovered.filter((r) => r.status === 'retrying').length,
      unconfirmed: recovered.filter((r) => r.status === 'unconfirmed').length,
      overdue: overdue[0]!.n,
      mediaDeleted: 0,
      tokensChecked: 0,
      deliveriesRecovered: 0,
    };
  });
  // Only the sweeper that held the lock; its own transactions, so file deletes never hold the sweep open.
  if (report) report.mediaDeleted = await deleteExpiredMedia(ctx);
  // Token refreshes and reconnect warnings: one sweeper at a time, so two never refresh the same account at once.
  if (report) report.tokensChecked = await runTokenChecks(ctx);
  if (report) report.deliveriesRecovered = await recoverDeliveries(ctx.db);
  if (report && (report.leasesRecovered || report.unconfirmed)) ctx.log.warn(report, 'recovered publications of a worker that stopped');
  if (report?.overdue) ctx.log.warn({ overdue: report.overdue }, 'publications are overdue: is a worker running, or are accounts blocked?');
  return report;
}
