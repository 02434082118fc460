// Benchmark 6: GET /v1/calendar for a month holding 10,000 posts (issue: "fast for a month of 10,000
// posts"). One workspace with 3 sandbox accounts; 10,000 posts spread evenly over 30 days, each with 1–3
// publications in mixed states, plus 10,000 posts of other workspaces in the same days (so the workspace
// filter has to work). Crier runs in this process (startCrier). Reported: latency of the month query (p50,
// p99, max over the requests), response size, and the plan's execution time (EXPLAIN ANALYZE).
// Run: npm run bench:calendar [-- --quick] [--posts=10000] [--requests=30]
import pg from 'pg';
import { QUICK, boot, freshDatabase, intFlag, main, percentile, report, tenant } from './lib.js';

const POSTS = intFlag('posts', QUICK ? 2_000 : 10_000);
const REQUESTS = intFlag('requests', QUICK ? 10 : 30);
const MONTH_START = '2027-03-01T00:00:00Z';

async function seed(sql: pg.Pool, workspaceId: string, accountIds: string[], n: number, prefix: string) {
  await sql.query(
    `WITH p AS (
       INSERT INTO posts (id, workspace_id, text, options, status, scheduled_at)
       SELECT 'post_' || $4 || lpad(to_hex(g), 20, '0'), $1, 'Calendar post ' || g || ' ' || repeat('lorem ipsum ', 20),
              '{}', (ARRAY['scheduled', 'published', 'pending_approval', 'failed'])[1 + g % 4],
              $3::timestamptz + (g * (30 * 86400.0 / $2)) * interval '1 second'
       FROM generate_series(1, $2::int) AS g RETURNING id, status, scheduled_at)
     INSERT INTO publications (id, workspace_id, post_id, account_id, platform, status, scheduled_at)
     SELECT 'pub_' || substr(p.id, 6) || k, $1, p.id, ($5::text[])[k], 'bluesky',
            CASE p.status WHEN 'published' THEN 'published' WHEN 'failed' THEN 'failed' WHEN 'pending_approval' THEN 'pending_approval' ELSE 'scheduled' END,
            p.scheduled_at
     FROM p CROSS JOIN LATERAL generate_series(1, 1 + (abs(hashtext(p.id)) % least(3, cardinality($5::text[])))) AS k`,
    [workspaceId, n, MONTH_START, prefix, accountIds],
  );
}

main(async () => {
  const db = await freshDatabase('calendar');
  const booted = await boot(db, 'serve');
  const sql = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    const mine = await tenant(booted.url, 3);
    const other = await tenant(booted.url, 3);
    const seeded = Date.now();
    await seed(sql, mine.workspaceId, mine.accountIds, POSTS, 'a');
    await seed(sql, other.workspaceId, other.accountIds, POSTS, 'b');
    await sql.query('VACUUM ANALYZE posts');
    await sql.query('VACUUM ANALYZE publications');
    const seedMs = Date.now() - seeded;
    const url = `${booted.url}/v1/calendar?from=2027-03-01T00:00:00&to=2027-04-01T00:00:00&timezone=Europe/Berlin`;
    const times: number[] = [];
    let bytes = 0;
    let posts = 0;
    for (let i = 0; i < REQUESTS + 2; i++) {
      const t0 = performance.now();
      const res = await fetch(url, { headers: { authorization: `Bearer ${mine.key}` } });
      const text = await res.text();
      const ms = performance.now() - t0;
      if (res.status !== 200) throw new Error(`calendar: ${res.status} ${text.slice(0, 300)}`);
      if (i >= 2) times.push(ms); // two warm-up requests
      bytes = text.length;
      posts = (JSON.parse(text) as { days: { posts: unknown[] }[] }).days.reduce((n, d) => n + d.posts.length, 0);
    }
    const plan = await sql.query(
      // The statement of src/http/routes/calendar.ts (kept in step by hand: it is one query).
      `EXPLAIN (ANALYZE, FORMAT JSON) SELECT p.id, p.status, left(p.text, 200), p.scheduled_at, p.queue_id,
         array_agg(x.id ORDER BY x.id), array_agg(x.account_id ORDER BY x.id), array_agg(x.platform ORDER BY x.id), array_agg(x.status ORDER BY x.id), array_agg(x.platform_url ORDER BY x.id)
       FROM posts p JOIN publications x ON x.post_id = p.id
       WHERE p.workspace_id = $1 AND p.scheduled_at >= '2027-02-28T23:00:00Z' AND p.scheduled_at < '2027-03-31T22:00:00Z' AND p.status NOT IN ('draft', 'cancelled')
       GROUP BY p.id ORDER BY p.scheduled_at, p.id LIMIT 20001`,
      [mine.workspaceId],
    );
    const explained = (plan.rows[0] as { 'QUERY PLAN': [{ 'Execution Time': number; Plan: { 'Node Type': string; Plans?: { 'Node Type': string; 'Index Name'?: string }[] } }] })['QUERY PLAN'][0];
    const r = (v: number) => Math.round(v * 10) / 10;
    const result = {
      posts_in_workspace: POSTS,
      posts_returned: posts,
      response_bytes: bytes,
      seed_ms: seedMs,
      latency_ms: { p50: r(percentile(times, 50)), p99: r(percentile(times, 99)), max: r(Math.max(...times)), n: times.length },
      sql_execution_ms: r(explained['Execution Time']),
      plan_top: explained.Plan['Node Type'],
    };
    report('calendar', result, [
      `GET /v1/calendar, one month, ${posts} posts returned (${(bytes / 1e6).toFixed(1)} MB): p50 ${result.latency_ms.p50} ms, p99 ${result.latency_ms.p99} ms, max ${result.latency_ms.max} ms over ${times.length} requests`,
      `the query alone (EXPLAIN ANALYZE): ${result.sql_execution_ms} ms`,
    ]);
  } finally {
    await sql.end();
    await booted.stop();
    await db.drop();
  }
});
