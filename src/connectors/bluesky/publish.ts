// Publishing a Bluesky post, or a thread of them: one app.bsky.feed.post record per post, each with its
// facets, the first with its embed (media or a link card) and, with reply_to, a reply to an existing post;
// each follow-up a reply whose root is the thread's root and whose parent is the post before it.
// Never twice: every post of a publication has a record key derived from the publication id (tid.ts), so a
// second attempt can only rewrite the same key, which the PDS refuses (a 500 from its repository tree:
// "There is already a value at key") — the connector then reads that key back and carries on from the post
// it finds. After each post but the last the progress is checkpointed, so a later attempt starts after it.
import { err, ok, type Result } from '../../lib/result.js';
import type { ConnectorCtx, ConnectorError, PublicationDraft, Published } from '../types.js';
import * as client from './client.js';
import { mapXrpcError } from './errors.js';
import { detectFacets, resolveFacets, type DetectedFacet } from './facets.js';
import { linkCardEmbed, type LinkCardOption } from './linkcard.js';
import { embedMedia } from './media.js';
import { isStrongRef, POST_COLLECTION, resolveReplyTarget, type ReplyRef, type StrongRef } from './replies.js';
import { apiBase, withSession, type BlueskyCredentials } from './session.js';
import { tidForPublication } from './tid.js';

export type BlueskyOptions = {
  text?: string;
  langs?: string[];
  thread?: { text: string }[];
  reply_to?: string;
  link_card?: LinkCardOption | false;
};

type Ctx = ConnectorCtx<BlueskyCredentials>;
/** What a thread's earlier attempt saved: the posts published so far, and the root of the thread. */
type Progress = { refs: StrongRef[]; root?: StrongRef };

export function threadTexts(draft: Pick<PublicationDraft, 'text' | 'options'>): string[] {
  const thread = (draft.options as BlueskyOptions).thread ?? [];
  return [draft.text, ...thread.map((item) => item.text)];
}

export function postUrl(ctx: Ctx, rkey: string): string {
  // Sandbox accounts get a page on the simulator; real ones the bsky.app page.
  const web = ctx.sandbox ? ctx.baseUrl.replace(/\/$/, '') : 'https://bsky.app';
  return `${web}/profile/${ctx.credentials.handle}/post/${rkey}`;
}

export async function publishPosts(ctx: Ctx, draft: PublicationDraft): Promise<Result<Published, ConnectorError>> {
  const base = apiBase(ctx);
  const options = draft.options as BlueskyOptions;
  const texts = threadTexts(draft);
  const { refs, root: savedRoot } = readProgress(draft.checkpoint, texts.length);
  let root = savedRoot;
  let replyTo: ReplyRef | undefined;
  if (refs.length === 0 && options.reply_to) {
    const target = await resolveReplyTarget(base, options.reply_to, () => ctx.clock.now(), ctx.signal);
    if (!target.ok) return target;
    replyTo = target.value;
  }
  const resolve = mentionResolver(ctx, base);
  for (let i = refs.length; i < texts.length; i++) {
    const detected = detectFacets(texts[i]!);
    const record: Record<string, unknown> = { $type: POST_COLLECTION, text: texts[i], createdAt: ctx.clock.now().toISOString() };
    if (Array.isArray(options.langs) && options.langs.length > 0) record['langs'] = options.langs;
    const facets = await resolveFacets(detected, resolve);
    if (facets.length > 0) record['facets'] = facets;
    if (i === 0) {
      const embed = await firstPostEmbed(ctx, base, draft, options, detected);
      if (!embed.ok) return embed;
      if (embed.value) record['embed'] = embed.value;
      if (replyTo) record['reply'] = replyTo;
    } else {
      record['reply'] = { root: root ?? refs[0]!, parent: refs[i - 1]! };
    }
    const created = await createPost(ctx, base, tidForPublication(draft.publicationId, i), record);
    if (!created.ok) return err(i === 0 ? created.error : partial(created.error, refs));
    refs.push(created.value);
    if (i === 0) root = replyTo?.root ?? created.value;
    if (i < texts.length - 1) await ctx.checkpoint({ posted: refs.map((r) => r.uri), cids: refs.map((r) => r.cid), root });
  }
  return ok({ platformPostId: refs[0]!.uri, url: postUrl(ctx, tidForPublication(draft.publicationId)) });
}

async function firstPostEmbed(ctx: Ctx, base: string, draft: PublicationDraft, options: BlueskyOptions, detected: DetectedFacet[]): Promise<Result<Record<string, unknown> | undefined, ConnectorError>> {
  const session = (call: Parameters<typeof withSession>[1]) => withSession(ctx, call);
  if (draft.media.length > 0) return embedMedia({ ...ctx, baseUrl: base }, draft.media, session);
  const firstLink = detected.flatMap((d) => ('feature' in d && d.feature.$type === 'app.bsky.richtext.facet#link' ? [d.feature.uri] : []))[0];
  return ok(await linkCardEmbed(ctx, base, options.link_card, firstLink, session));
}

/** Handles to DIDs through the PDS; one that does not resolve (or any failure) leaves the mention as text. */
function mentionResolver(ctx: Ctx, base: string): (handle: string) => Promise<string | undefined> {
  const known = new Map<string, Promise<string | undefined>>();
  return (handle) => {
    if (!known.has(handle)) {
      known.set(handle, (async () => {
        const res = await client.resolveHandle(base, handle, ctx.signal);
        const did = res.ok && res.value.status === 200 ? (res.value.body as { did?: unknown } | undefined)?.did : undefined;
        if (typeof did === 'string' && did.startsWith('did:')) return did;
        ctx.log.info({ handle, reason: res.ok ? `${res.value.status} ${res.value.text.slice(0, 200)}` : res.error.message }, 'bluesky: mention left as text (handle not resolved)');
        return undefined;
      })());
    }
    return known.get(handle)!;
  };
}

/** createRecord at a fixed key; after a 5xx the key is read back, and a record found there is this post. */
async function createPost(ctx: Ctx, base: string, rkey: string, record: Record<string, unknown>): Promise<Result<StrongRef, ConnectorError>> {
  // Aborted before sending: nothing can have reached the PDS (the HTTP seam would call it unknown).
  if (ctx.signal.aborted) return err({ category: 'transient', code: 'PLATFORM_TIMEOUT', message: 'the publish deadline passed before the post was sent', retryable: true, outcomeUnknown: false });
  const sent = await withSession(ctx, (jwt) => client.createRecord(base, jwt, { repo: ctx.credentials.did, collection: POST_COLLECTION, rkey, record }, ctx.signal));
  if (!sent.ok) return sent;
  const res = sent.value;
  if (res.status === 200) {
    const ref = { uri: (res.body as StrongRef).uri, cid: (res.body as StrongRef).cid };
    return isStrongRef(ref) ? ok(ref) : err({ category: 'transient', code: 'PLATFORM_ERROR', message: 'createRecord answered without uri and cid', retryable: true, outcomeUnknown: true });
  }
  const error = mapXrpcError(res, ctx.clock.now());
  if (res.status >= 500) {
    const existing = await readPost(ctx, base, rkey);
    // The same key holds this publication's post when its text is ours (an earlier attempt wrote it).
    if (existing && existing.text === record['text']) return ok(existing.ref);
  }
  return err(error);
}

export async function readPost(ctx: Ctx, base: string, rkey: string): Promise<{ ref: StrongRef; text: unknown } | undefined> {
  const got = await client.getRecord(base, ctx.credentials.did, POST_COLLECTION, rkey, ctx.signal);
  if (!got.ok || got.value.status !== 200) return undefined;
  const body = got.value.body as { uri?: string; cid?: string; value?: { text?: unknown } };
  const ref = { uri: body.uri ?? '', cid: body.cid ?? '' };
  return isStrongRef(ref) ? { ref, text: body.value?.text } : undefined;
}

function readProgress(checkpoint: Record<string, unknown> | null, total: number): Progress {
  const posted = checkpoint?.['posted'];
  const cids = checkpoint?.['cids'];
  if (!Array.isArray(posted) || !Array.isArray(cids) || posted.length !== cids.length || posted.length > total) return { refs: [] };
  const refs = posted.map((uri, i) => ({ uri, cid: cids[i] }));
  if (!refs.every(isStrongRef)) return { refs: [] };
  const root = checkpoint?.['root'];
  return { refs, root: isStrongRef(root) ? root : undefined };
}

/** A follow-up post failed: the posts before it are live, and the message says so. */
function partial(error: ConnectorError, refs: StrongRef[]): ConnectorError {
  return { ...error, message: `${refs.length} post(s) of the thread are published (first: ${refs[0]!.uri}); post ${refs.length + 1} failed: ${error.message}` };
}
