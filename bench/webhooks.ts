// Benchmark 5: webhook delivery. A Crier worker (`node --import tsx src/main.ts work`, its own process)
// delivers to a local HTTP receiver in this process that answers 200 at once. Events are written the way
// the publishing core writes them (insertEvents in transactions of 100, `publication.published`), so the
// fan-out trigger creates the deliveries; every endpoint subscribes to all events.
// Scenarios: 1, 10 and 100 endpoints of one workspace. Reported: deliveries per second (first to last
// received), and delivery lag = time received - event created_at (both this machine's clock), p50/p99/max.
// Run: npm run bench:webhooks [-- --quick]
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { insertEvents } from '../src/db/queries/events.js';
import { parseKeyRing, sealJson } from '../src/lib/crypto.js';
import { newId } from '../src/lib/ids.js';
import { endpointSecretAad } from '../src/webhooks/delivery.js';
import { newSigningSecret } from '../src/webhooks/signing.js';
import { QUICK, benchEnv, freshDatabase, main, report, sleep, spawnCrier, stats } from './lib.js';

type Scenario = { endpoints: number; events: number };
const SCENARIOS: Scenario[] = QUICK
  ? [{ endpoints: 1, events: 300 }, { endpoints: 10, events: 100 }, { endpoints: 100, events: 10 }]
  : [{ endpoints: 1, events: 3000 }, { endpoints: 10, events: 1000 }, { endpoints: 100, events: 100 }];

async function receiver() {
  const got: { at: number; created: number }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      got.push({ at, created: Date.parse((JSON.parse(Buffer.concat(chunks).toString()) as { created_at: string }).created_at) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

async function scenario(s: Scenario) {
  const db = await freshDatabase(`wh${s.endpoints}`);
  const env = benchEnv(db, { CRIER_ALLOW_PRIVATE_URLS: 'true', CRIER_SANDBOX: 'false', CRIER_WORKER_POLL_MS: '1000' });
  const ring = parseKeyRing(env['CRIER_ENCRYPTION_KEYS']!);
  const rx = await receiver();
  const sql = new pg.Pool({ connectionString: db.url, max: 4 });
  const worker = await spawnCrier('work', env);
  try {
    const workspaceId = newId('workspace');
    await sql.query(`INSERT INTO workspaces (id, name) VALUES ($1, 'bench')`, [workspaceId]);
    for (let i = 0; i < s.endpoints; i++) {
      const id = newId('webhook');
      await sql.query('INSERT INTO webhook_endpoints (id, workspace_id, url, secret) VALUES ($1, $2, $3, $4)', [id, workspaceId, `${rx.url}/e${i}`, sealJson(ring, newSigningSecret(), endpointSecretAad(id))]);
    }
    const total = s.events * s.endpoints;
    const started = Date.now();
    for (let done = 0; done < s.events; done += 100) {
      const batch = Array.from({ length: Math.min(100, s.events - done) }, (_, i) => ({ workspaceId, type: 'publication.published', data: { n: done + i } }));
      const c = await sql.connect();
      try {
        await c.query('BEGIN');
        await insertEvents(c, batch);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
    }
    const written = Date.now() - started;
    const deadline = Date.now() + 600_000;
    while (rx.got.length < total && Date.now() < deadline) await sleep(100);
    const first = Math.min(...rx.got.map((g) => g.at));
    const last = Math.max(...rx.got.map((g) => g.at));
    const lag = stats(rx.got.map((g) => g.at - g.created));
    const { rows } = await sql.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status');
    return {
      endpoints: s.endpoints,
      events: s.events,
      deliveries: total,
      received: rx.got.length,
      statuses: Object.fromEntries(rows.map((r) => [r.status, r.n])),
      events_written_ms: written,
      deliveries_per_s: Math.round((rx.got.length / Math.max(1, last - first)) * 1000),
      lag_ms: lag,
    };
  } finally {
    await worker.stop();
    await sql.end();
    await rx.close();
    await db.drop();
  }
}

main(async () => {
  const results = [];
  for (const s of SCENARIOS) {
    const r = await scenario(s);
    results.push(r);
    console.log(`${r.endpoints} endpoint(s): ${r.received}/${r.deliveries} delivered, ${r.deliveries_per_s}/s, lag p50 ${r.lag_ms.p50} ms p99 ${r.lag_ms.p99} ms max ${r.lag_ms.max} ms`);
  }
  report('webhooks', { scenarios: results }, [
    '| endpoints | events | deliveries | deliveries/s | lag p50 | lag p99 | lag max |',
    '|---|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.endpoints} | ${r.events} | ${r.deliveries} | ${r.deliveries_per_s} | ${r.lag_ms.p50} ms | ${r.lag_ms.p99} ms | ${r.lag_ms.max} ms |`),
  ]);
});
