// The worker's media loop: keeps up to CRIER_MEDIA_CONCURRENCY media jobs running (video transcodes are
// CPU-heavy, so this is apart from the publishing concurrency), woken by NOTIFY on crier_media or a poll.
import type { AppContext } from '../context.js';
import { startJobLoop, type JobLoop } from './job-loop.js';
import { claimMediaJobs, runMediaJob } from './media-jobs.js';

/** Long enough for a slow fetch; renditions renew it with their progress. */
const MEDIA_LEASE_MS = 5 * 60_000;

export type MediaLoop = JobLoop;

export function startMediaLoop(ctx: AppContext, workerId: string, log: AppContext['log']): MediaLoop {
  return startJobLoop({
    name: 'media',
    limit: ctx.config.media.concurrency,
    pollMs: Math.max(200, Math.min(ctx.config.worker.pollMs, 2_000)),
    log,
    claim: (free) => claimMediaJobs(ctx, workerId, free, MEDIA_LEASE_MS),
    run: (job, shutdown) => runMediaJob(ctx, job, MEDIA_LEASE_MS, shutdown),
    describe: (job) => ({ job: job.kind, media_id: job.media.id }),
  });
}
