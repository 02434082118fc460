// Image renditions with sharp: orient by EXIF, flatten transparency, scale down with Lanczos to the profile's
// bounds, pad to an allowed aspect ratio when asked, and write a JPEG (mozjpeg) at the highest quality that
// fits the byte limit. Below the quality floor it scales down a little more instead: a slightly smaller
// sharp image beats a blocky one. Output carries no metadata (GPS and camera data are dropped).
import { open, readFile, writeFile } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import { JPEG_QUALITY_FLOOR, JPEG_START_QUALITY, getProfile, type ImageProfile } from './profiles.js';
import { sniff } from './probe.js';
import type { MediaInfo } from './types.js';

const QUALITY_STEP = 6;
const SHRINK = 0.85;
const MAX_ROUNDS = 10;

export async function renderImage(inputPath: string, profile: string, outPath: string): Promise<MediaInfo> {
  const p = getProfile(profile);
  if (p.kind !== 'image') throw new Error(`${profile} is not an image profile`);
  const source = await decodable(inputPath);
  const base = sharp(source.input, { ...(source.raw ? { raw: source.raw } : {}), limitInputPixels: 268_402_689 }).rotate();
  const meta = await sharp(source.input, source.raw ? { raw: source.raw } : {}).metadata();
  // EXIF orientations 5–8 turn the picture by 90°: size it as it will be displayed.
  const turned = (meta.orientation ?? 1) >= 5;
  let { width, height } = fit(turned ? meta.height! : meta.width!, turned ? meta.width! : meta.height!, p);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // Decode, orient and resize once per size; only the JPEG encoding repeats per quality.
    const pixels = await resized(base.clone(), width, height, p);
    for (let quality = JPEG_START_QUALITY; quality >= JPEG_QUALITY_FLOOR; quality -= QUALITY_STEP) {
      const data = await pixels.clone().jpeg({ quality, mozjpeg: true, chromaSubsampling: quality >= 90 ? '4:4:4' : '4:2:0' }).toBuffer();
      if (data.length <= p.maxBytes) {
        await writeFile(outPath, data);
        const out = await sharp(data).metadata();
        return { kind: 'image', mimeType: 'image/jpeg', format: 'jpeg', size: data.length, width: out.width!, height: out.height! };
      }
    }
    width = Math.max(1, Math.round(width * SHRINK));
    height = Math.max(1, Math.round(height * SHRINK));
  }
  throw new Error(`could not fit the image into ${p.maxBytes} bytes`);
}

/** The picture at its final size (and padding) as raw sRGB pixels, ready to encode at any quality. */
async function resized(img: Sharp, width: number, height: number, p: ImageProfile): Promise<Sharp> {
  const { data, info } = await img
    .flatten({ background: '#ffffff' })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  let pixels = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  if (p.pad) {
    const target = padTo(width, height, p.pad);
    if (target.width !== width || target.height !== height) {
      // Extend after resizing, so the padding is exact and costs no quality.
      const padded = await pixels
        .extend({
          top: Math.floor((target.height - height) / 2),
          bottom: Math.ceil((target.height - height) / 2),
          left: Math.floor((target.width - width) / 2),
          right: Math.ceil((target.width - width) / 2),
          background: '#ffffff',
        })
        .raw()
        .toBuffer({ resolveWithObject: true });
      pixels = sharp(padded.data, { raw: { width: padded.info.width, height: padded.info.height, channels: padded.info.channels } });
    }
  }
  return pixels;
}

/** The largest size within the profile's long edge and pixel count, keeping the aspect ratio. */
function fit(w: number, h: number, p: ImageProfile): { width: number; height: number } {
  let scale = Math.min(1, p.maxLongEdge / Math.max(w, h));
  if (p.maxPixels) scale = Math.min(scale, Math.sqrt(p.maxPixels / (w * h)));
  if (p.pad) {
    // Leave room for the padding within the long edge.
    const t = padTo(w * scale, h * scale, p.pad);
    scale *= Math.min(1, p.maxLongEdge / Math.max(t.width, t.height));
  }
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/** Canvas size that brings width ÷ height into [min, max] by adding borders only. */
export function padTo(width: number, height: number, [min, max]: [number, number]): { width: number; height: number } {
  const a = width / height;
  if (a < min) return { width: Math.ceil(height * min), height: Math.round(height) };
  if (a > max) return { width: Math.round(width), height: Math.ceil(width / max) };
  return { width: Math.round(width), height: Math.round(height) };
}

/** sharp reads most formats itself; HEIC (HEVC inside) is decoded with libheif compiled to WebAssembly. */
async function decodable(file: string): Promise<{ input: Buffer | string; raw?: { width: number; height: number; channels: 4 } }> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(64);
  try {
    await fh.read(head, 0, 64, 0);
  } finally {
    await fh.close();
  }
  if (sniff(head)?.mimeType !== 'image/heic') return { input: file };
  // @ts-expect-error heic-decode ships no types; the shape used is { width, height, data: RGBA bytes }.
  const { default: decode } = (await import('heic-decode')) as { default: (o: { buffer: Buffer }) => Promise<{ width: number; height: number; data: Uint8ClampedArray }> };
  const image = await decode({ buffer: await readFile(file) });
  return { input: Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), raw: { width: image.width, height: image.height, channels: 4 } };
}
