// Idempotency-Key on creating POSTs. The key row is inserted in the same transaction as the creation, so
// a concurrent request with the same key waits on it and then replays the stored response; a rolled-back
// creation leaves no key behind. Same key + a different request → 409. Keys live 24 hours.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { withTransaction, type Db, type Tx } from '../db/pool.js';
import { canonicalJson, sha256 } from '../lib/hash.js';
import { ApiError } from './errors.js';

export const IDEMPOTENCY_TTL_HOURS = 24;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export type Created = { status: number; body: unknown };

function scopeOf(req: FastifyRequest): string {
  const p = req.principal;
  if (!p) throw new Error('idempotency needs an authenticated request');
  return p.kind === 'workspace' ? p.workspaceId : `operator:${p.keyId}`;
}

/** Runs `create` in a transaction, honouring the request's Idempotency-Key header if it has one. */
export async function idempotent(db: Db, req: FastifyRequest, reply: FastifyReply, create: (tx: Tx) => Promise<Created>): Promise<FastifyReply> {
  const header = req.headers['idempotency-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined) {
    const result = await withTransaction(db, create);
    return reply.code(result.status).send(result.body);
  }
  if (!KEY_PATTERN.test(key)) {
    throw new ApiError('VALIDATION_FAILED', 'Idempotency-Key must be 1-255 visible ASCII characters', [{ field: 'header.idempotency-key', message: 'invalid' }]);
  }
  const scope = scopeOf(req);
  const hash = sha256(`${req.method} ${req.url.split('?')[0]}\n${canonicalJson(req.body ?? null)}`);
  const outcome = await withTransaction(db, async (tx) => {
    // Expired keys are forgotten here too, not only by the sweeper, so expiry is exact.
    await tx.query(`DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < now() - interval '${IDEMPOTENCY_TTL_HOURS} hours'`, [scope, key]);
    const inserted = await tx.query(
      `INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response) VALUES ($1, $2, $3, 0, 'null')
       ON CONFLICT DO NOTHING`,
      [scope, key, hash],
    );
    if (inserted.rowCount === 0) {
      const { rows } = await tx.query<{ request_hash: Buffer; status_code: number; response: unknown }>(
        'SELECT request_hash, status_code, response FROM idempotency_keys WHERE scope = $1 AND key = $2',
        [scope, key],
      );
      const previous = rows[0]!;
      if (!previous.request_hash.equals(hash)) {
        throw new ApiError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used with a different request');
      }
      return { replayed: true, status: previous.status_code, body: previous.response };
    }
    const result = await create(tx);
    await tx.query('UPDATE idempotency_keys SET status_code = $3, response = $4 WHERE scope = $1 AND key = $2', [
      scope,
      key,
      result.status,
      JSON.stringify(result.body),
    ]);
    return { replayed: false, ...result };
  });
  if (outcome.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(outcome.status).send(outcome.body);
}
