// Idempotency-Key on creating POSTs. The key row is inserted in the same transaction as the creation, so
// a concurrent request with the same key waits on it and then replays the stored response; a rolled-back
// creation leaves no key behind. Same key + a different request → 409. Keys live 24 hours.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { withTransaction, type Db, type Tx } from '../db/pool.js';
import { openJson, sealJson, type KeyRing } from '../lib/crypto.js';
import { canonicalJson, sha256 } from '../lib/hash.js';
import { ApiError } from './errors.js';

export const IDEMPOTENCY_TTL_HOURS = 24;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export type Created = { status: number; body: unknown };

export type IdempotencyOptions = {
  /**
   * Encrypt the stored response (AES-256-GCM, bound to its scope and key): for responses that hold a
   * secret shown once, such as a new API key, so the database never holds it in the clear.
   */
  sealWith?: KeyRing;
};

const sealedAad = (scope: string, key: string) => `idempotency:${scope}:${key}`;

function scopeOf(req: FastifyRequest): string {
  const p = req.principal;
  if (!p) throw new Error('idempotency needs an authenticated request');
  return p.kind === 'workspace' ? p.workspaceId : `operator:${p.keyId}`;
}

/** Runs `create` in a transaction, honouring the request's Idempotency-Key header if it has one. */
export async function idempotent(
  db: Db,
  req: FastifyRequest,
  reply: FastifyReply,
  create: (tx: Tx) => Promise<Created>,
  opts: IdempotencyOptions = {},
): Promise<FastifyReply> {
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
      const sealed = (previous.response as { sealed?: unknown } | null)?.sealed;
      const body = typeof sealed === 'string' && opts.sealWith ? openJson(opts.sealWith, Buffer.from(sealed, 'base64'), sealedAad(scope, key)) : previous.response;
      return { replayed: true, status: previous.status_code, body };
    }
    const result = await create(tx);
    const stored = opts.sealWith ? { sealed: sealJson(opts.sealWith, result.body, sealedAad(scope, key)).toString('base64') } : result.body;
    await tx.query('UPDATE idempotency_keys SET status_code = $3, response = $4 WHERE scope = $1 AND key = $2', [
      scope,
      key,
      result.status,
      JSON.stringify(stored),
    ]);
    return { replayed: false, ...result };
  });
  if (outcome.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(outcome.status).send(outcome.body);
}
