// Reading back whether a post reached X. X has no idempotency key, no client-chosen id and no field to
// carry a marker, so the only evidence is the account's own timeline: GET /2/users/:id/tweets from
// shortly before the attempt began, looking for a post with the same text and the same reply/quote target.
//
// What this cannot do (the limits of matching by content):
// - X shortens every link to t.co and HTML-escapes &, <, >; links are compared by what they expand to
//   (scheme, "www." and trailing slash ignored) and the rest by the unescaped text. A link X rewrites more
//   than that (tracking parameters stripped…) makes the post unrecognisable, and it is posted again.
// - A post with media carries an extra t.co link to its media; it is dropped before comparing. Two posts
//   that differ only by their media, or a poll's options, look the same.
// - A post the user wrote by hand with the same text and target in the window would be taken for Crier's.
//   X refuses identical text from the same account anyway ("duplicate content"), so this is rare.
// - The timeline is eventually consistent and lists at most the latest 3,200 posts; a post that has not
//   reached it yet is missed. The connector therefore also treats X's duplicate-content refusal on a
//   resumed attempt as a sign of its own earlier post and reads back once more.
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError } from '../types.js';
import type { XCredentials } from './auth.js';
import * as client from './client.js';
import { mapXError } from './errors.js';
import { comparableUrl, maskUrls, unescapeXText, urlsIn } from './text.js';

/** How far before the attempt's recorded start to look (clock skew between Crier and X). */
export const READBACK_SLACK_MS = 5 * 60_000;
/** Without a recorded start (no checkpoint), how far back to look. */
export const DEFAULT_LOOKBACK_MS = 24 * 3600_000;
const MAX_PAGES = 5;

export type Wanted = { text: string; replyTo?: string; quoteOf?: string };

type UrlEntity = { url?: string; expanded_url?: string; media_key?: string };
type Tweet = {
  id: string;
  text: string;
  entities?: { urls?: UrlEntity[] };
  referenced_tweets?: { type: string; id: string }[];
  referenced_posts?: { type: string; id: string }[];
};
type Timeline = { data?: Tweet[]; meta?: { next_token?: string } };
type WithToken = (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;

/** The id of the account's post matching `wanted`, posted at or after `since` (less the slack), or null. */
export async function findTweet(ctx: ConnectorCtx<XCredentials>, wanted: Wanted, since: Date, withToken: WithToken): Promise<Result<string | null, ConnectorError>> {
  const startTime = new Date(since.getTime() - READBACK_SLACK_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const want = comparable(wanted.text, urlsIn(wanted.text.normalize('NFC')));
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const got = await withToken((t) => client.userTweets(ctx.baseUrl, t, ctx.credentials.userId, { startTime, paginationToken: token }, ctx.signal));
    if (!got.ok) return got;
    if (got.value.status !== 200) return err(mapXError(got.value, ctx.clock.now(), 'read'));
    const body = (got.value.body ?? {}) as Timeline;
    for (const tweet of body.data ?? []) {
      if (sameTarget(tweet, wanted) && sameText(tweet, want)) return ok(tweet.id);
    }
    token = body.meta?.next_token;
    if (!token) break;
  }
  return ok(null);
}

type Comparable = { masked: string; urls: string[] };

function comparable(text: string, urls: string[]): Comparable {
  return { masked: maskUrls(text.normalize('NFC')).trim(), urls: urls.map(comparableUrl) };
}

/** The post's text as written: unescaped, its media link dropped, its t.co links set apart by what they expand to. */
function sameText(tweet: Tweet, want: Comparable): boolean {
  let text = unescapeXText(tweet.text ?? '');
  const links: { at: number; expanded?: string }[] = [];
  for (const e of tweet.entities?.urls ?? []) {
    if (!e.url) continue;
    const at = text.indexOf(e.url);
    if (at < 0) continue;
    if (e.media_key || /\/status\/\d+\/(photo|video)\/\d+$/.test(e.expanded_url ?? '')) {
      text = text.slice(0, at) + text.slice(at + e.url.length);
      continue;
    }
    text = `${text.slice(0, at)}\u0000${text.slice(at + e.url.length)}`;
    links.push({ at, expanded: e.expanded_url });
  }
  if (text.normalize('NFC').trim() !== want.masked) return false;
  const expanded = links.sort((a, b) => a.at - b.at).map((l) => l.expanded);
  if (expanded.length !== want.urls.length) return false;
  // An entity without expanded_url cannot be checked; its position already matched.
  return expanded.every((u, i) => u === undefined || comparableUrl(u) === want.urls[i]);
}

function sameTarget(tweet: Tweet, wanted: Wanted): boolean {
  const refs = tweet.referenced_tweets ?? tweet.referenced_posts ?? [];
  const replied = refs.find((r) => r.type === 'replied_to')?.id;
  const quoted = refs.find((r) => r.type === 'quoted')?.id;
  return replied === wanted.replyTo && quoted === wanted.quoteOf;
}
