// Threads' content rules (platforms.md §5 "Publishing" and "Limits"; Threads docs, Posts → Limitations and
// Text attachments): how text and links are counted, carousel sizes, reply controls, topic tags. The
// simulator uses the same definitions, so the connector's validation and the simulator's refusals agree;
// where the docs leave room, the count errs on the high side so that a post is refused when it is created
// rather than failing when it publishes.

export const TEXT_MAX = 500;
export const LINKS_MAX = 5;
export const CAROUSEL_MIN = 2;
export const CAROUSEL_MAX = 20;
export const ALT_TEXT_MAX = 1_000;
export const REPLY_CONTROLS = ['everyone', 'accounts_you_follow', 'mentioned_only', 'parent_post_author_only', 'followers_only'] as const;
/** 1–50 characters, no "." or "&". */
export const TOPIC_TAG = /^[^.&]{1,50}$/u;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
// An emoji grapheme: a pictograph (with any ZWJ sequence or skin tone), a flag (regional indicators), a
// keycap (U+20E3) or anything carrying the emoji presentation selector (U+FE0F).
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3|\uFE0F/u;

/**
 * "Text posts are limited to 500 characters. Emojis are counted as the number of UTF-8 bytes." An emoji
 * counts its UTF-8 bytes (😀 is 4, a family of three joined by ZWJs is 18); any other grapheme counts its
 * code points (unconfirmed: Threads does not say whether "é" written as e + combining accent is 1 or 2).
 */
export function threadsTextLength(text: string): number {
  let n = 0;
  for (const { segment } of segmenter.segment(text)) {
    n += EMOJI.test(segment) ? Buffer.byteLength(segment, 'utf8') : [...segment].length;
  }
  return n;
}

// Links with a scheme or starting "www." (the docs' examples count "www.facebook.com"). A bare domain such
// as "example.com" is not counted here; Threads may count it (unconfirmed).
const LINK = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/giu;

/** "All unique URLs found in the text field are counted as links"; more than 5 fails container creation. */
export function uniqueLinks(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(LINK)) {
    const url = match[0].replace(/[.,;:!?)\]}'"»”’]+$/u, '').toLowerCase();
    if (url.length > 0) found.add(url);
  }
  return [...found];
}
