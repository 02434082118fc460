// Reading back whether an earlier attempt published (design.md rule 1). Two layers:
// 1. Within an hour, Mastodon's Idempotency-Key does it on the server: publish.ts sends the same key for
//    the same part of the same publication, and a repeat returns the status already made (publish.ts says
//    what that does not cover).
// 2. Always (and the only way after that hour): the account's recent statuses. Mastodon has no field for a
//    marker of ours, so a status is recognised by what was sent: the status it replies to, the content
//    warning, the number of attachments, then the exact text from GET /api/v1/statuses/:id/source (the
//    listing only has rendered HTML, in which a remote mention has lost its domain). Only statuses created
//    after the attempt's POST left (its checkpoint `sending.at`, less a margin for clock skew) count, so
//    yesterday's identical "Good morning!" is not taken for today's.
// Limits: the last 120 statuses of the account are looked at; a status deleted meanwhile is not found;
// Mastodon removes a status from the listing before its deletion has federated.
import { idTimestampMs } from '../../lib/ids.js';
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorError, PublicationDraft, Published } from '../types.js';
import * as client from './client.js';
import { mapMastodonError } from './errors.js';
import { apiBase, partCount, partText, replyTarget, type Ctx, type MastodonOptions, type MastodonState } from './parts.js';

/** Clocks of Crier and of the instance may differ this much. */
const SKEW_MS = 5 * 60_000;
const PAGE = 40;
const PAGES = 3;

type Status = { id: string; created_at: string; in_reply_to_id: string | null; spoiler_text: string; url: string | null; uri: string; media_attachments: unknown[] };

const norm = (s: string) => s.replace(/\r\n?/g, '\n').trim();

/** A status's URL; `uri` when the instance gives none (never for a local status, but cheap to allow). */
export const urlOf = (s: { url?: string | null; uri?: string }) => s.url || s.uri || '';

async function recent(ctx: Ctx, since: number): Promise<Result<Status[], ConnectorError>> {
  const out: Status[] = [];
  let maxId: string | undefined;
  for (let page = 0; page < PAGES; page++) {
    const sent = await client.accountStatuses(apiBase(ctx), ctx.credentials.accessToken, ctx.credentials.accountId, { limit: PAGE, maxId }, ctx.signal);
    if (!sent.ok) return err({ ...sent.error, outcomeUnknown: false });
    if (sent.value.status !== 200) return err(mapMastodonError(sent.value, ctx.clock.now(), "the account's recent statuses"));
    const batch = Array.isArray(sent.value.body) ? (sent.value.body as Status[]) : [];
    out.push(...batch);
    if (batch.length < PAGE || Date.parse(batch.at(-1)!.created_at) < since) break;
    maxId = batch.at(-1)!.id;
  }
  return ok(out.filter((s) => Date.parse(s.created_at) >= since));
}

/**
 * Part `k` of the publication among the account's statuses created since `sentAt`: replying to `parent`,
 * with the same content warning, attachment count and text. Null when it is not there.
 */
export async function locate(ctx: Ctx, draft: PublicationDraft, k: number, parent: string | null, sentAt: string, exclude: string[]): Promise<Result<Status | null, ConnectorError>> {
  const o = draft.options as MastodonOptions;
  const listed = await recent(ctx, Date.parse(sentAt) - SKEW_MS);
  if (!listed.ok) return listed;
  const media = k === 0 ? draft.media.length : 0;
  const candidates = listed.value.filter(
    (s) => !exclude.includes(s.id) && (s.in_reply_to_id ?? null) === parent && (s.spoiler_text ?? '') === (o.spoiler_text ?? '') && (s.media_attachments?.length ?? 0) === media,
  );
  const want = norm(partText(draft, k));
  // Oldest first: if the same text went out twice, the first one is the publication's.
  for (const s of candidates.reverse()) {
    const src = await client.statusSource(apiBase(ctx), ctx.credentials.accessToken, s.id, ctx.signal);
    if (!src.ok) return err({ ...src.error, outcomeUnknown: false });
    if (src.value.status === 404) continue; // deleted meanwhile
    if (src.value.status !== 200) return err(mapMastodonError(src.value, ctx.clock.now(), `the source of status ${s.id}`));
    const text = (src.value.body as { text?: unknown } | undefined)?.text;
    if (typeof text === 'string' && norm(text) === want) return ok(s);
  }
  return ok(null);
}

/** When the publication was made (its id is time-ordered): nothing of it can be older. */
function createdAt(draft: PublicationDraft): string | undefined {
  try {
    return new Date(idTimestampMs(draft.publicationId)).toISOString();
  } catch {
    return undefined;
  }
}

/**
 * Whether an earlier attempt published the whole publication. Every POST is preceded by a checkpoint
 * naming it (publish.ts), so the checkpoint says which part may be live and since when. Without any
 * checkpoint (a worker always keeps them; a caller that does not), the first status is looked for among
 * those made since the publication was created. A thread cut short reads as not published: publish() then
 * continues it, reading back the one status whose answer it missed.
 */
export async function findExisting(ctx: Ctx, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const state = (draft.checkpoint as MastodonState | null) ?? { posted: [] };
  const total = partCount(draft);
  const posted = [...(state.posted ?? [])];
  let url = state.url;
  const since = draft.checkpoint ? undefined : createdAt(draft);
  const sending = state.sending ?? (since ? { index: 0, at: since } : undefined);
  if (posted.length < total && sending && sending.index === posted.length) {
    const k = posted.length;
    let parent: string | null;
    if (k === 0) {
      const target = await replyTarget(ctx, draft);
      if (!target.ok) return err({ ...target.error, outcomeUnknown: false });
      parent = target.value;
    } else parent = posted[k - 1]!;
    const found = await locate(ctx, draft, k, parent, sending.at, posted);
    if (!found.ok) return found;
    if (found.value) {
      posted.push(found.value.id);
      if (k === 0) url = urlOf(found.value);
    }
  }
  if (posted.length < total || !url) return ok(null);
  return ok({ platformPostId: posted[0]!, url });
}
