// Writing attempt outcomes. Results are batched into one transaction (posts locked first, as everywhere),
// and fenced by the lease: if this worker lost the lease (the sweeper handed the publication on), its late
// result is dropped and the next attempt's read-back tells the truth instead.
import type { AppContext } from '../context.js';
import { withTransaction } from '../db/pool.js';
import { insertEvents } from '../db/queries/events.js';
import { PUB_COLUMNS, type PublicationRow } from '../db/queries/posts.js';
import { endWaitingPublicationsOfAccount, lockPosts, publicationEvent, refreshPostStatuses } from '../db/queries/publications.js';
import type { Metrics } from '../metrics.js';
import type { RunResult } from './run.js';


const ATTEMPT_OUTCOME: Record<RunResult['outcome']['kind'], string> = {
  published: 'published',
  retry: 'retry',
  failed: 'failed',
  unconfirmed: 'unknown',
  processing: 'processing',
};

const STATUS: Record<RunResult['outcome']['kind'], string> = {
  published: 'published',
  retry: 'retrying',
  failed: 'failed',
  unconfirmed: 'unconfirmed',
  processing: 'processing',
};

export async function writeResults(ctx: AppContext, workerId: string, results: RunResult[], metrics?: Metrics): Promise<void> {
  if (results.length === 0) return;
  // Account effects first, each in its own transaction (accounts are locked before posts elsewhere).
  for (const r of results) if (r.account) await applyAccountEffect(ctx, r);

  const rows = await withTransaction(ctx.db, async (tx) => {
    await lockPosts(tx, [...new Set(results.map((r) => r.job.post_id))]);
    // The publications and their attempts in one statement (a round trip less per batch).
    const { rows: updated } = await tx.query<PublicationRow>(
      `WITH written AS (
         UPDATE publications p SET
           status = v.status,
           platform_post_id = coalesce(v.platform_post_id, p.platform_post_id),
           platform_url = coalesce(v.url, p.platform_url),
           route = coalesce(v.route, p.route),
           error = v.error,
           needs_reconcile = v.needs_reconcile,
           next_attempt_at = v.next_attempt_at,
           -- The platform's reference survives retries (a retried check continues it) and ends with the publication.
           pending = CASE WHEN v.status = 'processing' THEN v.pending WHEN v.status = 'retrying' THEN p.pending END,
           pending_since = CASE WHEN v.status = 'processing' THEN coalesce(p.pending_since, now()) WHEN v.status = 'retrying' THEN p.pending_since END,
           published_at = CASE WHEN v.status = 'published' THEN now() END,
           finished_at = CASE WHEN v.status IN ('published', 'failed', 'unconfirmed') THEN now() END,
           lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
         FROM jsonb_to_recordset($2::jsonb) AS v(id text, status text, platform_post_id text, url text, error jsonb,
           needs_reconcile boolean, next_attempt_at timestamptz, pending jsonb, route text)
         WHERE p.id = v.id AND p.status = 'publishing' AND p.lease_owner = $1
         RETURNING ${PUB_COLUMNS.split(',').map((c) => `p.${c.trim()}`).join(', ')}
       ),
       closed AS (
         UPDATE publication_attempts a SET finished_at = now(), outcome = w.outcome, error = w.error
         FROM jsonb_to_recordset($3::jsonb) AS w(id text, outcome text, error jsonb)
         WHERE a.id = w.id AND a.finished_at IS NULL -- the sweeper may have closed it after our lease expired
       )
       SELECT * FROM written`,
      // Rows as one JSON document (not parallel arrays, whose elements pg escapes one by one).
      [
        workerId,
        JSON.stringify(results.map((r) => ({
          id: r.job.id,
          status: STATUS[r.outcome.kind],
          platform_post_id: r.outcome.kind === 'published' ? r.outcome.platformPostId : null,
          url: r.outcome.kind === 'published' ? r.outcome.url : null,
          error: 'error' in r.outcome ? r.outcome.error : null,
          needs_reconcile: r.outcome.kind === 'retry' && r.outcome.needsReconcile,
          next_attempt_at: r.outcome.kind === 'retry' || r.outcome.kind === 'processing' ? r.outcome.at : null,
          pending: r.outcome.kind === 'processing' ? { ref: r.outcome.ref, note: r.outcome.note } : null,
          route: r.outcome.kind === 'published' ? r.outcome.route : null,
        }))),
        JSON.stringify(results.map((r) => ({
          id: r.job.attempt_id,
          outcome: r.outcome.kind === 'published' && r.outcome.found ? 'found' : ATTEMPT_OUTCOME[r.outcome.kind],
          error: 'error' in r.outcome ? r.outcome.error : null,
        }))),
      ],
    );
    // A processing publication says so once (when it starts processing), not at every status check.
    const firstProcessing = new Set(results.filter((r) => r.outcome.kind === 'processing' && !r.job.pending).map((r) => r.job.id));
    const events = updated.filter((u) => u.status !== 'processing' || firstProcessing.has(u.id)).map(publicationEvent);
    // Posts completed by these results add their post.completed events, inserted with these in one statement.
    await refreshPostStatuses(tx, [...new Set(updated.map((u) => u.post_id))], events);
    await insertEvents(tx, events);
    return updated;
  });

  if (metrics) {
    const written = new Set(rows.map((r) => r.id));
    for (const r of results) {
      metrics.outcomes.inc({ platform: r.job.platform, outcome: written.has(r.job.id) ? r.outcome.kind : 'lease_lost' });
      const due = r.job.scheduled_at;
      if (r.job.attempts === 1 && due) metrics.publishDelay.observe(Math.max(0, r.startedAt.getTime() - due.getTime()) / 1000);
    }
  }
}

async function applyAccountEffect(ctx: AppContext, r: RunResult): Promise<void> {
  const effect = r.account!;
  const { workspace_id: workspaceId, account_id: accountId } = r.job;
  if (effect.kind === 'block') {
    await ctx.db.query('UPDATE accounts SET blocked_until = greatest(coalesce(blocked_until, $2), $2), updated_at = now() WHERE id = $1', [accountId, effect.until]);
    return;
  }
  await withTransaction(ctx.db, async (tx) => {
    const { rows } = await tx.query<{ status: string; platform: string }>(
      `UPDATE accounts SET status = $2, status_reason = $3, updated_at = now(),
         credentials = CASE WHEN $2 = 'disconnected' THEN NULL ELSE credentials END,
         disconnected_at = CASE WHEN $2 = 'disconnected' THEN now() ELSE disconnected_at END
       WHERE id = $1 AND status = 'connected' RETURNING status, platform`,
      [accountId, effect.kind === 'disconnect' ? 'disconnected' : 'reconnect_required', effect.reason],
    );
    if (rows.length === 0) return; // already changed by another publication's result
    const type = effect.kind === 'disconnect' ? 'account.disconnected' : 'account.reconnect_required';
    await insertEvents(tx, [{ workspaceId, type, data: { account_id: accountId, platform: rows[0]!.platform, reason: effect.reason } }]);
    if (effect.kind === 'disconnect') {
      await endWaitingPublicationsOfAccount(tx, workspaceId, accountId, { code: 'ACCOUNT_DISCONNECTED', category: 'revoked', message: `the platform revoked access: ${effect.reason}`, retryable: false });
    }
  });
}
