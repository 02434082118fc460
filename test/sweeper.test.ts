// The sweeper: expired leases handed on for read-back (or ended as unconfirmed once read-backs are used up),
// live leases left alone, overdue reported, expired idempotency keys removed, one sweeper at a time; and a
// publication handed on is then published exactly once by the next worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tidForPublication } from '../src/connectors/bluesky/tid.js';
import { newId } from '../src/lib/ids.js';
import { claimDue } from '../src/worker/claim.js';
import { runPublication } from '../src/worker/run.js';
import { sweep } from '../src/worker/sweeper.js';
import { startWorker } from '../src/worker/worker.js';
import { startTestCrier, waitFor, type TestCrier } from './support/harness.js';

const CREATE = 'com.atproto.repo.createRecord';
const GET = 'com.atproto.repo.getRecord';

describe('sweeping', () => {
  let t: TestCrier;
  beforeAll(async () => {
    t = await startTestCrier({ role: 'serve' }); // no worker: the test plays the dead one
  });
  afterAll(async () => t?.stop());

  /** A publication a dead worker left mid-attempt: publishing, leased, with an open attempt row. */
  async function stuckPublication(leaseExpiresIn: string, attempts = 1): Promise<{ pub: string; post: string }> {
    const ws = await t.workspace();
    const account = await ws.account();
    const r = await ws.post('/v1/posts', { text: 'stuck', account_ids: [account], scheduled_at: new Date(Date.now() + 3_600_000).toISOString() });
    const pub = r.body.publications[0].id;
    await t.sql.query(
      `UPDATE publications SET status = 'publishing', attempts = $3, lease_owner = 'wrk_dead', lease_expires_at = now() + $2::interval WHERE id = $1`,
      [pub, leaseExpiresIn, attempts],
    );
    await t.sql.query(`UPDATE posts SET status = 'publishing' WHERE id = $1`, [r.body.id]);
    await t.sql.query(`INSERT INTO publication_attempts (id, publication_id, workspace_id, number, kind, worker_id) VALUES ($1, $2, $3, $4, 'publish', 'wrk_dead')`, [
      newId('attempt'),
      pub,
      ws.workspaceId,
      attempts,
    ]);
    return { pub, post: r.body.id };
  }

  const row = async (pub: string) => (await t.sql.query('SELECT * FROM publications WHERE id = $1', [pub])).rows[0];
  const eventsOf = async (pub: string) => (await t.sql.query(`SELECT type FROM events WHERE data->>'publication_id' = $1 ORDER BY id`, [pub])).rows.map((e) => e.type);

  it('hands a publication of a dead worker on for a read-back, and closes its attempt as unknown', async () => {
    const { pub } = await stuckPublication('-1 second');
    const report = await sweep(t.crier.ctx);
    expect(report?.leasesRecovered).toBeGreaterThanOrEqual(1);
    const p = await row(pub);
    expect(p).toMatchObject({ status: 'retrying', needs_reconcile: true, lease_owner: null, lease_expires_at: null, finished_at: null });
    expect(p.error.code).toBe('WORKER_LOST');
    expect(p.next_attempt_at.getTime()).toBeLessThanOrEqual(Date.now());
    const attempt = (await t.sql.query('SELECT outcome, finished_at FROM publication_attempts WHERE publication_id = $1', [pub])).rows[0];
    expect(attempt.outcome).toBe('unknown');
    expect(attempt.finished_at).not.toBeNull();
    expect(await eventsOf(pub)).toEqual(['publication.retrying']);
  });

  it('ends a publication as unconfirmed, not re-posted, once its read-backs are used up', async () => {
    const limit = t.config.worker.maxAttempts + 2; // the same cap the worker applies to failing read-backs
    const { pub, post } = await stuckPublication('-1 second', limit);
    const report = await sweep(t.crier.ctx);
    expect(report?.unconfirmed).toBeGreaterThanOrEqual(1);
    const p = await row(pub);
    expect(p).toMatchObject({ status: 'unconfirmed', needs_reconcile: false, lease_owner: null, next_attempt_at: null });
    expect(p.error).toMatchObject({ code: 'OUTCOME_UNKNOWN', retryable: false });
    expect(p.finished_at).not.toBeNull();
    expect((await t.sql.query('SELECT status FROM posts WHERE id = $1', [post])).rows[0].status).toBe('unconfirmed');
    expect(await eventsOf(pub)).toEqual(['publication.unconfirmed']);
  });

  it('leaves a live lease alone', async () => {
    const { pub } = await stuckPublication('1 minute');
    await sweep(t.crier.ctx);
    expect(await row(pub)).toMatchObject({ status: 'publishing', lease_owner: 'wrk_dead' });
    const attempt = (await t.sql.query('SELECT outcome, finished_at FROM publication_attempts WHERE publication_id = $1', [pub])).rows[0];
    expect(attempt).toEqual({ outcome: null, finished_at: null });
  });

  it('reports publications that are overdue and counts none that are not', async () => {
    const before = (await sweep(t.crier.ctx))!.overdue;
    const ws = await t.workspace();
    const account = await ws.account();
    const late = await ws.post('/v1/posts', { text: 'late', account_ids: [account] });
    const onTime = await ws.post('/v1/posts', { text: 'on time', account_ids: [account] }); // due now, but not late yet
    expect(onTime.status).toBe(201);
    await t.sql.query(`UPDATE publications SET next_attempt_at = now() - interval '10 minutes' WHERE id = $1`, [late.body.publications[0].id]);
    const report = await sweep(t.crier.ctx);
    expect(report!.overdue - before).toBe(1);
  });

  it('removes idempotency keys older than 24 hours and keeps recent ones', async () => {
    const ws = await t.workspace();
    await ws.post('/v1/posts', { text: 'a', account_ids: [await ws.account()], draft: true }, { 'idempotency-key': 'old' });
    await ws.post('/v1/posts', { text: 'b', account_ids: [await ws.account()], draft: true }, { 'idempotency-key': 'new' });
    await t.sql.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE scope = $1 AND key = 'old'`, [ws.workspaceId]);
    await sweep(t.crier.ctx);
    const keys = (await t.sql.query('SELECT key FROM idempotency_keys WHERE scope = $1', [ws.workspaceId])).rows.map((k) => k.key);
    expect(keys).toEqual(['new']);
  });

  it('recovers a stuck publication once when several sweeps run at once', async () => {
    await stuckPublication('-1 second');
    const reports = await Promise.all([sweep(t.crier.ctx), sweep(t.crier.ctx), sweep(t.crier.ctx)]);
    const acted = reports.filter((r) => r !== undefined);
    expect(acted.length).toBeGreaterThanOrEqual(1);
    expect(acted.reduce((n, r) => n + r!.leasesRecovered, 0)).toBe(1);
  });

  it('stands aside while another sweep is running, which recovers the publication alone', async () => {
    const { pub, post } = await stuckPublication('-1 second');
    // An API call holds the post: the first sweep takes the sweep lock, then waits for the post.
    const api = await t.sql.connect();
    let first: Promise<Awaited<ReturnType<typeof sweep>>> | undefined;
    try {
      await api.query('BEGIN');
      await api.query('SELECT 1 FROM posts WHERE id = $1 FOR NO KEY UPDATE', [post]);
      first = sweep(t.crier.ctx);
      await waitFor(async () => {
        const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM pg_locks
           WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
        return rows[0].n === 1 ? true : undefined;
      }, 10_000, 'the first sweep to hold the sweep lock');
      // A second sweep meanwhile does nothing at all (rather than queue behind the first).
      const second = await Promise.race([sweep(t.crier.ctx), new Promise((r) => setTimeout(() => r('waiting behind the first'), 3_000))]);
      expect(second).toBeUndefined();
      expect(await row(pub)).toMatchObject({ status: 'publishing', lease_owner: 'wrk_dead' });
    } finally {
      await api.query('ROLLBACK');
      api.release();
    }
    expect((await first!)?.leasesRecovered).toBeGreaterThanOrEqual(1);
    expect(await row(pub)).toMatchObject({ status: 'retrying', needs_reconcile: true, lease_owner: null });
    expect(await eventsOf(pub)).toEqual(['publication.retrying']);
  });
});

describe('a publication handed on by the sweeper', () => {
  // A database of its own: the dead worker below claims with the real claim query, which takes whatever is due.
  let t: TestCrier;
  beforeAll(async () => {
    t = await startTestCrier({ role: 'serve' });
  });
  afterAll(async () => t?.stop());

  /** A worker that claims one publication, maybe calls the platform, and dies before writing the result. */
  async function deadWorkerClaims(reachesPlatform: boolean) {
    const ws = await t.workspace();
    const account = await ws.account();
    const did = (await ws.get(`/v1/accounts/${account}`)).body.external_id as string;
    const post = await ws.post('/v1/posts', { text: `handed on ${reachesPlatform}`, account_ids: [account] });
    const pub = post.body.publications[0].id as string;
    const jobs = await claimDue(t.crier.ctx.db, 'wrk_dead', 10, t.config.worker.leaseMs);
    expect(jobs.map((j) => j.id)).toEqual([pub]);
    if (reachesPlatform) {
      const result = await runPublication(t.crier.ctx, jobs[0]!, new AbortController().signal, 'wrk_dead');
      expect(result.outcome.kind).toBe('published'); // the platform took it; the worker dies before writing this
    }
    // The lease runs out (instead of waiting CRIER_LEASE_MS), and the sweeper hands the publication on.
    await t.sql.query(`UPDATE publications SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [pub]);
    expect(await sweep(t.crier.ctx)).toMatchObject({ leasesRecovered: 1, unconfirmed: 0 });
    expect((await t.sql.query('SELECT status, needs_reconcile FROM publications WHERE id = $1', [pub])).rows[0]).toEqual({ status: 'retrying', needs_reconcile: true });
    return { ws, pub, did, postId: post.body.id as string };
  }

  async function nextWorkerPublishes(pub: string) {
    const worker = await startWorker(t.crier.ctx);
    try {
      return await waitFor(async () => {
        const { rows } = await t.sql.query('SELECT * FROM publications WHERE id = $1', [pub]);
        return ['published', 'failed', 'unconfirmed'].includes(rows[0].status) ? rows[0] : undefined;
      }, 15_000, 'the next worker to finish the publication');
    } finally {
      await worker.stop();
    }
  }

  const attemptsOf = async (pub: string) =>
    (await t.sql.query('SELECT kind, outcome, worker_id FROM publication_attempts WHERE publication_id = $1 ORDER BY number', [pub])).rows;
  const calls = (operation: string, did?: string) => t.sandbox.bluesky.core.log.filter((r) => r.operation === operation && (did === undefined || r.account === did));

  it('is adopted by read-back, not posted again, when the dead worker’s call had reached the platform', async () => {
    const { pub, did } = await deadWorkerClaims(true);
    const records = [...t.sandbox.bluesky.repos.get(did)!.values()];
    expect(records).toHaveLength(1);
    const getsBefore = calls(GET).length;

    const p = await nextWorkerPublishes(pub);
    expect(p.status).toBe('published');
    expect(p.platform_post_id).toBe(records[0]!.uri);
    expect(records[0]!.rkey).toBe(tidForPublication(pub));
    expect([...t.sandbox.bluesky.repos.get(did)!.values()]).toHaveLength(1);
    expect(calls(CREATE, did)).toHaveLength(1); // only the dead worker's
    expect(calls(GET).length).toBeGreaterThan(getsBefore);
    const attempts = await attemptsOf(pub);
    expect(attempts.map((a) => [a.kind, a.outcome])).toEqual([
      ['publish', 'unknown'],
      ['reconcile', 'found'],
    ]);
    expect(attempts[0].worker_id).toBe('wrk_dead');
    expect(attempts[1].worker_id).not.toBe('wrk_dead');
  });

  it('is read back, then published exactly once, when the dead worker had not reached the platform', async () => {
    const { pub, did, ws, postId } = await deadWorkerClaims(false);
    expect(t.sandbox.bluesky.repos.get(did)!.size).toBe(0);
    const logFrom = t.sandbox.bluesky.core.log.length;

    const p = await nextWorkerPublishes(pub);
    expect(p.status).toBe('published');
    const records = [...t.sandbox.bluesky.repos.get(did)!.values()];
    expect(records).toHaveLength(1);
    expect(p.platform_post_id).toBe(records[0]!.uri);
    expect(calls(CREATE, did)).toHaveLength(1);
    // Looked before posting: the read-back came first.
    const ops = t.sandbox.bluesky.core.log.slice(logFrom).map((r) => r.operation);
    expect(ops.indexOf(GET)).toBeGreaterThanOrEqual(0);
    expect(ops.indexOf(GET)).toBeLessThan(ops.indexOf(CREATE));
    expect((await attemptsOf(pub)).map((a) => [a.kind, a.outcome])).toEqual([
      ['publish', 'unknown'],
      ['reconcile', 'published'],
    ]);
    expect((await ws.get(`/v1/posts/${postId}`)).body.status).toBe('published');
  });
});
