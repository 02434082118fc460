// A post's text as LinkedIn's "little text" commentary (learn.microsoft.com …/shares/little-text-format).
// In little text, `\ | { } @ [ ] ( ) < > # * _ ~` are reserved: `@[Name](urn)` is a mention, `{hashtag|#|x}`
// a hashtag template, and the docs say every reserved character meant as text must be backslash-escaped,
// "even if those characters are not used in one of the supported elements". LinkedIn does not answer an
// error for an unescaped one: developers report the post silently cut short at it (a "(" most often).
// So plain text is escaped whole, with one exception: a `#word` the user wrote is what every social network
// shows as a hashtag, so it becomes LinkedIn's hashtag template (its value escaped like any text).
const RESERVED = /[\\|{}@[\]()<>#*_~]/g;

export function escapeLittle(text: string): string {
  return text.replace(RESERVED, (c) => `\\${c}`);
}

// A hashtag starts the text or follows a character that cannot be part of a word (so "a#b" and "C#" stay
// text) and holds at least one letter (so "#1" stays text), as on LinkedIn's own composer.
const HASHTAG = /(^|[^\p{L}\p{N}_&])#([\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*)/gu;

/** The commentary LinkedIn receives for `text`: everything escaped, `#tags` as hashtag templates. */
export function toCommentary(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(HASHTAG)) {
    const start = m.index + m[1]!.length; // where the "#" is
    out += escapeLittle(text.slice(last, start)) + `{hashtag|#|${escapeLittle(m[2]!)}}`;
    last = start + 1 + m[2]!.length;
  }
  return out + escapeLittle(text.slice(last));
}

/** Characters as LinkedIn's composer counts them (code points), of the text as people see it. */
export function visibleLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
