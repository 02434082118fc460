// Image renditions with sharp: turn upright by EXIF, flatten transparency onto white, scale down with Lanczos
// to the profile's bounds, pad into an aspect range when the profile pads, and write a JPEG (mozjpeg) at the
// highest quality that fits the byte limit. Below the quality floor it scales down a little more instead: a
// slightly smaller sharp picture beats a blocky one. The output is sRGB (converted from the source's ICC
// profile, tagged as sRGB) and carries no other metadata: GPS position, camera and EXIF data are dropped.
import { open, readFile, writeFile } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import { getProfile, type ImageProfile } from './profiles.js';
import { heicDecoder, MAX_INPUT_PIXELS, sniff } from './probe.js';
import type { MediaInfo } from './types.js';

/** Neutral padding and background for transparency (Instagram's own app pads with white too). */
const BACKGROUND = '#ffffff';
const MAX_ROUNDS = 8;

export async function renderImage(inputPath: string, profileName: string, outPath: string): Promise<MediaInfo> {
  const p = getProfile(profileName);
  if (p.kind !== 'image') throw new Error(`${profileName} is not an image profile`);
  const source = await openSource(inputPath);
  const meta = await source.clone().metadata();
  const shown = meta.autoOrient ?? { width: meta.width, height: meta.height };
  let { width, height } = fit(shown.width, shown.height, p);
  let ratio: number | undefined;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // Decode, orient and resize once per size; only the JPEG encoding repeats per quality.
    const pixels = await resized(source.clone(), width, height, p);
    const found = await searchQuality(pixels, p, ratio);
    ratio = found.ratio;
    if (found.data) {
      await writeFile(outPath, found.data);
      return { kind: 'image', mimeType: 'image/jpeg', format: 'jpeg', size: found.data.length, width: pixels.width, height: pixels.height, animated: false };
    }
    // Bytes grow about with the pixel count: aim just under the limit at the floor quality.
    const scale = Math.min(0.95, Math.max(0.5, Math.sqrt(p.maxBytes / found.floorBytes) * 0.97));
    width = Math.max(1, Math.round(width * scale));
    height = Math.max(1, Math.round(height * scale));
  }
  throw new Error(`the image could not be made to fit ${p.maxBytes.toLocaleString('en-US')} bytes`);
}

type Pixels = { data: Buffer; width: number; height: number; channels: 3 };

/**
 * The highest JPEG quality in [floor, max] whose mozjpeg file fits. mozjpeg (trellis quantisation, optimised
 * progressive scans) takes about two seconds for 3 MP of detailed photo, so the search runs on libjpeg's plain
 * encoder with the same quantisation tables, ~15× faster, scaled by the ratio of the two encoders' sizes:
 * first a typical ratio, then the one measured on this picture. Usually one or two mozjpeg encodes in all.
 */
async function searchQuality(px: Pixels, p: ImageProfile, ratioHint?: number): Promise<{ data?: Buffer; floorBytes: number; ratio?: number }> {
  const { max, floor } = p.quality;
  const target = p.maxBytes;
  const quick = new Map<number, number>();
  const quickSize = async (q: number) => quick.get(q) ?? quick.set(q, (await encode(px, q, false)).length).get(q)!;
  const tried = new Map<number, Buffer>();
  const final = async (q: number) => tried.get(q) ?? tried.set(q, await encode(px, q, true)).get(q)!;
  let ratio = ratioHint ?? TYPICAL_RATIO;
  let best: number | undefined; // highest quality whose mozjpeg file is known to fit
  for (let attempt = 0; attempt < 4; attempt++) {
    const atFloor = ratio * (await quickSize(floor));
    // Clearly too big even at the floor: shrink without spending a slow encode to confirm it.
    if (atFloor > target * 1.03 && best === undefined) return { floorBytes: atFloor, ratio };
    // Bisection on predictions, keeping 1 % to spare: `lo` is predicted to fit, `hi` not.
    let [lo, hi] = [floor, max + 1];
    if (ratio * (await quickSize(max)) <= target * 0.99) lo = max;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (ratio * (await quickSize(mid)) <= target * 0.99) lo = mid;
      else hi = mid;
    }
    if (best !== undefined && lo <= best) {
      // The spare may hide one more step: try it when the measured ratio says it fits exactly.
      if (best < max && !tried.has(best + 1) && ratio * (await quickSize(best + 1)) <= target) lo = best + 1;
      else break;
    }
    const data = await final(lo);
    ratio = data.length / (await quickSize(lo)); // this picture's own ratio from now on
    if (data.length <= target) {
      best = Math.max(best ?? lo, lo);
      if (lo === max) break;
    } else if (lo === floor) {
      return { floorBytes: data.length, ratio };
    }
  }
  if (best === undefined) return { floorBytes: ratio * (await quickSize(floor)), ratio };
  const data = tried.get(best)!;
  return { data, floorBytes: data.length, ratio };
}

/** mozjpeg's size ÷ the plain encoder's at the same quality and tables, for detailed photos (0.85–0.9). */
const TYPICAL_RATIO = 0.87;

function encode(px: Pixels, quality: number, final: boolean): Promise<Buffer> {
  // 4:2:0 chroma at every quality: sizes then rise steadily with quality (the search relies on it), and at
  // a byte budget the bits do more for sharpness in luma than in colour. The quick encoder shares mozjpeg's
  // quantisation tables (3) so the two sizes stay in proportion.
  const options = final
    ? { quality, mozjpeg: true, chromaSubsampling: '4:2:0' }
    : { quality, quantisationTable: 3, optimiseCoding: true, chromaSubsampling: '4:2:0' };
  return sharp(px.data, { raw: { width: px.width, height: px.height, channels: px.channels } }).withIccProfile('srgb').jpeg(options).toBuffer();
}

/** The picture at its final size (and padding) as 8-bit sRGB pixels, ready to encode at any quality. */
async function resized(img: Sharp, width: number, height: number, p: ImageProfile): Promise<Pixels> {
  let pipeline = img
    .autoOrient()
    .flatten({ background: BACKGROUND })
    // No fast shrink-on-load: it can leave moiré on fine detail, the very blur/aliasing this step must avoid.
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3', fastShrinkOnLoad: false });
  if (p.pad) {
    const target = padTo(width, height, p.pad);
    if (target.width !== width || target.height !== height) {
      const top = Math.floor((target.height - height) / 2);
      const left = Math.floor((target.width - width) / 2);
      pipeline = pipeline.extend({ top, bottom: target.height - height - top, left, right: target.width - width - left, background: BACKGROUND });
    }
  }
  const { data, info } = await pipeline.toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`unexpected ${info.channels}-channel image after conversion to sRGB`);
  return { data, width: info.width, height: info.height, channels: 3 };
}

/** The largest size within the profile's bounds, keeping the aspect ratio (and room for padding). */
export function fit(w: number, h: number, p: ImageProfile): { width: number; height: number } {
  const bound = (cw: number, ch: number) => Math.min(1, p.maxLongEdge / Math.max(cw, ch), p.maxWidth ? p.maxWidth / cw : 1);
  let scale = bound(w, h);
  if (p.pad) {
    const t = padTo(w * scale, h * scale, p.pad);
    scale *= bound(t.width, t.height);
  }
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/** Canvas size that brings width ÷ height into [min, max] by adding borders only. */
export function padTo(width: number, height: number, range: { min: number; max: number }): { width: number; height: number } {
  const a = width / height;
  if (a < range.min) return { width: Math.ceil(height * range.min), height: Math.round(height) };
  if (a > range.max) return { width: Math.round(width), height: Math.ceil(width / range.max) };
  return { width: Math.round(width), height: Math.round(height) };
}

/** sharp reads most formats itself; HEIC (HEVC inside) is decoded by libheif compiled to WebAssembly. */
async function openSource(file: string): Promise<Sharp> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(256);
  try {
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  if (sniff(head)?.mimeType !== 'image/heic') return sharp(file, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' });
  let image: { width: number; height: number; data: Uint8ClampedArray };
  try {
    const decode = await heicDecoder();
    image = await decode({ buffer: await readFile(file) });
  } catch (error) {
    throw new Error(`the HEIC image could not be decoded: ${(error as Error).message}`);
  }
  if (image.width * image.height > MAX_INPUT_PIXELS) throw new Error('the HEIC image has too many pixels');
  // libheif has already applied the file's rotation and mirroring; the pixels are upright RGBA.
  const data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return sharp(data, { raw: { width: image.width, height: image.height, channels: 4 } });
}
