// CLI entry: `crier [all|serve|work|migrate|admin-key --rotate|reencrypt]`. `npm start` runs `all`.
import { ConfigError, loadConfig, type Config } from './config.js';
import pino from 'pino';
import { loadKeyRing, startCrier, type Role } from './boot.js';
import { reencryptAll } from './services/reencrypt.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { issueOperatorKey } from './services/workspaces.js';

const USAGE = `usage: crier <command>
  all        API, worker and sandbox simulators in one process (default; what \`npm start\` runs)
  serve      the API only
  work       the worker only (serves /health and /metrics on PORT)
  migrate    apply database migrations and exit
  admin-key --rotate   issue a new operator key, revoke the others, print it once
  reencrypt  re-encrypt every stored secret with the first key of CRIER_ENCRYPTION_KEYS (after adding a new key)`;

async function withDatabase<T>(config: Config, fn: (url: string) => Promise<T>): Promise<T> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir);
  try {
    return await fn(config.databaseUrl ?? embedded!.url);
  } finally {
    await embedded?.stop();
  }
}

function banner(url: string, opts: { embedded: boolean; dataDir: string; sandbox: boolean; role: Role; operatorKey?: string; adminFromEnv: boolean }): string {
  const lines = [
    '',
    `Crier is running (${opts.role}).`,
    `  API            ${url}/v1`,
    `  API reference  ${url}/v1/reference`,
    `  OpenAPI        ${url}/v1/openapi.json`,
    `  Health         ${url}/health/ready`,
    `  Database       ${opts.embedded ? `embedded PostgreSQL in ${opts.dataDir}/postgres` : 'DATABASE_URL'}`,
    `  Sandbox        ${opts.sandbox ? `on: simulated platforms at ${url}/sandbox` : 'off'}`,
    '',
  ];
  if (opts.operatorKey) {
    lines.push('Operator key (printed this once; store it now):', `  ${opts.operatorKey}`, '');
  } else {
    lines.push(
      opts.adminFromEnv
        ? 'Operator key: the one in CRIER_ADMIN_KEY.'
        : 'Operator key: printed on the first start. Lost it? `npm run crier -- admin-key --rotate` issues a new one.',
      '',
    );
  }
  const key = opts.operatorKey ?? '$CRIER_ADMIN_KEY';
  lines.push(
    'Next: create a workspace, then a workspace API key:',
    `  curl -s -X POST ${url}/v1/workspaces -H "Authorization: Bearer ${key}" -H 'content-type: application/json' -d '{"name":"My workspace"}'`,
    `  curl -s -X POST ${url}/v1/workspaces/<ws_id>/api_keys -H "Authorization: Bearer ${key}" -H 'content-type: application/json' -d '{"name":"dev"}'`,
    'The README walks through connecting a sandbox account and publishing.',
    '',
  );
  return lines.join('\n');
}

async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'all';
  if (command === '--help' || command === 'help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadConfig();

  if (command === 'migrate') {
    const applied = await withDatabase(config, async (url) => {
      const db = createPool(url, 2);
      try {
        return await migrate(db);
      } finally {
        await db.end();
      }
    });
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    return;
  }
  if (command === 'admin-key') {
    if (argv[1] !== '--rotate') throw new ConfigError('admin-key needs --rotate (it revokes the current operator keys)');
    if (config.adminKey) throw new ConfigError('CRIER_ADMIN_KEY is set: change that value instead');
    const secret = await withDatabase(config, async (url) => {
      const db = createPool(url, 2);
      try {
        await migrate(db);
        return await issueOperatorKey(db, true);
      } finally {
        await db.end();
      }
    });
    process.stdout.write(`New operator key (the previous ones are revoked):\n  ${secret}\n`);
    return;
  }
  if (command === 'reencrypt') {
    const report = await withDatabase(config, async (url) => {
      const db = createPool(url, 2);
      try {
        await migrate(db);
        const ring = await loadKeyRing(config, db, pino({ level: 'warn' }));
        return await reencryptAll(db, ring);
      } finally {
        await db.end();
      }
    });
    for (const [column, r] of Object.entries(report)) process.stdout.write(`${column}: ${r.reencrypted} re-encrypted, ${r.remaining} still under an older key\n`);
    return;
  }
  if (command !== 'all' && command !== 'serve' && command !== 'work') {
    process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }

  const crier = await startCrier(config, command);
  process.stdout.write(
    banner(crier.url, {
      embedded: crier.embedded,
      dataDir: config.dataDir,
      sandbox: config.sandbox && command !== 'work',
      role: command,
      operatorKey: crier.generatedOperatorKey,
      adminFromEnv: !!config.adminKey,
    }),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    crier.ctx.log.info({ signal }, 'shutting down');
    crier.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((error) => {
  if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
  else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') process.stderr.write(`port in use: ${(error as Error).message}. Set PORT to another port.\n`);
  else process.stderr.write(`crier failed to start: ${process.env['LOG_LEVEL'] === 'debug' ? ((error as Error).stack ?? error) : ((error as Error).message ?? error)}\n`);
  process.exit(1);
});
