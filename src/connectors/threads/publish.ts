// Publishing on Threads is container → wait → publish, once per post of a thread (platforms.md §5): carousel
// items first (is_carousel_item), then the post's own container, then threads_publish. Every id Threads
// hands out is saved with ctx.checkpoint before the next step, so a later attempt (or checkStatus after a
// Pending) continues from there and never creates a published container twice. Only threads_publish makes
// anything visible; when its answer is lost, the container's status (PUBLISHED or not) says what happened.
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError, DraftMedia, Pending, PublicationDraft, Published } from '../types.js';
import type { ThreadsCredentials } from './auth.js';
import * as client from './client.js';
import { containerError, isTokenError, mapGraphError } from './errors.js';
import { locate } from './readback.js';

export type Ctx = ConnectorCtx<ThreadsCredentials>;

/** What a publication has got so far; saved as its checkpoint and handed over as a Pending ref. */
export type ThreadsState = {
  /** Media ids published so far: the main post first, then each reply of the thread. */
  posted: string[];
  /** The main post's permalink once known. */
  url?: string;
  /** Carousel items of the main post, created but not yet used by a published container. */
  children?: string[];
  /** The container of the next post (number `posted.length`) and when it was created. */
  current?: { container: string; createdAt: string };
};

export type ThreadsOptions = { text?: string; thread?: { text: string }[]; reply_to?: string; reply_control?: string; topic_tag?: string };

/** One post of the publication: the main one (index 0) or a reply of the thread. */
export type Part = { index: number; text: string; media: DraftMedia[]; replyTo?: string; replyControl?: string; topicTag?: string };

export function partCount(draft: PublicationDraft): number {
  return 1 + ((draft.options as ThreadsOptions).thread?.length ?? 0);
}

/** Post number `k`; a reply of the thread answers the post before it, so its parent comes from `posted`. */
export function partAt(draft: PublicationDraft, posted: string[], k: number): Part {
  const o = draft.options as ThreadsOptions;
  if (k === 0) return { index: 0, text: draft.text, media: draft.media, replyTo: o.reply_to, replyControl: o.reply_control, topicTag: o.topic_tag };
  return { index: k, text: o.thread![k - 1]!.text, media: [], replyTo: posted[k - 1] };
}

export function describe(part: Part): string {
  if (part.index > 0) return `post ${part.index + 1} of the thread`;
  if (part.media.length > 1) return 'the carousel';
  return part.media.length === 1 ? `the ${part.media[0]!.kind}` : 'the post';
}

/** Calls Threads with the account's token; on an expired/invalid token, renews it once (ctx.refresh) and calls again. */
export type Session = { ctx: Ctx; refreshed: boolean };

export async function call(s: Session, fn: (token: string) => Promise<Result<HttpResponse, ConnectorError>>): Promise<Result<HttpResponse, ConnectorError>> {
  const first = await fn(s.ctx.credentials.accessToken);
  if (!first.ok || !isTokenError(first.value) || s.refreshed || !s.ctx.refresh) return first;
  s.refreshed = true;
  const renewed = await s.ctx.refresh();
  if (!renewed.ok) return renewed;
  return fn(renewed.value.accessToken);
}

/** A 200 answer's body, or the classified error. */
export async function json<T>(s: Session, fn: (token: string) => Promise<Result<HttpResponse, ConnectorError>>): Promise<Result<T, ConnectorError>> {
  const r = await call(s, fn);
  if (!r.ok) return r;
  if (r.value.status !== 200) return err(mapGraphError(r.value, s.ctx.clock.now()));
  return ok(r.value.body as T);
}

type Status = { status: string; error_message?: string };

// How long one attempt waits for containers before handing over to checkStatus. Short on purpose: a text or
// image container is usually ready within it; a video takes longer (the docs suggest polling about once a
// minute), and a worker must not sit on it.
const WAIT_MS = 1_500;
const POLL_MS = 250;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** Polls containers until none is IN_PROGRESS or the short wait is over (wall time: tests may fake ctx.clock). */
async function settle(s: Session, ids: string[]): Promise<Result<Map<string, Status>, ConnectorError>> {
  const deadline = Date.now() + WAIT_MS;
  const out = new Map<string, Status>();
  let open = ids;
  for (;;) {
    for (const id of open) {
      const r = await json<Status>(s, (t) => client.containerStatus(s.ctx.baseUrl, t, id, s.ctx.signal));
      if (!r.ok) return r;
      out.set(id, r.value);
    }
    open = open.filter((id) => out.get(id)!.status === 'IN_PROGRESS');
    if (open.length === 0 || Date.now() + POLL_MS > deadline || s.ctx.signal.aborted) return ok(out);
    await sleep(POLL_MS, s.ctx.signal);
  }
}

function mediaParams(m: DraftMedia): Result<client.ContainerParams, ConnectorError> {
  if (!m.url) {
    return err({ category: 'media_error', code: 'MEDIA_FAILED', message: 'Threads fetches media from a public URL and this Crier has none for the file: set CRIER_PUBLIC_URL or use an S3 store', retryable: false });
  }
  const p: client.ContainerParams = m.kind === 'video' ? { media_type: 'VIDEO', video_url: m.url } : { media_type: 'IMAGE', image_url: m.url };
  if (m.alt) p.alt_text = m.alt;
  return ok(p);
}

async function create(s: Session, params: client.ContainerParams): Promise<Result<string, ConnectorError>> {
  const r = await json<{ id?: unknown }>(s, (t) => client.createContainer(s.ctx.baseUrl, t, s.ctx.credentials.userId, params, s.ctx.signal));
  if (!r.ok) return r;
  if (typeof r.value?.id !== 'string' && typeof r.value?.id !== 'number') return err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'Threads created a container without answering its id', retryable: true });
  return ok(String(r.value.id));
}

function mainParams(part: Part, children: string[] | undefined): Result<client.ContainerParams, ConnectorError> {
  let p: client.ContainerParams;
  if (part.media.length > 1) p = { media_type: 'CAROUSEL', children: children!.join(',') };
  else if (part.media.length === 1) {
    const m = mediaParams(part.media[0]!);
    if (!m.ok) return m;
    p = m.value;
  } else p = { media_type: 'TEXT' };
  if (part.text.length > 0) p.text = part.text;
  if (part.replyTo) p.reply_to_id = part.replyTo;
  if (part.replyControl) p.reply_control = part.replyControl;
  if (part.topicTag) p.topic_tag = part.topicTag;
  return ok(p);
}

type Quota = { data?: { quota_usage?: number; config?: { quota_total?: number }; reply_quota_usage?: number; reply_config?: { quota_total?: number } }[] };

/** The 250 posts (1,000 replies) per rolling 24 h, read before publishing (design.md rule 5: known caps are counted first). */
async function checkQuota(s: Session, reply: boolean): Promise<Result<void, ConnectorError>> {
  const r = await json<Quota>(s, (t) => client.publishingLimit(s.ctx.baseUrl, t, s.ctx.credentials.userId, reply, s.ctx.signal));
  if (!r.ok) return r;
  const d = r.value?.data?.[0];
  const [used, total] = reply ? [d?.reply_quota_usage, d?.reply_config?.quota_total] : [d?.quota_usage, d?.config?.quota_total];
  if (typeof used === 'number' && typeof total === 'number' && used >= total) {
    // The window rolls: the next slot opens when the oldest of those posts turns 24 h old, which the quota does not say.
    return err({ category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', platformCode: reply ? 'reply_quota' : 'quota', message: `this Threads profile has published ${used} of the ${total} ${reply ? 'replies' : 'posts'} Threads allows in 24 hours`, retryable: true, retryAfterMs: 3_600_000 });
  }
  return ok(undefined);
}

export async function permalink(s: Session, mediaId: string): Promise<Result<string, ConnectorError>> {
  const r = await json<{ permalink?: string }>(s, (t) => client.mediaObject(s.ctx.baseUrl, t, mediaId, 'id,permalink', s.ctx.signal));
  if (!r.ok) return r;
  if (!r.value?.permalink) return err({ category: 'transient', code: 'PLATFORM_ERROR', message: `Threads gave no permalink for post ${mediaId}`, retryable: true });
  return ok(r.value.permalink);
}

// Threads suggests checking about once a minute; Crier looks sooner, since most containers finish in seconds.
const CHECK_AFTER_MS = { video: 5_000, other: 2_000 };

function pending(state: ThreadsState, part: Part): Pending {
  const video = part.media.some((m) => m.kind === 'video');
  return { pending: { ref: state as Record<string, unknown>, checkAfterMs: video ? CHECK_AFTER_MS.video : CHECK_AFTER_MS.other, note: `Threads is processing ${describe(part)}` } };
}

/** Takes the publication as far as it can go now: Published, Pending (still processing), or an error. */
export async function advance(ctx: Ctx, draft: PublicationDraft, start: ThreadsState | null): Promise<Result<Published | Pending, ConnectorError>> {
  const s: Session = { ctx, refreshed: false };
  let state: ThreadsState = { ...(start ?? {}), posted: [...(start?.posted ?? [])] };
  const save = async (next: ThreadsState) => {
    state = next;
    await ctx.checkpoint(next as Record<string, unknown>);
  };
  const total = partCount(draft);
  // An error once part of a thread is live says so: the next attempt continues after those posts.
  const failed = (e: ConnectorError) => err(state.posted.length === 0 ? e : { ...e, message: `${e.message} (already published on Threads: ${state.posted.join(', ')}; a retry continues after them)` });
  for (const m of draft.media) {
    const p = mediaParams(m);
    if (!p.ok) return p;
  }
  while (state.posted.length < total) {
    const part = partAt(draft, state.posted, state.posted.length);
    if (!state.current) {
      if (part.media.length > 1) {
        if (!state.children) {
          const made: string[] = [];
          for (const m of part.media) {
            const p = mediaParams(m);
            if (!p.ok) return failed(p.error);
            const id = await create(s, { ...p.value, is_carousel_item: 'true' });
            if (!id.ok) return failed(id.error);
            made.push(id.value);
          }
          await save({ ...state, children: made });
        }
        const items = await settle(s, state.children!);
        if (!items.ok) return failed(items.error);
        const bad = [...items.value.entries()].find(([, v]) => v.status !== 'FINISHED' && v.status !== 'IN_PROGRESS');
        if (bad) {
          const i = state.children!.indexOf(bad[0]);
          const e = containerError(bad[1].status === 'EXPIRED' ? 'EXPIRED' : 'ERROR', bad[1].error_message, `item ${i + 1} of the carousel`);
          // Items that expired, or whose download may work next time, are made again by the next attempt.
          if (bad[1].status === 'EXPIRED' || e.retryable) await save({ ...state, children: undefined });
          if (bad[1].status === 'EXPIRED') continue;
          return failed(e);
        }
        if ([...items.value.values()].some((v) => v.status === 'IN_PROGRESS')) return ok(pending(state, part));
      }
      const params = mainParams(part, state.children);
      if (!params.ok) return failed(params.error);
      const id = await create(s, params.value);
      if (!id.ok) return failed(id.error);
      await save({ ...state, current: { container: id.value, createdAt: ctx.clock.now().toISOString() } });
    }
    const current = state.current!;
    const settled = await settle(s, [current.container]);
    if (!settled.ok) return failed(settled.error);
    const st = settled.value.get(current.container)!;
    if (st.status === 'IN_PROGRESS') return ok(pending(state, part));
    if (st.status === 'EXPIRED') {
      await save({ ...state, current: undefined, children: undefined });
      continue;
    }
    if (st.status === 'ERROR') {
      const e = containerError('ERROR', st.error_message, describe(part));
      if (e.retryable) await save({ ...state, current: undefined, children: undefined });
      return failed(e);
    }
    if (st.status === 'PUBLISHED') {
      // An earlier attempt published it and lost the answer: find the post instead of publishing again.
      const found = await locate(s, part, state.posted, Date.parse(current.createdAt));
      if (!found.ok) return failed(found.error);
      if (!found.value) return failed({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: `Threads reports container ${current.container} as published, but the post is not among the account's recent posts`, retryable: true, outcomeUnknown: true });
      await save({ ...state, posted: [...state.posted, found.value.id], url: part.index === 0 ? found.value.permalink : state.url, current: undefined, children: undefined });
      continue;
    }
    if (st.status !== 'FINISHED') return failed({ category: 'permanent', code: 'PLATFORM_ERROR', platformCode: st.status, message: `Threads reported an unknown container status ${st.status}`, retryable: false });
    const quota = await checkQuota(s, !!part.replyTo);
    if (!quota.ok) return failed(quota.error);
    const published = await json<{ id?: unknown }>(s, (t) => client.publishContainer(ctx.baseUrl, t, ctx.credentials.userId, current.container, ctx.signal));
    if (!published.ok) return failed(published.error);
    const id = published.value?.id;
    if (typeof id !== 'string' && typeof id !== 'number') {
      // Threads' troubleshooting guide: publishing may not return the media id; the container status tells.
      return failed({ category: 'transient', code: 'OUTCOME_UNKNOWN', message: 'Threads did not return the id of the published post', retryable: true, outcomeUnknown: true });
    }
    await save({ ...state, posted: [...state.posted, String(id)], current: undefined, children: undefined });
  }
  if (!state.url) {
    const url = await permalink(s, state.posted[0]!);
    // The post is live: a failure here must lead to a read-back, never to a second post.
    if (!url.ok) return err({ ...url.error, retryable: true, outcomeUnknown: true, message: `published on Threads as ${state.posted[0]}, but its URL could not be read: ${url.error.message}` });
    await save({ ...state, url: url.value });
  }
  return ok({ platformPostId: state.posted[0]!, url: state.url! });
}
