// One account's backlog must not hold up other accounts: the claim picks per account.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/lib/ids.js';
import { settled, startTestCrier, type TestCrier } from './support/harness.js';

let t: TestCrier;
beforeAll(async () => {
  t = await startTestCrier({ env: { CRIER_RATE_LIMIT_PER_MINUTE: '1000000' } });
});
afterAll(async () => t?.stop());

async function backlog(workspaceId: string, accountId: string, n: number): Promise<void> {
  const posts = Array.from({ length: n }, () => newId('post'));
  await t.sql.query(
    `INSERT INTO posts (id, workspace_id, text, status, scheduled_at)
     SELECT id, $2, 'backlog ' || id, 'scheduled', now() - interval '1 minute' FROM unnest($1::text[]) AS id`,
    [posts, workspaceId],
  );
  await t.sql.query(
    `INSERT INTO publications (id, workspace_id, post_id, account_id, platform, status, scheduled_at, next_attempt_at)
     SELECT pub, $3, post, $4, 'bluesky', 'scheduled', now() - interval '1 minute', now() - interval '1 minute'
     FROM unnest($1::text[], $2::text[]) AS t(pub, post)`,
    [posts.map(() => newId('publication')), posts, workspaceId, accountId],
  );
}

describe('fairness between accounts', () => {
  it('publishes a post on a quiet account while a busy account works through an older backlog', async () => {
    const ws = await t.workspace();
    const busy = await ws.account();
    const quiet = await ws.account();
    const busyDid = (await ws.get(`/v1/accounts/${busy}`)).body.external_id;
    await t.sql.query('UPDATE accounts SET max_concurrency = 1 WHERE id = $1', [busy]);
    t.sandbox.bluesky.core.addFault({ operation: 'com.atproto.repo.createRecord', account: busyDid, times: -1, fault: { kind: 'latency', ms: 300 } });
    // More due rows than a claim batch several times over, all older than the quiet account's post.
    await backlog(ws.workspaceId, busy, 450);
    const started = Date.now();
    const r = await ws.post('/v1/posts', { text: 'not stuck behind the backlog', account_ids: [quiet] });
    const post = await settled(ws, r.body.id, 10_000);
    expect(post.status).toBe('published');
    expect(Date.now() - started).toBeLessThan(3_000);
    // The busy account never had more than one publication in flight.
    const inFlight = await t.sql.query(`SELECT count(*)::int AS n FROM publications WHERE account_id = $1 AND status = 'publishing'`, [busy]);
    expect(inFlight.rows[0].n).toBeLessThanOrEqual(1);
    t.sandbox.bluesky.core.clearFaults();
    await t.sql.query(`UPDATE publications SET status = 'cancelled', next_attempt_at = NULL WHERE account_id = $1 AND status IN ('scheduled', 'retrying')`, [busy]);
  });

  it('publishes on other accounts while one account is rate-limited with a backlog', async () => {
    const ws = await t.workspace();
    const limited = await ws.account();
    const other = await ws.account();
    await t.sql.query(`UPDATE accounts SET blocked_until = now() + interval '1 hour' WHERE id = $1`, [limited]);
    await backlog(ws.workspaceId, limited, 450);
    const r = await ws.post('/v1/posts', { text: 'not blocked', account_ids: [other] });
    expect((await settled(ws, r.body.id, 10_000)).status).toBe('published');
    const waiting = await t.sql.query(`SELECT count(*)::int AS n FROM publications WHERE account_id = $1 AND status = 'scheduled'`, [limited]);
    expect(waiting.rows[0].n).toBe(450); // parked, untouched
    await t.sql.query(`UPDATE publications SET status = 'cancelled', next_attempt_at = NULL WHERE account_id = $1 AND status = 'scheduled'`, [limited]);
  });
});

describe('publishing while the API is busy', () => {
  it('publishes to an account while another transaction is creating a publication for it', async () => {
    const ws = await t.workspace();
    const account = await ws.account();
    const draft = await ws.post('/v1/posts', { text: 'held', account_ids: [await ws.account()], draft: true });
    // An open transaction inserting a publication holds a foreign-key (KEY SHARE) lock on the account,
    // as every POST /v1/posts does while it runs; under steady load some such transaction is always open.
    const held = await t.sql.connect();
    try {
      await held.query('BEGIN');
      await held.query(
        `INSERT INTO publications (id, workspace_id, post_id, account_id, platform, status) VALUES ($1, $2, $3, $4, 'bluesky', 'draft')`,
        [newId('publication'), ws.workspaceId, draft.body.id, account],
      );
      const r = await ws.post('/v1/posts', { text: 'not blocked by a foreign-key lock', account_ids: [account] });
      expect((await settled(ws, r.body.id, 5_000)).status).toBe('published');
    } finally {
      await held.query('ROLLBACK');
      held.release();
    }
  });
});
