// Link cards (app.bsky.embed.external): Bluesky shows a preview of a link only when the record embeds one;
// the app builds it on the client from the page's OpenGraph tags, so an API client has to do the same
// (platforms.md §9, "Embeds"). A post with media gets no card (one embed per post). The card comes from
// options.bluesky.link_card when given, else from the first link of the text; the thumbnail is uploaded as
// a blob (lexicon: image/*, at most 1,000,000 bytes, so larger or exotic images are re-encoded as JPEG).
// A card is a nicety: when the page or image cannot be fetched, the post goes out without it (or without
// the thumbnail) and the reason is logged. It never fails the post.
import { Readable } from 'node:stream';
import sharp from 'sharp';
import type { Result } from '../../lib/result.js';
import type { HttpResponse } from '../http.js';
import type { ConnectorCtx, ConnectorError } from '../types.js';
import * as client from './client.js';
import { guardedGet, urlPolicyFromEnv } from './guarded-get.js';
import { CARD_LIMITS, parseCard, type PageCard } from './opengraph.js';

export type LinkCardOption = { uri: string; title?: string; description?: string; thumb_url?: string };
type WithSession = (call: (accessJwt: string) => Promise<Result<HttpResponse, ConnectorError>>) => Promise<Result<HttpResponse, ConnectorError>>;

export const THUMB_MAX_BYTES = 1_000_000;
const KEPT_FORMATS: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif' };
const RASTER = new Set(['jpeg', 'png', 'webp', 'gif', 'avif', 'heif', 'tiff']);

/**
 * The external embed for a post without media, or undefined (no link, `link_card: false`, or the card
 * could not be made). `firstLink` is the first link facet's URI of the text.
 */
export async function linkCardEmbed(
  ctx: ConnectorCtx<{ did: string }>,
  baseUrl: string,
  option: LinkCardOption | false | undefined,
  firstLink: string | undefined,
  withSession: WithSession,
): Promise<Record<string, unknown> | undefined> {
  if (option === false) return undefined;
  const uri = option?.uri ?? firstLink;
  if (!uri) return undefined;
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(CARD_LIMITS.timeoutMs)]);
  const policy = urlPolicyFromEnv();
  const given = option && (option.title !== undefined || option.description !== undefined);
  let card: PageCard;
  if (given) {
    card = { title: option.title ?? '', description: option.description ?? '' };
  } else {
    try {
      const page = await guardedGet(uri, { policy, maxBytes: CARD_LIMITS.pageBytes, signal, accept: 'text/html,application/xhtml+xml', stopAt: '</head>' });
      if (!/html/i.test(page.contentType)) throw new Error(`the page is ${page.contentType || 'of no stated type'}, not HTML`);
      card = parseCard(page.body.toString('utf8'), page.url);
    } catch (error) {
      ctx.log.warn({ uri, reason: (error as Error).message }, 'bluesky: no link card (the page could not be read)');
      if (!option) return undefined;
      // A card the user asked for is kept, with what they gave.
      card = { title: '', description: '' };
    }
  }
  const external: Record<string, unknown> = { uri, title: card.title, description: card.description };
  const imageUrl = option?.thumb_url ?? card.image;
  if (imageUrl) {
    const thumb = await uploadThumb(ctx, baseUrl, imageUrl, signal, withSession).catch((error: Error) => {
      ctx.log.warn({ uri, image: imageUrl, reason: error.message }, 'bluesky: link card without its image');
      return undefined;
    });
    if (thumb) external['thumb'] = thumb;
  }
  return { $type: 'app.bsky.embed.external', external };
}

async function uploadThumb(ctx: ConnectorCtx<{ did: string }>, baseUrl: string, imageUrl: string, signal: AbortSignal, withSession: WithSession): Promise<unknown> {
  const image = await guardedGet(imageUrl, { policy: urlPolicyFromEnv(), maxBytes: CARD_LIMITS.imageBytes, signal, accept: 'image/*' });
  const { bytes, mimeType } = await thumbBytes(image.body);
  const sent = await withSession((jwt) => client.uploadBlob(baseUrl, jwt, { stream: Readable.from([bytes]), length: bytes.length }, mimeType, signal));
  if (!sent.ok) throw new Error(sent.error.message);
  if (sent.value.status !== 200) throw new Error(`uploadBlob answered ${sent.value.status}: ${sent.value.text.slice(0, 200)}`);
  const blob = (sent.value.body as { blob?: { ref?: { $link?: string } } } | undefined)?.blob;
  if (!blob?.ref?.$link) throw new Error('uploadBlob answered without a blob');
  return blob;
}

/** The image as it is when it fits the lexicon, else re-encoded as a JPEG small enough. Not an image: throws. */
export async function thumbBytes(input: Buffer): Promise<{ bytes: Buffer; mimeType: string }> {
  const meta = await sharp(input).metadata();
  // Raster images only: an SVG would be rendered by librsvg, which nobody needs for a thumbnail.
  if (!meta.format || !RASTER.has(meta.format)) throw new Error(`not a picture Crier shrinks (${meta.format ?? 'unknown format'})`);
  const kept = KEPT_FORMATS[meta.format];
  if (kept && input.length <= THUMB_MAX_BYTES) return { bytes: input, mimeType: kept };
  for (const [side, quality] of [[1000, 80], [600, 60]] as const) {
    const bytes = await sharp(input).rotate().resize(side, side, { fit: 'inside', withoutEnlargement: true }).flatten({ background: '#ffffff' }).jpeg({ quality }).toBuffer();
    if (bytes.length <= THUMB_MAX_BYTES) return { bytes, mimeType: 'image/jpeg' };
  }
  throw new Error('the image stays over 1,000,000 bytes even shrunk');
}
