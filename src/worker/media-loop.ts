// The worker's media loop: keeps up to CRIER_MEDIA_CONCURRENCY media jobs running (video transcodes are
// CPU-heavy, so this is apart from the publishing concurrency), woken by NOTIFY on crier_media or a poll.
import type { AppContext } from '../context.js';
import { claimMediaJobs, runMediaJob } from './media-jobs.js';

/** Long enough for a slow fetch; renditions renew it with their progress. */
const MEDIA_LEASE_MS = 5 * 60_000;

export type MediaLoop = { wake(): void; stop(): Promise<void> };

export function startMediaLoop(ctx: AppContext, workerId: string, log: AppContext['log']): MediaLoop {
  const limit = ctx.config.media.concurrency;
  const pollMs = Math.max(200, Math.min(ctx.config.worker.pollMs, 2_000));
  const shutdown = new AbortController();
  const running = new Set<Promise<void>>();
  let stopping = false;
  let dirty = false;
  let wake: () => void = () => undefined;
  const wakeUp = () => {
    dirty = true;
    wake();
  };

  const loop = (async () => {
    while (!stopping) {
      dirty = false;
      const free = limit - running.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const jobs = await claimMediaJobs(ctx, workerId, free, MEDIA_LEASE_MS);
          claimed = jobs.length;
          for (const job of jobs) {
            const p: Promise<void> = runMediaJob(ctx, job, MEDIA_LEASE_MS, shutdown.signal)
              .catch((error) => log.error({ err: error, job: job.kind, media_id: job.media.id }, 'media job crashed; its lease will expire and it is retried'))
              .finally(() => {
                running.delete(p);
                wakeUp();
              });
            running.add(p);
          }
        } catch (error) {
          log.error({ err: error }, 'media claim failed');
        }
      }
      if (dirty || (free > 0 && claimed === free)) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollMs);
        function done() {
          clearTimeout(timer);
          wake = () => undefined;
          resolve();
        }
        wake = done;
      });
    }
  })();

  return {
    wake: wakeUp,
    async stop() {
      stopping = true;
      wakeUp();
      await loop;
      shutdown.abort();
      await Promise.all(running);
    },
  };
}
