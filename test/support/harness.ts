// Test harness: a fresh database per test file (cloned from the template), a Crier (API + worker) and the
// platform simulators on real ports, and a fresh workspace with its own key per test.
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import pg from 'pg';
import pino from 'pino';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { startCrier, type Crier, type Role } from '../../src/boot.js';
import { startSandboxServer, type SandboxServer } from '../../src/sandbox/index.js';
import type { Clock } from '../../src/lib/clock.js';
import { generateKeySpec } from '../../src/lib/crypto.js';
import { withDatabase } from './global-setup.js';

export const ADMIN_KEY = `crier_admin_test_${'x'.repeat(32)}`;

export type TestDatabase = { url: string; name: string; drop(): Promise<void> };

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = inject('serverUrl');
  const name = `crier_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDb')}`);
  await admin.end();
  return {
    url: withDatabase(serverUrl, name),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export type TestEnv = Record<string, string>;

/** Settings tuned for tests: fast retries and sweeps so recovery paths run in seconds. */
export function testEnv(db: TestDatabase, sandboxUrl: string, overrides: TestEnv = {}): TestEnv {
  return {
    DATABASE_URL: db.url,
    PORT: '0',
    CRIER_ADMIN_KEY: ADMIN_KEY,
    CRIER_ENCRYPTION_KEYS: generateKeySpec('test'),
    CRIER_SANDBOX_URL: sandboxUrl,
    CRIER_DATA_DIR: `/tmp/crier-test-data-${db.name}`,
    LOG_LEVEL: 'silent',
    CRIER_WORKER_POLL_MS: '200',
    CRIER_RETRY_BASE_MS: '200',
    CRIER_RETRY_MAX_MS: '2000',
    CRIER_SWEEP_INTERVAL_MS: '500',
    CRIER_PUBLISH_TIMEOUT_MS: '2000',
    CRIER_LEASE_MS: '5000',
    ...overrides,
  };
}

export type TestCrier = {
  crier: Crier;
  url: string;
  db: TestDatabase;
  sandbox: SandboxServer;
  config: Config;
  sql: pg.Pool;
  workspace(name?: string): Promise<Tenant>;
  operator: Client;
  stop(): Promise<void>;
};

/** A free port on 127.0.0.1 (for a server that must know its own URL before it starts). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Starts simulators + Crier on a fresh database. Call `stop()` in afterAll. `publicUrl: true` gives Crier
 * its own address as CRIER_PUBLIC_URL (platforms that pull media, the OAuth callback).
 */
/** `env` may be a function of the sandbox's URL (settings that point at a simulator, e.g. a provider's base URL). */
export async function startTestCrier(opts: { env?: TestEnv | ((sandboxUrl: string) => TestEnv); role?: Role; clock?: Clock; log?: pino.Logger; publicUrl?: boolean } = {}): Promise<TestCrier> {
  const db = await createTestDatabase();
  const sandbox = await startSandboxServer();
  const own = opts.publicUrl ? await freePort() : undefined;
  const given = typeof opts.env === 'function' ? opts.env(sandbox.url) : opts.env;
  const env = own ? { PORT: String(own), CRIER_PUBLIC_URL: `http://127.0.0.1:${own}`, ...given } : given;
  const config = loadConfig(testEnv(db, sandbox.url, env));
  const log = opts.log ?? pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  const crier = await startCrier(config, opts.role ?? 'all', { clock: opts.clock, log });
  const sql = new pg.Pool({ connectionString: db.url, max: 3 });
  const operator = client(crier.url, ADMIN_KEY);
  return {
    crier,
    url: crier.url,
    db,
    sandbox,
    config,
    sql,
    operator,
    workspace: (name = 'Test workspace') => newTenant(crier.url, operator, name),
    async stop() {
      await crier.stop();
      await sql.end();
      await sandbox.close();
      await db.drop();
    },
  };
}

export type ApiResponse<T = any> = { status: number; body: T; headers: Headers };

export type Client = {
  request<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  get<T = any>(path: string, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  patch<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  delete<T = any>(path: string, headers?: Record<string, string>): Promise<ApiResponse<T>>;
};

export function client(baseUrl: string, key?: string): Client {
  const request = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const h: Record<string, string> = { ...headers };
    if (key) h['authorization'] = `Bearer ${key}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as any, headers: res.headers };
  };
  return {
    request,
    get: (path, headers) => request('GET', path, undefined, headers),
    post: (path, body, headers) => request('POST', path, body, headers),
    patch: (path, body, headers) => request('PATCH', path, body, headers),
    delete: (path, headers) => request('DELETE', path, undefined, headers),
  };
}

export type Tenant = Client & {
  workspaceId: string;
  key: string;
  /** Connects a sandbox account and returns its id. */
  account(platform?: string, username?: string): Promise<string>;
  /** Another key of this workspace, e.g. read-only. */
  keyWithScopes(scopes: string[]): Promise<Client>;
};

async function newTenant(baseUrl: string, operator: Client, name: string): Promise<Tenant> {
  const ws = await operator.post('/v1/workspaces', { name });
  if (ws.status !== 201) throw new Error(`workspace: ${ws.status} ${JSON.stringify(ws.body)}`);
  const makeKey = async (scopes: string[]) => {
    const k = await operator.post(`/v1/workspaces/${ws.body.id}/api_keys`, { name: scopes.join('+'), scopes });
    if (k.status !== 201) throw new Error(`api key: ${k.status} ${JSON.stringify(k.body)}`);
    return k.body.key as string;
  };
  // The tenant's own key can do everything a workspace key can (approving posts included).
  const key = await makeKey(['read', 'write', 'approve']);
  const c = client(baseUrl, key);
  return {
    ...c,
    workspaceId: ws.body.id,
    key,
    async account(platform = 'bluesky', username = `u${randomBytes(3).toString('hex')}`) {
      const r = await c.post('/v1/accounts', { platform, sandbox: true, username });
      if (r.status !== 201) throw new Error(`account: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id as string;
    },
    keyWithScopes: async (scopes) => client(baseUrl, await makeKey(scopes)),
  };
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const TERMINAL = ['published', 'failed', 'unconfirmed', 'cancelled'];

/** Waits until every publication of the post is terminal and returns the post. */
export async function settled(tenant: Client, postId: string, timeoutMs = 15_000): Promise<any> {
  return waitFor(
    async () => {
      const r = await tenant.get(`/v1/posts/${postId}`);
      return r.body.publications.every((p: { status: string }) => TERMINAL.includes(p.status)) ? r.body : undefined;
    },
    timeoutMs,
    `post ${postId} to settle`,
  );
}
