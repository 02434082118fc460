// With REDIS_URL, API processes share one per-key budget.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startCrier, type Crier } from '../src/boot.js';
import { client, startTestCrier, testEnv, type TestCrier } from './support/harness.js';
import pino from 'pino';

const REDIS = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const reachable = await new Promise<boolean>((resolve) => {
  const { hostname, port } = new URL(REDIS);
  const s = net.connect({ host: hostname, port: Number(port || 6379) }, () => {
    s.end();
    resolve(true);
  });
  s.on('error', () => resolve(false));
});
if (!reachable) console.warn(`rate-limit-redis: skipped, no Redis at ${REDIS}`);

describe.skipIf(!reachable)('rate limits shared through Redis', () => {
  let a: TestCrier;
  let b: Crier;
  beforeAll(async () => {
    const env = { REDIS_URL: REDIS, CRIER_RATE_LIMIT_PER_MINUTE: '6' };
    a = await startTestCrier({ env, role: 'serve' });
    // A second API process on the same database and Redis, with the same encryption keys.
    const config = loadConfig({ ...testEnv(a.db, a.sandbox.url, env), CRIER_ENCRYPTION_KEYS: a.config.encryptionKeys! });
    b = await startCrier(config, 'serve', { log: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('counts requests to both processes against one budget per key', async () => {
    const ws = await a.workspace();
    const viaA = client(a.url, ws.key);
    const viaB = client(b.url, ws.key);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await (i % 2 ? viaB : viaA).get('/v1/accounts')).status);
    expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    const limited = await viaB.get('/v1/accounts');
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
