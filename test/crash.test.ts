// A worker process is SIGKILLed in the middle of a burst. From the simulator's own record: no post is lost
// and none is published twice.
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

function startWorker(): Child {
  const env = testEnv(t.db, t.sandbox.url, { PORT: '0', LOG_LEVEL: 'info', CRIER_ENCRYPTION_KEYS: t.config.encryptionKeys! });
  const child = spawnCrier(['work'], env);
  children.push(child);
  return child;
}

const count = async (status: string) =>
  (await t.sql.query('SELECT count(*)::int AS n FROM publications WHERE status = $1', [status])).rows[0].n as number;

describe('a worker killed mid-burst', () => {
  it('loses no post and publishes none twice', async () => {
    const ws: Tenant = await t.workspace();
    const accounts: string[] = [];
    for (let i = 0; i < 5; i++) accounts.push(await ws.account());
    await t.sql.query('UPDATE accounts SET max_concurrency = 20 WHERE id = ANY($1)', [accounts]);
    // Slow platform: many calls are on their way when the worker dies, and the platform completes them.
    t.sandbox.bluesky.core.addFault({ operation: 'com.atproto.repo.createRecord', times: -1, fault: { kind: 'latency', ms: 400 } });

    const first = startWorker();
    await first.waitFor(/worker started/);
    const N = 200;
    const texts = Array.from({ length: N }, (_, i) => `burst post ${i} ${Math.random().toString(36).slice(2)}`);
    for (let i = 0; i < N; i++) {
      const r = await ws.post('/v1/posts', { text: texts[i], account_ids: [accounts[i % accounts.length]] });
      expect(r.status).toBe(201);
    }
    // Kill once some have published and many are in flight.
    await waitFor(async () => ((await count('published')) >= 20 && (await count('publishing')) >= 20 ? true : undefined), 30_000, 'a burst in flight');
    const inFlightAtKill = await count('publishing');
    await first.kill('SIGKILL');

    const second = startWorker();
    await second.waitFor(/worker started/);
    await waitFor(
      async () => {
        const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM publications WHERE status NOT IN ('published', 'failed', 'unconfirmed', 'cancelled')`);
        return rows[0].n === 0 ? true : undefined;
      },
      60_000,
      'every publication to finish',
    );

    const { rows: pubs } = await t.sql.query(
      `SELECT p.status, p.platform_post_id, p.attempts, po.text FROM publications p JOIN posts po ON po.id = p.post_id WHERE p.workspace_id = $1`,
      [ws.workspaceId],
    );
    const records = [...t.sandbox.bluesky.repos.values()].flatMap((m) => [...m.values()]);
    // None lost: every publication published, and the platform holds exactly the posts Crier reports.
    expect(pubs).toHaveLength(N);
    expect(pubs.filter((p) => p.status !== 'published')).toEqual([]);
    expect(records).toHaveLength(N);
    // None twice: each text exactly once on the platform, and at the URI Crier recorded.
    const byText = new Map<string, string[]>();
    for (const r of records) byText.set(String(r.value['text']), [...(byText.get(String(r.value['text'])) ?? []), r.uri]);
    for (const text of texts) expect(byText.get(text), text).toHaveLength(1);
    for (const p of pubs) expect(p.platform_post_id).toBe(byText.get(p.text)![0]);
    // The kill really struck mid-flight: calls of the dead worker were recovered and read back.
    expect(inFlightAtKill).toBeGreaterThan(0);
    const recovered = await t.sql.query(`SELECT count(*)::int AS n FROM publication_attempts WHERE workspace_id = $1 AND outcome = 'unknown'`, [ws.workspaceId]);
    expect(recovered.rows[0].n).toBeGreaterThan(0);
    const adopted = await t.sql.query(`SELECT count(*)::int AS n FROM publication_attempts WHERE workspace_id = $1 AND outcome = 'found'`, [ws.workspaceId]);
    expect(adopted.rows[0].n).toBeGreaterThan(0); // reached the platform before the kill, adopted by read-back
    expect(pubs.some((p) => p.attempts > 1)).toBe(true);
  }, 120_000);
});
