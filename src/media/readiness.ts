// Whether a post's media can go to one platform yet: pure, so creating a post (which refuses with a 4xx)
// and the worker settling held publications (which fail them with the reason) decide the same way.
import type { MediaRow, RenditionRow } from '../db/queries/media.js';
import { MEDIA_LIMITS } from './limits.js';
import { planMedia } from './plan.js';
import type { MediaIssue } from './types.js';

/** One entry of posts.media, in order. */
export type PostMediaItem = { media_id: string; alt_text: string | null; adapt: boolean; pad: boolean };

/** Which stored file each media slot sends to a platform (profile null = the original). */
export type PlanEntry = { media_id: string; profile: string | null };

export type Readiness =
  | { state: 'ready'; plan: PlanEntry[] }
  /** Waiting for an upload/ingest (plan null: not known until the file is probed) or for renditions. */
  | { state: 'waiting'; plan: PlanEntry[] | null; renditions: { mediaId: string; profile: string }[] }
  | { state: 'refused'; reason: Refusal };

export type Refusal =
  /** A file is not usable at all (fetch or probe failed, upload never completed, rendition failed). */
  | { kind: 'media'; code: 'MEDIA_FAILED' | 'MEDIA_NOT_READY'; message: string; details: { index: number; media_id: string; code: string; message: string }[] }
  /** The platform's limits refuse the files as they are, and adaptation cannot or may not help. */
  | { kind: 'limits'; issues: MediaIssue[] };

export function mediaReadiness(
  platform: string,
  items: PostMediaItem[],
  media: Map<string, MediaRow>,
  renditions: RenditionRow[],
  opts: { publicUrls: boolean },
): Readiness {
  if (items.length === 0) return { state: 'ready', plan: [] };
  const rows = items.map((i) => media.get(i.media_id)!);
  const broken = rows.flatMap((m, index) =>
    m.status === 'failed' ? [{ index, media_id: m.id, code: m.error?.code ?? 'MEDIA_FAILED', message: m.error?.message ?? 'processing failed' }] : [],
  );
  if (broken.length > 0) {
    return { state: 'refused', reason: { kind: 'media', code: 'MEDIA_FAILED', message: broken.map((b) => `media[${b.index}] ${b.media_id}: ${b.message}`).join('; '), details: broken } };
  }
  const notUploaded = rows.flatMap((m, index) => (m.status === 'awaiting_upload' ? [{ index, media_id: m.id, code: 'MEDIA_NOT_READY', message: 'the upload was never completed (POST /v1/media/{id}/complete)' }] : []));
  if (notUploaded.length > 0) {
    return { state: 'refused', reason: { kind: 'media', code: 'MEDIA_NOT_READY', message: notUploaded.map((b) => `media[${b.index}] ${b.media_id}: ${b.message}`).join('; '), details: notUploaded } };
  }
  if (rows.some((m) => m.status !== 'ready')) return { state: 'waiting', plan: null, renditions: [] };

  const { plans, issues } = planMedia(
    platform,
    rows.map((m, i) => ({ info: m.info!, options: { adapt: items[i]!.adapt, pad: items[i]!.pad } })),
  );
  if (issues.length > 0) return { state: 'refused', reason: { kind: 'limits', issues } };
  const plan: PlanEntry[] = [];
  const limitIssues: MediaIssue[] = [];
  plans.forEach((p, index) => {
    if (p.action === 'refuse') limitIssues.push(...p.issues.map((i) => ({ ...i, index: i.index ?? index })));
    else plan.push({ media_id: items[index]!.media_id, profile: p.action === 'rendition' ? p.profile : null });
  });
  if (limitIssues.length > 0) return { state: 'refused', reason: { kind: 'limits', issues: limitIssues } };
  const limits = MEDIA_LIMITS[platform];
  const pulled = rows.filter((m) => limits?.delivery[m.kind!] === 'pull');
  if (pulled.length > 0 && !opts.publicUrls) {
    // Said now, not discovered as an obscure fetch error on the platform's side.
    const message = `${limits!.name} fetches media from a public URL, and this Crier has none: set CRIER_PUBLIC_URL to the address platforms can reach it at, or store media in S3`;
    return { state: 'refused', reason: { kind: 'limits', issues: [{ code: 'PUBLIC_URL_REQUIRED', message }] } };
  }

  const byKey = new Map(renditions.map((r) => [`${r.media_id}\n${r.profile}`, r]));
  const missing: { mediaId: string; profile: string }[] = [];
  const failed: { index: number; media_id: string; code: string; message: string }[] = [];
  plan.forEach((e, index) => {
    if (e.profile === null) return;
    const r = byKey.get(`${e.media_id}\n${e.profile}`);
    if (r?.status === 'failed') failed.push({ index, media_id: e.media_id, code: r.error?.code ?? 'MEDIA_FAILED', message: `adapting for ${platform} failed: ${r.error?.message ?? 'unknown error'}` });
    else if (r?.status !== 'ready') missing.push({ mediaId: e.media_id, profile: e.profile });
  });
  if (failed.length > 0) {
    return { state: 'refused', reason: { kind: 'media', code: 'MEDIA_FAILED', message: failed.map((b) => `media[${b.index}] ${b.media_id}: ${b.message}`).join('; '), details: failed } };
  }
  return missing.length > 0 ? { state: 'waiting', plan, renditions: missing } : { state: 'ready', plan };
}
