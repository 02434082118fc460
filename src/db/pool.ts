import pg from 'pg';

// Bigint counts (count(*)) come back as numbers; they never exceed 2^53 here.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

export type Db = pg.Pool;
export type Tx = pg.PoolClient;
/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export function createPool(connectionString: string, max = 20): Db {
  const pool = new pg.Pool({ connectionString, max, application_name: 'crier' });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => undefined);
  return pool;
}

export async function withTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await db.connect();
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Several reads that must agree with each other (a post and its publications): one snapshot, so a result
 * committed between two statements cannot show a post "publishing" beside publications already published.
 */
export function withSnapshot<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return withTransaction(db, fn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}
