// The worker's webhook loop: deliveries run apart from publishing (their own concurrency, their own
// claims), so a slow receiver never delays a post, woken by NOTIFY on crier_webhooks (sent by the
// statement that inserts events and their deliveries) or a poll.
import type { AppContext } from '../context.js';
import { urlPolicy } from '../services/media-files.js';
import { createBatcher } from '../lib/batcher.js';
import { claimDeliveries, deliver, writeOutcomes, type Outcome } from '../webhooks/delivery.js';
import { startJobLoop, type JobLoop } from './job-loop.js';

export function startWebhookLoop(ctx: AppContext, workerId: string, log: AppContext['log']): JobLoop {
  const policy = urlPolicy(ctx.config.media);
  // Outcomes are written in batches (one commit for many deliveries); a delivery's slot frees once its
  // outcome is written. A failed write leaves the leases to expire: the sweeper re-queues those deliveries.
  const outcomes = createBatcher<Outcome>((batch) => writeOutcomes(ctx, workerId, batch), { maxItems: 100, maxWaitMs: 2 });
  return startJobLoop({
    name: 'webhook',
    limit: ctx.config.webhookConcurrency,
    pollMs: Math.max(200, Math.min(ctx.config.worker.pollMs, 1_000)),
    log,
    claim: (free) => claimDeliveries(ctx.db, workerId, free),
    run: async (d, shutdown) => outcomes.add(await deliver(ctx, d, policy, shutdown)),
    describe: (d) => ({ delivery_id: d.id, endpoint_id: d.endpoint_id }),
  });
}
