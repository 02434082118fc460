// Reading back what an earlier attempt published (design.md rule 1). Threads has no idempotency key and no
// marker field, so Crier relies on two things: the container id saved in the checkpoint before
// threads_publish (its status turns PUBLISHED once the post is live), and the account's own recent posts
// (GET /{user-id}/threads, or /replies for a reply), matched by text, kind, parent and time.
// Limits: only posts published since the container was made (or, with no checkpoint at all, since the
// publication was created) are looked at, 50 at most; a post deleted meanwhile is not found; and when the
// account posted the very same text by hand in that window, either post may be taken for Crier's.
import { idTimestampMs } from '../../lib/ids.js';
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorError, PublicationDraft, Published } from '../types.js';
import * as client from './client.js';
import { json, partAt, partCount, permalink, type Ctx, type Part, type Session, type ThreadsState } from './publish.js';

type Listed = { id: string; text?: string; timestamp?: string; permalink?: string; media_type?: string; replied_to?: { id?: string } };

/** Threads' media_type of a published post, per kind of post Crier makes. */
function mediaTypeOf(part: Part): string {
  if (part.media.length > 1) return 'CAROUSEL_ALBUM';
  if (part.media.length === 1) return part.media[0]!.kind === 'video' ? 'VIDEO' : 'IMAGE';
  return 'TEXT_POST';
}

/** Threads writes "2024-07-05T12:34:56+0000"; Date.parse wants a colon in the offset. */
const parseTimestamp = (t: string | undefined) => (t ? Date.parse(t.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')) : Number.NaN);

// Allowance for clock skew between Crier and Threads when comparing instants.
const SKEW_MS = 5 * 60_000;

/** The account's post that is `part`, published at or after `sinceMs`; the earliest such when several match. */
export async function locate(s: Session, part: Part, posted: string[], sinceMs: number): Promise<Result<{ id: string; permalink?: string } | null, ConnectorError>> {
  const edge = part.replyTo ? 'replies' : 'threads';
  const since = Math.floor((sinceMs - SKEW_MS) / 1000);
  const r = await json<{ data?: Listed[] }>(s, (t) => client.listOwn(s.ctx.baseUrl, t, s.ctx.credentials.userId, edge, since, s.ctx.signal));
  if (!r.ok) return r;
  const kind = mediaTypeOf(part);
  const matches = (r.value?.data ?? [])
    .filter((p) => !posted.includes(p.id))
    .filter((p) => (p.text ?? '').trim() === part.text.trim())
    .filter((p) => !p.media_type || p.media_type === kind)
    .filter((p) => !part.replyTo || p.replied_to?.id === undefined || p.replied_to.id === part.replyTo)
    .filter((p) => !(parseTimestamp(p.timestamp) < since * 1000))
    .sort((a, b) => parseTimestamp(a.timestamp) - parseTimestamp(b.timestamp));
  const hit = matches[0];
  return ok(hit ? { id: String(hit.id), permalink: hit.permalink } : null);
}

function createdAt(draft: PublicationDraft): number {
  try {
    return idTimestampMs(draft.publicationId);
  } catch {
    return Date.now() - 24 * 3_600_000; // not a Crier id (a hand-made draft): look at the last day
  }
}

/**
 * Whether earlier attempts published the whole publication. A thread only partly published is not
 * "existing": what was found is saved (checkpoint, and the draft handed to publish next) and publish goes
 * on after it.
 */
export async function findExisting(ctx: Ctx, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const s: Session = { ctx, refreshed: false };
  const recorded = draft.checkpoint as ThreadsState | null;
  let state: ThreadsState = { ...(recorded ?? {}), posted: [...(recorded?.posted ?? [])] };
  const total = partCount(draft);
  let learned = false;
  while (state.posted.length < total) {
    const part = partAt(draft, state.posted, state.posted.length);
    let since: number;
    if (state.current) {
      const st = await json<{ status?: string }>(s, (t) => client.containerStatus(ctx.baseUrl, t, state.current!.container, ctx.signal));
      if (!st.ok) return st;
      if (st.value?.status !== 'PUBLISHED') break;
      since = Date.parse(state.current.createdAt);
    } else if (!recorded) {
      // No checkpoint at all: Crier's worker always saves the container before publishing, so only a
      // caller that keeps no checkpoints gets here. Search by text since the publication was created.
      since = createdAt(draft);
    } else break; // the checkpoint shows this post's container was never made, so it was never published
    const found = await locate(s, part, state.posted, since);
    if (!found.ok) return found;
    if (!found.value) {
      if (state.current) return err({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: `Threads reports container ${state.current.container} as published, but the post is not among the account's recent posts yet`, retryable: true });
      break;
    }
    state = { ...state, posted: [...state.posted, found.value.id], url: part.index === 0 ? found.value.permalink : state.url, current: undefined, children: undefined };
    learned = true;
  }
  if (learned) {
    await ctx.checkpoint(state as Record<string, unknown>);
    draft.checkpoint = state as Record<string, unknown>;
  }
  if (state.posted.length < total) return ok(null);
  if (state.url) return ok({ platformPostId: state.posted[0]!, url: state.url });
  const url = await permalink(s, state.posted[0]!);
  if (!url.ok) return url;
  return ok({ platformPostId: state.posted[0]!, url: url.value });
}
