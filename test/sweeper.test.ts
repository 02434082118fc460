// The sweeper: expired leases handed on for read-back, live leases left alone, overdue reported, expired
// idempotency keys removed, one sweeper at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../src/worker/sweeper.js';
import { newId } from '../src/lib/ids.js';
import { startTestCrier, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier({ role: 'serve' }); // no worker: the test plays the dead one
});
afterAll(async () => t?.stop());

async function stuckPublication(leaseExpiresIn: string): Promise<{ pub: string; post: string }> {
  const ws = await t.workspace();
  const account = await ws.account();
  const r = await ws.post('/v1/posts', { text: 'stuck', account_ids: [account], scheduled_at: new Date(Date.now() + 3_600_000).toISOString() });
  const pub = r.body.publications[0].id;
  await t.sql.query(
    `UPDATE publications SET status = 'publishing', attempts = 1, lease_owner = 'wrk_dead', lease_expires_at = now() + $2::interval WHERE id = $1`,
    [pub, leaseExpiresIn],
  );
  await t.sql.query(`UPDATE posts SET status = 'publishing' WHERE id = $1`, [r.body.id]);
  await t.sql.query(`INSERT INTO publication_attempts (id, publication_id, workspace_id, number, kind, worker_id) VALUES ($1, $2, $3, 1, 'publish', 'wrk_dead')`, [
    newId('attempt'),
    pub,
    ws.workspaceId,
  ]);
  return { pub, post: r.body.id };
}

const row = async (pub: string) => (await t.sql.query('SELECT * FROM publications WHERE id = $1', [pub])).rows[0];

describe('sweeping', () => {
  it('hands a publication of a dead worker on for a read-back, and closes its attempt as unknown', async () => {
    const { pub } = await stuckPublication('-1 second');
    const report = await sweep(t.crier.ctx);
    expect(report?.leasesRecovered).toBeGreaterThanOrEqual(1);
    const p = await row(pub);
    expect(p).toMatchObject({ status: 'retrying', needs_reconcile: true, lease_owner: null });
    expect(p.error.code).toBe('WORKER_LOST');
    expect(p.next_attempt_at.getTime()).toBeLessThanOrEqual(Date.now());
    const attempt = (await t.sql.query('SELECT outcome, finished_at FROM publication_attempts WHERE publication_id = $1', [pub])).rows[0];
    expect(attempt.outcome).toBe('unknown');
    expect(attempt.finished_at).not.toBeNull();
    const events = (await t.sql.query(`SELECT type FROM events WHERE data->>'publication_id' = $1`, [pub])).rows.map((e) => e.type);
    expect(events).toEqual(['publication.retrying']);
  });

  it('leaves a live lease alone', async () => {
    const { pub } = await stuckPublication('1 minute');
    await sweep(t.crier.ctx);
    expect(await row(pub)).toMatchObject({ status: 'publishing', lease_owner: 'wrk_dead' });
  });

  it('reports overdue publications', async () => {
    const ws = await t.workspace();
    const r = await ws.post('/v1/posts', { text: 'late', account_ids: [await ws.account()] });
    await t.sql.query(`UPDATE publications SET next_attempt_at = now() - interval '10 minutes' WHERE id = $1`, [r.body.publications[0].id]);
    const report = await sweep(t.crier.ctx);
    expect(report?.overdue).toBeGreaterThanOrEqual(1);
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
});
