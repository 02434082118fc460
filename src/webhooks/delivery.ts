// Delivering webhooks: at least once, with a stable event id. A delivery row is the job: claimed under a
// lease (per endpoint at most a few in flight, so one slow or dead endpoint never holds up another's),
// sent through the SSRF guard without following redirects, 15 s timeout, and retried on the schedule
// below. 2xx succeeds; 410 Gone disables the endpoint; anything else (timeouts too) retries; an endpoint
// failing without a break for 5 days is disabled with an `endpoint.disabled` event.
import http from 'node:http';
import https from 'node:https';
import type { AppContext } from '../context.js';
import { withTransaction, type Db } from '../db/pool.js';
import { insertEvents } from '../db/queries/events.js';
import { openJson } from '../lib/crypto.js';
import { checkUrl, guardedLookup, policyFor, type UrlPolicy } from '../lib/ssrf.js';
import { envelope } from './catalog.js';
import { signedHeaders } from './signing.js';

/** Delay before retry n (1-based): 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h — about 3.2 days in all. */
export const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, ...Array(7).fill(36_000_000)] as number[];
export const DELIVERY_TIMEOUT_MS = 15_000;
export const DISABLE_AFTER_FAILING_MS = 5 * 86_400_000;
const PER_ENDPOINT_IN_FLIGHT = 8;
const EXCERPT_BYTES = 1024;
const LEASE_MS = DELIVERY_TIMEOUT_MS + 30_000;

export const endpointSecretAad = (endpointId: string) => `webhook_endpoint:${endpointId}:secret`;
export const previousSecretAad = (endpointId: string) => `webhook_endpoint:${endpointId}:previous_secret`;

export type ClaimedDelivery = {
  id: string;
  endpoint_id: string;
  attempts: number;
  url: string;
  secret: Buffer;
  previous_secret: Buffer | null;
  previous_secret_until: Date | null;
  failing_since: Date | null;
  event: { id: string; type: string; created_at: Date; workspace_id: string; data: unknown };
};

export async function claimDeliveries(db: Db, workerId: string, limit: number): Promise<ClaimedDelivery[]> {
  if (limit <= 0) return [];
  const { rows } = await db.query<ClaimedDelivery & { event_type: string; event_created_at: Date; event_data: unknown; workspace_id: string }>(
    `WITH eps AS (
       SELECT e.id, $3::int - (SELECT count(*) FROM webhook_deliveries x WHERE x.endpoint_id = e.id AND x.status = 'delivering') AS free
       FROM webhook_endpoints e
       WHERE e.enabled AND e.id IN (SELECT DISTINCT endpoint_id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now())
       FOR NO KEY UPDATE OF e SKIP LOCKED
     ),
     picked AS (
       SELECT c.id, c.next_attempt_at FROM eps CROSS JOIN LATERAL (
         SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
         WHERE d.endpoint_id = eps.id AND d.status = 'pending' AND d.next_attempt_at <= now()
         ORDER BY d.next_attempt_at LIMIT greatest(eps.free, 0)
       ) c
     ),
     claimed AS (
       UPDATE webhook_deliveries d SET status = 'delivering', attempts = attempts + 1, lease_owner = $1,
         lease_expires_at = now() + make_interval(secs => $4::double precision / 1000), updated_at = now()
       WHERE d.id IN (SELECT id FROM picked ORDER BY next_attempt_at LIMIT $2) AND d.status = 'pending'
       RETURNING d.id, d.endpoint_id, d.event_id, d.attempts
     )
     SELECT c.id, c.endpoint_id, c.attempts, w.url, w.secret, w.previous_secret, w.previous_secret_until, w.failing_since,
            ev.id AS event_id, ev.type AS event_type, ev.created_at AS event_created_at, ev.data AS event_data, ev.workspace_id
     FROM claimed c JOIN webhook_endpoints w ON w.id = c.endpoint_id JOIN events ev ON ev.id = c.event_id`,
    [workerId, limit, PER_ENDPOINT_IN_FLIGHT, LEASE_MS],
  );
  return rows.map((r) => ({ ...r, event: { id: (r as unknown as { event_id: string }).event_id, type: r.event_type, created_at: r.event_created_at, workspace_id: r.workspace_id, data: r.event_data } }));
}

type Sent = { status?: number; error?: string; latencyMs: number; excerpt?: string };

/** One HTTP attempt. Never throws; never follows a redirect (a 3xx is a failed attempt like any other). */
export function send(url: string, headers: Record<string, string>, body: string, policy: UrlPolicy, signal: AbortSignal): Promise<Sent> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = checkUrl(url, policy);
    } catch (e) {
      return resolve({ error: (e as Error).message, latencyMs: 0 });
    }
    const lib = target.protocol === 'https:' ? https : http;
    // One controller per attempt, released when it ends (AbortSignal.any on the long-lived shutdown signal
    // would register every attempt on it).
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException('timeout', 'TimeoutError')), DELIVERY_TIMEOUT_MS);
    const onShutdown = () => controller.abort(new DOMException('shutting down', 'AbortError'));
    signal.addEventListener('abort', onShutdown, { once: true });
    const release = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onShutdown);
    };
    const req = lib.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'Crier-Webhooks/1' },
      lookup: guardedLookup(policyFor(target, policy)),
      signal: controller.signal,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < EXCERPT_BYTES) chunks.push(c);
        size += c.length;
        if (size > 64 * 1024) res.destroy(); // a receiver that streams forever is cut off; the status already counts
      });
      const done = () => {
        release();
        resolve({ status: res.statusCode, latencyMs: latency(), excerpt: Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8') });
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    req.on('error', (e) => {
      release();
      resolve({ error: e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s` : e.message, latencyMs: latency() });
    });
    req.end(body);
  });
}

export type Outcome = { delivery: ClaimedDelivery; sent: Sent; startedAt: Date };

/** Signs and sends one delivery; the outcome is written by `writeOutcomes` (batched by the caller). */
export async function deliver(ctx: AppContext, d: ClaimedDelivery, policy: UrlPolicy, shutdown: AbortSignal): Promise<Outcome> {
  const now = ctx.clock.now();
  const secrets = [openJson<string>(ctx.keyRing, d.secret, endpointSecretAad(d.endpoint_id))];
  if (d.previous_secret && d.previous_secret_until && d.previous_secret_until > now) {
    secrets.push(openJson<string>(ctx.keyRing, d.previous_secret, previousSecretAad(d.endpoint_id)));
  }
  const body = JSON.stringify(envelope(d.event));
  const headers = signedHeaders(secrets, d.event.id, Math.floor(now.getTime() / 1000), body);
  const startedAt = new Date();
  return { delivery: d, sent: await send(d.url, headers, body, policy, shutdown), startedAt };
}

const succeeded = (s: Sent) => s.status !== undefined && s.status >= 200 && s.status < 300;

/**
 * Writes a batch of outcomes in one transaction (one commit for many deliveries is what makes a burst
 * fast): each attempt, each delivery's new state (fenced by the lease: a worker that lost it writes
 * nothing for that delivery), and the endpoints' health — cleared by a success, started by a failure,
 * and disabled by a 410 or by 5 days of failures, with an `endpoint.disabled` event.
 */
export async function writeOutcomes(ctx: AppContext, workerId: string, outcomes: Outcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const rows = outcomes.map(({ delivery: d, sent, startedAt }) => {
    const ok = succeeded(sent);
    const retryIn = RETRY_DELAYS_MS[d.attempts - 1];
    // Jitter of ±10% spreads the retries of many deliveries that failed together.
    const delay = retryIn === undefined ? null : Math.round(retryIn * (0.9 + Math.random() * 0.2));
    const status = ok ? 'succeeded' : sent.status === 410 || delay === null ? 'failed' : 'pending';
    return { d, sent, startedAt, ok, status, delay: delay ?? 0, error: ok ? null : sent.error ?? `HTTP ${sent.status}` };
  });
  await withTransaction(ctx.db, async (tx) => {
    await tx.query(
      `INSERT INTO webhook_attempts (delivery_id, number, started_at, latency_ms, status, error, response)
       SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::int[], $5::int[], $6::text[], $7::text[])
       ON CONFLICT DO NOTHING`,
      [rows.map((r) => r.d.id), rows.map((r) => r.d.attempts), rows.map((r) => r.startedAt), rows.map((r) => r.sent.latencyMs), rows.map((r) => r.sent.status ?? null), rows.map((r) => r.error), rows.map((r) => r.sent.excerpt ?? null)],
    );
    await tx.query(
      `UPDATE webhook_deliveries d SET status = v.status, last_status = v.http_status, last_error = v.error,
         lease_owner = NULL, lease_expires_at = NULL,
         delivered_at = CASE WHEN v.status = 'succeeded' THEN now() END,
         next_attempt_at = CASE WHEN v.status = 'pending' THEN now() + make_interval(secs => v.delay::double precision / 1000) ELSE d.next_attempt_at END,
         updated_at = now()
       FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::int[]) AS v(id, status, http_status, error, delay)
       WHERE d.id = v.id AND d.lease_owner = $1 AND d.status = 'delivering'`,
      [workerId, rows.map((r) => r.d.id), rows.map((r) => r.status), rows.map((r) => r.sent.status ?? null), rows.map((r) => r.error), rows.map((r) => r.delay)],
    );
    const healthy = [...new Set(rows.filter((r) => r.ok).map((r) => r.d.endpoint_id))];
    if (healthy.length > 0) await tx.query('UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ANY($1) AND failing_since IS NOT NULL', [healthy]);
    // An endpoint that both failed and succeeded in this batch is healthy: it answers.
    const failed = rows.filter((r) => !r.ok && !healthy.includes(r.d.endpoint_id));
    if (failed.length === 0) return;
    const firstFailure = new Map<string, Date>();
    for (const r of failed) if (!firstFailure.has(r.d.endpoint_id)) firstFailure.set(r.d.endpoint_id, r.startedAt);
    const gone = new Set(failed.filter((r) => r.sent.status === 410).map((r) => r.d.endpoint_id));
    const { rows: eps } = await tx.query<{ id: string; failing_since: Date; workspace_id: string; url: string }>(
      `UPDATE webhook_endpoints w SET failing_since = coalesce(w.failing_since, v.at)
       FROM unnest($1::text[], $2::timestamptz[]) AS v(id, at) WHERE w.id = v.id AND w.enabled
       RETURNING w.id, w.failing_since, w.workspace_id, w.url`,
      [[...firstFailure.keys()], [...firstFailure.values()]],
    );
    const now = ctx.clock.now().getTime();
    for (const ep of eps) {
      const reason = gone.has(ep.id) ? 'the endpoint answered 410 Gone' : now - ep.failing_since.getTime() >= DISABLE_AFTER_FAILING_MS ? 'every delivery failed for 5 days' : null;
      if (!reason) continue;
      await tx.query('UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now() WHERE id = $1', [ep.id, reason]);
      await insertEvents(tx, [{ workspaceId: ep.workspace_id, type: 'endpoint.disabled', data: { endpoint_id: ep.id, url: ep.url, reason } }]);
    }
  });
}

/** Deliveries whose worker died mid-send go back to pending (at least once: they are sent again). */
export async function recoverDeliveries(db: Db): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE webhook_deliveries SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = now(), updated_at = now()
     WHERE status = 'delivering' AND lease_expires_at < now()`,
  );
  return rowCount ?? 0;
}
