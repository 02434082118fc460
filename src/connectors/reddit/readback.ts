// Finding a post of this account on Reddit by what was sent: the account's own submissions
// (GET /user/{name}/submitted, newest first), matched by subreddit, title, kind (text post or not), the
// body of a text post or the URL of a link post, and a creation time no earlier than the attempt began
// (less a margin for clock skew). Reddit has no idempotency key and no field for a marker of Crier's, so
// this is the only evidence; it is also how an image post gets its id, since Reddit's answer to an image
// submission carries none (only a websocket to wait on).
// Limits: the latest 300 submissions are looked at; a post removed by Reddit's spam filter still lists for
// its author (so it is found, as it should be: it was published); a post the user wrote by hand with the
// same subreddit, title and body in the window would be taken for Crier's.
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError } from '../types.js';
import type { RedditCredentials } from './auth.js';
import * as client from './client.js';
import { mapRedditHttp } from './errors.js';

export const SKEW_MS = 5 * 60_000;
const PAGES = 3;

export type Wanted = { subreddit: string; title: string; kind: 'self' | 'link' | 'image'; text?: string; url?: string };
export type Found = { id: string; permalink: string };

type Link = { id?: string; subreddit?: string; title?: string; is_self?: boolean; selftext?: string; url?: string; created_utc?: number; permalink?: string };
type Listing = { data?: { after?: string | null; children?: { kind?: string; data?: Link }[] } };
type WithToken = (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;

const norm = (s: string | undefined) => (s ?? '').replace(/\r\n?/g, '\n').trim();
const sameUrl = (a: string | undefined, b: string | undefined) => (a ?? '').replace(/\/+$/, '') === (b ?? '').replace(/\/+$/, '');

function matches(p: Link, w: Wanted, sinceSec: number): boolean {
  if ((p.subreddit ?? '').toLowerCase() !== w.subreddit.toLowerCase()) return false;
  if (norm(p.title) !== norm(w.title)) return false;
  if ((p.created_utc ?? 0) < sinceSec) return false;
  if (w.kind === 'self') return p.is_self === true && norm(p.selftext) === norm(w.text);
  if (p.is_self) return false;
  // An image post's url is Reddit's copy (i.redd.it), not the uploaded location: title and time decide.
  return w.kind === 'image' || sameUrl(p.url, w.url);
}

/** The account's post matching `wanted`, created at or after `since` (less the skew), or null. */
export async function findSubmission(ctx: ConnectorCtx<RedditCredentials>, wanted: Wanted, since: Date, withToken: WithToken): Promise<Result<Found | null, ConnectorError>> {
  const sinceSec = (since.getTime() - SKEW_MS) / 1000;
  let after: string | undefined;
  for (let page = 0; page < PAGES; page++) {
    const got = await withToken((t) => client.submitted(ctx.baseUrl, t, ctx.credentials.username, after, ctx.signal));
    if (!got.ok) return err({ ...got.error, outcomeUnknown: false });
    if (got.value.status !== 200) return err(mapRedditHttp(got.value, ctx.clock.now(), "the account's submissions"));
    const body = (got.value.body ?? {}) as Listing;
    let older = false;
    for (const child of body.data?.children ?? []) {
      const p = child.data;
      if (!p?.id) continue;
      if (matches(p, wanted, sinceSec)) return ok({ id: p.id, permalink: p.permalink ?? `/comments/${p.id}/` });
      if ((p.created_utc ?? 0) < sinceSec) older = true;
    }
    // Newest first: once a page reaches posts older than the window, later pages are older still.
    after = body.data?.after ?? undefined;
    if (!after || older) break;
  }
  return ok(null);
}
