// The `subreddit` lookup (GET /v1/accounts/{id}/lookups/subreddit?name=…): what a subreddit takes and
// requires, read with the same endpoints the connector checks before posting (rules.ts), so a user can
// fill in title, flair and post kind right the first time. Flairs need the `flair` scope; a subreddit
// that hides them answers 403, shown as an empty list with `flairs_readable: false`.
import { err, ok, type Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError } from '../types.js';
import * as client from './client.js';
import type { RedditCredentials } from './auth.js';
import { mapRedditHttp } from './errors.js';
import type { About, Flair, Requirements } from './rules.js';

type WithToken = (call: (token: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;

export async function subredditLookup(ctx: ConnectorCtx<RedditCredentials>, name: string | undefined, withToken: WithToken): Promise<Result<unknown, ConnectorError>> {
  const sr = (name ?? '').replace(/^\/?r\//i, '');
  if (!/^[A-Za-z0-9_]{2,21}$/.test(sr)) return err({ category: 'invalid_content', code: 'PLATFORM_ERROR', platformCode: 'BAD_SR_NAME', message: 'give the subreddit as ?name=<name> (2–21 letters, digits or _)', retryable: false });
  const user = ctx.credentials.username;
  const about = await withToken((t) => client.about(ctx.baseUrl, t, user, sr, ctx.signal));
  if (!about.ok) return about;
  if (about.value.status === 404) return err({ category: 'invalid_content', code: 'PLATFORM_ERROR', platformCode: 'SUBREDDIT_NOEXIST', message: `r/${sr} does not exist (or was banned)`, retryable: false });
  if (about.value.status !== 200) return err(mapRedditHttp(about.value, ctx.clock.now(), `r/${sr} about`));
  const a = ((about.value.body as { data?: About })?.data ?? {}) as About;
  const req = await withToken((t) => client.postRequirements(ctx.baseUrl, t, user, sr, ctx.signal));
  if (!req.ok) return req;
  if (req.value.status !== 200) return err(mapRedditHttp(req.value, ctx.clock.now(), `r/${sr} post requirements`));
  const r = (req.value.body ?? {}) as Requirements;
  const flairs = await withToken((t) => client.linkFlairs(ctx.baseUrl, t, user, sr, ctx.signal));
  if (!flairs.ok) return flairs;
  const list = flairs.value.status === 200 && Array.isArray(flairs.value.body) ? (flairs.value.body as Flair[]) : [];
  return ok({
    name: a.display_name ?? sr,
    type: a.subreddit_type ?? null,
    post_kinds: { self: a.submission_type !== 'link', link: a.submission_type !== 'self', image: a.allow_images !== false },
    you: { banned: !!a.user_is_banned, approved: !!a.user_is_contributor, moderator: !!a.user_is_moderator },
    requirements: {
      title_min: r.title_text_min_length ?? null,
      title_max: r.title_text_max_length ?? null,
      title_required_strings: r.title_required_strings ?? [],
      title_forbidden_strings: r.title_blacklisted_strings ?? [],
      body: r.body_restriction_policy ?? 'none',
      body_min: r.body_text_min_length ?? null,
      body_max: r.body_text_max_length ?? null,
      flair_required: !!r.is_flair_required,
      link_domains: r.link_restriction_policy === 'whitelist' ? { allowed: r.domain_whitelist ?? [] } : r.link_restriction_policy === 'blacklist' ? { forbidden: r.domain_blacklist ?? [] } : null,
    },
    flairs: list.filter((f) => f.id).map((f) => ({ id: f.id, text: f.text ?? '' })),
    flairs_readable: flairs.value.status === 200,
  });
}
