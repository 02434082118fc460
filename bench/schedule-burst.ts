// Benchmark 2: scheduling accuracy.
//
// Burst: ACCOUNTS sandbox accounts x PER_ACCOUNT posts (one publication each; default 100 x 100 = 10,000)
// all scheduled for the same whole second T, 6+ s ahead. Crier role 'all' in this process (API + worker,
// production defaults: worker concurrency 200, poll 1 s, pool 20, every account max_concurrency 4) against
// the zero-latency Bluesky simulator in its own process (--sim=inproc: in this process, beside Crier, as
// `npm start` mounts it; the simulator then takes ~20% of Crier's event loop).
// The rows are written straight into posts + publications with SQL (the shape createPost writes; its outbox
// events are left out because the worker never reads them), because creating 10,000 posts through the API
// takes longer than the lead time. No NOTIFY is sent for them, so the worker finds them by its own timer.
// A second burst, `fanout`, has the same number of publications as PER_ACCOUNT posts to every account.
//
// Measured, against T:
//   on the platform  the simulator's own record of each createRecord (SimRecord.indexedAt, stamped when the
//                    record is stored): lateness of the publish call p50/p99/max, and when the last one landed
//   claimed          publication_attempts.started_at of attempt 1 (the claim transaction's start, written
//                    before the network call): how late the worker picked each one up
//   settled          publications.finished_at: when the last result was written
//   duplicates       records on the simulator per (account, post) beyond the first (must be 0)
//   unpublished      publications not 'published' when everything settled or the wait ran out (must be 0)
//
// Isolated: one post (one account), scheduled 2 s ahead through the API on the idle system, RUNS times in a
// row; lateness = record on the simulator minus scheduled_at.
//
// Run: npm run bench:schedule [-- --quick] [--accounts=100] [--per-account=100] [--max-concurrency=4]
//      [--shapes=spread,fanout] [--isolated-runs=10] [--sim=inproc] [--worker-concurrency=N]
import os from 'node:os';
import { createPool, type Db } from '../src/db/pool.js';
import { tidForPublication } from '../src/connectors/bluesky/tid.js';
import { newId } from '../src/lib/ids.js';
import { QUICK, apiPost, boot, claimStatement, explainAnalyze, flag, insertDuePublications, freshDatabase, intFlag, main, percentile, postgresVersion, report, sleep, stats, tenant, cpuDelta, cpuSnapshot, type BenchTenant, type Booted } from './lib.js';

// --quick keeps the 100 accounts (so the same limit binds: the worker's 200 in flight, not 4 per account)
// and schedules 20 posts on each instead of 100.
const ACCOUNTS = intFlag('accounts', 100);
const PER_ACCOUNT = intFlag('per-account', QUICK ? 20 : 100);
/** Per-account limit on publish calls in flight; 4 is the schema default and what every account gets. */
const MAX_CONCURRENCY = intFlag('max-concurrency', 4);
/** CRIER_WORKER_CONCURRENCY; 0 (default) leaves Crier's own default (200). */
const WORKER_CONCURRENCY = intFlag('worker-concurrency', 0);
const TOTAL = ACCOUNTS * PER_ACCOUNT;
const ISOLATED_RUNS = intFlag('isolated-runs', QUICK ? 3 : 10);
const LEAD_MS = 6_000;
const WAIT_LIMIT_MS = QUICK ? 60_000 : 120_000;
const TERMINAL = `('published', 'failed', 'unconfirmed', 'cancelled')`;
/** `--shapes=spread,fanout` (default both; --quick: spread only). */
const SHAPES = flag('shapes', QUICK ? 'spread' : 'spread,fanout').split(',');

type Burst = Awaited<ReturnType<typeof burst>>;

/**
 * TOTAL publications due at one whole second T, LEAD_MS ahead. `spread`: PER_ACCOUNT posts per account, one
 * publication each (TOTAL posts). `fanout`: PER_ACCOUNT posts, each to every account (the one-post-to-many-
 * accounts case: publications of one post share the post's row lock, which claims and result writes take).
 */
async function burst(shape: 'spread' | 'fanout', b: Booted, t: BenchTenant, sql: Db) {
  const prefix = `burst-${shape} `;
  const at = new Date(Math.ceil((Date.now() + LEAD_MS) / 1000) * 1000);
  const postCount = shape === 'spread' ? TOTAL : PER_ACCOUNT;
  const postIds = Array.from({ length: postCount }, () => newId('post'));
  const pubPost: string[] = [];
  const pubAccount: string[] = [];
  if (shape === 'spread') postIds.forEach((p, i) => (pubPost.push(p), pubAccount.push(t.accountIds[i % ACCOUNTS]!)));
  else for (const p of postIds) for (const a of t.accountIds) pubPost.push(p), pubAccount.push(a);
  await sql.query(
    `INSERT INTO posts (id, workspace_id, text, options, status, scheduled_at)
     SELECT id, $2, $4 || id, '{}', 'scheduled', $3 FROM unnest($1::text[]) AS id`,
    [postIds, t.workspaceId, at, prefix],
  );
  await sql.query(
    `INSERT INTO publications (id, workspace_id, post_id, account_id, platform, status, scheduled_at, next_attempt_at)
     SELECT pub, $3, post, acct, 'bluesky', 'scheduled', $4, $4 FROM unnest($1::text[], $2::text[], $5::text[]) AS t(pub, post, acct)`,
    [pubPost.map(() => newId('publication')), pubPost, t.workspaceId, at, pubAccount],
  );
  // Planner statistics as autovacuum would have them for tables this size (reproducible plans).
  await sql.query('ANALYZE posts, publications, accounts');
  const marginMs = at.getTime() - Date.now();
  if (marginMs < 1_000) throw new Error(`setup left only ${marginMs} ms before T; raise LEAD_MS`);
  await sleep(marginMs - 200);
  const cpu0 = await cpuSnapshot(b.dbName, [b.sim.pid]);
  await sleep(at.getTime() - Date.now());

  // Wait until all are settled: a small query every 250 ms on the benchmark's own connection (the times
  // reported come from the rows and the simulator, not from this loop, so its period does not matter).
  let open = TOTAL;
  while (open > 0 && Date.now() - at.getTime() < WAIT_LIMIT_MS) {
    await sleep(250);
    open = (await sql.query<{ n: number }>(`SELECT count(*) AS n FROM publications WHERE workspace_id = $1 AND scheduled_at = $2 AND status NOT IN ${TERMINAL}`, [t.workspaceId, at])).rows[0]!.n;
  }
  const mine = `workspace_id = $1 AND post_id = ANY($2)`;
  const waitedMs = Date.now() - at.getTime();
  const cpu = cpuDelta(cpu0, await cpuSnapshot(b.dbName, [b.sim.pid]));
  const perPub = (seconds: number) => Math.round((seconds * 1e6) / TOTAL) / 1000;

  const { rows } = await sql.query<{ id: string; post_id: string; account_id: string; status: string; attempts: number; claimed_ms: number | null; finished_ms: number | null }>(
    `SELECT p.id, p.post_id, p.account_id, p.status, p.attempts,
            extract(epoch FROM (a.started_at - p.scheduled_at)) * 1000 AS claimed_ms,
            extract(epoch FROM (p.finished_at - p.scheduled_at)) * 1000 AS finished_ms
     FROM publications p LEFT JOIN publication_attempts a ON a.publication_id = p.id AND a.number = 1
     WHERE p.${mine.replace('AND post_id', 'AND p.post_id')}`,
    [t.workspaceId, postIds],
  );
  // On the platform: one record per (repo, text) is expected; more is a duplicate.
  const landed = new Map<string, number[]>(); // "did text" -> record times (ms after T)
  const byRkey = new Map<string, number>(); // record key -> first record time (ms after T)
  for (const rec of await b.sim.records()) {
    const text = String(rec.value['text']);
    if (!text.startsWith(prefix)) continue;
    const ms = Date.parse(rec.indexedAt) - at.getTime();
    byRkey.set(rec.rkey, Math.min(ms, byRkey.get(rec.rkey) ?? Infinity));
    const key = `${rec.uri.split('/')[2]} ${text}`;
    const list = landed.get(key) ?? [];
    list.push(Date.parse(rec.indexedAt) - at.getTime());
    landed.set(key, list);
  }
  const onPlatform = [...landed.values()].map((l) => Math.min(...l));
  const records = [...landed.values()].reduce((n, l) => n + l.length, 0);
  // Where a publication's time goes (the record key is derived from the publication id, src/connectors/
  // bluesky/tid.ts): claim transaction start -> record stored on the platform -> result transaction start.
  // With a zero-latency platform both should be a few ms; whatever the slot cycle (worker concurrency /
  // throughput) has beyond them is spent waiting to be claimed again.
  const claimToPlatform: number[] = [];
  const platformToWritten: number[] = [];
  for (const r of rows) {
    const onP = byRkey.get(tidForPublication(r.id));
    if (onP === undefined) continue;
    if (r.claimed_ms !== null) claimToPlatform.push(onP - Number(r.claimed_ms));
    if (r.finished_ms !== null) platformToWritten.push(Number(r.finished_ms) - onP);
  }
  const claimed = rows.flatMap((r) => (r.claimed_ms === null ? [] : [Number(r.claimed_ms)]));
  const finished = rows.flatMap((r) => (r.finished_ms === null ? [] : [Number(r.finished_ms)]));
  const createCalls = (await b.sim.requests()).filter((e) => e.operation === 'com.atproto.repo.createRecord' && Date.parse(e.at) >= at.getTime() - 1_000);
  return {
    shape,
    publications: TOTAL,
    posts: postCount,
    accounts: ACCOUNTS,
    published: rows.filter((r) => r.status === 'published').length,
    unpublished: rows.filter((r) => r.status !== 'published').length,
    statuses: Object.fromEntries([...new Set(rows.map((r) => r.status))].map((st) => [st, rows.filter((r) => r.status === st).length])),
    retried: rows.filter((r) => r.attempts > 1).length,
    duplicates_on_platform: records - landed.size,
    missing_on_platform: rows.length - landed.size,
    create_record_non_2xx: createCalls.filter((e) => e.status >= 300).length,
    first_on_platform_ms: Math.round(Math.min(...onPlatform)),
    last_on_platform_ms: Math.round(Math.max(...onPlatform)),
    last_settled_ms: Math.round(Math.max(...finished)),
    publish_lateness_ms: { ...stats(onPlatform), p90: Math.round(percentile(onPlatform, 90)) },
    claim_lateness_ms: stats(claimed),
    worker_concurrency: b.crier.ctx.config.worker.concurrency,
    claim_to_platform_ms: stats(claimToPlatform),
    platform_to_result_written_ms: stats(platformToWritten),
    throughput_per_second: Math.round(onPlatform.length / Math.max(0.001, (Math.max(...onPlatform) - Math.min(0, ...onPlatform)) / 1000)),
    waited_ms: waitedMs,
    // CPU spent from just before T until everything settled (includes this benchmark's 100 ms polling).
    cpu_seconds: { crier: cpu.self_s, simulator: cpu.pids_s[b.sim.pid] ?? 0, postgres: cpu.postgres_s, wall: cpu.wall_s },
    cpu_ms_per_publication: { crier: perPub(cpu.self_s), simulator: perPub(cpu.pids_s[b.sim.pid] ?? 0), postgres: perPub(cpu.postgres_s) },
  };
}

function burstLines(x: Burst): string[] {
  const ok = (cond: boolean) => (cond ? 'met' : 'NOT met');
  const what = x.shape === 'spread' ? `${ACCOUNTS} accounts x ${PER_ACCOUNT} posts, one publication each` : `${x.posts} posts x ${ACCOUNTS} accounts each`;
  return [
    `Burst (${x.shape}): ${x.publications} publications (${what}) due at T`,
    `  publish call lateness (record on simulator - T): p50 ${x.publish_lateness_ms.p50} ms, p90 ${x.publish_lateness_ms.p90} ms, p99 ${x.publish_lateness_ms.p99} ms, max ${x.publish_lateness_ms.max} ms`,
    `  claim lateness (attempt 1 started_at - T): p50 ${x.claim_lateness_ms.p50} ms, p99 ${x.claim_lateness_ms.p99} ms, max ${x.claim_lateness_ms.max} ms`,
    `  last on platform T+${x.last_on_platform_ms} ms, last result written T+${x.last_settled_ms} ms (~${x.throughput_per_second} publications/s)`,
    `  per publication: claim -> on platform p50 ${x.claim_to_platform_ms.p50} ms (p99 ${x.claim_to_platform_ms.p99}), on platform -> result written p50 ${x.platform_to_result_written_ms.p50} ms (p99 ${x.platform_to_result_written_ms.p99}); slot cycle at ${x.worker_concurrency} in flight ~${Math.round((1000 * x.worker_concurrency) / Math.max(1, x.throughput_per_second))} ms`,
    `  CPU per publication: Crier ${x.cpu_ms_per_publication.crier} ms, PostgreSQL ${x.cpu_ms_per_publication.postgres} ms, simulator ${x.cpu_ms_per_publication.simulator} ms (${Math.round((x.cpu_seconds.crier + x.cpu_seconds.postgres + x.cpu_seconds.simulator) * 100) / 100} CPU-s in ${x.cpu_seconds.wall} s on ${os.cpus().length} cores)`,
    `  unpublished ${x.unpublished}, missing on platform ${x.missing_on_platform}, duplicates on platform ${x.duplicates_on_platform}, retried ${x.retried}, createRecord non-2xx ${x.create_record_non_2xx}`,
    `  target p99 < 5000 ms: ${ok(x.publish_lateness_ms.p99 < 5_000)}; duplicates 0: ${ok(x.duplicates_on_platform === 0)}; unpublished 0: ${ok(x.unpublished === 0)}`,
  ];
}

main(async () => {
  const db = await freshDatabase('schedule');
  const b = await boot(db, 'all', WORKER_CONCURRENCY ? { CRIER_WORKER_CONCURRENCY: String(WORKER_CONCURRENCY) } : {});
  // The benchmark's own connections (setup, polling, results), apart from Crier's pool of 20.
  const sql = createPool(db.url, 2);
  try {
    const t = await tenant(b.url, ACCOUNTS);
    if (MAX_CONCURRENCY !== 4) await sql.query('UPDATE accounts SET max_concurrency = $1 WHERE workspace_id = $2', [MAX_CONCURRENCY, t.workspaceId]);

    const spread = SHAPES.includes('spread') ? await burst('spread', b, t, sql) : undefined;
    const fanout = SHAPES.includes('fanout') ? await burst('fanout', b, t, sql) : undefined;

    // ---- Isolated posts on the idle system --------------------------------------------------------------
    await sleep(2_000);
    const isoPlatform: number[] = [];
    const isoClaim: number[] = [];
    for (let i = 0; i < ISOLATED_RUNS; i++) {
      const text = `isolated ${i} ${newId('request')}`;
      const scheduledAt = new Date(Date.now() + 2_000);
      const post = (await apiPost(b.url, t.key, '/v1/posts', { text, account_ids: [t.accountIds[i % ACCOUNTS]], scheduled_at: scheduledAt.toISOString() })) as { publications: { id: string }[] };
      const pub = post.publications[0]!.id;
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (Date.now() > deadline) throw new Error(`isolated post ${i} was not published within 30 s`);
        await sleep(50);
        const { rows: r } = await sql.query<{ claimed_ms: number }>(
          `SELECT extract(epoch FROM (a.started_at - p.scheduled_at)) * 1000 AS claimed_ms FROM publications p
           JOIN publication_attempts a ON a.publication_id = p.id AND a.number = 1 WHERE p.id = $1 AND p.status = 'published'`,
          [pub],
        );
        if (!r[0]) continue;
        isoClaim.push(Number(r[0].claimed_ms));
        const rec = (await b.sim.records()).find((x) => x.value['text'] === text);
        if (!rec) throw new Error(`isolated post ${i} is published but not on the simulator`);
        isoPlatform.push(Date.parse(rec.indexedAt) - scheduledAt.getTime());
        break;
      }
      await sleep(Math.random() * 500); // do not stay in phase with the worker's 1 s poll
    }
    const isolated = { runs: ISOLATED_RUNS, publish_lateness_ms: stats(isoPlatform), claim_lateness_ms: stats(isoClaim), all_ms: isoPlatform.map((v) => Math.round(v)) };

    // ---- The worker's first claim at T, alone: its due scan with TOTAL publications due ------------------
    // TOTAL publications due a second ago (same accounts, spread as in the burst), written inside the
    // EXPLAIN's own transaction and rolled back, so the running worker never sees them. Execution time is
    // what every claim of the burst pays while the backlog is that large (each claims at most 100).
    const claimAtT = await explainAnalyze(sql, await claimStatement(100), (c) => insertDuePublications(c, t.workspaceId, TOTAL, t.accountIds));
    const claimExplain = { due: TOTAL, planning_ms: claimAtT.planningMs, execution_ms: claimAtT.executionMs, plan: claimAtT.plan };

    report(
      'schedule-burst',
      {
        postgres: await postgresVersion(),
        simulator: b.sim.mode === 'process' ? 'own process (bench/sandbox-server.ts), zero latency' : 'in the benchmark process beside Crier, zero latency',
        crier: { role: 'all', worker_concurrency: b.crier.ctx.config.worker.concurrency, poll_ms: b.crier.ctx.config.worker.pollMs, account_max_concurrency: MAX_CONCURRENCY, pool: 20 },
        burst: spread ?? null,
        burst_fanout: fanout ?? null,
        isolated,
        claim_due_scan_with_burst_due: claimExplain,
        targets: { burst_p99_ms: 5_000, isolated_ms: 1_000, duplicates: 0, unpublished: 0 },
      },
      [
        `Crier role all (worker concurrency ${b.crier.ctx.config.worker.concurrency}, max_concurrency ${MAX_CONCURRENCY} per account), zero-latency simulator ${b.sim.mode === 'process' ? 'in its own process' : 'in-process'}`,
        ...(spread ? burstLines(spread) : []),
        ...(fanout ? burstLines(fanout) : []),
        `Isolated post 2 s ahead, ${ISOLATED_RUNS} runs: lateness p50 ${isolated.publish_lateness_ms.p50} ms, max ${isolated.publish_lateness_ms.max} ms (claim p50 ${isolated.claim_lateness_ms.p50} ms); target < 1000 ms: ${isolated.publish_lateness_ms.max < 1_000 ? 'met' : 'NOT met'}`,
        `Claim's due scan with ${TOTAL} publications due (EXPLAIN ANALYZE, rolled back): planning ${claimAtT.planningMs} ms, execution ${claimAtT.executionMs} ms per claim of <= 100`,
        ...claimAtT.plan.map((l) => `  ${l}`),
      ],
    );
  } finally {
    await sql.end();
    await b.stop();
    await db.drop();
  }
});
