// Once per test run: a PostgreSQL server (DATABASE_URL's, or an embedded one) and a migrated template
// database that every test file clones (CREATE DATABASE … TEMPLATE is a file copy: ~50 ms).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { sha256 } from '../../src/lib/hash.js';

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string;
    templateDb: string;
  }
}

let embedded: EmbeddedDatabase | undefined;
let scratch: string | undefined;

export function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export default async function setup(project: TestProject) {
  let serverUrl = process.env['DATABASE_URL'];
  if (!serverUrl) {
    // Under os.tmpdir (world-traversable) so it also works as root, where postgres runs as another user.
    scratch = await mkdtemp(path.join(os.tmpdir(), 'crier-test-'));
    await chmod(scratch, 0o755);
    embedded = await startEmbeddedPostgres(scratch);
    serverUrl = embedded.url;
  }
  const migrations = await loadMigrations();
  const template = `crier_template_${sha256(migrations.map((m) => m.checksum).join()).toString('hex').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (!rowCount) {
      const building = `${template}_build_${process.pid}`;
      await admin.query(`DROP DATABASE IF EXISTS ${building}`);
      await admin.query(`CREATE DATABASE ${building}`);
      const db = createPool(withDatabase(serverUrl, building), 2);
      await migrate(db, migrations);
      await db.end();
      // Renamed only once complete, so a run killed half-way never leaves a broken template behind.
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${template}`).catch(async (error) => {
        await admin.query(`DROP DATABASE IF EXISTS ${building}`);
        if (!String(error.message).includes('already exists')) throw error;
      });
    }
  } finally {
    await admin.end();
  }
  project.provide('serverUrl', serverUrl);
  project.provide('templateDb', template);
  return async () => {
    await embedded?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  };
}
