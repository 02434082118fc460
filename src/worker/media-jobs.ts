// Media work in the worker: fetching files given by URL (once, through the SSRF guard) and making
// renditions (image and video adaptation), with a concurrency limit, leases (a dead worker's job is taken
// over when its lease expires) and progress. Each finished job settles the posts waiting for it.
import { createReadStream } from 'node:fs';
import type { AppContext } from '../context.js';
import { withTransaction } from '../db/pool.js';
import { getMedia, type MediaRow, type RenditionRow } from '../db/queries/media.js';
import { withTempFile } from '../media/context.js';
import { renderImage } from '../media/adapt-image.js';
import { renderVideo } from '../media/adapt-video.js';
import { downloadToFile, MediaFetchError } from '../media/fetch-url.js';
import { canServePublicUrls, failMedia, recordProbe, urlPolicy } from '../services/media-files.js';
import { settleMediaWaiters } from '../services/post-media.js';

const MAX_INGEST_ATTEMPTS = 3;
const MAX_RENDER_ATTEMPTS = 2;
const PROGRESS_EVERY_MS = 1_000;
/** Worth another try later: timeouts, broken connections, 5xx and 429. A 404 or 403 will not change. */
const retryable = (e: MediaFetchError) => e.code === 'MEDIA_FETCH_TIMEOUT' || (e.code === 'MEDIA_FETCH_FAILED' && (e.status === undefined || e.status >= 500 || e.status === 429));

export type MediaJob = { kind: 'ingest'; media: MediaRow } | { kind: 'render'; rendition: RenditionRow; media: MediaRow };

/** Takes up to `limit` jobs: URL ingests first (posts wait on them), then renditions, oldest first. */
export async function claimMediaJobs(ctx: AppContext, workerId: string, limit: number, leaseMs: number): Promise<MediaJob[]> {
  if (limit <= 0) return [];
  const lease: unknown[] = [workerId, leaseMs, limit];
  const { rows: ingests } = await ctx.db.query<MediaRow>(
    `UPDATE media SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2::double precision / 1000),
       attempts = attempts + 1, updated_at = now()
     WHERE id IN (SELECT id FROM media WHERE status = 'processing' AND source = 'url'
                    AND (lease_expires_at IS NULL OR lease_expires_at < now())
                  ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    lease,
  );
  const jobs: MediaJob[] = ingests.map((media) => ({ kind: 'ingest', media }));
  if (jobs.length >= limit) return jobs;
  const { rows: renders } = await ctx.db.query<RenditionRow>(
    `UPDATE media_renditions SET status = 'processing', lease_owner = $1, progress = 0,
       lease_expires_at = now() + make_interval(secs => $2::double precision / 1000), attempts = attempts + 1, updated_at = now()
     WHERE (media_id, profile) IN (
       SELECT media_id, profile FROM media_renditions
       WHERE status = 'pending' OR (status = 'processing' AND lease_expires_at < now())
       ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    [workerId, leaseMs, limit - jobs.length],
  );
  for (const rendition of renders) {
    const media = await getMedia(ctx.db, rendition.workspace_id, rendition.media_id);
    if (media) jobs.push({ kind: 'render', rendition, media });
  }
  return jobs;
}

export async function runMediaJob(ctx: AppContext, job: MediaJob, leaseMs: number, signal: AbortSignal): Promise<void> {
  if (job.kind === 'ingest') return ingest(ctx, job.media, signal);
  return render(ctx, job.rendition, job.media, leaseMs, signal);
}

async function ingest(ctx: AppContext, media: MediaRow, signal: AbortSignal): Promise<void> {
  const cfg = ctx.config.media;
  await withTempFile(ctx.media, async (file) => {
    let fetched;
    try {
      fetched = await downloadToFile(media.source_url!, file, {
        policy: urlPolicy(cfg),
        maxBytes: cfg.maxBytes,
        timeoutMs: cfg.fetchTimeoutMs,
        signal,
        userAgent: 'Crier media fetcher (+https://github.com/crier)',
      });
    } catch (error) {
      if (!(error instanceof MediaFetchError)) throw error;
      if (retryable(error) && media.attempts < MAX_INGEST_ATTEMPTS && !signal.aborted) {
        // Let the lease run out a little later than now, so the next try waits (5 s, 20 s…).
        await ctx.db.query(`UPDATE media SET lease_expires_at = now() + make_interval(secs => $2), updated_at = now() WHERE id = $1`, [media.id, 5 * 4 ** (media.attempts - 1)]);
        return;
      }
      await failMedia(ctx, media.id, { code: error.code, message: error.message });
      return;
    }
    await ctx.media.storage.put(media.storage_key, createReadStream(file), { contentType: fetched.contentType ?? 'application/octet-stream', size: fetched.size });
    await recordProbe(ctx, media, file, { throwOnFailure: false, filename: fetched.filename });
  });
}

async function render(ctx: AppContext, r: RenditionRow, media: MediaRow, leaseMs: number, signal: AbortSignal): Promise<void> {
  const fence = [r.media_id, r.profile];
  try {
    const info = await withTempFile(ctx.media, (input) =>
      withTempFile(ctx.media, async (output) => {
        await ctx.media.storage.download(media.storage_key, input);
        let last = 0;
        const onProgress = (fraction: number) => {
          const now = Date.now();
          if (now - last < PROGRESS_EVERY_MS) return;
          last = now;
          // Progress doubles as the lease heartbeat, so a long transcode keeps its job.
          ctx.db
            .query(
              `UPDATE media_renditions SET progress = $3, lease_expires_at = now() + make_interval(secs => $4::double precision / 1000)
               WHERE media_id = $1 AND profile = $2 AND status = 'processing'`,
              [...fence, Math.min(1, Math.max(0, fraction)), leaseMs],
            )
            .catch(() => undefined);
        };
        const out = media.kind === 'video' ? await renderVideo(input, r.profile, output, { signal, onProgress }) : await renderImage(input, r.profile, output);
        await ctx.media.storage.put(r.storage_key, createReadStream(output), { contentType: out.mimeType, size: out.size });
        return out;
      }),
    );
    await withTransaction(ctx.db, async (tx) => {
      await tx.query(
        `UPDATE media_renditions SET status = 'ready', info = $3, progress = 1, error = NULL, lease_owner = NULL, lease_expires_at = NULL,
           ready_at = now(), updated_at = now() WHERE media_id = $1 AND profile = $2`,
        [...fence, JSON.stringify(info)],
      );
      await settleMediaWaiters(tx, [r.media_id], canServePublicUrls(ctx));
    });
  } catch (error) {
    if (signal.aborted) return; // shutting down: the lease runs out and another worker starts over
    const retry = r.attempts < MAX_RENDER_ATTEMPTS;
    ctx.log.warn({ err: error, media_id: r.media_id, profile: r.profile, retry }, 'rendition failed');
    await withTransaction(ctx.db, async (tx) => {
      await tx.query(
        `UPDATE media_renditions SET status = $3, error = $4, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
         WHERE media_id = $1 AND profile = $2`,
        [...fence, retry ? 'pending' : 'failed', JSON.stringify({ code: 'MEDIA_PROCESSING_FAILED', message: (error as Error).message.slice(0, 1000) })],
      );
      if (!retry) await settleMediaWaiters(tx, [r.media_id], canServePublicUrls(ctx));
    });
  }
}
