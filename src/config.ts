// One schema for every setting, parsed once at start and passed down (never read process.env elsewhere).
import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

const envSchema = z.object({
  PORT: int(8080, 0),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z.string().url().optional(),
  CRIER_DATA_DIR: z.string().default('.crier'),
  // Operator key from the environment; otherwise one is generated and printed once on first start.
  CRIER_ADMIN_KEY: z.string().min(24).optional(),
  // Comma-separated `id:base64key` pairs; the first encrypts, all decrypt.
  CRIER_ENCRYPTION_KEYS: z.string().optional(),
  CRIER_PUBLIC_URL: z.string().url().optional(),
  CRIER_SANDBOX: bool.default(true),
  // Base URL of the platform simulators; defaults to the ones mounted in this process at /sandbox.
  CRIER_SANDBOX_URL: z.string().url().optional(),
  CRIER_RATE_LIMIT_PER_MINUTE: int(600, 1),
  REDIS_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CRIER_BODY_LIMIT_BYTES: int(1_048_576, 1024),
  // Worker tuning.
  CRIER_WORKER_CONCURRENCY: int(200, 1),
  CRIER_WORKER_POLL_MS: int(1000, 10),
  CRIER_PUBLISH_TIMEOUT_MS: int(30_000, 100),
  CRIER_LEASE_MS: int(120_000, 1000),
  CRIER_MAX_ATTEMPTS: int(5, 1),
  CRIER_RETRY_BASE_MS: int(5_000, 1),
  CRIER_RETRY_MAX_MS: int(900_000, 1),
  CRIER_SWEEP_INTERVAL_MS: int(5_000, 100),
  // A scheduled publication this late and still unclaimed is reported as overdue.
  CRIER_OVERDUE_AFTER_MS: int(60_000, 1000),
  // Webhook deliveries in flight at once per worker (at most 8 per endpoint).
  CRIER_WEBHOOK_CONCURRENCY: int(50, 1),
  // How long a publication may stay "processing" on the platform (a container, a video) before it fails.
  CRIER_PENDING_DEADLINE_MS: int(2 * 3600_000, 1000),
  // Media: where files live (a folder under the data dir, or any S3-compatible store).
  CRIER_MEDIA_STORE: z.enum(['local', 's3']).default('local'),
  CRIER_S3_ENDPOINT: z.string().url().optional(),
  CRIER_S3_REGION: z.string().default('us-east-1'),
  CRIER_S3_BUCKET: z.string().optional(),
  CRIER_S3_ACCESS_KEY_ID: z.string().optional(),
  CRIER_S3_SECRET_ACCESS_KEY: z.string().optional(),
  CRIER_S3_FORCE_PATH_STYLE: bool.default(false),
  // Largest file accepted by upload or URL ingest (YouTube takes 256 GB; peers' 1 GB caps are a complaint).
  CRIER_MEDIA_MAX_BYTES: int(10 * 1024 ** 3, 1),
  // Largest file sent in one multipart/form-data request; bigger files use POST /v1/media/uploads.
  CRIER_MEDIA_DIRECT_MAX_BYTES: int(100 * 1024 ** 2, 1),
  CRIER_MEDIA_FETCH_TIMEOUT_MS: int(10 * 60_000, 100),
  // Media no post refers to is deleted this long after it was created.
  CRIER_MEDIA_RETENTION_HOURS: z.coerce.number().positive().default(7 * 24),
  // Renditions (image and video adaptation) running at once in one worker.
  CRIER_MEDIA_CONCURRENCY: int(2, 1),
  // How long signed media URLs (upload targets, URLs platforms pull from) stay valid.
  CRIER_MEDIA_URL_TTL_SEC: int(6 * 3600, 60),
  // Lets URL ingest reach private and loopback addresses: for tests and closed networks only.
  CRIER_ALLOW_PRIVATE_URLS: bool.default(false),
  // Comma-separated host[:port] entries exempt from the private-address check (an internal media server).
  CRIER_MEDIA_ALLOWED_HOSTS: z.string().optional(),
  // Aggregator providers: the operator's keys, every workspace's last fallback (platforms.md §12).
  POSTFORME_API_KEY: z.string().min(1).optional(),
  LATE_API_KEY: z.string().min(1).optional(),
  // Their API base URLs (the real services by default; tests point them at the simulators).
  CRIER_POSTFORME_URL: z.string().url().default('https://api.postforme.dev/v1'),
  CRIER_LATE_URL: z.string().url().default('https://getlate.dev/api/v1'),
});

export type Config = {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  adminKey: string | undefined;
  encryptionKeys: string | undefined;
  publicUrl: string | undefined;
  /** The operator's app per platform (CRIER_<PLATFORM>_CLIENT_ID and _CLIENT_SECRET). */
  apps: Partial<Record<string, { clientId: string; clientSecret: string }>>;
  webhookConcurrency: number;
  /** Daily quota per app overriding a connector's documented one (CRIER_QUOTA_<PLATFORM>, e.g. a raised YouTube quota). */
  quotas: Partial<Record<string, number>>;
  /** Aggregator providers: base URL and the operator's global key (if any) per provider. */
  providers: Record<'postforme' | 'late', { baseUrl: string; operatorKey: string | undefined }>;
  sandbox: boolean;
  sandboxUrl: string | undefined;
  rateLimitPerMinute: number;
  redisUrl: string | undefined;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  bodyLimitBytes: number;
  worker: WorkerConfig;
  media: MediaConfig;
};

export type MediaConfig = {
  store: { kind: 'local'; dir: string } | { kind: 's3'; endpoint?: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string; forcePathStyle: boolean };
  maxBytes: number;
  directMaxBytes: number;
  fetchTimeoutMs: number;
  retentionMs: number;
  concurrency: number;
  urlTtlSec: number;
  allowPrivateUrls: boolean;
  allowedHosts: string[];
};

export type WorkerConfig = {
  concurrency: number;
  pollMs: number;
  publishTimeoutMs: number;
  leaseMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  sweepIntervalMs: number;
  overdueAfterMs: number;
  pendingDeadlineMs: number;
};

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset" (a common shape of `FOO= npm start`).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  // A live worker must never lose its lease while its request is still allowed to run.
  if (e.CRIER_LEASE_MS < e.CRIER_PUBLISH_TIMEOUT_MS + 3_000) {
    throw new ConfigError(`Invalid configuration:\n  CRIER_LEASE_MS (${e.CRIER_LEASE_MS}) must exceed CRIER_PUBLISH_TIMEOUT_MS (${e.CRIER_PUBLISH_TIMEOUT_MS}) by at least 3000 ms`);
  }
  if (e.CRIER_MEDIA_STORE === 's3') {
    const missing = (['CRIER_S3_BUCKET', 'CRIER_S3_ACCESS_KEY_ID', 'CRIER_S3_SECRET_ACCESS_KEY'] as const).filter((k) => !e[k]);
    if (missing.length > 0) throw new ConfigError(`Invalid configuration:\n  CRIER_MEDIA_STORE=s3 needs ${missing.join(', ')}`);
  }
  const dataDir = path.resolve(e.CRIER_DATA_DIR);
  return {
    apps: operatorApps(cleaned),
    quotas: quotaOverrides(cleaned),
    providers: {
      postforme: { baseUrl: e.CRIER_POSTFORME_URL.replace(/\/+$/, ''), operatorKey: e.POSTFORME_API_KEY },
      late: { baseUrl: e.CRIER_LATE_URL.replace(/\/+$/, ''), operatorKey: e.LATE_API_KEY },
    },
    webhookConcurrency: e.CRIER_WEBHOOK_CONCURRENCY,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir,
    adminKey: e.CRIER_ADMIN_KEY,
    encryptionKeys: e.CRIER_ENCRYPTION_KEYS,
    publicUrl: e.CRIER_PUBLIC_URL,
    sandbox: e.CRIER_SANDBOX,
    sandboxUrl: e.CRIER_SANDBOX_URL,
    rateLimitPerMinute: e.CRIER_RATE_LIMIT_PER_MINUTE,
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.CRIER_BODY_LIMIT_BYTES,
    worker: {
      concurrency: e.CRIER_WORKER_CONCURRENCY,
      pollMs: e.CRIER_WORKER_POLL_MS,
      publishTimeoutMs: e.CRIER_PUBLISH_TIMEOUT_MS,
      leaseMs: e.CRIER_LEASE_MS,
      maxAttempts: e.CRIER_MAX_ATTEMPTS,
      retryBaseMs: e.CRIER_RETRY_BASE_MS,
      retryMaxMs: e.CRIER_RETRY_MAX_MS,
      sweepIntervalMs: e.CRIER_SWEEP_INTERVAL_MS,
      overdueAfterMs: e.CRIER_OVERDUE_AFTER_MS,
      pendingDeadlineMs: e.CRIER_PENDING_DEADLINE_MS,
    },
    media: {
      store:
        e.CRIER_MEDIA_STORE === 's3'
          ? { kind: 's3', endpoint: e.CRIER_S3_ENDPOINT, region: e.CRIER_S3_REGION, bucket: e.CRIER_S3_BUCKET!, accessKeyId: e.CRIER_S3_ACCESS_KEY_ID!, secretAccessKey: e.CRIER_S3_SECRET_ACCESS_KEY!, forcePathStyle: e.CRIER_S3_FORCE_PATH_STYLE }
          : { kind: 'local', dir: path.join(dataDir, 'store') },
      maxBytes: e.CRIER_MEDIA_MAX_BYTES,
      directMaxBytes: e.CRIER_MEDIA_DIRECT_MAX_BYTES,
      fetchTimeoutMs: e.CRIER_MEDIA_FETCH_TIMEOUT_MS,
      retentionMs: e.CRIER_MEDIA_RETENTION_HOURS * 3_600_000,
      concurrency: e.CRIER_MEDIA_CONCURRENCY,
      urlTtlSec: e.CRIER_MEDIA_URL_TTL_SEC,
      allowPrivateUrls: e.CRIER_ALLOW_PRIVATE_URLS,
      allowedHosts: (e.CRIER_MEDIA_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
    },
  };
}

/** CRIER_<PLATFORM>_CLIENT_ID + CRIER_<PLATFORM>_CLIENT_SECRET, for every platform that has both (one without the other is an error). */
function operatorApps(env: Record<string, string | undefined>): Config['apps'] {
  const apps: Config['apps'] = {};
  for (const [name, clientId] of Object.entries(env)) {
    const m = /^CRIER_([A-Z]+)_CLIENT_ID$/.exec(name);
    if (!m || !clientId) continue;
    const clientSecret = env[`CRIER_${m[1]}_CLIENT_SECRET`];
    if (!clientSecret) throw new ConfigError(`Invalid configuration:\n  ${name} is set but CRIER_${m[1]}_CLIENT_SECRET is not`);
    apps[m[1]!.toLowerCase()] = { clientId, clientSecret };
  }
  return apps;
}

/** CRIER_QUOTA_<PLATFORM>=<units per day>, a positive integer. */
function quotaOverrides(env: Record<string, string | undefined>): Config['quotas'] {
  const quotas: Config['quotas'] = {};
  for (const [name, value] of Object.entries(env)) {
    const m = /^CRIER_QUOTA_([A-Z]+)$/.exec(name);
    if (!m || value === undefined) continue;
    const units = Number(value);
    if (!Number.isInteger(units) || units < 1) throw new ConfigError(`Invalid configuration:\n  ${name} must be a positive whole number of units per day`);
    quotas[m[1]!.toLowerCase()] = units;
  }
  return quotas;
}
