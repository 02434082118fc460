// Writing the posts of one publication: the main post (text, media, poll, quote, reply target), then a
// thread's follow-ups as a chain of replies, each saved with ctx.checkpoint before the next is sent
// (threads-note.md), so a later attempt continues after the last confirmed post instead of starting over.
// Only one post can ever be in flight (the one after the last confirmed), so a resumed attempt reads back
// that one before sending it, and nothing else.
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError } from '../types.js';
import type { XCredentials } from './auth.js';
import * as client from './client.js';
import { mapXError } from './errors.js';
import { findTweet, type Wanted } from './readback.js';

/** What an attempt leaves for the next (draft.checkpoint). */
export type XCheckpoint = {
  /** Uploaded media, reused until shortly before X expires them. */
  media?: { ids: string[]; expiresAt: string };
  /** Set just before the first post is sent: from then on a post may exist (read-back looks from here). */
  since?: string;
  /** Ids of the chain's posts confirmed so far, in order (the first is the publication's post). */
  posted: string[];
};

export type ChainItem = { body: client.TweetBody; wanted: Wanted };
type WithToken = (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;

export function readCheckpoint(raw: Record<string, unknown> | null): XCheckpoint {
  const posted = Array.isArray(raw?.['posted']) ? (raw['posted'] as unknown[]).filter((v): v is string => typeof v === 'string') : [];
  const cp: XCheckpoint = { posted };
  const media = raw?.['media'] as XCheckpoint['media'] | undefined;
  if (media && Array.isArray(media.ids) && typeof media.expiresAt === 'string') cp.media = media;
  if (typeof raw?.['since'] === 'string') cp.since = raw['since'];
  return cp;
}

/**
 * Posts `chain[posted.length..]`. `chain[0]` is the main post; each later item replies to the one before
 * (its reply target is filled in here). Returns the ids of the whole chain.
 */
export async function postChain(
  ctx: ConnectorCtx<XCredentials>,
  chain: ChainItem[],
  start: XCheckpoint,
  withToken: WithToken,
): Promise<Result<string[], ConnectorError>> {
  const cp: XCheckpoint = { ...start, posted: [...start.posted] };
  // An earlier attempt got as far as sending: the next post may already exist.
  const resumed = cp.since !== undefined;
  if (!resumed) {
    cp.since = ctx.clock.now().toISOString();
    await ctx.checkpoint(cp);
  }
  const since = new Date(cp.since!);
  for (let k = cp.posted.length; k < chain.length; k++) {
    const item = link(chain[k]!, cp.posted[k - 1]);
    // A single post was already looked for by findExisting just before this attempt (the worker reads back
    // first); a chain's in-flight post is not (findExisting leaves partial chains to this function).
    const readFirst = resumed && k === start.posted.length && chain.length > 1;
    let id: string | null = null;
    if (readFirst) {
      const found = await findTweet(ctx, item.wanted, since, withToken);
      if (!found.ok) return err(stopped(found.error, cp, chain.length));
      id = found.value;
    }
    if (!id) {
      const sent = await send(ctx, item, withToken);
      if (!sent.ok) {
        // On a resumed attempt, "duplicate content" most likely names Crier's own earlier post that the
        // timeline did not show yet: look once more before calling it a duplicate.
        if (resumed && sent.error.category === 'duplicate' && k === start.posted.length) {
          const again = await findTweet(ctx, item.wanted, since, withToken);
          if (again.ok && again.value) id = again.value;
        }
        if (!id) return err(stopped(sent.error, cp, chain.length));
      } else {
        id = sent.value;
      }
    }
    cp.posted.push(id);
    if (chain.length > 1) await ctx.checkpoint(cp);
  }
  return ok(cp.posted);
}

function link(item: ChainItem, previous: string | undefined): ChainItem {
  if (!previous) return item;
  return { body: { ...item.body, reply: { in_reply_to_tweet_id: previous } }, wanted: { ...item.wanted, replyTo: previous } };
}

async function send(ctx: ConnectorCtx<XCredentials>, item: ChainItem, withToken: WithToken): Promise<Result<string, ConnectorError>> {
  const sent = await withToken((t) => client.createTweet(ctx.baseUrl, t, item.body, ctx.signal));
  if (!sent.ok) return sent;
  const res = sent.value;
  const id = (res.body as { data?: { id?: unknown } } | undefined)?.data?.id;
  if ((res.status === 201 || res.status === 200) && typeof id === 'string') return ok(id);
  if (res.status < 300) {
    // Accepted without an id (a partial answer): it may exist, so never report it as not sent.
    return err({ category: 'transient', code: 'PLATFORM_ERROR', message: `X accepted the post but answered without its id (${res.text.slice(0, 200)})`, retryable: true, outcomeUnknown: true });
  }
  return err(mapXError(res, ctx.clock.now(), 'post'));
}

/** An error part-way through a chain says how far it got (those posts exist on X). */
function stopped(e: ConnectorError, cp: XCheckpoint, total: number): ConnectorError {
  if (cp.posted.length === 0) return e;
  return { ...e, message: `${e.message} (the thread stopped after ${cp.posted.length} of ${total} posts; the first is ${cp.posted[0]})` };
}
