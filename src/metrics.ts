// Prometheus metrics. Counters and the histogram are per process (each role serves /metrics); gauges are
// read from the database at scrape time, so they are right however many workers run.
import client from 'prom-client';
import type { Db } from './db/pool.js';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(db: Db) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'crier_process_' });

  const publishDelay = new client.Histogram({
    name: 'crier_publish_delay_seconds',
    help: 'Time from when a publication was due to when its publish call started (first attempt).',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const outcomes = new client.Counter({
    name: 'crier_publication_outcomes_total',
    help: 'Publication attempts by outcome and platform.',
    labelNames: ['platform', 'outcome'] as const,
    registers: [registry],
  });
  // In flight and retrying are few and counted on every scrape; scheduled can be millions of rows (1M:
  // ~100 ms to count, measured), so that count is refreshed at most once a minute.
  let scheduled = { n: 0, at: 0 };
  new client.Gauge({
    name: 'crier_publications',
    help: 'Publications not yet finished, by status (scheduled refreshed at most once a minute).',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      // One count per status, each matching a partial index (a combined IN (...) filter would scan the table).
      const { rows } = await db.query<{ status: string; n: number }>(
        `SELECT 'retrying' AS status, count(*) AS n FROM publications WHERE status = 'retrying'
         UNION ALL SELECT 'publishing', count(*) FROM publications WHERE status = 'publishing'`,
      );
      if (Date.now() - scheduled.at > 60_000) {
        const r = await db.query<{ n: number }>(`SELECT count(*) AS n FROM publications WHERE status = 'scheduled'`);
        scheduled = { n: r.rows[0]!.n, at: Date.now() };
      }
      this.set({ status: 'scheduled' }, scheduled.n);
      for (const s of ['retrying', 'publishing']) this.set({ status: s }, rows.find((r) => r.status === s)?.n ?? 0);
    },
  });
  new client.Gauge({
    name: 'crier_job_queue_depth',
    help: 'Publications due now and not yet picked up by a worker.',
    registers: [registry],
    async collect() {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*) AS n FROM publications WHERE status IN ('scheduled', 'retrying') AND next_attempt_at <= now()`,
      );
      this.set(rows[0]!.n);
    },
  });
  new client.Gauge({
    name: 'crier_publications_overdue',
    help: 'Publications due more than a minute ago and still waiting (no live worker, or accounts blocked).',
    registers: [registry],
    async collect() {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*) AS n FROM publications WHERE status IN ('scheduled', 'retrying') AND next_attempt_at < now() - interval '1 minute'`,
      );
      this.set(rows[0]!.n);
    },
  });
  return { registry, publishDelay, outcomes };
}
