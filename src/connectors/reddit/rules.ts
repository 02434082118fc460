// A subreddit's own rules, read before posting (platforms.md §10 "Subreddit rules"): GET /r/{sr}/about says
// which post types it takes (`submission_type` any/link/self, `allow_images`) and whether this account may
// post (banned, restricted to approved users); GET /api/v1/{sr}/post_requirements gives title and body
// limits, required and forbidden strings, whether a body is required or not allowed, whether flair is
// required, and link domain lists. A post that breaks one is refused here, before anything is sent, with
// an error that names the rule; Reddit would refuse it the same way, and repeating it would not help.
// Not checked: `title_regexes` and `body_regexes` (patterns written by moderators for Reddit's regex engine;
// running them here could differ from Reddit or take unbounded time), and gallery requirements (Crier
// does not post galleries to Reddit).
import type { ConnectorError } from '../types.js';

export type Submission = {
  kind: 'self' | 'link' | 'image';
  subreddit: string;
  title: string;
  text: string;
  url?: string;
  flairId?: string;
};

export type About = {
  display_name?: string;
  submission_type?: 'any' | 'link' | 'self' | string;
  allow_images?: boolean;
  subreddit_type?: string;
  user_is_banned?: boolean | null;
  user_is_contributor?: boolean | null;
  user_is_moderator?: boolean | null;
};

export type Requirements = {
  title_text_min_length?: number | null;
  title_text_max_length?: number | null;
  title_required_strings?: string[];
  title_blacklisted_strings?: string[];
  body_restriction_policy?: 'required' | 'notAllowed' | 'none' | string;
  body_text_min_length?: number | null;
  body_text_max_length?: number | null;
  body_required_strings?: string[];
  body_blacklisted_strings?: string[];
  is_flair_required?: boolean;
  link_restriction_policy?: 'none' | 'whitelist' | 'blacklist' | string;
  domain_whitelist?: string[];
  domain_blacklist?: string[];
};

/** Reddit's own limit on every title. */
export const TITLE_MAX = 300;

const refuse = (rule: string, message: string): ConnectorError => ({ category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode: rule, message, retryable: false });

/** Reddit counts a title in characters (code points). */
export const titleLength = (s: string) => [...s].length;

export function checkAbout(about: About, s: Submission): ConnectorError | null {
  const r = `r/${about.display_name ?? s.subreddit}`;
  if (about.user_is_banned) return { ...refuse('BANNED_FROM_SUBREDDIT', `this account is banned from ${r}`), category: 'permanent', code: 'PLATFORM_ERROR' };
  if (about.subreddit_type === 'restricted' && !about.user_is_contributor && !about.user_is_moderator) {
    return { ...refuse('SUBREDDIT_NOTALLOWED', `${r} is restricted: only approved users may post there, and this account is not one`), category: 'permanent', code: 'PLATFORM_ERROR' };
  }
  if (about.subreddit_type === 'archived') return { ...refuse('SUBREDDIT_NOTALLOWED', `${r} is archived and takes no new posts`), category: 'permanent', code: 'PLATFORM_ERROR' };
  if (s.kind === 'self' && about.submission_type === 'link') return refuse('NO_SELFS', `${r} does not allow text posts (its submission type is "link")`);
  if (s.kind !== 'self' && about.submission_type === 'self') return refuse('NO_LINKS', `${r} only allows text posts (its submission type is "self")`);
  if (s.kind === 'image' && about.allow_images === false) return refuse('NO_IMAGES', `${r} does not allow image posts`);
  return null;
}

const lower = (s: string) => s.toLowerCase();
const hostOf = (u: string) => {
  try {
    return new URL(u).hostname.toLowerCase().replace(/^www\./, '');
  } catch {
    return '';
  }
};
const inDomain = (host: string, domains: string[]) => domains.some((d) => host === lower(d).replace(/^www\./, '') || host.endsWith(`.${lower(d).replace(/^www\./, '')}`));

export function checkRequirements(req: Requirements, s: Submission): ConnectorError | null {
  const r = `r/${s.subreddit}`;
  const t = titleLength(s.title);
  if (req.title_text_min_length && t < req.title_text_min_length) return refuse('SUBMIT_VALIDATION_TITLE_TOO_SHORT', `${r} needs a title of at least ${req.title_text_min_length} characters; this one has ${t}`);
  if (req.title_text_max_length && t > req.title_text_max_length) return refuse('SUBMIT_VALIDATION_TITLE_TOO_LONG', `${r} takes titles of at most ${req.title_text_max_length} characters; this one has ${t}`);
  const requiredTitle = req.title_required_strings ?? [];
  if (requiredTitle.length > 0 && !requiredTitle.some((w) => lower(s.title).includes(lower(w)))) {
    return refuse('SUBMIT_VALIDATION_TITLE_REQUIRED_STRING', `${r} requires the title to contain one of: ${requiredTitle.map((w) => `"${w}"`).join(', ')}`);
  }
  const badTitle = (req.title_blacklisted_strings ?? []).find((w) => lower(s.title).includes(lower(w)));
  if (badTitle) return refuse('SUBMIT_VALIDATION_TITLE_BLACKLISTED_STRING', `${r} does not allow "${badTitle}" in titles`);
  if (req.is_flair_required && !s.flairId) return refuse('SUBMIT_VALIDATION_FLAIR_REQUIRED', `${r} requires post flair: set options.reddit.flair_id to one of its flairs`);
  const body = s.kind === 'self' ? s.text : '';
  if (s.kind === 'self') {
    if (req.body_restriction_policy === 'required' && body.trim() === '') return refuse('SUBMIT_VALIDATION_BODY_REQUIRED', `${r} requires text in the body of a post`);
    if (req.body_restriction_policy === 'notAllowed' && body.trim() !== '') return refuse('SUBMIT_VALIDATION_BODY_NOT_ALLOWED', `${r} does not allow body text (title-only posts)`);
    const n = [...body].length;
    if (body && req.body_text_min_length && n < req.body_text_min_length) return refuse('SUBMIT_VALIDATION_BODY_TOO_SHORT', `${r} needs a body of at least ${req.body_text_min_length} characters; this one has ${n}`);
    if (req.body_text_max_length && n > req.body_text_max_length) return refuse('SUBMIT_VALIDATION_BODY_TOO_LONG', `${r} takes a body of at most ${req.body_text_max_length} characters; this one has ${n}`);
    const requiredBody = req.body_required_strings ?? [];
    if (requiredBody.length > 0 && !requiredBody.some((w) => lower(body).includes(lower(w)))) {
      return refuse('SUBMIT_VALIDATION_BODY_REQUIRED_STRING', `${r} requires the body to contain one of: ${requiredBody.map((w) => `"${w}"`).join(', ')}`);
    }
    const badBody = (req.body_blacklisted_strings ?? []).find((w) => lower(body).includes(lower(w)));
    if (badBody) return refuse('SUBMIT_VALIDATION_BODY_BLACKLISTED_STRING', `${r} does not allow "${badBody}" in the body`);
  }
  if (s.kind === 'link' && s.url) {
    const host = hostOf(s.url);
    if (req.link_restriction_policy === 'whitelist' && !inDomain(host, req.domain_whitelist ?? [])) {
      return refuse('SUBMIT_VALIDATION_LINK_WHITELIST', `${r} only takes links to ${(req.domain_whitelist ?? []).join(', ')}; ${host} is not one`);
    }
    if (req.link_restriction_policy === 'blacklist' && inDomain(host, req.domain_blacklist ?? [])) {
      return refuse('SUBMIT_VALIDATION_LINK_BLACKLIST', `${r} does not take links to ${host}`);
    }
  }
  return null;
}

export type Flair = { id?: string; text?: string };

export function checkFlair(flairs: Flair[], s: Submission): ConnectorError | null {
  if (!s.flairId || flairs.some((f) => f.id === s.flairId)) return null;
  const known = flairs.map((f) => `${f.id} (${f.text ?? ''})`).slice(0, 10).join(', ');
  return refuse('BAD_FLAIR_TEMPLATE_ID', `flair ${s.flairId} is not one of r/${s.subreddit}'s post flairs${known ? `: ${known}` : ' (it has none)'}`);
}
