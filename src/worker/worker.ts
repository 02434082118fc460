// The publishing worker: claims due publications, runs them with bounded concurrency, writes results in
// batches, and sleeps exactly until the next due time (or a NOTIFY from the API, or a finished slot).
import pg from 'pg';
import type { AppContext } from '../context.js';
import { DUE_CHANNEL, MEDIA_CHANNEL, WEBHOOK_CHANNEL } from '../context.js';
import { newId } from '../lib/ids.js';
import type { Metrics } from '../metrics.js';
import { claimDue, nextDueAt, type ClaimedJob } from './claim.js';
import { writeResults } from './results.js';
import { runPublication, type RunResult } from './run.js';
import { startMediaLoop } from './media-loop.js';
import { startWebhookLoop } from './webhook-loop.js';
import { sweep } from './sweeper.js';

const CLAIM_BATCH = 100;
const FLUSH_AT = 100;
const FLUSH_AFTER_MS = 15;
const CONCURRENT_WRITES = 4;
const HEARTBEAT_MS = 5_000;
const SHUTDOWN_GRACE_MS = 10_000;

export type Worker = { id: string; stop(): Promise<void> };

export async function startWorker(ctx: AppContext, metrics?: Metrics): Promise<Worker> {
  const id = newId('worker');
  const log = ctx.log.child({ worker_id: id });
  const cfg = ctx.config.worker;
  const shutdown = new AbortController();
  let stopping = false;
  let inflight = 0;
  let wake: () => void = () => undefined;
  // Set by every wake-up, so one that arrives while the loop is busy is not lost.
  let dirty = false;
  const wakeUp = () => {
    dirty = true;
    wake();
  };

  // Results wait a few milliseconds so a burst is written in few transactions, and several batches are
  // written at once: a publication's concurrency slot frees only when its result is written, so one slow
  // write must not hold every slot. Concurrent writes cannot deadlock (each locks its posts in id order).
  let pending: RunResult[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  const writes = new Set<Promise<void>>();
  const flush = (): void => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    if (pending.length === 0 || writes.size >= CONCURRENT_WRITES) return;
    const batch = pending;
    pending = [];
    const write: Promise<void> = retrying(() => writeResults(ctx, id, batch, metrics))
      .catch((error) => log.error({ err: error, publications: batch.map((b) => b.job.id) }, 'writing results failed; the sweeper will recover these'))
      .finally(() => {
        writes.delete(write);
        inflight -= batch.length;
        wakeUp();
        flush(); // results that arrived while every writer was busy
      });
    writes.add(write);
  };
  const onResult = (r: RunResult) => {
    pending.push(r);
    if (pending.length >= FLUSH_AT) flush();
    else flushTimer ??= setTimeout(flush, FLUSH_AFTER_MS);
  };
  const run = (job: ClaimedJob) => {
    runPublication(ctx, job, shutdown.signal, id).then(onResult, (error) => {
      log.error({ err: error, publication_id: job.id }, 'publication run crashed; the sweeper will recover it');
      inflight--;
    });
  };

  await ctx.db.query('INSERT INTO worker_heartbeats (worker_id) VALUES ($1) ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = now()', [id]);
  const heartbeat = setInterval(() => {
    ctx.db.query('UPDATE worker_heartbeats SET last_seen_at = now() WHERE worker_id = $1', [id]).catch((e) => log.warn({ err: e }, 'heartbeat failed'));
  }, HEARTBEAT_MS);
  const sweeper = setInterval(() => {
    sweep(ctx).catch((e) => log.warn({ err: e }, 'sweep failed'));
  }, cfg.sweepIntervalMs);
  const media = startMediaLoop(ctx, id, log);
  const webhooks = startWebhookLoop(ctx, id, log);
  const listener = await listen(ctx, { [DUE_CHANNEL]: wakeUp, [MEDIA_CHANNEL]: () => media.wake(), [WEBHOOK_CHANNEL]: () => webhooks.wake() }, log);

  const loop = (async () => {
    while (!stopping) {
      dirty = false;
      const want = Math.min(CLAIM_BATCH, cfg.concurrency - inflight);
      let claimed = 0;
      if (want > 0) {
        try {
          const jobs = await claimDue(ctx.db, id, want, cfg.leaseMs);
          claimed = jobs.length;
          inflight += jobs.length;
          for (const job of jobs) run(job);
        } catch (error) {
          log.error({ err: error }, 'claim failed');
        }
        if (claimed === want) continue; // more may be due right now
      }
      if (dirty) continue;
      await sleepUntilWoken(want > 0 && claimed < want ? await waitMs(ctx, cfg.pollMs) : cfg.pollMs);
    }
  })();

  function sleepUntilWoken(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (dirty) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = () => undefined;
        resolve();
      }
      wake = done;
    });
  }

  log.info({ concurrency: cfg.concurrency }, 'worker started');
  return {
    id,
    async stop() {
      if (stopping) return;
      stopping = true;
      wakeUp();
      await loop;
      const mediaStopped = media.stop();
      const webhooksStopped = webhooks.stop();
      // Let in-flight publish calls finish; past the grace period abort them (their outcome is then
      // unknown and the next worker reads back before anything is re-posted).
      const deadline = Date.now() + SHUTDOWN_GRACE_MS;
      while (inflight > pending.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      shutdown.abort();
      while (inflight > pending.length) await new Promise((r) => setTimeout(r, 20));
      while (pending.length > 0 || writes.size > 0) {
        flush();
        await Promise.all(writes);
      }
      await mediaStopped;
      await webhooksStopped;
      clearInterval(heartbeat);
      clearInterval(sweeper);
      await listener.close();
      await ctx.db.query('DELETE FROM worker_heartbeats WHERE worker_id = $1', [id]).catch(() => undefined);
      log.info('worker stopped');
    },
  };
}

/** A result write that fails (database restarting) is tried again before the sweeper has to step in. */
async function retrying(write: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/** How long to sleep: until the next due time, at most one poll interval. */
async function waitMs(ctx: AppContext, pollMs: number): Promise<number> {
  try {
    const next = await nextDueAt(ctx.db);
    if (!next) return pollMs;
    const ms = next.getTime() - Date.now();
    // Something is due but could not be claimed (account busy or blocked): wait for a slot or a poll.
    return ms <= 0 ? pollMs : Math.min(pollMs, ms);
  } catch {
    return pollMs;
  }
}

/** LISTEN on a dedicated connection, reconnecting if it drops; polling covers the gap. */
async function listen(ctx: AppContext, handlers: Record<string, () => void>, log: AppContext['log']) {
  let client: pg.Client | undefined;
  let closed = false;
  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: ctx.databaseUrl, application_name: 'crier-listen' });
    c.on('notification', (n) => handlers[n.channel]?.());
    c.on('error', () => {
      client = undefined;
      c.end().catch(() => undefined);
      setTimeout(() => connect().catch(() => undefined), 1000);
    });
    try {
      await c.connect();
      for (const channel of Object.keys(handlers)) await c.query(`LISTEN ${channel}`);
      client = c;
    } catch (error) {
      log.warn({ err: error }, 'LISTEN failed; relying on polling');
      c.end().catch(() => undefined);
      setTimeout(() => connect().catch(() => undefined), 1000);
    }
  };
  await connect();
  return {
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}
