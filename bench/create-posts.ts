// Benchmark 1: POST /v1/posts throughput and latency. Publish now to 3 sandbox Bluesky accounts, a unique
// text per request, N concurrent connections for a fixed time, load from autocannon in its own process.
//
// Runs, each on a fresh database, servers in this process (as startCrier in the test harness):
//   ceiling         bare Fastify + pg, TypeBox body schema, no auth: one transaction with exactly the rows
//                   Crier's createPost writes (1 post, 3 publications, 2 events), same tables and indexes
//   ceiling+notify  the same plus the `SELECT pg_notify(...)` Crier's createPost sends for a post due now
//                   (not a row, so not part of the ceiling proper; it shows what NOTIFY costs)
//   crier serve     the API alone (role 'serve'): the worker does not compete for the 2 cores
//   crier all       API + worker (role 'all'): publishes while it accepts, the way `npm start` runs
//
// Run: npm run bench:create [-- --quick] [--connections=50] [--seconds=15]
import Fastify from 'fastify';
import { Type } from 'typebox';
import type { Role } from '../src/boot.js';
import { DUE_CHANNEL } from '../src/context.js';
import { createPool, withTransaction } from '../src/db/pool.js';
import { newId } from '../src/lib/ids.js';
import { QUICK, boot, cpuDelta, cpuSnapshot, freshDatabase, intFlag, load, main, postgresVersion, report, sleep, tenant, type LoadResult } from './lib.js';

const CONNECTIONS = intFlag('connections', 50);
const SECONDS = intFlag('seconds', QUICK ? 4 : 15);
const WARMUP = QUICK ? 1 : 3;
const DRAIN_LIMIT_MS = QUICK ? 10_000 : 30_000;
const ACCOUNTS = 3;

/** CPU per created post (warm-up included: the window spans autocannon's whole run, so divide by the rows). */
type Cpu = { server_ms_per_post: number; postgres_ms_per_post: number; server_s: number; postgres_s: number };

function cpuPerPost(d: ReturnType<typeof cpuDelta>, posts: number): Cpu {
  const per = (s: number) => Math.round((s * 1e6) / Math.max(1, posts)) / 1000;
  return { server_ms_per_post: per(d.self_s), postgres_ms_per_post: per(d.postgres_s), server_s: d.self_s, postgres_s: d.postgres_s };
}

type CrierRun = LoadResult & {
  cpu: Cpu;
  posts_written: number;
  published_by_end_of_load?: number;
  backlog_at_end_of_load?: number;
  drain?: { seconds: number; published: number; per_second: number; left: number };
};

async function crierRun(role: Exclude<Role, 'work'>): Promise<CrierRun> {
  const db = await freshDatabase(`create_${role}`);
  const b = await boot(db, role);
  try {
    const t = await tenant(b.url, ACCOUNTS);
    const body = JSON.stringify({ text: 'bench [<id>]', account_ids: t.accountIds });
    const cpu0 = await cpuSnapshot(db.name);
    const r = await load({
      url: `${b.url}/v1/posts`,
      body,
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
      connections: CONNECTIONS,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
    });
    const cpu1 = await cpuSnapshot(db.name);
    const sql = b.crier.ctx.db;
    const count = async (where: string) => (await sql.query<{ n: number }>(`SELECT count(*) AS n FROM publications WHERE ${where}`)).rows[0]!.n;
    const posts = (await sql.query<{ n: number }>('SELECT count(*) AS n FROM posts')).rows[0]!.n;
    const cpu = cpuPerPost(cpuDelta(cpu0, cpu1), posts);
    if (role === 'serve') return { ...r, cpu, posts_written: posts };
    // With the worker running: how much it published while the API was under load, then how fast it works
    // off the backlog once the load stops (3 accounts x max_concurrency 4 = at most 12 publish calls in
    // flight, so this is bounded by the per-account limit, not by the worker's concurrency of 200).
    const published = await count(`status = 'published'`);
    const open = () => count(`status NOT IN ('published', 'failed', 'unconfirmed', 'cancelled')`);
    const backlog = await open();
    const t0 = Date.now();
    let left = backlog;
    while (left > 0 && Date.now() - t0 < DRAIN_LIMIT_MS) {
      await sleep(250);
      left = await open();
    }
    const seconds = (Date.now() - t0) / 1000;
    return {
      ...r,
      cpu,
      posts_written: posts,
      published_by_end_of_load: published,
      backlog_at_end_of_load: backlog,
      drain: { seconds: Math.round(seconds * 10) / 10, published: backlog - left, per_second: Math.round((backlog - left) / seconds), left },
    };
  } finally {
    await b.stop();
    await db.drop();
  }
}

/**
 * The ceiling: what the same rows cost with nothing else. createPost (src/services/create-post.ts) writes, in
 * one transaction: INSERT posts (1 row), INSERT publications via unnest (1 per account), INSERT events via
 * unnest (post.created + post.scheduled), and for a post due now SELECT pg_notify. The statements below
 * are the same shapes with the same values; no auth, no account lookup, no RETURNING, no response view.
 */
async function ceilingRun(notify: boolean): Promise<LoadResult & { cpu: Cpu; posts_written: number }> {
  const db = await freshDatabase(notify ? 'ceiling_notify' : 'ceiling');
  const pool = createPool(db.url, 20); // Crier's API pool size
  const app = Fastify({ logger: false });
  try {
    const workspaceId = newId('workspace');
    const accountIds = Array.from({ length: ACCOUNTS }, () => newId('account'));
    await pool.query(`INSERT INTO workspaces (id, name) VALUES ($1, 'ceiling')`, [workspaceId]);
    await pool.query(
      `INSERT INTO accounts (id, workspace_id, platform, external_id, username, sandbox)
       SELECT id, $2, 'bluesky', id, id, true FROM unnest($1::text[]) AS id`,
      [accountIds, workspaceId],
    );
    const Body = Type.Object({ text: Type.String({ minLength: 1 }), account_ids: Type.Array(Type.String(), { minItems: 1 }) }, { additionalProperties: false });
    app.post<{ Body: { text: string; account_ids: string[] } }>('/posts', { schema: { body: Body } }, async (req, reply) => {
      const postId = newId('post');
      const at = new Date();
      const ids = req.body.account_ids;
      await withTransaction(pool, async (tx) => {
        await tx.query(
          `INSERT INTO posts (id, workspace_id, text, options, status, scheduled_at, timezone) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [postId, workspaceId, req.body.text, '{}', 'scheduled', at, null],
        );
        await tx.query(
          `INSERT INTO publications (id, workspace_id, post_id, account_id, platform, status, scheduled_at, next_attempt_at)
           SELECT id, ws, post, acct, platform, status, at, CASE WHEN status = 'scheduled' THEN at END
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
             AS t(id, ws, post, acct, platform, status, at)`,
          [ids.map(() => newId('publication')), ids.map(() => workspaceId), ids.map(() => postId), ids, ids.map(() => 'bluesky'), ids.map(() => 'scheduled'), ids.map(() => at)],
        );
        const data = JSON.stringify({ post_id: postId, status: 'scheduled', scheduled_at: at.toISOString() });
        await tx.query(
          `INSERT INTO events (id, workspace_id, type, data) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])`,
          [[newId('event'), newId('event')], [workspaceId, workspaceId], ['post.created', 'post.scheduled'], [data, data]],
        );
        if (notify) await tx.query(`SELECT pg_notify('${DUE_CHANNEL}', '')`);
      });
      return reply.code(201).send({ id: postId });
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const cpu0 = await cpuSnapshot(db.name);
    const r = await load({
      url: `${url}/posts`,
      body: JSON.stringify({ text: 'bench [<id>]', account_ids: accountIds }),
      headers: { 'content-type': 'application/json' },
      connections: CONNECTIONS,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
    });
    const cpu1 = await cpuSnapshot(db.name);
    const posts = (await pool.query<{ n: number }>('SELECT count(*) AS n FROM posts')).rows[0]!.n;
    return { ...r, cpu: cpuPerPost(cpuDelta(cpu0, cpu1), posts), posts_written: posts };
  } finally {
    await app.close();
    await pool.end();
    await db.drop();
  }
}

main(async () => {
  const ceiling = await ceilingRun(false);
  const ceilingNotify = await ceilingRun(true);
  const serve = await crierRun('serve');
  const all = await crierRun('all');
  const pct = (r: LoadResult) => Math.round((100 * r.requests_per_second) / ceiling.requests_per_second);
  // The same ratio from CPU cost (server + PostgreSQL CPU per post): on 2 busy cores throughput follows the
  // machine's other load, CPU per post hardly does. Both servers are CPU-bound here, so on a quiet machine
  // the two ratios should agree; when they do not, trust this one and rerun.
  const cpuCost = (r: { cpu: Cpu }) => r.cpu.server_ms_per_post + r.cpu.postgres_ms_per_post;
  const pctCpu = (r: { cpu: Cpu }) => Math.round((100 * cpuCost(ceiling)) / cpuCost(r));
  const line = (name: string, r: LoadResult & { cpu: Cpu }) =>
    `  ${name.padEnd(26)} ${String(r.requests_per_second).padStart(6)} req/s  p50 ${r.latency_ms.p50} ms  p99 ${r.latency_ms.p99} ms  ${String(pct(r)).padStart(3)}% of ceiling (by CPU/post ${pctCpu(r)}%)  non-2xx ${r.non2xx}, errors ${r.errors}  CPU/post: server ${r.cpu.server_ms_per_post} ms, PostgreSQL ${r.cpu.postgres_ms_per_post} ms`;
  report(
    'create-posts',
    {
      load_generator: 'autocannon 9 CLI in a child process',
      connections: CONNECTIONS,
      seconds: SECONDS,
      warmup_seconds: WARMUP,
      accounts_per_post: ACCOUNTS,
      postgres: await postgresVersion(),
      ceiling,
      ceiling_with_notify: ceilingNotify,
      crier_serve: serve,
      crier_all: all,
      crier_serve_pct_of_ceiling: pct(serve),
      crier_all_pct_of_ceiling: pct(all),
      crier_serve_pct_of_ceiling_by_cpu: pctCpu(serve),
      crier_all_pct_of_ceiling_by_cpu: pctCpu(all),
      target_pct: 50,
    },
    [
      `POST /v1/posts, publish now to ${ACCOUNTS} sandbox accounts, unique text per request; ${CONNECTIONS} connections, ${SECONDS} s after ${WARMUP} s warm-up (autocannon in its own process)`,
      line('bare Fastify+pg ceiling', ceiling),
      line('ceiling + pg_notify', ceilingNotify),
      line('Crier role serve (API)', serve),
      line('Crier role all (+worker)', all),
      `    worker meanwhile: published ${all.published_by_end_of_load} of ${(all.published_by_end_of_load ?? 0) + (all.backlog_at_end_of_load ?? 0)} publications during the load; afterwards ${all.drain!.per_second}/s (${all.drain!.published} in ${all.drain!.seconds} s, ${all.drain!.left} left; 3 accounts x 4 in flight)`,
      `  target: Crier (serve) >= 50% of ceiling -> ${pct(serve) >= 50 ? 'met' : 'NOT met'} by req/s (${pct(serve)}%), ${pctCpu(serve) >= 50 ? 'met' : 'NOT met'} by CPU per post (${pctCpu(serve)}%)`,
    ],
  );
});
