// Rich-text facets: links, mentions and hashtags are only clickable on Bluesky when the record says where
// they are, in UTF-8 byte offsets (start inclusive, end exclusive) into the text (lexicon
// app.bsky.richtext.facet; platforms.md §9). Detection follows the rules of Bluesky's own client (RichText
// detectFacets in @atproto/api, MIT/Apache-2.0), so a post made through Crier links what the app would:
// - mentions: "@" after the start, a space or "(", then a handle whose last label is a real TLD (or .test);
//   each is resolved to a DID with com.atproto.identity.resolveHandle, and one that does not resolve stays
//   plain text (it never fails the post);
// - links: http(s) URLs, and bare domains with a real TLD (made https://), after the start, a space or "(";
//   one trailing . , ; : ! or ? is left out, and a trailing ")" when the link has no "(";
// - hashtags: "#" or "＃" after the start or a space; not digits only; trailing punctuation left out;
//   at most 64 graphemes (longer ones stay text); cashtags ($ and 1–5 letters/digits, starting with a letter)
//   become tags "$TICKER" as the app makes them.
// Why not @atproto/api itself: loading it costs every Crier process ~0.5 s and ~47 MB (its lexicon tables)
// for one function. One difference on purpose: TLDs and handles are compared case-insensitively, so
// "Example.COM" links (the app's check is case-sensitive and leaves it text).
import { graphemeCount } from '../../domain/text.js';
import { TLDS } from './tlds.js';

export type FacetFeature =
  | { $type: 'app.bsky.richtext.facet#link'; uri: string }
  | { $type: 'app.bsky.richtext.facet#mention'; did: string }
  | { $type: 'app.bsky.richtext.facet#tag'; tag: string };

export type Facet = { index: { byteStart: number; byteEnd: number }; features: FacetFeature[] };

/** A facet as detected: a mention carries its handle until it is resolved to a DID. */
export type DetectedFacet = { index: Facet['index'] } & ({ handle: string } | { feature: FacetFeature });

const MENTION = /(^|\s|\()(@)([a-zA-Z0-9.-]+)(\b)/g;
const URL = /(^|\s|\()((https?:\/\/[\S]+)|((?<domain>[a-z][a-z0-9]*(\.[a-z0-9]+)+)[\S]*))/gim;
// Zero-width and soft-hyphen characters end a tag like a space does; U+FE0F right after "#" is the
// keycap emoji "#️⃣", not a tag.
const NOT_IN_TAG = '\\s\\u00AD\\u2060\\u200A\\u200B\\u200C\\u200D\\u20e2';
// eslint-disable-next-line no-misleading-character-class
const TAG = new RegExp(`(^|\\s)[#＃]((?!\\ufe0f)[^${NOT_IN_TAG}]*[^\\d\\p{P}${NOT_IN_TAG}]+[^${NOT_IN_TAG}]*)?`, 'gu');
const TRAILING_PUNCTUATION = /\p{P}+$/u;
const CASHTAG = /(^|\s|\()\$([A-Za-z][A-Za-z0-9]{0,4})(?=\s|$|[.,;:!?)"'\u2019])/gu;
const MAX_TAG_GRAPHEMES = 64;

export function isValidDomain(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && dot < name.length - 1 && TLDS.has(name.slice(dot + 1).toLowerCase());
}

/** UTF-16 index → UTF-8 byte offset, for one text (offsets asked in any order). */
function byteOffsets(text: string): (utf16: number) => number {
  return (i) => Buffer.byteLength(text.slice(0, i), 'utf8');
}

/** Every link, mention and tag of `text`, in order of position; mentions still need resolving. */
export function detectFacets(text: string): DetectedFacet[] {
  const bytes = byteOffsets(text);
  const range = (start: number, end: number) => ({ byteStart: bytes(start), byteEnd: bytes(end) });
  const found: DetectedFacet[] = [];
  for (const m of text.matchAll(MENTION)) {
    const handle = m[3]!;
    if (!isValidDomain(handle) && !handle.toLowerCase().endsWith('.test')) continue; // probably not a handle
    const start = m.index + m[1]!.length; // the "@"
    found.push({ index: range(start, start + 1 + handle.length), handle: handle.toLowerCase() });
  }
  for (const m of text.matchAll(URL)) {
    let uri = m[2]!;
    if (!/^https?:\/\//i.test(uri)) {
      const domain = m.groups?.['domain'];
      if (!domain || !isValidDomain(domain)) continue;
      uri = `https://${uri}`;
    }
    const start = m.index + m[1]!.length;
    let end = start + m[2]!.length;
    if (/[.,;:!?]$/.test(uri)) {
      uri = uri.slice(0, -1);
      end--;
    }
    if (uri.endsWith(')') && !uri.includes('(')) {
      uri = uri.slice(0, -1);
      end--;
    }
    found.push({ index: range(start, end), feature: { $type: 'app.bsky.richtext.facet#link', uri } });
  }
  for (const m of text.matchAll(TAG)) {
    const body = m[2];
    if (!body) continue;
    const tag = body.trim().replace(TRAILING_PUNCTUATION, '');
    if (tag.length === 0 || (tag.length > MAX_TAG_GRAPHEMES && graphemeCount(tag) > MAX_TAG_GRAPHEMES)) continue;
    const start = m.index + m[1]!.length; // the "#"
    found.push({ index: range(start, start + 1 + tag.length), feature: { $type: 'app.bsky.richtext.facet#tag', tag } });
  }
  for (const m of text.matchAll(CASHTAG)) {
    const ticker = m[2]!;
    const start = m.index + m[1]!.length; // the "$"
    found.push({ index: range(start, start + 1 + ticker.length), feature: { $type: 'app.bsky.richtext.facet#tag', tag: `$${ticker.toUpperCase()}` } });
  }
  return found.sort((a, b) => a.index.byteStart - b.index.byteStart);
}

/**
 * The record's facets: mentions resolved to DIDs with `resolve` (undefined = not resolvable: the mention
 * stays plain text). Handles are resolved once each per call, even when mentioned twice.
 */
export async function resolveFacets(detected: DetectedFacet[], resolve: (handle: string) => Promise<string | undefined>): Promise<Facet[]> {
  const dids = new Map<string, Promise<string | undefined>>();
  const facets: Facet[] = [];
  for (const d of detected) {
    if ('feature' in d) {
      facets.push({ index: d.index, features: [d.feature] });
      continue;
    }
    if (!dids.has(d.handle)) dids.set(d.handle, resolve(d.handle));
    const did = await dids.get(d.handle)!;
    if (did) facets.push({ index: d.index, features: [{ $type: 'app.bsky.richtext.facet#mention', did }] });
  }
  return facets;
}

/** The handles a text mentions (to resolve them once for several texts). */
export function mentionedHandles(detected: DetectedFacet[]): string[] {
  return [...new Set(detected.flatMap((d) => ('handle' in d ? [d.handle] : [])))];
}
