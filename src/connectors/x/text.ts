// X's text rules (platforms.md §1 "Limits", docs fundamentals/counting-characters): 280 *weighted*
// characters after NFC normalization. Most Latin text counts 1 per character, CJK and emoji 2 (a ZWJ emoji
// sequence counts 2 as a whole), and every URL 23 whatever its length, bare domains ("x.com") included.
// The counting is X's own library, `twitter-text` (parseTweet().weightedLength), the reference the docs
// name, so Crier, the simulator and X agree on the edge cases (emoji tables, URL detection).
import twitterText from 'twitter-text';

export const X_TEXT_LIMIT = 280;

/** X's weighted length of a post's text. */
export function weightedLength(text: string): number {
  return twitterText.parseTweet(text.normalize('NFC')).weightedLength;
}

/** The URLs X will see in a text (and shorten to t.co), in order. */
export function urlsIn(text: string): string[] {
  return twitterText.extractUrlsWithIndices(text).map((u) => u.url);
}

/** Replaces each URL of `text` by `token`, so two texts can be compared whatever their links became. */
export function maskUrls(text: string, token = '\u0000'): string {
  const found = twitterText.extractUrlsWithIndices(text);
  let out = '';
  let at = 0;
  for (const u of found) {
    out += text.slice(at, u.indices[0]) + token;
    at = u.indices[1];
  }
  return out + text.slice(at);
}

/** A URL reduced to what survives X's expansion: no scheme, no "www.", no trailing slash, host lower-cased. */
export function comparableUrl(url: string): string {
  const bare = url.trim().replace(/^https?:\/\//i, '').replace(/^www\./i, '').replace(/\/+$/, '');
  const slash = bare.indexOf('/');
  return slash < 0 ? bare.toLowerCase() : bare.slice(0, slash).toLowerCase() + bare.slice(slash);
}

/** X returns post text HTML-escaped (&amp; &lt; &gt;); this is the text as it was written. */
export function unescapeXText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
