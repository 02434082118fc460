// A worker process is SIGKILLed in the middle of a burst. From the simulator's own record (its repositories
// and its request log): no post is lost and none is published twice, and nothing was re-posted blindly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCrier, type Child } from './support/child.js';
import { startTestCrier, testEnv, waitFor, type Tenant, type TestCrier } from './support/harness.js';

let t: TestCrier;
const children: Child[] = [];
beforeAll(async () => {
  t = await startTestCrier({ role: 'serve' }); // the API only: publishing happens in the child workers
});
afterAll(async () => {
  for (const c of children) await c.kill('SIGKILL');
  await t?.stop();
});

const CREATE = 'com.atproto.repo.createRecord';
const GET = 'com.atproto.repo.getRecord';

/** `crier work` in its own process, on the test's database and simulator, with the API's encryption keys. */
async function startWorker(): Promise<{ child: Child; workerId: string }> {
  const env = testEnv(t.db, t.sandbox.url, { PORT: '0', LOG_LEVEL: 'info', CRIER_ENCRYPTION_KEYS: t.config.encryptionKeys! });
  const child = spawnCrier(['work'], env);
  children.push(child);
  const started = await child.waitFor(/"worker_id":"([^"]+)"[^\n]*"msg":"worker started"/);
  return { child, workerId: started[1]! };
}

const count = async (status: string) =>
  (await t.sql.query('SELECT count(*)::int AS n FROM publications WHERE status = $1', [status])).rows[0].n as number;
/** Claimed at least 50 ms ago: its createRecord has been sent and the platform is holding it (300 ms). */
const onTheirWay = async () =>
  (await t.sql.query(`SELECT count(*)::int AS n FROM publications WHERE status = 'publishing' AND updated_at < now() - interval '50 milliseconds'`)).rows[0].n as number;
const dbNow = async () => (await t.sql.query('SELECT now() AS now')).rows[0].now as Date;

describe('a worker killed mid-burst', () => {
  it('loses no post and publishes none twice, by the simulator’s own record', async () => {
    const ws: Tenant = await t.workspace();
    const accounts: string[] = [];
    for (let i = 0; i < 5; i++) accounts.push(await ws.account());
    const dids = new Set<string>();
    for (const a of accounts) dids.add((await ws.get(`/v1/accounts/${a}`)).body.external_id);
    // 5 accounts x 10 in flight: the burst goes out in waves of 50, each held 300 ms by the platform, so
    // there is always a moment with some published and a wave on its way.
    await t.sql.query('UPDATE accounts SET max_concurrency = 10 WHERE id = ANY($1)', [accounts]);
    t.sandbox.bluesky.core.addFault({ operation: CREATE, times: -1, fault: { kind: 'latency', ms: 300 } });

    const N = 200;
    const texts = Array.from({ length: N }, (_, i) => `burst post ${i} ${Math.random().toString(36).slice(2)}`);
    for (let i = 0; i < N; i++) {
      const r = await ws.post('/v1/posts', { text: texts[i], account_ids: [accounts[i % accounts.length]] });
      expect(r.status).toBe(201);
    }

    const first = await startWorker();
    // Kill once some have published and a wave is on its way (chosen by the database, not by a timer).
    await waitFor(async () => ((await count('published')) >= 20 && (await onTheirWay()) >= 20 ? true : undefined), 30_000, 'a burst in flight');
    await first.child.kill('SIGKILL');
    const killedAt = await dbNow(); // the database's clock, which also stamps the heartbeats
    expect(first.child.proc.signalCode).toBe('SIGKILL');
    const publishedAtKill = await count('published');
    expect(publishedAtKill).toBeLessThan(N); // work was left for the second worker

    const second = await startWorker();
    await waitFor(
      async () => {
        const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM publications WHERE status NOT IN ('published', 'failed', 'unconfirmed', 'cancelled')`);
        return rows[0].n === 0 ? true : undefined;
      },
      60_000,
      'every publication to finish',
    );

    const { rows: pubs } = await t.sql.query(
      `SELECT p.id, p.status, p.platform_post_id, p.attempts, po.text FROM publications p JOIN posts po ON po.id = p.post_id WHERE p.workspace_id = $1`,
      [ws.workspaceId],
    );
    const records = [...t.sandbox.bluesky.repos.entries()].filter(([did]) => dids.has(did)).flatMap(([, m]) => [...m.values()]);

    // None lost: every publication published, and the platform holds exactly the posts Crier reports.
    expect(pubs).toHaveLength(N);
    expect(pubs.filter((p) => p.status !== 'published')).toEqual([]);
    expect(records).toHaveLength(N);
    // None twice: each text exactly once on the platform, at the URI Crier recorded.
    const byText = new Map<string, string[]>();
    for (const r of records) byText.set(String(r.value['text']), [...(byText.get(String(r.value['text'])) ?? []), r.uri]);
    for (const text of texts) expect(byText.get(text), text).toHaveLength(1);
    for (const p of pubs) expect(p.platform_post_id, p.text).toBe(byText.get(p.text)![0]);
    // Never re-posted blindly. Every attempt writes the same record key, so the platform would refuse a
    // second copy with a 500 and the repositories alone could not show it; the request log can: one
    // createRecord per post, all accepted.
    const creates = t.sandbox.bluesky.core.log.filter((r) => r.operation === CREATE && dids.has(r.account ?? ''));
    expect(creates.filter((r) => r.status !== 200)).toEqual([]);
    expect(creates).toHaveLength(N);

    // The kill really struck mid-flight: the dead worker's attempts were closed as unknown by the sweeper,
    // the calls it had sent were found on the platform by read-back, and no attempt is left open.
    const attempts = (
      await t.sql.query(
        `SELECT a.outcome, a.kind, a.worker_id, a.finished_at FROM publication_attempts a WHERE a.workspace_id = $1`,
        [ws.workspaceId],
      )
    ).rows;
    expect(attempts.filter((a) => a.finished_at === null)).toEqual([]);
    const lost = attempts.filter((a) => a.outcome === 'unknown');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.every((a) => a.worker_id === first.workerId)).toBe(true);
    const adopted = attempts.filter((a) => a.outcome === 'found');
    expect(adopted.length).toBeGreaterThan(0);
    expect(adopted.every((a) => a.kind === 'reconcile' && a.worker_id === second.workerId)).toBe(true);
    expect(t.sandbox.bluesky.core.log.filter((r) => r.operation === GET).length).toBeGreaterThanOrEqual(lost.length);
    expect(pubs.filter((p) => p.attempts > 1).length).toBeGreaterThanOrEqual(lost.length);

    // Readiness rests on the live worker's heartbeat: the dead one stopped beating at the kill.
    const beats = (await t.sql.query('SELECT worker_id, last_seen_at FROM worker_heartbeats')).rows;
    const dead = beats.find((b) => b.worker_id === first.workerId);
    const live = beats.find((b) => b.worker_id === second.workerId);
    expect(dead.last_seen_at.getTime()).toBeLessThanOrEqual(killedAt.getTime());
    expect(live.last_seen_at.getTime()).toBeGreaterThan(killedAt.getTime());
    expect((await fetch(`${t.url}/health/ready`)).status).toBe(200);
  }, 120_000);
});
