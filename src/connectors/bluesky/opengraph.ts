// Reading a link card's title, description and image from the page itself (OpenGraph tags, with the usual
// fallbacks), as Bluesky's app does through its card service. The page is fetched through the SSRF guard
// (guarded-get.ts) because its URL comes from a user's post.

export const CARD_LIMITS = {
  /** Bytes of a page read to find its tags (they are in <head>). */
  pageBytes: 1_000_000,
  /** Bytes of a card image downloaded before it is shrunk for the thumb. */
  imageBytes: 5_000_000,
  /** The whole card: page and image together. */
  timeoutMs: 5_000,
};

export type PageCard = { title: string; description: string; image?: string };

/** The card of an HTML page: og:* first, then twitter:*, then <title> and the description meta tag. */
export function parseCard(html: string, pageUrl: string): PageCard {
  const end = html.search(/<\/head\s*>/i);
  const head = end >= 0 ? html.slice(0, end) : html;
  const metas = new Map<string, string>();
  for (const tag of head.match(/<meta\b[^>]*>/gi) ?? []) {
    const attrs = attributes(tag);
    const key = (attrs.get('property') ?? attrs.get('name'))?.toLowerCase();
    const content = attrs.get('content');
    if (key && content !== undefined && !metas.has(key)) metas.set(key, decodeEntities(content).trim());
  }
  const titleTag = /<title\b[^>]*>([\s\S]*?)<\/title>/i.exec(head)?.[1];
  const title = metas.get('og:title') || metas.get('twitter:title') || (titleTag ? decodeEntities(titleTag).replace(/\s+/g, ' ').trim() : '');
  const description = metas.get('og:description') || metas.get('twitter:description') || metas.get('description') || '';
  const rawImage = metas.get('og:image') || metas.get('og:image:url') || metas.get('twitter:image') || metas.get('twitter:image:src');
  let image: string | undefined;
  if (rawImage) {
    try {
      image = new URL(rawImage, pageUrl).toString();
    } catch {
      image = undefined;
    }
  }
  return { title: title.slice(0, 300), description: description.slice(0, 1000), image };
}

function attributes(tag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/g)) {
    out.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

// The entities pages commonly put in titles; others are left as written.
const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', copy: '©', reg: '®', trade: '™', euro: '€', middot: '·',
  mdash: '—', ndash: '–', hellip: '…', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«', raquo: '»',
  aacute: 'á', agrave: 'à', acirc: 'â', auml: 'ä', ccedil: 'ç', eacute: 'é', egrave: 'è', ecirc: 'ê', euml: 'ë', iacute: 'í',
  iuml: 'ï', ntilde: 'ñ', oacute: 'ó', ocirc: 'ô', ouml: 'ö', uacute: 'ú', ugrave: 'ù', uuml: 'ü', szlig: 'ß',
  Eacute: 'É', Agrave: 'À', Ccedil: 'Ç', Ouml: 'Ö', Uuml: 'Ü', Auml: 'Ä',
};

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+\d*);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      return Number.isInteger(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[name] ?? NAMED[name.toLowerCase()] ?? whole;
  });
}
