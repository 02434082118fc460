// The composition root: builds everything a role needs, once, from the configuration. `crier all` (the
// default) runs API, worker and the sandbox simulators in one process; `serve` and `work` split them.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Config } from './config.js';
import type { AppContext } from './context.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { createPool, withTransaction, type Db } from './db/pool.js';
import { buildApi } from './http/app.js';
import { registerHealthRoutes } from './http/routes/health.js';
import { hashKey } from './lib/api-keys.js';
import { systemClock, type Clock } from './lib/clock.js';
import { DecryptionError, decrypt, encrypt, generateKeySpec, parseKeyRing, type KeyRing } from './lib/crypto.js';
import { createMetrics } from './metrics.js';
import { type MediaServices } from './media/context.js';
import { ffmpegStatus } from './media/probe.js';
import { createUrlSigner } from './media/signing.js';
import { createStorage } from './media/storage/index.js';
import { createSandbox } from './sandbox/index.js';
import { ensureOperatorKey } from './services/workspaces.js';
import { startWorker, type Worker } from './worker/worker.js';

export type Role = 'all' | 'serve' | 'work';

export type Crier = {
  url: string;
  ctx: AppContext;
  /** Set on the first start only, when no CRIER_ADMIN_KEY was given: print it once. */
  generatedOperatorKey?: string;
  embedded: boolean;
  stop(): Promise<void>;
};

const HEARTBEAT_FRESH_MS = 30_000;

export async function startCrier(config: Config, role: Role, opts: { clock?: Clock; log?: pino.Logger } = {}): Promise<Crier> {
  const log = opts.log ?? pino({ level: config.logLevel, redact: ['req.headers.authorization', '*.credentials', '*.password'] });
  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) embedded = await startEmbeddedPostgres(config.dataDir, (m) => log.info(m));
  const databaseUrl = config.databaseUrl ?? embedded!.url;
  const db = createPool(databaseUrl, role === 'work' ? 10 : 20);
  let app: FastifyInstance | undefined;
  let worker: Worker | undefined;
  let workerDb: Db | undefined;
  let stopped = false;
  let minted: string | undefined;
  // Order matters: stop taking work, let in-flight publishes finish, then close the database.
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    for (const step of [() => worker?.stop(), () => app?.close(), () => workerDb?.end(), () => db.end(), () => embedded?.stop()]) {
      await Promise.resolve()
        .then(step)
        .catch((e) => log.error({ err: e }, 'shutdown step failed'));
    }
  };
  try {
    await migrate(db);
    const keyRing = await loadKeyRing(config, db, log);
    const generated = await withTransaction(db, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [0x63726b79]); // two first starts at once mint one key
      return ensureOperatorKey(tx, config.adminKey);
    });
    minted = generated.generated;

    const media: MediaServices = {
      storage: createStorage(config.media.store),
      signer: createUrlSigner(keyRing),
      tmpDir: path.join(config.dataDir, 'tmp'),
      ffmpeg: await ffmpegStatus(),
    };
    if (!media.ffmpeg.available) log.warn(`videos cannot be processed: ${media.ffmpeg.message ?? 'ffmpeg/ffprobe not found'}`);
    const ctx: AppContext = { config, db, databaseUrl, keyRing, clock: opts.clock ?? systemClock, log, sandboxUrl: config.sandbox ? config.sandboxUrl : undefined, media };
    const metrics = createMetrics(db);
    const health = { metrics, heartbeatFreshMs: HEARTBEAT_FRESH_MS };

    if (role === 'work') {
      // A worker serves only its health and metrics.
      const workerApp = Fastify({ loggerInstance: log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
      registerHealthRoutes(workerApp, ctx, health);
      app = workerApp;
    } else {
      // The simulators run in this process unless CRIER_SANDBOX_URL points at ones running elsewhere.
      const sandbox = config.sandbox && !config.sandboxUrl ? createSandbox({ secret: await sandboxSecret(config) }) : undefined;
      app = await buildApi(ctx, { health, mountSandbox: sandbox?.plugin });
    }
    const address = await app!.listen({ port: config.port, host: config.host });
    const url = address.replace('[::1]', 'localhost');
    if (role !== 'work') ctx.apiUrl = url;
    if (config.sandbox && !ctx.sandboxUrl) {
      // The simulators are mounted by the API roles; a separate worker must be told where they are.
      if (role === 'work') log.warn('sandbox accounts cannot publish from this worker: set CRIER_SANDBOX_URL to the API\'s /sandbox URL');
      else ctx.sandboxUrl = `${url}/sandbox`;
    }

    if (role !== 'serve') {
      // In one process, API and worker get separate pools: under API load a shared pool left the worker
      // waiting for connections (publishing fell from ~530/s to ~70/s in the create benchmark).
      workerDb = role === 'all' ? createPool(databaseUrl, 10) : undefined;
      worker = await startWorker(workerDb ? { ...ctx, db: workerDb } : ctx, metrics);
    }
    return { url, ctx, generatedOperatorKey: generated.generated, embedded: !!embedded, stop: stopAll };
  } catch (error) {
    // A start that fails (a port in use, most often) never prints the key it minted: withdraw it, so the
    // start that succeeds mints one and prints it, instead of "printed on the first start".
    if (minted) await db.query('DELETE FROM api_keys WHERE key_hash = $1 AND workspace_id IS NULL', [hashKey(minted)]).catch(() => undefined);
    await stopAll();
    throw error;
  }
}

/**
 * Encryption keys from CRIER_ENCRYPTION_KEYS, else from a file in the data folder created on first start.
 * A stored check value per key id catches a wrong key at start instead of at the first publish.
 */
export async function loadKeyRing(config: Config, db: Db, log: pino.Logger): Promise<KeyRing> {
  let spec = config.encryptionKeys;
  if (!spec) {
    const file = path.join(config.dataDir, 'encryption-keys');
    if (existsSync(file)) spec = (await readFile(file, 'utf8')).trim();
    else {
      await mkdir(config.dataDir, { recursive: true });
      spec = generateKeySpec();
      await writeFile(file, `${spec}\n`, { mode: 0o600 });
      log.info({ file }, 'generated an encryption key for secrets at rest');
    }
    if (config.databaseUrl) log.warn('CRIER_ENCRYPTION_KEYS is not set: using the key file in the data folder; every process sharing this database needs the same key');
  }
  const ring = parseKeyRing(spec);
  const { rows } = await db.query<{ value: Record<string, string> }>(`SELECT value FROM instance_settings WHERE key = 'encryption_key_checks'`);
  const checks = rows[0]?.value ?? {};
  for (const [id, key] of ring.keys) {
    const stored = checks[id];
    if (!stored) continue;
    try {
      decrypt({ primaryId: id, keys: new Map([[id, key]]) }, Buffer.from(stored, 'base64'), 'key-check');
    } catch (error) {
      if (error instanceof DecryptionError) throw new Error(`encryption key "${id}" is not the key this database was encrypted with; check CRIER_ENCRYPTION_KEYS`);
      throw error;
    }
  }
  if (!checks[ring.primaryId]) {
    checks[ring.primaryId] = encrypt(ring, Buffer.from('crier'), 'key-check').toString('base64');
    await db.query(
      `INSERT INTO instance_settings (key, value) VALUES ('encryption_key_checks', $1)
       ON CONFLICT (key) DO UPDATE SET value = instance_settings.value || $1, updated_at = now()`,
      [JSON.stringify({ [ring.primaryId]: checks[ring.primaryId] })],
    );
  }
  return ring;
}

/** Sandbox sessions are JWTs; a persisted secret keeps sandbox accounts usable across restarts. */
async function sandboxSecret(config: Config): Promise<string> {
  const file = path.join(config.dataDir, 'sandbox-secret');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  await mkdir(config.dataDir, { recursive: true });
  const secret = generateKeySpec('sandbox').split(':')[1]!;
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
