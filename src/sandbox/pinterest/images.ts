// Pinterest takes an image by URL (it downloads it) or as base64 in the request. The simulator really GETs
// the URL over HTTP, stops reading past the size limit, and decodes the bytes (sharp) to learn the type and
// dimensions, so an unreachable URL, an expired signed URL (403/404), an oversize file or bytes that are no
// image are all refused like Pinterest refuses them: 400 at pin creation (Pinterest creates the pin
// synchronously from the fetched image). Wording of those refusals is unconfirmed.
import sharp from 'sharp';

export type Picture = { ok: true; mimeType: string; width: number; height: number; bytes: number } | { ok: false; message: string };

// The types Pinterest lists for image pins (BMP, GIF, JPEG, PNG, TIFF, WEBP); the base64 variants name JPEG and PNG only.
const FORMATS: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', tiff: 'image/tiff', bmp: 'image/bmp' };

export async function inspect(bytes: Buffer): Promise<Picture> {
  try {
    const meta = await sharp(bytes).metadata();
    const mimeType = meta.format ? FORMATS[meta.format] : undefined;
    if (!mimeType || !meta.width || !meta.height) return { ok: false, message: 'The image is not a supported type (BMP, GIF, JPEG, PNG, TIFF or WEBP).' };
    return { ok: true, mimeType, width: meta.width, height: meta.height, bytes: bytes.length };
  } catch {
    return { ok: false, message: 'The image could not be read.' };
  }
}

export async function fetchImage(url: string, maxBytes: number, timeoutMs: number): Promise<Picture> {
  if (!/^https?:\/\//i.test(url)) return { ok: false, message: `Invalid image url: ${url}` };
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (e) {
    return { ok: false, message: `Sorry, we could not fetch the image (${(e as Error).message}).` };
  }
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel().catch(() => {});
    return { ok: false, message: `Sorry, we could not fetch the image (HTTP ${res.status}).` };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > maxBytes) {
        await res.body.cancel().catch(() => {});
        return { ok: false, message: `The image is too large (over ${maxBytes} bytes).` };
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (e) {
    return { ok: false, message: `Sorry, we could not fetch the image (${(e as Error).message}).` };
  }
  return inspect(Buffer.concat(chunks));
}

export async function decodeBase64(contentType: unknown, data: unknown, maxBytes: number): Promise<Picture> {
  if (contentType !== 'image/jpeg' && contentType !== 'image/png') return { ok: false, message: 'content_type must be one of image/jpeg, image/png.' };
  if (typeof data !== 'string' || data.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return { ok: false, message: 'data must be base64 encoded image data.' };
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length > maxBytes) return { ok: false, message: `The image is too large (over ${maxBytes} bytes).` };
  const pic = await inspect(bytes);
  if (pic.ok && pic.mimeType !== contentType) return { ok: false, message: `The image data is ${pic.mimeType}, not the content_type ${contentType}.` };
  return pic;
}
