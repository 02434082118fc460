// Shared benchmark plumbing: a fresh migrated database on the machine's PostgreSQL (dropped afterwards, also
// on Ctrl-C), Crier booted in-process or as a child process, a tenant with sandbox accounts, autocannon as a
// separate process, RSS from /proc, percentiles and the one-JSON-line report.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { startCrier, type Crier, type Role } from '../src/boot.js';
import { loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { createPool, type Db } from '../src/db/pool.js';
import { generateKeySpec } from '../src/lib/crypto.js';
import type { SimRecord } from '../src/sandbox/bluesky/simulator.js';
import type { RequestLogEntry } from '../src/sandbox/framework.js';
import { startSandboxServer } from '../src/sandbox/index.js';
import { claimDue } from '../src/worker/claim.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The PostgreSQL server benchmarks create their databases on (trust auth on this machine). */
export const SERVER = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** `--quick` (or BENCH_QUICK=1): a reduced smoke run. */
export const QUICK = process.argv.includes('--quick') || ['1', 'true'].includes(process.env['BENCH_QUICK'] ?? '');
export const ADMIN_KEY = `crier_admin_bench_${'b'.repeat(32)}`;

/** `--name=value` from the command line, else `fallback`. */
export function flag(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}
export function intFlag(name: string, fallback: number): number {
  const v = Number.parseInt(flag(name, String(fallback)), 10);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative integer`);
  return v;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

// ---------------------------------------------------------------------------------------------------------
// Databases

export function dbUrl(name: string): string {
  const u = new URL(SERVER);
  u.pathname = `/${name}`;
  return u.toString();
}

export type BenchDb = { name: string; url: string; drop(): Promise<void> };

const liveDatabases = new Set<string>();
const liveChildren = new Set<ChildProcess>();

async function dropDatabase(name: string): Promise<void> {
  const c = new pg.Client({ connectionString: SERVER });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
  liveDatabases.delete(name);
}

/** A new database `crier_bench_<label>_<random>` with Crier's migrations applied. */
export async function freshDatabase(label: string): Promise<BenchDb> {
  const name = `crier_bench_${label}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  liveDatabases.add(name);
  const pool = createPool(dbUrl(name), 2);
  await migrate(pool);
  await pool.end();
  return { name, url: dbUrl(name), drop: () => dropDatabase(name) };
}

// ---------------------------------------------------------------------------------------------------------
// Crier

export function benchEnv(db: BenchDb, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    PORT: '0',
    HOST: '127.0.0.1',
    CRIER_ADMIN_KEY: ADMIN_KEY,
    CRIER_ENCRYPTION_KEYS: generateKeySpec('bench'),
    CRIER_DATA_DIR: `/tmp/crier-bench-${db.name}`,
    LOG_LEVEL: 'silent',
    CRIER_RATE_LIMIT_PER_MINUTE: '100000000',
    ...extra,
  };
}

/** A platform simulator: in this process, or in a child process of its own (`bench/sandbox-server.ts`). */
export type Simulator = {
  url: string;
  mode: 'process' | 'inproc';
  pid: number;
  /** Every record stored on the Bluesky simulator (indexedAt = when createRecord stored it). */
  records(): Promise<SimRecord[]>;
  /** The simulator's request log (capped at 50,000 entries). */
  requests(): Promise<RequestLogEntry[]>;
  stop(): Promise<void>;
};

/** `--sim=inproc` runs the simulator inside the benchmark process; the default is a child process. */
export const SIM_MODE: 'process' | 'inproc' = flag('sim', 'process') === 'inproc' ? 'inproc' : 'process';

export async function startSimulator(mode: 'process' | 'inproc' = SIM_MODE): Promise<Simulator> {
  if (mode === 'inproc') {
    const s = await startSandboxServer();
    return {
      url: s.url,
      mode,
      pid: process.pid,
      records: async () => [...s.bluesky.repos.values()].flatMap((m) => [...m.values()]),
      requests: async () => [...s.bluesky.core.log],
      stop: () => s.close(),
    };
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/sandbox-server.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`simulator did not start within 30 s: ${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}: ${out}`)));
  });
  const get = async <T>(route: string): Promise<T> => {
    const res = await fetch(`${url}${route}`);
    if (!res.ok) throw new Error(`GET ${route}: ${res.status}`);
    return (await res.json()) as T;
  };
  return {
    url,
    mode,
    pid: child.pid!,
    records: async () => (await get<{ records: SimRecord[] }>('/bluesky/_sim/records')).records,
    requests: async () => (await get<{ requests: RequestLogEntry[] }>('/bluesky/_sim/requests')).requests,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export type Booted = { crier: Crier; sim: Simulator; url: string; dbName: string; stop(): Promise<void> };

/**
 * Crier in this process (startCrier, as the test harness does) pointed at a simulator (CRIER_SANDBOX_URL).
 * Production defaults otherwise (pool 20, worker concurrency 200, poll 1 s).
 */
export async function boot(db: BenchDb, role: Role, extra: Record<string, string> = {}): Promise<Booted> {
  const sim = await startSimulator();
  const crier = await startCrier(loadConfig(benchEnv(db, { CRIER_SANDBOX_URL: sim.url, ...extra })), role, { log: pino({ level: 'silent' }) });
  return {
    crier,
    sim,
    url: crier.url,
    dbName: db.name,
    async stop() {
      await crier.stop();
      await sim.stop();
    },
  };
}

export type ChildCrier = { pid: number; url: string; child: ChildProcess; stop(): Promise<number | null> };

/**
 * `node --import tsx src/main.ts <role>` as a child process (the process whose RSS is measured), with the
 * given environment on top of this one's PATH. Resolves when its banner names the URL it listens on.
 */
export async function spawnCrier(role: Role, env: Record<string, string>): Promise<ChildCrier> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`crier did not start within 60 s\n${out}\n${err}`)), 60_000);
    const check = () => {
      const m = /API\s+(http:\/\/\S+)\/v1/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`crier exited with ${code} before listening\n${out}\n${err}`));
    });
  });
  const stop = () =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 30_000).unref();
    });
  return { pid: child.pid!, url, child, stop };
}


async function call(url: string, key: string, method: string, route: string, body?: unknown): Promise<any> {
  const res = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export type BenchTenant = { workspaceId: string; key: string; accountIds: string[] };

/** A workspace, its read+write key and `accounts` sandbox Bluesky accounts, all through the API. */
export async function tenant(url: string, accounts: number): Promise<BenchTenant> {
  const ws = await call(url, ADMIN_KEY, 'POST', '/v1/workspaces', { name: 'bench' });
  const key = (await call(url, ADMIN_KEY, 'POST', `/v1/workspaces/${ws.id}/api_keys`, { name: 'bench' })).key as string;
  const accountIds: string[] = [];
  for (let i = 0; i < accounts; i++) {
    accountIds.push((await call(url, key, 'POST', '/v1/accounts', { platform: 'bluesky', sandbox: true, username: `bench${i}` })).id);
  }
  return { workspaceId: ws.id, key, accountIds };
}

export async function apiPost(url: string, key: string, route: string, body: unknown): Promise<any> {
  return call(url, key, 'POST', route, body);
}

// ---------------------------------------------------------------------------------------------------------
// Load

export type LoadResult = {
  requests_per_second: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
};

const AUTOCANNON = path.join(path.dirname(createRequire(import.meta.url).resolve('autocannon/package.json')), 'autocannon.js');

/**
 * autocannon 9 as its own process (`node node_modules/autocannon/autocannon.js`), so the load generator
 * never shares an event loop with the server it measures. POST `body` with `[<id>]` replaced by a fresh
 * id per request (-I), after a `warmupSeconds` warm-up that is not counted.
 */
export async function load(opts: {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  warmupSeconds?: number;
}): Promise<LoadResult> {
  const args = [AUTOCANNON, '-j', '-n', '-I', '-c', String(opts.connections), '-d', String(opts.seconds), '-m', 'POST', '-b', opts.body, '-t', '30'];
  if (opts.warmupSeconds) args.push('-W', '[', '-c', String(opts.connections), '-d', String(opts.warmupSeconds), ']');
  for (const [k, v] of Object.entries(opts.headers)) args.push('-H', `${k}=${v}`);
  args.push(opts.url);
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 64 * 1024 * 1024, cwd: REPO_ROOT });
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!);
  return {
    requests_per_second: Math.round(r.requests.average),
    latency_ms: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Memory and CPU of a process, from /proc

/** VmRSS of a process in MiB. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb[1]) / 1024;
}

/** utime + stime of a process, in seconds (USER_HZ is 100 on Linux x86-64). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export type RssSeries = { samples: number; min: number; median: number; mean: number; max: number; last: number; cpu_percent: number; every_ms: number; series: number[] };

/** Samples VmRSS every `everyMs` while `during` runs (or for `ms` if `during` is a number). */
export async function sampleRss(pid: number, during: number | Promise<unknown>, everyMs = 500): Promise<RssSeries> {
  const values: number[] = [];
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  let done = false;
  const finished = typeof during === 'number' ? sleep(during) : during;
  void finished.then(
    () => (done = true),
    () => (done = true),
  );
  values.push(rssMiB(pid));
  while (!done) {
    await Promise.race([sleep(everyMs), finished.catch(() => undefined)]);
    values.push(rssMiB(pid));
  }
  await finished;
  const cpu = cpuSeconds(pid) - cpu0;
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    samples: values.length,
    min: round(Math.min(...values)),
    median: round(percentile(values, 50)),
    mean: round(values.reduce((a, b) => a + b, 0) / values.length),
    max: round(Math.max(...values)),
    last: round(values.at(-1)!),
    cpu_percent: Math.round((1000 * cpu) / ((Date.now() - t0) / 1000)) / 10,
    every_ms: everyMs,
    series: values.map((v) => Math.round(v)),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Reporting

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function stats(values: number[]): { n: number; p50: number; p99: number; max: number } {
  return { n: values.length, p50: Math.round(percentile(values, 50)), p99: Math.round(percentile(values, 99)), max: Math.round(values.length ? Math.max(...values) : NaN) };
}

export function machine(): Record<string, string | number> {
  return {
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? '?',
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    loadavg_1m_at_end: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

/**
 * Which code was measured: the git commit of the checkout, "+dirty" when src/ has uncommitted changes
 * (BENCH_REVISION or a `.bench-revision` file in the repository root names it where there is no .git).
 */
export function revision(): string {
  if (process.env['BENCH_REVISION']) return process.env['BENCH_REVISION'];
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    try {
      return readFileSync(path.join(REPO_ROOT, '.bench-revision'), 'utf8').trim();
    } catch {
      return 'unknown';
    }
  }
}

/** The human summary, then one JSON line with everything (the last line of the output). */
export function report(name: string, result: Record<string, unknown>, summary: string[]): void {
  console.log(summary.join('\n'));
  console.log(JSON.stringify({ benchmark: name, quick: QUICK, at: new Date().toISOString(), argv: process.argv.slice(2), revision: revision(), machine: machine(), ...result }));
}

export async function postgresVersion(): Promise<string> {
  const c = new pg.Client({ connectionString: SERVER });
  await c.connect();
  try {
    const { rows } = await c.query<{ v: string }>('SHOW server_version');
    return rows[0]!.v;
  } finally {
    await c.end();
  }
}

/**
 * Runs a benchmark: on success or failure (and on Ctrl-C) drops every database it created and stops every
 * child it spawned, then exits (Crier's pools and timers would otherwise keep the process alive).
 */
export function main(run: () => Promise<void>): void {
  const cleanup = async () => {
    for (const c of liveChildren) c.kill('SIGKILL');
    for (const name of [...liveDatabases]) await dropDatabase(name).catch((e) => console.error(`could not drop ${name}: ${(e as Error).message}`));
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('interrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  run().then(
    async () => {
      await cleanup();
      process.exit(0);
    },
    async (error) => {
      console.error(error);
      await cleanup();
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------------------------------------------------
// The worker's own SQL, captured from src/worker/claim.ts at run time (never copied here, so it cannot drift)

export type CapturedQuery = { text: string; values: unknown[] };

/** Runs `fn` against a fake pool that records every statement and answers each with no rows. */
export async function captureSql(fn: (db: Db) => Promise<unknown>): Promise<CapturedQuery[]> {
  const seen: CapturedQuery[] = [];
  const query = async (text: string, values: unknown[] = []) => {
    seen.push({ text, values });
    return { rows: [], rowCount: 0 };
  };
  const fake = { query, connect: async () => ({ query, release: () => undefined }) } as unknown as Db;
  await fn(fake);
  return seen;
}

/**
 * The statement claimDue runs first inside its transaction: the due scan that picks (and locks, or leases)
 * due publications. With nothing due it is also the only one it runs. Found as the first statement after
 * BEGIN, so it follows claim.ts whether the pick and the lease are one statement or two.
 */
export async function claimStatement(limit = 100, leaseMs = 120_000): Promise<CapturedQuery> {
  const seen = await captureSql((db) => claimDue(db, 'wrk_bench_explain', limit, leaseMs));
  const claim = seen.find((q) => !/^\s*(BEGIN|COMMIT|ROLLBACK)\b/i.test(q.text));
  if (!claim || !/\bpublications\b/i.test(claim.text)) throw new Error(`could not find the claim statement among: ${seen.map((q) => q.text.slice(0, 40)).join(' | ')}`);
  return claim;
}

/**
 * `n` posts with one publication each, due a second ago, spread over `accountIds` — for EXPLAINs of the claim
 * with work due, run inside the EXPLAIN's rolled-back transaction so a running worker never sees them.
 */
export function insertDuePublications(c: pg.ClientBase, workspaceId: string, n: number, accountIds: string[]) {
  return c.query(
    `WITH p AS (
           INSERT INTO posts (id, workspace_id, text, options, status, scheduled_at)
           SELECT 'post_due' || lpad(to_hex(g), 24, '0'), $1, 'due ' || g, '{}', 'scheduled', now() - interval '1 second'
           FROM generate_series(1, $2::int) AS g RETURNING id)
         INSERT INTO publications (id, workspace_id, post_id, account_id, platform, status, scheduled_at, next_attempt_at)
         SELECT 'pub_due' || substr(p.id, 9), $1, p.id, ($3::text[])[1 + row_number() OVER () % cardinality($3::text[])], 'bluesky', 'scheduled',
                now() - interval '1 second', now() - interval '1 second'
         FROM p`,
    [workspaceId, n, accountIds],
  );
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of a statement inside a transaction that is rolled back (it may write); `setup`
 * runs first in the same transaction (rows it writes are seen by the statement and by no one else).
 */
export async function explainAnalyze(
  pool: pg.Pool,
  q: CapturedQuery,
  setup?: (client: pg.PoolClient) => Promise<unknown>,
): Promise<{ plan: string[]; executionMs: number; planningMs: number }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    if (setup) await setup(client);
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${q.text}`, q.values);
    await client.query('ROLLBACK');
    const plan = rows.map((r) => r['QUERY PLAN']);
    const ms = (label: string) => Number(/([\d.]+) ms/.exec(plan.find((l) => l.startsWith(label)) ?? '')?.[1] ?? NaN);
    return { plan, executionMs: ms('Execution Time'), planningMs: ms('Planning Time') };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

// ---------------------------------------------------------------------------------------------------------
// CPU spent per component over a window: this process (Crier when booted in-process), other processes by
// pid (the simulator), and the PostgreSQL backends serving one database. CPU time, unlike wall time, barely
// depends on what else the machine is running, so it is the number to compare across busy runs.

export type CpuSnapshot = { at: number; self: number; pids: Map<number, number>; postgres: Map<number, number> };

function cpuOrZero(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0; // exited
  }
}

export async function cpuSnapshot(dbName: string, pids: number[] = []): Promise<CpuSnapshot> {
  const c = new pg.Client({ connectionString: SERVER });
  await c.connect();
  let backends: number[];
  try {
    backends = (await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [dbName])).rows.map((r) => r.pid);
  } finally {
    await c.end();
  }
  const u = process.cpuUsage();
  return {
    at: Date.now(),
    self: (u.user + u.system) / 1e6,
    pids: new Map(pids.map((p) => [p, cpuOrZero(p)])),
    postgres: new Map(backends.map((p) => [p, cpuOrZero(p)])),
  };
}

/**
 * CPU seconds between two snapshots. PostgreSQL: backends of the database seen in either snapshot (one that
 * opened in between counts from zero; one that closed in between is lost, so take `b` promptly).
 */
export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): { wall_s: number; self_s: number; pids_s: Record<number, number>; postgres_s: number } {
  const r = (v: number) => Math.round(v * 100) / 100;
  let pgSeconds = 0;
  for (const [pid, end] of b.postgres) pgSeconds += end - (a.postgres.get(pid) ?? 0);
  return {
    wall_s: r((b.at - a.at) / 1000),
    self_s: r(b.self - a.self),
    pids_s: Object.fromEntries([...b.pids].map(([pid, end]) => [pid, r(end - (a.pids.get(pid) ?? 0))])),
    postgres_s: r(pgSeconds),
  };
}
