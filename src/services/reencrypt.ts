// Key rotation for secrets at rest: every ciphertext not under the primary key (the first of
// CRIER_ENCRYPTION_KEYS) is decrypted with its own key and sealed again with the primary one. Rows are
// rewritten one at a time and only if unchanged meanwhile, so it can run while Crier runs. Once it reports
// nothing left, the old key can be dropped from CRIER_ENCRYPTION_KEYS.
import type { Db } from '../db/pool.js';
import { decrypt, encrypt, keyIdOf, type KeyRing } from '../lib/crypto.js';
import { credentialsAad } from './accounts.js';
import { secretsAad } from './connections.js';
import { appSecretAad } from './oauth-apps.js';
import { providerKeyAad } from './providers.js';

/** Every encrypted column, with the AAD that binds each ciphertext to its row. */
const SEALED = [
  { table: 'accounts', column: 'credentials', aad: credentialsAad },
  { table: 'oauth_apps', column: 'client_secret', aad: appSecretAad },
  { table: 'connections', column: 'secrets', aad: secretsAad },
  { table: 'provider_keys', column: 'api_key', aad: providerKeyAad },
] as const;

export type ReencryptReport = Record<string, { reencrypted: number; remaining: number }>;

export async function reencryptAll(db: Db, ring: KeyRing, batch = 500): Promise<ReencryptReport> {
  const report: ReencryptReport = {};
  for (const { table, column, aad } of SEALED) {
    let reencrypted = 0;
    let after = '';
    for (;;) {
      const { rows } = await db.query<{ id: string; sealed: Buffer }>(
        `SELECT id, ${column} AS sealed FROM ${table} WHERE ${column} IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`,
        [after, batch],
      );
      if (rows.length === 0) break;
      after = rows.at(-1)!.id;
      for (const row of rows) {
        if (keyIdOf(row.sealed) === ring.primaryId) continue;
        const resealed = encrypt(ring, decrypt(ring, row.sealed, aad(row.id)), aad(row.id));
        const { rowCount } = await db.query(`UPDATE ${table} SET ${column} = $2 WHERE id = $1 AND ${column} = $3`, [row.id, resealed, row.sealed]);
        reencrypted += rowCount ?? 0;
      }
    }
    const { rows: left } = await db.query<{ sealed: Buffer }>(`SELECT ${column} AS sealed FROM ${table} WHERE ${column} IS NOT NULL`);
    report[`${table}.${column}`] = { reencrypted, remaining: left.filter((r) => keyIdOf(r.sealed) !== ring.primaryId).length };
  }
  return report;
}
