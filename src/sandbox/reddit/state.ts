// What the Reddit simulator keeps: subreddits with their settings, post requirements and flairs, the posts
// made, and media uploaded through leases; and the limits it enforces (changeable at run time by tests).
import { randomBytes } from 'node:crypto';

export type RedditSimConfig = {
  /** API requests per user per window (Reddit: 100 a minute averaged over 10 minutes; unconfirmed). */
  requestsPerWindow: number;
  windowSec: number;
  /** The posting throttle (RATELIMIT in json.errors): seconds between two posts of one account to one subreddit; 0 = off. */
  postIntervalSec: number;
  /** How long an image post takes to appear in the author's submissions (Reddit processes it first). */
  imageListingDelayMs: number;
  /** Largest image the S3 form takes (Reddit: 20 MB; unconfirmed). */
  imageMaxBytes: number;
  /** How long an upload lease's policy is valid. */
  leaseTtlSec: number;
};

export const DEFAULT_CONFIG: RedditSimConfig = {
  requestsPerWindow: 1000,
  windowSec: 600,
  postIntervalSec: 0,
  imageListingDelayMs: 0,
  imageMaxBytes: 20_000_000,
  leaseTtlSec: 3600,
};

export type SimRequirements = {
  title_regexes: string[];
  body_blacklisted_strings: string[];
  title_blacklisted_strings: string[];
  body_text_max_length: number | null;
  title_required_strings: string[];
  guidelines_text: string | null;
  gallery_min_items: number | null;
  domain_blacklist: string[];
  domain_whitelist: string[];
  title_text_max_length: number | null;
  body_restriction_policy: 'required' | 'notAllowed' | 'none';
  link_restriction_policy: 'none' | 'whitelist' | 'blacklist';
  guidelines_display_policy: string | null;
  body_required_strings: string[];
  title_text_min_length: number | null;
  gallery_captions_requirement: string;
  is_flair_required: boolean;
  gallery_max_items: number | null;
  gallery_urls_requirement: string;
  body_regexes: string[];
  link_repost_age: number | null;
  body_text_min_length: number | null;
};

export const NO_REQUIREMENTS: SimRequirements = {
  title_regexes: [], body_blacklisted_strings: [], title_blacklisted_strings: [], body_text_max_length: null,
  title_required_strings: [], guidelines_text: null, gallery_min_items: null, domain_blacklist: [], domain_whitelist: [],
  title_text_max_length: null, body_restriction_policy: 'none', link_restriction_policy: 'none', guidelines_display_policy: null,
  body_required_strings: [], title_text_min_length: null, gallery_captions_requirement: 'none', is_flair_required: false,
  gallery_max_items: null, gallery_urls_requirement: 'none', body_regexes: [], link_repost_age: null, body_text_min_length: null,
};

export type SimFlair = { id: string; text: string; text_editable: boolean; type: 'text'; css_class: string; mod_only: boolean };

export type SimSubreddit = {
  id: string;
  name: string;
  submissionType: 'any' | 'link' | 'self';
  allowImages: boolean;
  type: 'public' | 'restricted' | 'private' | 'archived';
  over18: boolean;
  /** User ids. */
  banned: Set<string>;
  contributors: Set<string>;
  requirements: SimRequirements;
  flairs: SimFlair[];
};

export type SimPost = {
  id: string;
  authorId: string;
  author: string;
  subreddit: string;
  kind: 'self' | 'link' | 'image';
  title: string;
  selftext: string;
  url: string;
  flairId?: string;
  flairText?: string;
  nsfw: boolean;
  spoiler: boolean;
  sendReplies: boolean;
  createdUtc: number;
  /** When the post shows in listings (image posts after processing). */
  listedAt: number;
  assetKey?: string;
};

export type SimAsset = {
  id: string;
  owner: string;
  key: string;
  filepath: string;
  mimetype: string;
  expiresAt: number;
  uploaded?: { bytes: Buffer; at: number };
};

export type SubredditInput = Partial<Omit<SimSubreddit, 'requirements' | 'banned' | 'contributors' | 'flairs'>> & {
  name: string;
  requirements?: Partial<SimRequirements>;
  banned?: string[];
  contributors?: string[];
  flairs?: { text: string; text_editable?: boolean; id?: string }[];
};

const base36 = (n: number) => Array.from(randomBytes(n), (b) => (b % 36).toString(36)).join('');
export const newPostId = () => `1${base36(6)}`;

export function makeSubreddit(input: SubredditInput): SimSubreddit {
  return {
    id: base36(5),
    name: input.name,
    submissionType: input.submissionType ?? 'any',
    allowImages: input.allowImages ?? true,
    type: input.type ?? 'public',
    over18: input.over18 ?? false,
    banned: new Set(input.banned ?? []),
    contributors: new Set(input.contributors ?? []),
    requirements: { ...NO_REQUIREMENTS, ...input.requirements },
    flairs: (input.flairs ?? []).map((f) => ({ id: f.id ?? crypto.randomUUID(), text: f.text, text_editable: f.text_editable ?? false, type: 'text' as const, css_class: '', mod_only: false })),
  };
}

/** Subreddits every sandbox starts with: r/sandbox takes anything; r/test likewise (Reddit's own test subreddit). */
export const DEFAULT_SUBREDDITS: SubredditInput[] = [{ name: 'sandbox' }, { name: 'test' }];
