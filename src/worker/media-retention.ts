// Retention: media no post refers to is deleted once it is older than CRIER_MEDIA_RETENTION_HOURS (with
// its renditions and any unfinished multipart upload). Rows go first, in one transaction; stored objects
// after the commit, so a crash in between leaves an orphan object (logged), never a row without its file.
import type { AppContext } from '../context.js';
import { withTransaction } from '../db/pool.js';

const BATCH = 100;

export async function deleteExpiredMedia(ctx: AppContext): Promise<number> {
  const doomed = await withTransaction(ctx.db, async (tx) => {
    // SKIP LOCKED: a post being created holds KEY SHARE on the files it refers to, so they are skipped
    // now and, once that post commits, referenced.
    const { rows: media } = await tx.query<{ id: string; storage_key: string; upload_id: string | null }>(
      `SELECT m.id, m.storage_key, m.upload_id FROM media m
       WHERE m.created_at < now() - make_interval(secs => $1::double precision / 1000)
         AND NOT EXISTS (SELECT 1 FROM posts po WHERE po.media @> jsonb_build_array(jsonb_build_object('media_id', m.id)))
       ORDER BY m.created_at LIMIT $2
       FOR UPDATE SKIP LOCKED`,
      [ctx.config.media.retentionMs, BATCH],
    );
    if (media.length === 0) return { media, renditions: [] as string[] };
    const ids = media.map((m) => m.id);
    const { rows: renditions } = await tx.query<{ storage_key: string }>('DELETE FROM media_renditions WHERE media_id = ANY($1) RETURNING storage_key', [ids]);
    await tx.query('DELETE FROM media WHERE id = ANY($1)', [ids]);
    return { media, renditions: renditions.map((r) => r.storage_key) };
  });
  const { storage } = ctx.media;
  for (const m of doomed.media) {
    if (m.upload_id) await storage.abortMultipart(m.storage_key, m.upload_id).catch(() => undefined);
  }
  for (const key of [...doomed.media.map((m) => m.storage_key), ...doomed.renditions]) {
    await storage.delete(key).catch((error) => ctx.log.warn({ err: error, key }, 'retention could not delete a stored file; it is now an orphan'));
  }
  if (doomed.media.length > 0) ctx.log.info({ deleted: doomed.media.length }, 'deleted media no post refers to (retention)');
  return doomed.media.length;
}
