// A post's media and its publications: which file each platform gets, and holding publications until
// those files are ready. Runs when a post is created, edited or scheduled (a refusal answers the request
// with a 4xx) and in the worker once a file or rendition finishes (a refusal fails the held publications
// with the reason) — one decision (src/media/readiness.ts) for both.
import { DUE_CHANNEL, MEDIA_CHANNEL } from '../context.js';
import { getMediaByIds, getRenditions, insertMedia, requestRenditions, type MediaRow } from '../db/queries/media.js';
import { PUB_COLUMNS, type PublicationError, type PublicationRow } from '../db/queries/posts.js';
import { lockPosts, publicationEvent, refreshPostStatuses } from '../db/queries/publications.js';
import { insertEvents } from '../db/queries/events.js';
import type { Queryable } from '../db/pool.js';
import { ApiError, type ErrorDetail } from '../http/errors.js';
import { newId } from '../lib/ids.js';
import { mediaReadiness, type PlanEntry, type PostMediaItem, type Readiness } from '../media/readiness.js';
import type { UrlPolicy } from '../lib/ssrf.js';
import { checkMediaUrl } from './media-files.js';

/** What creating or editing a post needs to know about media on this instance. */
export type PostMediaOptions = { wakeWithinMs: number; urlPolicy: UrlPolicy; publicUrls: boolean };

/** A post's `media` entry as the API takes it: a stored file by id, or a URL Crier fetches once. */
export type MediaInput = { id?: string; url?: string; alt_text?: string; adapt?: boolean; pad?: boolean };

/** Turns the request's media into stored entries; URL entries become media rows the worker ingests. */
export async function resolvePostMedia(
  q: Queryable,
  workspaceId: string,
  input: MediaInput[],
  policy: UrlPolicy,
): Promise<{ items: PostMediaItem[]; kinds: ('image' | 'video')[] }> {
  const problems: ErrorDetail[] = [];
  input.forEach((m, i) => {
    if ((m.id === undefined) === (m.url === undefined)) problems.push({ field: `body.media[${i}]`, message: 'give exactly one of "id" and "url"' });
  });
  if (problems.length > 0) throw new ApiError('VALIDATION_FAILED', problems.map((p) => `${p['field']}: ${p.message}`).join('; '), problems);
  const ids = input.flatMap((m) => (m.id ? [m.id] : []));
  const found = new Map((await getMediaByIds(q, workspaceId, ids, { share: true })).map((m) => [m.id, m]));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length > 0) {
    throw new ApiError('MEDIA_NOT_FOUND', `no media ${missing.join(', ')} in this workspace`, missing.map((id) => ({ field: 'body.media', media_id: id, message: 'not found in this workspace' })));
  }
  const items: PostMediaItem[] = [];
  // A file still to be fetched has no known kind yet: connectors' count rules (e.g. "text or media")
  // only need it to exist; its kind-specific limits are checked once it is probed.
  const kinds = input.map((m) => (m.id ? found.get(m.id)!.kind : null) ?? 'image');
  for (const m of input) {
    let id = m.id;
    if (m.url !== undefined) {
      checkMediaUrl(m.url, policy);
      id = (await insertMedia(q, { id: newId('media'), workspaceId, status: 'processing', source: 'url', sourceUrl: m.url })).id;
    }
    items.push({ media_id: id!, alt_text: m.alt_text ?? null, adapt: m.adapt ?? true, pad: m.pad ?? false });
  }
  if (input.some((m) => m.url !== undefined)) await q.query(`SELECT pg_notify('${MEDIA_CHANNEL}', '')`);
  return { items, kinds };
}

type Target = Pick<PublicationRow, 'id' | 'post_id' | 'workspace_id' | 'account_id' | 'platform' | 'status'>;

async function decide(q: Queryable, workspaceId: string, items: PostMediaItem[], platforms: string[], publicUrls: boolean): Promise<Map<string, Readiness>> {
  const ids = [...new Set(items.map((i) => i.media_id))];
  const media = new Map((await getMediaByIds(q, workspaceId, ids, { share: true })).map((m): [string, MediaRow] => [m.id, m]));
  const renditions = await getRenditions(q, ids);
  return new Map(platforms.map((p) => [p, mediaReadiness(p, items, media, renditions, { publicUrls })]));
}

/**
 * Decides the media of a post's waiting publications (the caller holds the post lock) and holds or releases
 * them. `mode: 'request'` throws the API error a refusal deserves; `'settle'` fails the scheduled ones.
 * Returns true when a publication became due now (the caller wakes the worker).
 */
export async function applyMediaPlans(
  q: Queryable,
  post: { id: string; workspace_id: string; media: PostMediaItem[] },
  mode: 'request' | 'settle',
  publicUrls: boolean,
): Promise<boolean> {
  const { rows: targets } = await q.query<Target & { waiting_for_media: boolean }>(
    `SELECT id, post_id, workspace_id, account_id, platform, status, waiting_for_media FROM publications
     WHERE post_id = $1 AND status IN ('draft', 'scheduled') ORDER BY id`,
    [post.id],
  );
  if (targets.length === 0 || (post.media.length === 0 && !targets.some((t) => t.waiting_for_media))) return false;
  const decisions = await decide(q, post.workspace_id, post.media, [...new Set(targets.map((t) => t.platform))], publicUrls);

  if (mode === 'request') throwRefusals(decisions, targets);
  const refused = targets.filter((t) => decisions.get(t.platform)!.state === 'refused' && t.status === 'scheduled');
  if (refused.length > 0) await failPublications(q, refused, decisions);

  const wanted = [...decisions.values()].flatMap((d) => (d.state === 'waiting' ? d.renditions : []));
  if (wanted.length > 0) {
    await requestRenditions(q, wanted.map((w) => ({ ...w, workspaceId: post.workspace_id })));
    await q.query(`SELECT pg_notify('${MEDIA_CHANNEL}', '')`);
  }
  const rest = targets.filter((t) => !refused.includes(t));
  if (rest.length === 0) return false;
  const plan = (t: Target): PlanEntry[] | null => {
    const d = decisions.get(t.platform)!;
    return d.state === 'refused' ? null : d.plan;
  };
  const { rows } = await q.query<{ due: boolean }>(
    `UPDATE publications p SET waiting_for_media = v.waiting, media_plan = v.plan,
       next_attempt_at = CASE WHEN p.status = 'scheduled' AND NOT v.waiting THEN coalesce(p.next_attempt_at, p.scheduled_at, now()) END,
       updated_at = now()
     FROM unnest($1::text[], $2::boolean[], $3::jsonb[]) AS v(id, waiting, plan)
     WHERE p.id = v.id
     RETURNING (p.status = 'scheduled' AND NOT v.waiting AND p.next_attempt_at <= now()) AS due`,
    [rest.map((t) => t.id), rest.map((t) => decisions.get(t.platform)!.state !== 'ready'), rest.map((t) => JSON.stringify(plan(t)))],
  );
  const due = rows.some((r) => r.due);
  if (due && mode === 'settle') await q.query(`SELECT pg_notify('${DUE_CHANNEL}', '')`);
  return due;
}

function throwRefusals(decisions: Map<string, Readiness>, targets: Target[]): void {
  const details: ErrorDetail[] = [];
  let mediaError: ApiError | undefined;
  for (const [platform, d] of decisions) {
    if (d.state !== 'refused') continue;
    const accountIds = targets.filter((t) => t.platform === platform).map((t) => t.account_id);
    if (d.reason.kind === 'media') {
      mediaError ??= new ApiError(d.reason.code, d.reason.message, d.reason.details.map((x) => ({ field: `body.media[${x.index}]`, ...x })));
    } else {
      for (const issue of d.reason.issues) {
        details.push({ platform, account_ids: accountIds, ...(issue.index !== undefined ? { field: `body.media[${issue.index}]` } : { field: 'body.media' }), ...issue });
      }
    }
  }
  if (mediaError) throw mediaError;
  if (details.length > 0) throw new ApiError('CONTENT_INVALID', details.map((d) => `${d['platform']}: ${d.message}`).join('; '), details);
}

async function failPublications(q: Queryable, targets: Target[], decisions: Map<string, Readiness>): Promise<void> {
  const errorOf = (t: Target): PublicationError => {
    const d = decisions.get(t.platform)!;
    if (d.state !== 'refused') throw new Error('not refused');
    return d.reason.kind === 'media'
      ? { code: 'MEDIA_FAILED', category: 'media_error', message: d.reason.message, retryable: false }
      : { code: 'MEDIA_INVALID', category: 'invalid_content', message: d.reason.issues.map((i) => `${i.code}: ${i.message}`).join('; '), retryable: false };
  };
  const { rows } = await q.query<PublicationRow>(
    `UPDATE publications p SET status = 'failed', error = v.error, waiting_for_media = false, next_attempt_at = NULL,
       finished_at = now(), updated_at = now()
     FROM unnest($1::text[], $2::jsonb[]) AS v(id, error)
     WHERE p.id = v.id AND p.status = 'scheduled'
     RETURNING ${PUB_COLUMNS.split(',').map((c) => `p.${c.trim()}`).join(', ')}`,
    [targets.map((t) => t.id), targets.map((t) => JSON.stringify(errorOf(t)))],
  );
  await insertEvents(q, rows.map((r) => publicationEvent(r)));
  await refreshPostStatuses(q, [...new Set(rows.map((r) => r.post_id))]);
}

/** After files or renditions finished: settles every post holding publications for them. */
export async function settleMediaWaiters(q: Queryable, mediaIds: string[], publicUrls: boolean): Promise<void> {
  const { rows: posts } = await q.query<{ id: string }>(
    `SELECT DISTINCT p.post_id AS id FROM publications p JOIN posts po ON po.id = p.post_id
     WHERE p.waiting_for_media
       AND EXISTS (SELECT 1 FROM jsonb_array_elements(po.media) e WHERE e->>'media_id' = ANY($1))`,
    [mediaIds],
  );
  if (posts.length === 0) return;
  await lockPosts(q, posts.map((p) => p.id));
  const { rows } = await q.query<{ id: string; workspace_id: string; media: PostMediaItem[] }>(`SELECT id, workspace_id, media FROM posts WHERE id = ANY($1) ORDER BY id`, [posts.map((p) => p.id)]);
  for (const post of rows) await applyMediaPlans(q, post, 'settle', publicUrls);
}
