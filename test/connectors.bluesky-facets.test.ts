// Facet detection for Bluesky: byte offsets in UTF-8 (emoji, combining marks, CJK, full-width), the app's
// rules for links, mentions and hashtags, and mention resolution that never fails a post. Where the official
// client library is installed (it comes with the PDS test peer), random texts are also compared with its
// own detectFacets, the behaviour this module copies.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectFacets, isValidDomain, resolveFacets, type DetectedFacet } from '../src/connectors/bluesky/facets.js';

/** Each facet as [the bytes it covers, what it is]. */
function spans(text: string, found: DetectedFacet[] = detectFacets(text)): [string, string][] {
  const bytes = Buffer.from(text);
  return found.map((f) => {
    const covered = bytes.subarray(f.index.byteStart, f.index.byteEnd).toString('utf8');
    if ('handle' in f) return [covered, `mention:${f.handle}`];
    const feature = f.feature;
    return [covered, feature.$type === 'app.bsky.richtext.facet#link' ? `link:${feature.uri}` : `tag:${(feature as { tag: string }).tag}`];
  });
}

describe('Bluesky facets', () => {
  it('counts offsets in UTF-8 bytes through emoji, ZWJ sequences, skin tones, combining marks and CJK', () => {
    const text = '👩🏽‍💻 é\u0301 漢字 #tag https://a.example/x @al.test';
    const found = detectFacets(text);
    // Expected offsets computed apart: where the UTF-8 encoding of each part starts in the encoded text.
    const at = (part: string) => {
      const start = Buffer.from(text).indexOf(Buffer.from(part));
      return { byteStart: start, byteEnd: start + Buffer.byteLength(part) };
    };
    expect(found.map((f) => f.index)).toEqual([at('#tag'), at('https://a.example/x'), at('@al.test')]);
    expect(at('#tag')).toEqual({ byteStart: 28, byteEnd: 32 }); // 15 + 1 + 4 + 1 + 6 + 1 bytes before it
    expect(spans(text)).toEqual([['#tag', 'tag:tag'], ['https://a.example/x', 'link:https://a.example/x'], ['@al.test', 'mention:al.test']]);
  });

  it('links http(s) URLs and bare domains with a real TLD, leaving one trailing punctuation mark and an unmatched ")" out', () => {
    expect(spans('see https://x.com/a?b=1#c, then')).toEqual([['https://x.com/a?b=1#c', 'link:https://x.com/a?b=1#c']]);
    expect(spans('go to example.com.')).toEqual([['example.com', 'link:https://example.com']]);
    expect(spans('(docs.bsky.app/blog)')).toEqual([['docs.bsky.app/blog', 'link:https://docs.bsky.app/blog']]);
    expect(spans('wiki https://en.wikipedia.org/wiki/Fish_(disambiguation)')).toEqual([['https://en.wikipedia.org/wiki/Fish_(disambiguation)', 'link:https://en.wikipedia.org/wiki/Fish_(disambiguation)']]);
    expect(spans('Example.COM works')).toEqual([['Example.COM', 'link:https://Example.COM']]);
    // Not links: a file name (no such TLD), a word glued before, an email address, e.g.
    expect(spans('open notes.txt or foo.notatld, mail me@example.com, e.g. this')).toEqual([]);
    expect(spans('xhttps://x.com')).toEqual([]);
  });

  it('finds mentions of handles with a real TLD (or .test), after the start, a space or "("', () => {
    expect(spans('@alice.bsky.social hi (@bob.example.com) and @carol.test.')).toEqual([
      ['@alice.bsky.social', 'mention:alice.bsky.social'],
      ['@bob.example.com', 'mention:bob.example.com'],
      ['@carol.test', 'mention:carol.test'],
    ]);
    expect(spans('@nobody @not.ahandle a@b.com')).toEqual([]);
    expect(spans('@Alice.Bsky.Social')).toEqual([['@Alice.Bsky.Social', 'mention:alice.bsky.social']]);
  });

  it('makes hashtags by the app\'s rules: not digits only, trailing punctuation dropped, full-width #, at most 64 graphemes', () => {
    expect(spans('#one #2024 #v2 #end! #a.b. ＃全角 #café\u0301 #👍')).toEqual([
      ['#one', 'tag:one'],
      ['#v2', 'tag:v2'],
      ['#end', 'tag:end'],
      ['#a.b', 'tag:a.b'],
      ['＃全角', 'tag:全角'],
      ['#café\u0301', 'tag:café\u0301'],
      ['#👍', 'tag:👍'],
    ]);
    expect(spans('a#glued #️⃣ keycap')).toEqual([]);
    const sixtyFour = 'e\u0301'.repeat(64); // 64 graphemes in 128 UTF-16 units
    expect(spans(`#${sixtyFour}`)).toEqual([[`#${sixtyFour}`, `tag:${sixtyFour}`]]);
    expect(spans(`#${sixtyFour}x`)).toEqual([]);
    // A zero-width joiner ends a tag, as in the app: an emoji family tag keeps only its first person.
    expect(spans('#👨‍👩‍👧 ok')).toEqual([['#👨', 'tag:👨']]);
    expect(spans(`#${'a'.repeat(64)} #${'a'.repeat(65)}`)).toEqual([[`#${'a'.repeat(64)}`, `tag:${'a'.repeat(64)}`]]);
  });

  it('makes cashtags as the app does ($ and a ticker, upper-cased), not amounts', () => {
    expect(spans('buy $aapl, not $5 or $toolongticker')).toEqual([['$aapl', 'tag:$AAPL']]);
  });

  it('checks domains against the list of TLDs', () => {
    expect(isValidDomain('example.com')).toBe(true);
    expect(isValidDomain('example.dev')).toBe(true);
    expect(isValidDomain('example.notatld')).toBe(false);
    expect(isValidDomain('com')).toBe(false);
    expect(isValidDomain('example.')).toBe(false);
  });

  it('resolves each mentioned handle once, and leaves a mention that does not resolve as plain text', async () => {
    const text = '@a.test @b.test @a.test #x';
    const asked: string[] = [];
    const facets = await resolveFacets(detectFacets(text), async (h) => {
      asked.push(h);
      return h === 'a.test' ? 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' : undefined;
    });
    expect(asked).toEqual(['a.test', 'b.test']);
    expect(facets.map((f) => [f.index.byteStart, f.features[0]])).toEqual([
      [0, { $type: 'app.bsky.richtext.facet#mention', did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' }],
      [16, { $type: 'app.bsky.richtext.facet#mention', did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' }],
      [24, { $type: 'app.bsky.richtext.facet#tag', tag: 'x' }],
    ]);
  });
});

// The official client's detectFacets, when the PDS peer's node_modules hold it (test/peers/bluesky).
const official = path.resolve(import.meta.dirname, 'peers/bluesky/node_modules/@atproto/api/dist/index.js');
const api = existsSync(official) ? ((await import(pathToFileURL(official).href)) as { RichText: new (p: { text: string }) => { detectFacetsWithoutResolution(): void; facets?: unknown[] } }) : undefined;
if (!api) console.warn('SKIPPED comparison with @atproto/api: the Bluesky PDS peer is not installed (scripts/install-bluesky-pds.sh)');

describe.skipIf(!api)('Bluesky facets compared with the official client', () => {
  const pieces = ['a', 'Z', '9', ' ', ' ', '\n', '.', ',', '!', '(', ')', '#', '＃', '@', '$', '/', ':', '-', '_', 'é', 'e\u0301', '👍', '👩🏽‍💻', '漢', '\u200b', '\ufe0f', 'https://', 'http://x.io/p', 'example.com', 'bsky.app', 'al.test', 'b.social', 'foo.txt', 'tag', '2024', 'AAPL'];
  const texts = fc.array(fc.constantFrom(...pieces), { maxLength: 40 }).map((p) => p.join(''));

  it('finds the same facets as @atproto/api RichText.detectFacets on random texts', () => {
    fc.assert(
      fc.property(texts, (text) => {
        const rt = new api!.RichText({ text });
        rt.detectFacetsWithoutResolution();
        const theirs = ((rt.facets ?? []) as { index: { byteStart: number; byteEnd: number }; features: { $type: string; uri?: string; did?: string; tag?: string }[] }[])
          .map((f) => ({ index: f.index, feature: f.features[0]! }))
          .map(({ index, feature }) => ({ index, what: feature.$type.endsWith('#mention') ? `mention:${feature.did!.toLowerCase()}` : feature.$type.endsWith('#link') ? `link:${feature.uri}` : `tag:${feature.tag}` }))
          .sort((a, b) => a.index.byteStart - b.index.byteStart || a.what.localeCompare(b.what));
        const ours = detectFacets(text)
          .map((f) => ({ index: f.index, what: 'handle' in f ? `mention:${f.handle}` : f.feature.$type.endsWith('#link') ? `link:${(f.feature as { uri: string }).uri}` : `tag:${(f.feature as { tag: string }).tag}` }))
          .sort((a, b) => a.index.byteStart - b.index.byteStart || a.what.localeCompare(b.what));
        expect(ours).toEqual(theirs);
      }),
      { numRuns: 2000 },
    );
  });
});
