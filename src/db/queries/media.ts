// Media files and their renditions. Every read of tenant data takes the workspace id.
import type { MediaInfo } from '../../media/types.js';
import type { Queryable } from '../pool.js';

export type MediaStatus = 'awaiting_upload' | 'processing' | 'ready' | 'failed';
export type MediaError = { code: string; message: string };

export type MediaRow = {
  id: string;
  workspace_id: string;
  status: MediaStatus;
  source: 'upload' | 'url';
  source_url: string | null;
  filename: string | null;
  declared_type: string | null;
  declared_size: number | null;
  storage_key: string;
  upload_id: string | null;
  size: number | null;
  sha256: string | null;
  kind: 'image' | 'video' | null;
  mime_type: string | null;
  info: MediaInfo | null;
  error: MediaError | null;
  attempts: number;
  created_at: Date;
  updated_at: Date;
  ready_at: Date | null;
};

export type RenditionRow = {
  media_id: string;
  profile: string;
  workspace_id: string;
  status: 'pending' | 'processing' | 'ready' | 'failed';
  storage_key: string;
  info: MediaInfo | null;
  error: MediaError | null;
  progress: number;
  attempts: number;
  created_at: Date;
  ready_at: Date | null;
};

const MEDIA_COLUMNS = `id, workspace_id, status, source, source_url, filename, declared_type, declared_size, storage_key, upload_id,
  size, sha256, kind, mime_type, info, error, attempts, created_at, updated_at, ready_at`;

export function originalKey(workspaceId: string, mediaId: string): string {
  return `media/${workspaceId}/${mediaId}/original`;
}

export function renditionKey(workspaceId: string, mediaId: string, profile: string): string {
  return `media/${workspaceId}/${mediaId}/${profile}`;
}

export async function insertMedia(
  q: Queryable,
  m: { id: string; workspaceId: string; status: MediaStatus; source: 'upload' | 'url'; sourceUrl?: string; filename?: string | null; declaredType?: string | null; declaredSize?: number | null; uploadId?: string | null },
): Promise<MediaRow> {
  const { rows } = await q.query<MediaRow>(
    `INSERT INTO media (id, workspace_id, status, source, source_url, filename, declared_type, declared_size, storage_key, upload_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${MEDIA_COLUMNS}`,
    [m.id, m.workspaceId, m.status, m.source, m.sourceUrl ?? null, m.filename ?? null, m.declaredType ?? null, m.declaredSize ?? null, originalKey(m.workspaceId, m.id), m.uploadId ?? null],
  );
  return rows[0]!;
}

export async function getMedia(q: Queryable, workspaceId: string, id: string, opts: { lock?: boolean } = {}): Promise<MediaRow | undefined> {
  const { rows } = await q.query<MediaRow>(
    `SELECT ${MEDIA_COLUMNS} FROM media WHERE workspace_id = $1 AND id = $2${opts.lock ? ' FOR NO KEY UPDATE' : ''}`,
    [workspaceId, id],
  );
  return rows[0];
}

/** `share` holds the rows against retention's delete until the caller's transaction ends. */
export async function getMediaByIds(q: Queryable, workspaceId: string, ids: string[], opts: { share?: boolean } = {}): Promise<MediaRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await q.query<MediaRow>(
    `SELECT ${MEDIA_COLUMNS} FROM media WHERE workspace_id = $1 AND id = ANY($2) ORDER BY id${opts.share ? ' FOR KEY SHARE' : ''}`,
    [workspaceId, ids],
  );
  return rows;
}

export async function listMedia(q: Queryable, workspaceId: string, f: { status?: string; before?: string; limit: number }): Promise<MediaRow[]> {
  const { rows } = await q.query<MediaRow>(
    `SELECT ${MEDIA_COLUMNS} FROM media
     WHERE workspace_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR id < $3)
     ORDER BY id DESC LIMIT $4`,
    [workspaceId, f.status ?? null, f.before ?? null, f.limit],
  );
  return rows;
}

export async function markMediaReady(q: Queryable, id: string, p: { size: number; sha256: string; info: MediaInfo; filename?: string | null }): Promise<MediaRow> {
  const { rows } = await q.query<MediaRow>(
    `UPDATE media SET status = 'ready', size = $2, sha256 = $3, kind = $4, mime_type = $5, info = $6, error = NULL,
       filename = coalesce(filename, $7), upload_id = NULL, lease_owner = NULL, lease_expires_at = NULL, ready_at = now(), updated_at = now()
     WHERE id = $1 RETURNING ${MEDIA_COLUMNS}`,
    [id, p.size, p.sha256, p.info.kind, p.info.mimeType, JSON.stringify(p.info), p.filename ?? null],
  );
  return rows[0]!;
}

export async function markMediaFailed(q: Queryable, id: string, error: MediaError): Promise<MediaRow> {
  const { rows } = await q.query<MediaRow>(
    `UPDATE media SET status = 'failed', error = $2, upload_id = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
     WHERE id = $1 RETURNING ${MEDIA_COLUMNS}`,
    [id, JSON.stringify(error)],
  );
  return rows[0]!;
}

/** Whether any post refers to the file (posts.media is indexed with jsonb_path_ops). */
export async function mediaInUse(q: Queryable, mediaId: string): Promise<boolean> {
  const { rows } = await q.query(`SELECT 1 FROM posts WHERE media @> $1::jsonb LIMIT 1`, [JSON.stringify([{ media_id: mediaId }])]);
  return rows.length > 0;
}

export async function getRenditions(q: Queryable, mediaIds: string[]): Promise<RenditionRow[]> {
  if (mediaIds.length === 0) return [];
  const { rows } = await q.query<RenditionRow>(
    `SELECT media_id, profile, workspace_id, status, storage_key, info, error, progress, attempts, created_at, ready_at
     FROM media_renditions WHERE media_id = ANY($1) ORDER BY media_id, profile`,
    [mediaIds],
  );
  return rows;
}

/** Asks for renditions; one that exists already (any status) is reused, never made twice. */
export async function requestRenditions(q: Queryable, wanted: { mediaId: string; workspaceId: string; profile: string }[]): Promise<void> {
  if (wanted.length === 0) return;
  await q.query(
    `INSERT INTO media_renditions (media_id, profile, workspace_id, status, storage_key)
     SELECT m, p, w, 'pending', k FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(m, p, w, k)
     ON CONFLICT (media_id, profile) DO NOTHING`,
    [
      wanted.map((r) => r.mediaId),
      wanted.map((r) => r.profile),
      wanted.map((r) => r.workspaceId),
      wanted.map((r) => renditionKey(r.workspaceId, r.mediaId, r.profile)),
    ],
  );
}
