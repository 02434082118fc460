// A worker loop that keeps up to `limit` jobs running: claims what is due, runs each, and sleeps until
// woken (NOTIFY, a finished job) or the poll interval passes. Media jobs and webhook deliveries use it.
import type { AppContext } from '../context.js';

export type JobLoop = { wake(): void; stop(): Promise<void> };

export function startJobLoop<J>(opts: {
  name: string;
  limit: number;
  pollMs: number;
  log: AppContext['log'];
  claim(free: number): Promise<J[]>;
  run(job: J, shutdown: AbortSignal): Promise<void>;
  describe(job: J): object;
}): JobLoop {
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
      const free = opts.limit - running.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const jobs = await opts.claim(free);
          claimed = jobs.length;
          for (const job of jobs) {
            const p: Promise<void> = opts.run(job, shutdown.signal)
              .catch((error) => opts.log.error({ err: error, ...opts.describe(job) }, `${opts.name} job crashed; its lease will expire and it is retried`))
              .finally(() => {
                running.delete(p);
                wakeUp();
              });
            running.add(p);
          }
        } catch (error) {
          opts.log.error({ err: error }, `${opts.name} claim failed`);
        }
      }
      if (dirty || (free > 0 && claimed === free)) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, opts.pollMs);
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
