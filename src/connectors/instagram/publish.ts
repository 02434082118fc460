// Publishing on Instagram is container → wait → publish (platforms.md §4): carousel items first
// (is_carousel_item), then the post's own container, then media_publish. Every container id is saved with
// ctx.checkpoint before the next step, so a later attempt (or checkStatus after a Pending) continues from
// there and never creates a container twice; the moment media_publish leaves is saved too (`sentAt`), and
// then the container's status (PUBLISHED or not) says whether it arrived. The 24-hour publishing limit is
// read before publishing (design.md rule 5).
// The first comment is a side effect after the publish. It never makes the publication fail or publish
// again: the media id is checkpointed first, the comment is marked `sending` before it leaves and its
// outcome saved after; a failure is logged and kept in the checkpoint, and the post counts as published.
// A later attempt that finds `sending` without an outcome reads the media's comments before sending again.
import { err, ok, type Result } from '../../lib/result.js';
import { containerError } from '../meta/errors.js';
import { json, mediaUrlMissing, sleep, type Session } from '../meta/graph.js';
import type { ConnectorCtx, ConnectorError, DraftMedia, Pending, PublicationDraft, Published } from '../types.js';
import type { InstagramCredentials } from './auth.js';
import * as client from './client.js';
import { locate } from './readback.js';
import { shapeOf, type InstagramOptions, type PostShape } from './rules.js';

export type Ctx = ConnectorCtx<InstagramCredentials>;
export type S = Session<InstagramCredentials>;

/** What a publication has got so far; saved as its checkpoint and handed over as a Pending ref. */
export type InstagramState = {
  /** Carousel item containers, in order. */
  children?: string[];
  /** The post's own container and when it was made. */
  container?: string;
  containerAt?: string;
  /** When media_publish left (ISO). */
  sentAt?: string;
  mediaId?: string;
  url?: string;
  comment?: { state: 'sending' | 'posted' | 'failed'; id?: string; error?: string };
};

export type Run = { s: S; draft: PublicationDraft; state: InstagramState; save(patch: Partial<InstagramState>): Promise<void> };

export function newRun(ctx: Ctx, draft: PublicationDraft, start: InstagramState | null): Run {
  const run: Run = {
    s: { ctx, refreshed: false, platform: 'Instagram' },
    draft,
    state: { ...(start ?? {}) },
    async save(patch) {
      run.state = { ...run.state, ...patch };
      await ctx.checkpoint(run.state as Record<string, unknown>);
    },
  };
  return run;
}

export const optionsOf = (d: PublicationDraft) => d.options as InstagramOptions;
const ig = (run: Run) => run.s.ctx.credentials.igUserId;
const base = (run: Run) => run.s.ctx.baseUrl;

type Status = { status_code?: string; status?: string };

// How long one attempt waits for containers before handing over to checkStatus: an image is ready at once,
// a video takes longer (Meta suggests polling once a minute), and a worker must not sit on it.
const WAIT_MS = 1_500;
const POLL_MS = 250;
const CHECK_AFTER_MS = { video: 5_000, other: 2_000 };

async function settle(run: Run, ids: string[]): Promise<Result<Map<string, Status>, ConnectorError>> {
  const deadline = Date.now() + WAIT_MS;
  const out = new Map<string, Status>();
  let open = ids;
  for (;;) {
    for (const id of open) {
      const r = await json<Status, InstagramCredentials>(run.s, (t) => client.containerStatus(base(run), t, id, run.s.ctx.signal));
      if (!r.ok) return r;
      out.set(id, r.value);
    }
    open = open.filter((id) => out.get(id)!.status_code === 'IN_PROGRESS');
    if (open.length === 0 || Date.now() + POLL_MS > deadline || run.s.ctx.signal.aborted) return ok(out);
    await sleep(POLL_MS, run.s.ctx.signal);
  }
}

function pending(run: Run): Pending {
  const video = run.draft.media.some((m) => m.kind === 'video');
  return { pending: { ref: run.state as Record<string, unknown>, checkAfterMs: video ? CHECK_AFTER_MS.video : CHECK_AFTER_MS.other, note: 'Instagram is processing the media' } };
}

const urlOf = (m: DraftMedia): Result<string, ConnectorError> => (m.url ? ok(m.url) : err(mediaUrlMissing('Instagram')));

function itemParams(m: DraftMedia): Result<client.ContainerParams, ConnectorError> {
  const url = urlOf(m);
  if (!url.ok) return url;
  return ok(m.kind === 'video' ? { media_type: 'VIDEO', video_url: url.value, is_carousel_item: 'true' } : { image_url: url.value, is_carousel_item: 'true', alt_text: m.alt });
}

function mainParams(run: Run, shape: PostShape): Result<client.ContainerParams, ConnectorError> {
  const o = optionsOf(run.draft);
  const caption = run.draft.text.length > 0 ? run.draft.text : undefined;
  const collaborators = o.collaborators?.length ? JSON.stringify(o.collaborators) : undefined;
  if (shape === 'carousel') return ok({ media_type: 'CAROUSEL', children: run.state.children!.join(','), caption, collaborators });
  const m = run.draft.media[0]!;
  const url = urlOf(m);
  if (!url.ok) return url;
  if (shape === 'story') return ok(m.kind === 'video' ? { media_type: 'STORIES', video_url: url.value } : { media_type: 'STORIES', image_url: url.value });
  if (shape === 'reel') {
    return ok({ media_type: 'REELS', video_url: url.value, caption, collaborators, share_to_feed: o.share_to_feed === false ? 'false' : 'true', thumb_offset: o.thumb_offset === undefined ? undefined : String(o.thumb_offset) });
  }
  return ok({ image_url: url.value, caption, alt_text: m.alt, collaborators });
}

async function create(run: Run, p: client.ContainerParams): Promise<Result<string, ConnectorError>> {
  const clean = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as client.ContainerParams;
  const r = await json<{ id?: unknown }, InstagramCredentials>(run.s, (t) => client.createContainer(base(run), t, ig(run), clean, run.s.ctx.signal));
  if (!r.ok) return r;
  if (typeof r.value.id !== 'string' && typeof r.value.id !== 'number') return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Instagram made a container without answering its id', retryable: true });
  return ok(String(r.value.id));
}

type Quota = { data?: { quota_usage?: number; config?: { quota_total?: number } }[] };

/** The rolling 24-hour publishing limit, read before publishing. */
async function checkQuota(run: Run): Promise<Result<void, ConnectorError>> {
  const r = await json<Quota, InstagramCredentials>(run.s, (t) => client.publishingLimit(base(run), t, ig(run), run.s.ctx.signal));
  if (!r.ok) return r;
  const row = r.value.data?.[0];
  const used = row?.quota_usage;
  const total = row?.config?.quota_total;
  if (typeof used === 'number' && typeof total === 'number' && used >= total) {
    // The window rolls: a slot opens when the oldest of those posts turns 24 h old, which the answer does not say.
    return err({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', platformCode: 'content_publishing_limit', message: `this Instagram account has published ${used} of the ${total} posts Instagram allows through its API in 24 hours`, retryable: true, retryAfterMs: 3_600_000 });
  }
  return ok(undefined);
}

/** The first comment, at most once, never a reason for the publication to fail (see the top of this file). */
async function firstComment(run: Run): Promise<void> {
  const text = optionsOf(run.draft).first_comment;
  const mediaId = run.state.mediaId!;
  if (!text || run.state.comment?.state === 'posted' || run.state.comment?.state === 'failed') return;
  if (run.state.comment?.state === 'sending') {
    const listed = await json<{ data?: { id?: string; text?: string }[] }, InstagramCredentials>(run.s, (t) => client.comments(base(run), t, mediaId, run.s.ctx.signal));
    const mine = listed.ok ? listed.value.data?.find((c) => c.text === text) : undefined;
    if (mine?.id) return run.save({ comment: { state: 'posted', id: String(mine.id) } });
    if (!listed.ok) return run.save({ comment: { state: 'failed', error: `could not tell whether the first comment was posted: ${listed.error.message}` } });
  } else await run.save({ comment: { state: 'sending' } });
  const r = await json<{ id?: unknown }, InstagramCredentials>(run.s, (t) => client.comment(base(run), t, mediaId, text, run.s.ctx.signal));
  if (r.ok && (typeof r.value.id === 'string' || typeof r.value.id === 'number')) return run.save({ comment: { state: 'posted', id: String(r.value.id) } });
  const error = r.ok ? 'Instagram answered without a comment id' : r.error.message;
  run.s.ctx.log.warn({ media_id: mediaId, error }, 'the first comment could not be posted; the post itself is published');
  // An answer lost on the way (outcome unknown) stays `sending`, so a later look reads the comments first.
  if (!r.ok && r.error.outcomeUnknown) return;
  await run.save({ comment: { state: 'failed', error } });
}

/** After media_publish: the first comment, then the permalink. */
export async function afterPublish(run: Run): Promise<Result<Published, ConnectorError>> {
  const mediaId = run.state.mediaId!;
  await firstComment(run);
  if (run.state.url) return ok({ platformPostId: mediaId, url: run.state.url });
  const r = await json<{ permalink?: string }, InstagramCredentials>(run.s, (t) => client.media(base(run), t, mediaId, 'id,permalink', run.s.ctx.signal));
  if (!r.ok || !r.value.permalink) {
    // The post is live: a failure here leads to a read-back (the media id is saved), never to a second post.
    const why = r.ok ? 'no permalink in the answer' : r.error.message;
    return err({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: `published on Instagram as ${mediaId}, but its URL could not be read: ${why}`, retryable: true, outcomeUnknown: true });
  }
  await run.save({ url: r.value.permalink });
  return ok({ platformPostId: mediaId, url: r.value.permalink });
}

/** Takes the publication as far as it can go now: Published, Pending (still processing), or an error. */
export async function advance(ctx: Ctx, draft: PublicationDraft, start: InstagramState | null): Promise<Result<Published | Pending, ConnectorError>> {
  const run = newRun(ctx, draft, start);
  const shape = shapeOf(optionsOf(draft), draft.media);
  if (!shape) return err({ category: 'invalid_content', code: 'CONTENT_REJECTED', message: 'these media make no Instagram post (see validation)', retryable: false });
  for (let round = 0; round < 3 && !run.state.mediaId; round++) {
    if (shape === 'carousel' && !run.state.container) {
      while ((run.state.children?.length ?? 0) < draft.media.length) {
        const p = itemParams(draft.media[run.state.children?.length ?? 0]!);
        if (!p.ok) return p;
        const id = await create(run, p.value);
        if (!id.ok) return id;
        await run.save({ children: [...(run.state.children ?? []), id.value] });
      }
      const items = await settle(run, run.state.children!);
      if (!items.ok) return items;
      const bad = [...items.value.entries()].find(([, v]) => v.status_code === 'ERROR' || v.status_code === 'EXPIRED');
      if (bad) {
        const e = containerError(bad[1].status_code as 'ERROR' | 'EXPIRED', bad[1].status, `item ${run.state.children!.indexOf(bad[0]) + 1} of the carousel`);
        // Items that expired, or whose failure may pass, are made again next time.
        if (bad[1].status_code === 'EXPIRED' || e.retryable) await run.save({ children: undefined });
        if (bad[1].status_code === 'EXPIRED') continue;
        return err(e);
      }
      if ([...items.value.values()].some((v) => v.status_code !== 'FINISHED')) return ok(pending(run));
    }
    if (!run.state.container) {
      const p = mainParams(run, shape);
      if (!p.ok) return p;
      const id = await create(run, p.value);
      if (!id.ok) return id;
      await run.save({ container: id.value, containerAt: ctx.clock.now().toISOString() });
    }
    const st = (await settle(run, [run.state.container!]));
    if (!st.ok) return st;
    const status = st.value.get(run.state.container!)!;
    if (status.status_code === 'IN_PROGRESS') return ok(pending(run));
    if (status.status_code === 'EXPIRED') {
      await run.save({ container: undefined, containerAt: undefined, children: undefined, sentAt: undefined });
      continue;
    }
    if (status.status_code === 'ERROR') {
      const e = containerError('ERROR', status.status, shape === 'carousel' ? 'the carousel' : `the ${draft.media[0]!.kind}`);
      if (e.retryable) await run.save({ container: undefined, containerAt: undefined, children: undefined });
      return err(e);
    }
    if (status.status_code === 'PUBLISHED') {
      // An earlier media_publish arrived and its answer was lost: find the post instead of publishing again.
      const found = await locate(run, shape, Date.parse(run.state.sentAt ?? run.state.containerAt!));
      if (!found.ok) return found;
      if (!found.value) return err({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: `Instagram reports container ${run.state.container} as published, but the post is not among the account's recent media`, retryable: true, outcomeUnknown: true });
      await run.save({ mediaId: found.value.id, url: found.value.permalink });
      break;
    }
    if (status.status_code !== 'FINISHED') return err({ category: 'permanent', code: 'PLATFORM_ERROR', platformCode: status.status_code, message: `Instagram reported an unknown container status ${status.status_code}`, retryable: false });
    const quota = await checkQuota(run);
    if (!quota.ok) return quota;
    if (!run.state.sentAt) await run.save({ sentAt: ctx.clock.now().toISOString() });
    const published = await json<{ id?: unknown }, InstagramCredentials>(run.s, (t) => client.publish(base(run), t, ig(run), run.state.container!, ctx.signal));
    if (!published.ok) return published;
    const id = published.value.id;
    if (typeof id !== 'string' && typeof id !== 'number') return err({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: 'Instagram did not answer the id of the published post', retryable: true, outcomeUnknown: true });
    await run.save({ mediaId: String(id) });
  }
  if (!run.state.mediaId) return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Instagram kept expiring the containers; try again', retryable: true });
  return afterPublish(run);
}
