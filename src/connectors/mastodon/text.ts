// How Mastodon counts a status (its StatusLengthValidator, platforms.md §11 "Limits"): the content warning
// (spoiler_text) and the text count together, in grapheme clusters; every URL written with its scheme counts
// `characters_reserved_per_url` (23) whatever its real length, and a mention of a remote account
// (@user@domain) counts only "@user". Mastodon finds URLs with its fork of twitter-text's extractor, so the
// same library is used here (a bare "example.com" is not a URL to Mastodon: extract_url_without_protocol is
// off). The simulator counts with these same functions, so validation, connector and simulator agree.
import twitterText from 'twitter-text';

/** Mastodon's defaults; an instance may change them (GET /api/v2/instance → configuration). */
export const DEFAULT_LIMITS = {
  maxCharacters: 500,
  maxMediaAttachments: 4,
  charactersReservedPerUrl: 23,
  imageSizeLimit: 16_777_216,
  videoSizeLimit: 103_809_024,
  descriptionLimit: 1_500,
} as const;

export type InstanceLimits = {
  maxCharacters: number;
  maxMediaAttachments: number;
  charactersReservedPerUrl: number;
  imageSizeLimit: number;
  videoSizeLimit: number;
  descriptionLimit: number;
  /** Empty = not announced (older servers): not checked. */
  supportedMimeTypes: string[];
};

// Account::MENTION_RE: not after "=", "/" or a word character; a username of letters, digits and "_" (with
// "." or "-" inside), then optionally "@" and a domain.
const MENTION = /(?<![=/\p{L}\p{M}\p{N}\p{Pc}])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\p{L}\p{M}\p{N}\p{Pc}]+(?:[.-]+[\p{L}\p{M}\p{N}\p{Pc}]+)*)?/giu;

type Entity = { start: number; end: number; replacement: string };

function entities(text: string, urlChars: number): Entity[] {
  const found: Entity[] = [];
  for (const u of twitterText.extractUrlsWithIndices(text, { extractUrlsWithoutProtocol: false })) {
    found.push({ start: u.indices[0], end: u.indices[1], replacement: 'x'.repeat(urlChars) });
  }
  for (const m of text.matchAll(MENTION)) {
    found.push({ start: m.index!, end: m.index! + m[0].length, replacement: `@${m[1]}` });
  }
  // Extractor.remove_overlapping_entities: in order of start, an entity overlapping an earlier one is dropped.
  found.sort((a, b) => a.start - b.start);
  const kept: Entity[] = [];
  for (const e of found) if (kept.length === 0 || e.start >= kept.at(-1)!.end) kept.push(e);
  return kept;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function graphemes(s: string): number {
  let n = 0;
  for (const _ of segmenter.segment(s)) n++;
  return n;
}

/** The text as Mastodon measures it: URLs replaced by 23 "x", remote mentions cut to "@user". */
export function countableText(text: string, urlChars: number = DEFAULT_LIMITS.charactersReservedPerUrl): string {
  let out = '';
  let at = 0;
  for (const e of entities(text, urlChars)) {
    out += text.slice(at, e.start) + e.replacement;
    at = e.end;
  }
  return out + text.slice(at);
}

/** The length Mastodon compares with `max_characters`: content warning plus text. */
export function statusLength(text: string, spoilerText = '', urlChars: number = DEFAULT_LIMITS.charactersReservedPerUrl): number {
  return graphemes(spoilerText + (text.trim().length === 0 ? '' : countableText(text, urlChars)));
}

/** The mentions of a text, as Mastodon finds them (acct without the leading "@"). */
export function mentionsIn(text: string): string[] {
  return [...text.matchAll(MENTION)].map((m) => m[0].slice(1));
}

/** The URLs of a text that Mastodon links. */
export function urlsIn(text: string): { url: string; start: number; end: number }[] {
  return twitterText.extractUrlsWithIndices(text, { extractUrlsWithoutProtocol: false }).map((u) => ({ url: u.url, start: u.indices[0], end: u.indices[1] }));
}
