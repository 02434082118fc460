// Rows to API objects. Internal columns (lease, reconcile flag, credentials) never leave this file.
import type { AccountRow } from '../db/queries/accounts.js';
import type { MediaRow, RenditionRow } from '../db/queries/media.js';
import type { ApiKeyRow } from '../db/queries/api-keys.js';
import type { PostRow, PublicationRow } from '../db/queries/posts.js';
import type { WorkspaceRow } from '../db/queries/workspaces.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function workspaceView(w: WorkspaceRow) {
  return { id: w.id, name: w.name, requires_approval: w.requires_approval, created_at: iso(w.created_at), updated_at: iso(w.updated_at) };
}

export function apiKeyView(k: ApiKeyRow) {
  return {
    id: k.id,
    workspace_id: k.workspace_id,
    name: k.name,
    scopes: k.scopes,
    display_hint: k.display_hint,
    created_at: iso(k.created_at),
    last_used_at: iso(k.last_used_at),
    revoked_at: iso(k.revoked_at),
  };
}

export function accountView(a: AccountRow) {
  return {
    id: a.id,
    platform: a.platform,
    username: a.username,
    display_name: a.display_name,
    external_id: a.external_id,
    sandbox: a.sandbox,
    kind: a.kind,
    route: a.route,
    status: a.status,
    status_reason: a.status_reason,
    blocked_until: a.blocked_until && a.blocked_until > new Date() ? iso(a.blocked_until) : null,
    auth_expires_at: iso(a.token_expires_at),
    created_at: iso(a.created_at),
    updated_at: iso(a.updated_at),
  };
}

export function publicationView(p: PublicationRow) {
  const waiting = p.status === 'scheduled' || p.status === 'retrying' || p.status === 'processing';
  return {
    id: p.id,
    account_id: p.account_id,
    platform: p.platform,
    status: p.status,
    scheduled_at: iso(p.scheduled_at),
    next_attempt_at: waiting ? iso(p.next_attempt_at) : null,
    attempts: p.attempts,
    waiting_for_media: p.waiting_for_media,
    platform_post_id: p.platform_post_id,
    url: p.platform_url,
    route: p.route,
    error: p.error,
    published_at: iso(p.published_at),
    finished_at: iso(p.finished_at),
    created_at: iso(p.created_at),
    updated_at: iso(p.updated_at),
  };
}

export function postView(post: PostRow, publications: PublicationRow[]) {
  return {
    id: post.id,
    status: post.status,
    text: post.text,
    media: post.media.map((m) => ({ id: m.media_id, alt_text: m.alt_text, adapt: m.adapt, pad: m.pad })),
    options: post.options,
    scheduled_at: iso(post.scheduled_at),
    timezone: post.timezone,
    requires_approval: post.requires_approval,
    approval: post.approval,
    queue: post.queue_id ? { id: post.queue_id, priority: post.priority ?? 'medium', slot_at: iso(post.queue_slot_at), pinned: post.pinned } : null,
    publications: publications.filter((p) => p.post_id === post.id).map(publicationView),
    created_at: iso(post.created_at),
    updated_at: iso(post.updated_at),
  };
}

export type PostView = ReturnType<typeof postView>;

export function mediaView(m: MediaRow, renditions: RenditionRow[]) {
  const i = m.info;
  return {
    id: m.id,
    status: m.status,
    source: m.source,
    source_url: m.source_url,
    filename: m.filename,
    kind: m.kind,
    content_type: m.mime_type,
    size: m.size === null ? null : Number(m.size),
    width: i?.width ?? null,
    height: i?.height ?? null,
    duration_ms: i?.durationMs === undefined ? null : Math.round(i.durationMs),
    video_codec: i?.videoCodec ?? null,
    audio_codec: i?.audioCodec ?? null,
    frame_rate: i?.frameRate ?? null,
    bit_rate: i?.bitRate === undefined ? null : Math.round(i.bitRate),
    sha256: m.sha256,
    error: m.error,
    renditions: renditions
      .filter((r) => r.media_id === m.id)
      .map((r) => ({
        profile: r.profile,
        status: r.status,
        progress: r.progress,
        content_type: r.info?.mimeType ?? null,
        size: r.info?.size ?? null,
        width: r.info?.width ?? null,
        height: r.info?.height ?? null,
        error: r.error,
      })),
    created_at: iso(m.created_at),
    ready_at: iso(m.ready_at),
  };
}

/** Opaque cursors: the last id of the page, so pages stay stable while new rows arrive. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(`v1:${lastId}`).toString('base64url');
}

export function decodeCursor(cursor: string, isValidId: (id: string) => boolean): string | undefined {
  const raw = Buffer.from(cursor, 'base64url').toString();
  if (!raw.startsWith('v1:')) return undefined;
  const id = raw.slice(3);
  return isValidId(id) ? id : undefined;
}
