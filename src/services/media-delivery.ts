// Getting media to platforms: the files a publication sends (original or rendition, per its media plan),
// as streams for platforms that take uploads and as signed, expiring URLs for platforms that pull.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DraftMedia } from '../connectors/types.js';
import type { AppContext } from '../context.js';
import { getMediaByIds, getRenditions, originalKey, renditionKey } from '../db/queries/media.js';
import { ApiError } from '../http/errors.js';
import type { PlanEntry, PostMediaItem } from '../media/readiness.js';

const VARIANT = /^(original|[a-z0-9][a-z0-9-]{0,63})$/;

/**
 * A URL the platform can GET without credentials: the S3 store's presigned GET, or Crier's own signed URL
 * under CRIER_PUBLIC_URL. Null when neither exists (a local store with no public URL).
 */
export async function publicMediaUrl(ctx: AppContext, workspaceId: string, mediaId: string, profile: string | null): Promise<string | null> {
  const ttl = ctx.config.media.urlTtlSec;
  const key = profile ? renditionKey(workspaceId, mediaId, profile) : originalKey(workspaceId, mediaId);
  const presigned = await ctx.media.storage.presignGet(key, ttl);
  if (presigned) return presigned;
  if (!ctx.config.publicUrl) return null;
  const variant = profile ?? 'original';
  const expires = new Date(ctx.clock.now().getTime() + ttl * 1000);
  return `${ctx.config.publicUrl.replace(/\/$/, '')}/media/${mediaId}/${variant}?${ctx.media.signer.sign('download', mediaId, variant, expires)}`;
}

/** The files of one publication, in the post's order, as its connector receives them. */
export async function draftMediaFor(ctx: AppContext, workspaceId: string, items: PostMediaItem[], plan: PlanEntry[] | null): Promise<DraftMedia[]> {
  if (items.length === 0) return [];
  // A publication released from waiting always has a plan; one without is a bug, not something to guess.
  if (!plan || plan.length !== items.length) throw new Error('publication has media but no media plan');
  const ids = items.map((i) => i.media_id);
  const media = new Map((await getMediaByIds(ctx.db, workspaceId, ids)).map((m) => [m.id, m]));
  const renditions = await getRenditions(ctx.db, ids);
  return Promise.all(
    plan.map(async (entry, i) => {
      const m = media.get(entry.media_id);
      if (!m || m.status !== 'ready') throw new Error(`media ${entry.media_id} is not ready`);
      const r = entry.profile ? renditions.find((x) => x.media_id === entry.media_id && x.profile === entry.profile && x.status === 'ready') : undefined;
      if (entry.profile && !r) throw new Error(`rendition ${entry.profile} of ${entry.media_id} is not ready`);
      const info = r?.info ?? m.info!;
      const key = r?.storage_key ?? m.storage_key;
      const draft: DraftMedia = {
        mediaId: m.id,
        kind: info.kind,
        mimeType: info.mimeType,
        size: info.size,
        width: info.width,
        height: info.height,
        durationMs: info.durationMs,
        alt: items[i]!.alt_text ?? undefined,
        open: () => ctx.media.storage.get(key),
        url: await publicMediaUrl(ctx, workspaceId, m.id, entry.profile),
      };
      return draft;
    }),
  );
}

/** GET /media/{id}/{variant}: serves a signed URL's file, with Range for platforms that fetch in parts. */
export async function serveSignedMedia(
  ctx: AppContext,
  req: FastifyRequest<{ Params: { id: string; variant: string }; Querystring: { exp?: string; kid?: string; sig?: string } }>,
  reply: FastifyReply,
): Promise<unknown> {
  const { id, variant } = req.params;
  if (!VARIANT.test(variant) || !ctx.media.signer.verify('download', id, variant, req.query, ctx.clock.now())) {
    throw new ApiError('FORBIDDEN', 'this media URL is invalid or expired');
  }
  const { rows } = await ctx.db.query<{ workspace_id: string; mime_type: string | null; info: unknown }>(
    variant === 'original'
      ? `SELECT workspace_id, mime_type, info FROM media WHERE id = $1 AND status = 'ready'`
      : `SELECT workspace_id, info->>'mimeType' AS mime_type, info FROM media_renditions WHERE media_id = $1 AND profile = $2 AND status = 'ready'`,
    variant === 'original' ? [id] : [id, variant],
  );
  const row = rows[0];
  if (!row) throw new ApiError('NOT_FOUND', 'media not found');
  const key = variant === 'original' ? originalKey(row.workspace_id, id) : renditionKey(row.workspace_id, id, variant);
  const head = await ctx.media.storage.head(key);
  if (!head) throw new ApiError('NOT_FOUND', 'media not found');
  reply.header('accept-ranges', 'bytes').header('content-type', row.mime_type ?? 'application/octet-stream').header('cache-control', 'private, max-age=300');
  const range = parseRange(req.headers.range, head.size);
  if (range === 'unsatisfiable') return reply.code(416).header('content-range', `bytes */${head.size}`).send();
  if (range) {
    reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${head.size}`).header('content-length', range.end - range.start + 1);
    return reply.send(req.method === 'HEAD' ? undefined : await ctx.media.storage.get(key, range));
  }
  reply.header('content-length', head.size);
  return reply.send(req.method === 'HEAD' ? undefined : await ctx.media.storage.get(key));
}

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range; several ranges are answered with the whole file. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = header?.match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start > end || start >= size ? 'unsatisfiable' : { start, end };
}
