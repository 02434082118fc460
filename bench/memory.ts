// Benchmark 3: memory of the process that runs Crier, and the cost of a large schedule.
//
// Crier runs as a child process exactly as `npm start` would run it against an external database:
// `node --import tsx src/main.ts all` (API + worker; the simulator runs in its own process, so the
// measured process holds only Crier). RSS is VmRSS from /proc/<pid>/status of that node process, sampled
// every 500 ms (250 ms under load); CPU is utime+stime from /proc/<pid>/stat over the same window.
//
// Phases, one database:
//   1. idle         a fresh Crier with 0 publications, after a 30 s settling pause, for IDLE_SECONDS
//   2. load         POST /v1/posts publish-now to 3 accounts (autocannon, 50 connections) for LOAD_SECONDS,
//                   then until the worker has published the backlog, then 5 s more
//   3. 1M scheduled Crier stopped; ROWS posts + ROWS publications (one each, far in the future, spread over
//                   the 3 accounts) inserted with generate_series, then VACUUM ANALYZE (the state autovacuum
//                   reaches); a fresh Crier idles for IDLE_SECONDS after the same 30 s pause. Its RSS
//                   against phase 1's shows whether memory grows with the number of scheduled rows (it
//                   must not: nothing loads them).
//   With the rows present: EXPLAIN (ANALYZE, BUFFERS) of the worker's claim statement (captured from
//   src/worker/claim.ts, run in a rolled-back transaction) and of nextDueAt, their execution times over
//   CLAIM_SAMPLES runs, and GET /metrics latency (its gauges count publications) with 0 and ROWS rows.
// Run: npm run bench:memory [-- --quick] [--rows=1000000] [--idle-seconds=20] [--load-seconds=15] [--settle-seconds=30]
// Run: npm run bench:memory [-- --quick] [--rows=1000000] [--idle-seconds=20] [--load-seconds=15]
import pg from 'pg';
import { createPool } from '../src/db/pool.js';
import { claimDue, nextDueAt } from '../src/worker/claim.js';
import {
  QUICK,
  benchEnv,
  captureSql,
  claimStatement,
  explainAnalyze,
  insertDuePublications,
  freshDatabase,
  intFlag,
  load,
  main,
  percentile,
  postgresVersion,
  report,
  rssMiB,
  sampleRss,
  sleep,
  spawnCrier,
  startSimulator,
  tenant,
  type BenchDb,
  type CapturedQuery,
  type RssSeries,
} from './lib.js';

const ROWS = intFlag('rows', QUICK ? 200_000 : 1_000_000);
const IDLE_SECONDS = intFlag('idle-seconds', QUICK ? 6 : 20);
const LOAD_SECONDS = intFlag('load-seconds', QUICK ? 5 : 15);
const DRAIN_LIMIT_MS = 120_000;
/** Per-account limit during the load phase (default 4): 3 accounts x 50 lets the worker keep up, see below. */
const LOAD_ACCOUNT_CONCURRENCY = 50;
// A freshly started process gives back ~35 MiB some 25 s after start (V8's memory reducer, once start-up
// allocation stops), so each idle window starts after this pause, when RSS has settled.
const SETTLE_MS = intFlag('settle-seconds', 30) * 1000;
const CONNECTIONS = 50;
const CLAIM_SAMPLES = QUICK ? 5 : 20;
/** Publications due now, added (in a rolled-back transaction) for the EXPLAIN of a claim that finds work. */
const DUE_NOW = 300;

async function metricsLatency(url: string, times = 5): Promise<{ p50_ms: number; max_ms: number }> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}/metrics`);
    await res.text();
    if (!res.ok) throw new Error(`/metrics: ${res.status}`);
    ms.push(performance.now() - t0);
  }
  return { p50_ms: Math.round(percentile(ms, 50) * 10) / 10, max_ms: Math.round(Math.max(...ms) * 10) / 10 };
}

/**
 * ROWS posts + ROWS publications, far in the future, in PARALLEL transactions (one per core: the insert is
 * CPU-bound in PostgreSQL), then VACUUM ANALYZE, the state autovacuum would reach.
 */
async function insertScheduled(db: BenchDb, workspaceId: string, accountIds: string[], rows: number): Promise<{ seconds: number; table_mb: number }> {
  const t0 = Date.now();
  const PARALLEL = 2;
  const chunk = Math.ceil(rows / PARALLEL);
  await Promise.all(
    Array.from({ length: PARALLEL }, async (_, i) => {
      const from = i * chunk + 1;
      const to = Math.min(rows, (i + 1) * chunk);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        // Ids in Crier's shape (prefix + 26 characters); one second apart from 30 days ahead, so nothing
        // becomes due while the benchmark runs.
        await c.query('BEGIN');
        await c.query(
          `INSERT INTO posts (id, workspace_id, text, options, status, scheduled_at)
           SELECT 'post_' || lpad(to_hex(g), 26, '0'), $1, 'scheduled ' || g, '{}', 'scheduled', now() + interval '30 days' + g * interval '1 second'
           FROM generate_series($2::int, $3::int) AS g`,
          [workspaceId, from, to],
        );
        await c.query(
          `INSERT INTO publications (id, workspace_id, post_id, account_id, platform, status, scheduled_at, next_attempt_at)
           SELECT 'pub_' || lpad(to_hex(g), 26, '0'), $1, 'post_' || lpad(to_hex(g), 26, '0'), ($4::text[])[1 + g % cardinality($4::text[])], 'bluesky', 'scheduled',
                  now() + interval '30 days' + g * interval '1 second', now() + interval '30 days' + g * interval '1 second'
           FROM generate_series($2::int, $3::int) AS g`,
          [workspaceId, from, to, accountIds],
        );
        await c.query('COMMIT');
      } finally {
        await c.end();
      }
    }),
  );
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query('VACUUM ANALYZE posts');
    await c.query('VACUUM ANALYZE publications');
    const { rows: size } = await c.query<{ bytes: string }>(`SELECT pg_total_relation_size('publications') + pg_total_relation_size('posts') AS bytes`);
    return { seconds: Math.round((Date.now() - t0) / 100) / 10, table_mb: Math.round(Number(size[0]!.bytes) / 2 ** 20) };
  } finally {
    await c.end();
  }
}

/** Samples RSS until no publication is waiting or in flight (or `limitMs` passes). */
async function drain(pid: number, pool: pg.Pool, limitMs: number): Promise<RssSeries & { seconds: number; left: number }> {
  const t0 = Date.now();
  let left = -1;
  const done = (async () => {
    for (;;) {
      left = (await pool.query<{ n: number }>(`SELECT count(*) AS n FROM publications WHERE status IN ('scheduled', 'retrying', 'publishing')`)).rows[0]!.n;
      if (left === 0 || Date.now() - t0 > limitMs) return;
      await sleep(250);
    }
  })();
  const series = await sampleRss(pid, done, 250);
  return { ...series, seconds: Math.round((Date.now() - t0) / 100) / 10, left };
}

/**
 * The worker's claim with the rows present, two ways, CLAIM_SAMPLES runs each:
 *   function   wall time of claimDue() itself (src/worker/claim.ts: its whole transaction, BEGIN to COMMIT,
 *              from this process over its own connection), as the worker calls it, batch 100
 *   statement  planning + execution time PostgreSQL reports for the due scan (EXPLAIN ANALYZE of claimDue's
 *              first statement, in a rolled-back transaction), and its last plan
 * Nothing is due, so claimDue claims nothing: it changes no row.
 */
async function timeClaim(pool: pg.Pool, claim: CapturedQuery) {
  const fn: number[] = [];
  const stmt: number[] = [];
  let plan: string[] = [];
  for (let i = 0; i < CLAIM_SAMPLES; i++) {
    const t0 = performance.now();
    const jobs = await claimDue(pool, 'wrk_bench_memory', 100, 120_000);
    fn.push(performance.now() - t0);
    if (jobs.length > 0) throw new Error(`claimDue claimed ${jobs.length} publications; nothing should be due`);
    const e = await explainAnalyze(pool, claim);
    stmt.push(e.executionMs + e.planningMs);
    plan = e.plan;
  }
  const r = (v: number) => Math.round(v * 100) / 100;
  return {
    samples: CLAIM_SAMPLES,
    function_ms: { p50: r(percentile(fn, 50)), max: r(Math.max(...fn)) },
    statement_ms: { p50: r(percentile(stmt, 50)), max: r(Math.max(...stmt)) },
    plan,
  };
}

main(async () => {
  const db = await freshDatabase('memory');
  const sim = await startSimulator();
  const env = benchEnv(db, { CRIER_SANDBOX_URL: sim.url });
  const measurements: Record<string, unknown> = {};
  try {
    // ---- 1. idle, 0 rows ------------------------------------------------------------------------------
    const pool = createPool(db.url, 2);
    let crier = await spawnCrier('all', env);
    const t = await tenant(crier.url, 3);
    // With the default 4 per account, 3 accounts publish ~300/s here while the API creates ~1,500
    // publications/s: the backlog would take minutes to work off. 50 per account (150 in flight, under the
    // worker's 200) lets the worker keep up, and more in flight is the more demanding case for memory.
    await pool.query('UPDATE accounts SET max_concurrency = $1 WHERE workspace_id = $2', [LOAD_ACCOUNT_CONCURRENCY, t.workspaceId]);
    await sleep(SETTLE_MS);
    const idle0 = await sampleRss(crier.pid, IDLE_SECONDS * 1000);
    const metrics0 = await metricsLatency(crier.url);
    const claim = await claimStatement(100);
    const claim0 = await timeClaim(pool, claim);

    // ---- 2. load ------------------------------------------------------------------------------------------
    const body = JSON.stringify({ text: 'memory [<id>]', account_ids: t.accountIds });
    const loadRun = load({ url: `${crier.url}/v1/posts`, body, headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' }, connections: CONNECTIONS, seconds: LOAD_SECONDS });
    const underLoad = await sampleRss(crier.pid, loadRun, 250);
    const loadResult = await loadRun;
    const drained = await drain(crier.pid, pool, DRAIN_LIMIT_MS);
    const afterLoad = await sampleRss(crier.pid, 5_000);
    const exit1 = await crier.stop();

    // ---- 3. ROWS scheduled far ahead ---------------------------------------------------------------------
    const inserted = await insertScheduled(db, t.workspaceId, t.accountIds, ROWS);
    crier = await spawnCrier('all', env);
    await sleep(SETTLE_MS);
    const idleRows = await sampleRss(crier.pid, IDLE_SECONDS * 1000);
    const metricsRows = await metricsLatency(crier.url);

    // The worker's queries with the rows present (Crier still running: the same concurrent state).
    const claimRows = await timeClaim(pool, claim);
    const next = (await captureSql((d) => nextDueAt(d)))[0]!;
    const nextPlan = await explainAnalyze(pool, next);
    // The due scan when work IS due among the ROWS future ones: DUE_NOW publications (spread over the 3
    // accounts) due a second ago, written in the EXPLAIN's own transaction and rolled back with it, so
    // Crier's running worker never sees them. Last, because the rolled-back rows leave dead index entries
    // that the plans above would have to step over.
    const claimDueRows = await explainAnalyze(pool, claim, (c) => insertDuePublications(c, t.workspaceId, DUE_NOW, t.accountIds));
    const { rows: counts } = await pool.query<{ status: string; n: number }>('SELECT status, count(*) AS n FROM publications GROUP BY status ORDER BY status');
    await pool.end();
    const rssAtEnd = rssMiB(crier.pid);
    const exit2 = await crier.stop();

    const due = claimRows.plan.filter((l) => /publications_due|due_accounts|Seq Scan on publications/.test(l));
    const r1 = (s: RssSeries) => `median ${s.median} MiB (min ${s.min}, max ${s.max}), CPU ${s.cpu_percent}%`;
    Object.assign(measurements, {
      postgres: await postgresVersion(),
      process: 'node --import tsx src/main.ts all (child process; simulator in another process); VmRSS from /proc/<pid>/status',
      idle_0_rows: idle0,
      under_load: { ...underLoad, requests_per_second: loadResult.requests_per_second, non2xx: loadResult.non2xx, connections: CONNECTIONS, seconds: LOAD_SECONDS },
      draining_after_load: { ...drained, account_max_concurrency: LOAD_ACCOUNT_CONCURRENCY },
      idle_after_load_5s: afterLoad,
      idle_with_rows: { rows: ROWS, ...idleRows, rss_at_end: Math.round(rssAtEnd * 10) / 10 },
      rss_growth_with_rows_mib: Math.round((idleRows.median - idle0.median) * 10) / 10,
      insert: { rows: ROWS, ...inserted },
      publications_by_status: Object.fromEntries(counts.map((c) => [c.status, c.n])),
      claim_0_rows: { samples: claim0.samples, claimDue_ms: claim0.function_ms, due_scan_statement_ms: claim0.statement_ms },
      claim_with_rows: { rows: ROWS, samples: claimRows.samples, claimDue_ms: claimRows.function_ms, due_scan_statement_ms: claimRows.statement_ms },
      claim_explain_analyze_0_rows: claim0.plan,
      claim_explain_analyze_with_rows: claimRows.plan,
      claim_explain_analyze_with_rows_and_due: { due_now: DUE_NOW, execution_ms: claimDueRows.executionMs, planning_ms: claimDueRows.planningMs, plan: claimDueRows.plan },
      next_due_explain_analyze: nextPlan.plan,
      metrics_endpoint: { with_0_rows: metrics0, with_rows: metricsRows },
      exit_codes: [exit1, exit2],
      seconds: { idle: IDLE_SECONDS, load: LOAD_SECONDS, settle: SETTLE_MS / 1000 },
    });
    report('memory', measurements, [
      `RSS of the Crier process (role all, VmRSS), simulator elsewhere:`,
      `  idle, 0 publications (${IDLE_SECONDS} s)        ${r1(idle0)}`,
      `  under load (${loadResult.requests_per_second} req/s create, ${LOAD_SECONDS} s)   ${r1(underLoad)}`,
      `  working off the backlog (${drained.seconds} s${drained.left ? `, ${drained.left} LEFT` : ''})   ${r1(drained)}`,
      `  just after (5 s)                     ${r1(afterLoad)}`,
      `  idle, ${ROWS.toLocaleString('en')} scheduled (${IDLE_SECONDS} s)  ${r1(idleRows)}  -> growth vs 0 rows: ${Math.round((idleRows.median - idle0.median) * 10) / 10} MiB`,
      `Inserting ${ROWS.toLocaleString('en')} posts + publications and VACUUM ANALYZE: ${inserted.seconds} s (${inserted.table_mb} MiB on disk)`,
      `Worker claim, ${CLAIM_SAMPLES} runs each: claimDue() (whole transaction) 0 rows p50 ${claim0.function_ms.p50} ms (max ${claim0.function_ms.max}); ${ROWS.toLocaleString('en')} future rows p50 ${claimRows.function_ms.p50} ms (max ${claimRows.function_ms.max})`,
      `  due scan statement (EXPLAIN ANALYZE planning + execution): 0 rows p50 ${claim0.statement_ms.p50} ms; ${ROWS.toLocaleString('en')} future rows p50 ${claimRows.statement_ms.p50} ms (max ${claimRows.statement_ms.max}); nextDueAt ${Math.round((nextPlan.executionMs + nextPlan.planningMs) * 100) / 100} ms`,
      `  due scan nodes: ${due.map((l) => l.trim()).join(' | ')}`,
      `EXPLAIN (ANALYZE, BUFFERS) of the claim's due scan with ${ROWS.toLocaleString('en')} future rows:`,
      ...claimRows.plan.map((l) => `  ${l}`),
      `The same with ${DUE_NOW} publications due now among them (claims ${Math.min(100, DUE_NOW)}; planning ${claimDueRows.planningMs} ms, execution ${claimDueRows.executionMs} ms):`,
      ...claimDueRows.plan.map((l) => `  ${l}`),
      `GET /metrics: p50 ${metrics0.p50_ms} ms with 0 rows, ${metricsRows.p50_ms} ms with ${ROWS.toLocaleString('en')} rows`,
    ]);
  } finally {
    await sim.stop();
    await db.drop();
  }
});
