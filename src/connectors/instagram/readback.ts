// Did an earlier attempt publish on Instagram? (design.md rule 1). Instagram has no idempotency key and no
// field Crier could mark a post with. What it offers:
// - The container saved in the checkpoint before media_publish: its status turns PUBLISHED once the post is
//   live (exact: it says whether that publication's post exists). The container does not name the media it
//   became, so the media id is then found among the account's recent media.
// - The account's recent media (GET /{ig-user-id}/media, or /stories for a story), matched by caption,
//   kind (feed, reel, story) and time (since media_publish left, or the container was made).
// Limits: 50 most recent; a post deleted meanwhile is not found; with the container PUBLISHED but the post
// not listed (deleted at once, or a lagging list) the read-back says so as an error, never as "not
// published". Two posts with the same caption (or two stories, which have none) made in the same window
// cannot be told apart, and the earliest is taken. With no checkpoint at all (a caller that keeps none) only
// the caption match is left; a story then cannot be found.
import { idTimestampMs } from '../../lib/ids.js';
import { err, ok, type Result } from '../../lib/result.js';
import { json, parseGraphTime } from '../meta/graph.js';
import type { ConnectorError, PublicationDraft, Published } from '../types.js';
import type { InstagramCredentials } from './auth.js';
import * as client from './client.js';
import { afterPublish, newRun, optionsOf, type Ctx, type InstagramState, type Run } from './publish.js';
import { shapeOf, type PostShape } from './rules.js';

// Allowance for clock skew between Crier and Instagram.
const SKEW_MS = 2 * 60_000;

type Listed = { id: string; caption?: string; timestamp?: string; media_product_type?: string; permalink?: string };

const PRODUCT: Record<PostShape, string> = { image: 'FEED', carousel: 'FEED', reel: 'REELS', story: 'STORY' };

/** This publication's post among the account's recent media, published at or after `sinceMs`; the earliest match. */
export async function locate(run: Run, shape: PostShape, sinceMs: number): Promise<Result<{ id: string; permalink?: string } | null, ConnectorError>> {
  const since = Math.floor((sinceMs - SKEW_MS) / 1000);
  const edge = shape === 'story' ? 'stories' : 'media';
  const r = await json<{ data?: Listed[] }, InstagramCredentials>(run.s, (t) => client.listOwn(run.s.ctx.baseUrl, t, run.s.ctx.credentials.igUserId, edge, since, run.s.ctx.signal));
  if (!r.ok) return r;
  const hit = (r.value.data ?? [])
    .filter((m) => !(parseGraphTime(m.timestamp) < since * 1000))
    .filter((m) => !m.media_product_type || m.media_product_type === PRODUCT[shape])
    .filter((m) => shape === 'story' || (m.caption ?? '').trim() === run.draft.text.trim())
    .sort((a, b) => parseGraphTime(a.timestamp) - parseGraphTime(b.timestamp))[0];
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
 * Whether an earlier attempt published. A publication found published has its first comment completed here
 * when it was never sent (the worker will not call publish again for it).
 */
export async function findExisting(ctx: Ctx, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const recorded = draft.checkpoint as InstagramState | null;
  const run = newRun(ctx, draft, recorded);
  const shape = shapeOf(optionsOf(draft), draft.media);
  if (!shape) return ok(null);
  if (!run.state.mediaId) {
    let since: number;
    if (run.state.container) {
      const st = await json<{ status_code?: string }, InstagramCredentials>(run.s, (t) => client.containerStatus(ctx.baseUrl, t, run.state.container!, ctx.signal));
      if (!st.ok) return st;
      if (st.value.status_code !== 'PUBLISHED') return ok(null);
      since = Date.parse(run.state.sentAt ?? run.state.containerAt ?? new Date(createdAt(draft)).toISOString());
    } else if (!recorded) {
      since = createdAt(draft);
    } else return ok(null); // the checkpoint shows no container was made, so nothing was published
    const found = await locate(run, shape, since);
    if (!found.ok) return found;
    if (!found.value) {
      if (run.state.container) return err({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: `Instagram reports container ${run.state.container} as published, but the post is not among the account's recent media yet`, retryable: true });
      return ok(null);
    }
    await run.save({ mediaId: found.value.id, url: found.value.permalink });
  }
  const done = await afterPublish(run);
  draft.checkpoint = run.state as Record<string, unknown>;
  return done;
}
