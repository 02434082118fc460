// Did an earlier attempt publish on the Page? (design.md rule 1). Facebook has no idempotency key and no
// field to mark a post with, so Crier uses what each kind of post leaves behind:
// - Photos: they are uploaded unpublished first and their ids saved; a post carrying those photo ids is
//   this publication's, whatever its text (exact).
// - A reel or a video story: the video id is saved before the publishing call; the video's publishing
//   phase (or the Page's stories) says whether that call arrived (exact).
// - A photo story: the Page's stories list the photo id they show (exact).
// - Text and link posts, and Page videos (whose id comes only in the lost answer): the Page's posts
//   (/published_posts) or videos published since the call left, matched by message (and link). Limits:
//   50 most recent; a post deleted meanwhile is not found; a post with the same text made by hand in that
//   window may be taken for Crier's (Facebook refuses an identical consecutive status anyway, #506); a video
//   without a description matches the first video without one in the window.
import { idTimestampMs } from '../../lib/ids.js';
import { ok, type Result } from '../../lib/result.js';
import { json, parseGraphTime } from '../meta/graph.js';
import type { ConnectorError, PublicationDraft, Published } from '../types.js';
import type { FacebookCredentials } from './auth.js';
import * as client from './client.js';
import { base, derivedUrl, newRun, optionsOf, pageOf, type Ctx, type FacebookState, type Run, type VideoNode } from './publish.js';
import { absolutePermalink } from '../meta/graph.js';

// Allowance for clock skew between Crier and Facebook.
const SKEW_MS = 2 * 60_000;

type Attachment = { media_type?: string; url?: string; target?: { id?: string }; subattachments?: { data?: Attachment[] } };
type Listed = { id: string; message?: string; created_time?: string; permalink_url?: string; attachments?: { data?: Attachment[] } };

function photoIdsOf(p: Listed): string[] {
  const out: string[] = [];
  for (const a of p.attachments?.data ?? []) {
    if (a.subattachments?.data?.length) out.push(...a.subattachments.data.map((s) => s.target?.id).filter((x): x is string => !!x));
    else if (a.media_type === 'photo' && a.target?.id) out.push(a.target.id);
  }
  return out;
}

const same = (a: string | undefined, b: string | undefined) => (a ?? '').trim() === (b ?? '').trim();

/**
 * The id of this publication's feed post (or Page video) on the Page, published at or after `sinceMs`,
 * or null. Videos are matched among the Page's videos; posts with photos by the photo ids.
 */
export async function findPost(run: Run, sinceMs: number): Promise<Result<string | null, ConnectorError>> {
  const ctx = run.s.ctx;
  const { draft } = run;
  const since = sinceMs - SKEW_MS;
  if (draft.media[0]?.kind === 'video') {
    const r = await json<{ data?: VideoNode[] }, FacebookCredentials>(run.s, (t) => client.pageVideos(base(run), t, pageOf(run), ctx.signal));
    if (!r.ok) return r;
    const hit = (r.value.data ?? [])
      .filter((v) => !(parseGraphTime(v.created_time) < since) && same(v.description, draft.text))
      .sort((a, b) => parseGraphTime(a.created_time) - parseGraphTime(b.created_time))[0];
    return ok(hit?.id ? String(hit.id) : null);
  }
  const r = await json<{ data?: Listed[] }, FacebookCredentials>(run.s, (t) => client.publishedPosts(base(run), t, pageOf(run), Math.floor(since / 1000), ctx.signal));
  if (!r.ok) return r;
  const photos = run.state.photos ?? [];
  const posts = (r.value.data ?? []).sort((a, b) => parseGraphTime(a.created_time) - parseGraphTime(b.created_time));
  if (photos.length > 0) return ok(posts.find((p) => photoIdsOf(p).includes(photos[0]!))?.id ?? null);
  const link = optionsOf(draft).link;
  const hit = posts
    .filter((p) => !(parseGraphTime(p.created_time) < since) && photoIdsOf(p).length === 0 && same(p.message, draft.text))
    .find((p) => !link || (p.attachments?.data ?? []).some((a) => a.url === link || a.media_type === 'link'));
  return ok(hit?.id ?? null);
}

/** The story this publication made: the Page's stories showing its photo or video. */
export async function findStory(run: Run): Promise<Result<string | null, ConnectorError>> {
  const media = run.state.videoId ?? run.state.photos?.[0];
  if (!media) return ok(null);
  const r = await json<{ data?: { post_id?: string; media_id?: string }[] }, FacebookCredentials>(run.s, (t) => client.pageStories(base(run), t, pageOf(run), run.s.ctx.signal));
  if (!r.ok) return r;
  const hit = (r.value.data ?? []).find((s) => s.media_id === media);
  return ok(hit?.post_id ? String(hit.post_id) : null);
}

function createdAt(draft: PublicationDraft): number {
  try {
    return idTimestampMs(draft.publicationId);
  } catch {
    return Date.now() - 24 * 3_600_000; // not a Crier id (a hand-made draft): look at the last day
  }
}

export async function findExisting(ctx: Ctx, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>> {
  const recorded = draft.checkpoint as FacebookState | null;
  const run = newRun(ctx, draft, recorded);
  const st = run.state;
  if (st.postId) return ok({ platformPostId: st.postId, url: st.url ?? derivedUrl(ctx, st.postId) });
  const kind = optionsOf(draft).kind ?? 'feed';
  // Crier's worker saves a checkpoint before every publishing call; one without `sentAt` never sent it. No
  // checkpoint at all (a caller that keeps none) is searched from the publication's creation.
  if (recorded && !st.sentAt) return ok(null);
  const since = st.sentAt ? Date.parse(st.sentAt) : createdAt(draft);
  let postId: string | null = null;
  let url: string | undefined;
  if (kind === 'story') {
    const r = await findStory(run);
    if (!r.ok) return r;
    postId = r.value;
  } else if (kind === 'reel' || (draft.media[0]?.kind === 'video' && st.videoId)) {
    if (!st.videoId) return ok(null);
    const r = await json<VideoNode, FacebookCredentials>(run.s, (t) => client.node(base(run), t, st.videoId!, client.VIDEO_FIELDS, ctx.signal));
    if (!r.ok) return r;
    // Published only once processed: until then the next attempt's publish waits on it (Pending), never re-sends.
    if (r.value.published !== true) return ok(null);
    postId = st.videoId;
    url = kind === 'reel' && !ctx.sandbox ? `https://www.facebook.com/reel/${st.videoId}` : r.value.permalink_url && absolutePermalink(r.value.permalink_url);
  } else {
    const r = await findPost(run, since);
    if (!r.ok) return r;
    postId = r.value;
    if (postId && draft.media[0]?.kind === 'video') {
      // A Page video found by its description: published only once processed.
      await run.save({ videoId: postId });
      const v = await json<VideoNode, FacebookCredentials>(run.s, (t) => client.node(base(run), t, postId!, client.VIDEO_FIELDS, ctx.signal));
      if (!v.ok) return v;
      if (v.value.published !== true) {
        draft.checkpoint = run.state as Record<string, unknown>;
        return ok(null);
      }
      url = v.value.permalink_url && absolutePermalink(v.value.permalink_url);
    } else if (postId) {
      const p = await json<{ permalink_url?: string }, FacebookCredentials>(run.s, (t) => client.node(base(run), t, postId!, 'id,permalink_url', ctx.signal));
      url = p.ok && p.value.permalink_url ? absolutePermalink(p.value.permalink_url) : undefined;
    }
  }
  if (!postId) return ok(null);
  await run.save({ postId, url: url ?? derivedUrl(ctx, postId) });
  draft.checkpoint = run.state as Record<string, unknown>;
  return ok({ platformPostId: postId, url: run.state.url! });
}
