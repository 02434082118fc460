// What a file is, from its bytes: the type from magic numbers (never the client's word), image facts from
// sharp (or libheif for HEIC, which sharp's bundled libvips cannot decode), video facts from ffprobe, and
// whether an MP4/MOV is progressive (moov before mdat).
import { execFile } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import sharp from 'sharp';
import type { MediaInfo } from './types.js';

const run = promisify(execFile);

export type MediaProbeErrorCode = 'MEDIA_UNSUPPORTED_TYPE' | 'MEDIA_CORRUPT' | 'VIDEO_PROCESSING_UNAVAILABLE';

export class MediaProbeError extends Error {
  constructor(
    readonly code: MediaProbeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MediaProbeError';
  }
}

/** Decoding bombs: a 16,384² image is already 1 GiB of RGBA; nothing social needs more. */
export const MAX_INPUT_PIXELS = 268_402_689;
/** libheif (WebAssembly) reads a HEIC whole into memory; phone photos are a few MB. */
export const MAX_HEIC_BYTES = 100 * 1024 * 1024;

type Sniffed = { kind: 'image' | 'video'; mimeType: string; format: string };

const HEIC_BRANDS = ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis'];
const AVIF_BRANDS = ['avif', 'avis'];

/** The type from the first bytes (at least the first 64; the ftyp box's compatible brands may need more). */
export function sniff(head: Buffer): Sniffed | null {
  const at = (offset: number, text: string) => head.subarray(offset, offset + text.length).toString('latin1') === text;
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return { kind: 'image', mimeType: 'image/jpeg', format: 'jpeg' };
  if (at(0, '\x89PNG\r\n\x1a\n')) return { kind: 'image', mimeType: 'image/png', format: 'png' };
  if (at(0, 'GIF87a') || at(0, 'GIF89a')) return { kind: 'image', mimeType: 'image/gif', format: 'gif' };
  if (at(0, 'RIFF') && at(8, 'WEBP')) return { kind: 'image', mimeType: 'image/webp', format: 'webp' };
  if (at(0, 'II*\0') || at(0, 'MM\0*')) return { kind: 'image', mimeType: 'image/tiff', format: 'tiff' };
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
    // EBML: the DocType says WebM or (other) Matroska.
    return head.subarray(0, 64).includes('webm') ? { kind: 'video', mimeType: 'video/webm', format: 'matroska,webm' } : { kind: 'video', mimeType: 'video/x-matroska', format: 'matroska,webm' };
  }
  if (at(4, 'ftyp')) {
    // ISO base media: the major brand, then compatible brands, decide between HEIC/AVIF stills and video.
    const boxEnd = Math.min(head.length, head.readUInt32BE(0));
    const brands = [head.subarray(8, 12).toString('latin1')];
    for (let o = 16; o + 4 <= boxEnd; o += 4) brands.push(head.subarray(o, o + 4).toString('latin1'));
    const major = brands[0]!;
    if (AVIF_BRANDS.includes(major)) return { kind: 'image', mimeType: 'image/avif', format: 'heif' };
    if (HEIC_BRANDS.includes(major)) return { kind: 'image', mimeType: 'image/heic', format: 'heif' };
    if (major === 'mif1' || major === 'msf1') {
      if (brands.some((b) => AVIF_BRANDS.includes(b))) return { kind: 'image', mimeType: 'image/avif', format: 'heif' };
      return { kind: 'image', mimeType: 'image/heic', format: 'heif' };
    }
    if (major === 'qt  ') return { kind: 'video', mimeType: 'video/quicktime', format: 'mov' };
    return { kind: 'video', mimeType: 'video/mp4', format: 'mp4' };
  }
  return null;
}

export async function probeFile(file: string): Promise<MediaInfo> {
  const fh = await open(file, 'r');
  let head: Buffer;
  let size: number;
  try {
    size = (await fh.stat()).size;
    head = Buffer.alloc(Math.min(256, size));
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  const type = sniff(head);
  if (!type) throw new MediaProbeError('MEDIA_UNSUPPORTED_TYPE', 'the file is not an image (JPEG, PNG, GIF, WebP, HEIC, AVIF, TIFF) or a video (MP4, MOV, WebM, Matroska) Crier can read');
  if (type.kind === 'video') return probeVideo(file, size, type);
  return type.mimeType === 'image/heic' ? probeHeic(file, size) : probeImage(file, size, type);
}

async function probeImage(file: string, size: number, type: Sniffed): Promise<MediaInfo> {
  try {
    const m = await sharp(file, { animated: true, limitInputPixels: MAX_INPUT_PIXELS }).metadata();
    // The header can be fine while the data is cut off: decode now (a small shrink-on-load thumbnail, cheap)
    // rather than let the first platform find out.
    await sharp(file, { failOn: 'truncated', limitInputPixels: MAX_INPUT_PIXELS }).resize(64, 64, { fit: 'inside' }).toBuffer();
    const pages = m.pages ?? 1;
    // Width and height as displayed: EXIF orientations 5–8 turn the picture by 90°.
    const stored = { width: m.width, height: m.pageHeight ?? m.height };
    const turned = (m.orientation ?? 1) >= 5;
    return {
      kind: 'image',
      mimeType: type.mimeType,
      format: m.format ?? type.format,
      size,
      width: (turned ? stored.height : stored.width) ?? 0,
      height: (turned ? stored.width : stored.height) ?? 0,
      animated: pages > 1,
      ...(pages > 1 ? { frames: pages } : {}),
    };
  } catch (error) {
    throw new MediaProbeError('MEDIA_CORRUPT', `the image could not be read: ${(error as Error).message}`);
  }
}

/** libheif (WebAssembly, npm heic-decode) reads the container: sizes after its rotation/crop, no pixel decode. */
async function probeHeic(file: string, size: number): Promise<MediaInfo> {
  const base = { kind: 'image' as const, mimeType: 'image/heic', format: 'heif', size, animated: false };
  if (size > MAX_HEIC_BYTES) throw new MediaProbeError('MEDIA_UNSUPPORTED_TYPE', `HEIC images are read up to ${MAX_HEIC_BYTES.toLocaleString('en-US')} bytes; this one is ${size.toLocaleString('en-US')}`);
  try {
    const decode = await heicDecoder();
    const images = await decode.all({ buffer: await readFile(file) });
    const primary = images[0];
    if (!primary) throw new Error('no image in the file');
    return { ...base, width: primary.width, height: primary.height };
  } catch (error) {
    throw new MediaProbeError('MEDIA_CORRUPT', `the HEIC image could not be read: ${(error as Error).message}`);
  }
}

type HeicImage = { width: number; height: number; decode(): Promise<{ width: number; height: number; data: Uint8ClampedArray }> };
type HeicDecode = ((o: { buffer: Buffer }) => Promise<{ width: number; height: number; data: Uint8ClampedArray }>) & { all(o: { buffer: Buffer }): Promise<HeicImage[]> };

/** Loaded on first use: the WebAssembly module costs ~10 MB and most files are not HEIC. */
export async function heicDecoder(): Promise<HeicDecode> {
  // @ts-expect-error heic-decode ships no types; HeicDecode above is the part Crier uses.
  const mod = (await import('heic-decode')) as { default: HeicDecode };
  return mod.default;
}

type FfprobeStream = {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  sample_rate?: string;
  duration?: string;
  side_data_list?: { rotation?: number }[];
  tags?: { rotate?: string };
  disposition?: { attached_pic?: number };
};
type FfprobeOut = { format?: { format_name?: string; duration?: string; bit_rate?: string }; streams?: FfprobeStream[] };

async function probeVideo(file: string, size: number, type: Sniffed): Promise<MediaInfo> {
  let out: FfprobeOut;
  try {
    const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 });
    out = JSON.parse(stdout) as FfprobeOut;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MediaProbeError('VIDEO_PROCESSING_UNAVAILABLE', FFMPEG_MISSING);
    throw new MediaProbeError('MEDIA_CORRUPT', `the video could not be read: ${lastLine((error as { stderr?: string }).stderr) ?? (error as Error).message}`);
  }
  // A cover picture in an MP4 is a "video" stream too; the real one is not an attached picture.
  const video = out.streams?.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const audio = out.streams?.find((s) => s.codec_type === 'audio');
  if (!video) throw new MediaProbeError('MEDIA_UNSUPPORTED_TYPE', 'the file has no video stream (audio-only files are not supported)');
  if (!video.width || !video.height) throw new MediaProbeError('MEDIA_CORRUPT', 'the video stream has no picture size');
  // Phones record upright video as landscape plus a rotation: report what viewers see.
  const rotation = Math.abs(video.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? Number(video.tags?.rotate ?? 0));
  const turned = rotation === 90 || rotation === 270;
  const seconds = Number(out.format?.duration ?? video.duration);
  const durationMs = Number.isFinite(seconds) ? Math.round(seconds * 1000) : undefined;
  const bitRate = Number(out.format?.bit_rate) || (durationMs ? Math.round((size * 8) / (durationMs / 1000)) : undefined);
  const frameRate = rate(video.avg_frame_rate) ?? rate(video.r_frame_rate);
  const info: MediaInfo = {
    kind: 'video',
    mimeType: type.mimeType,
    format: out.format?.format_name ?? type.format,
    size,
    width: turned ? video.height : video.width,
    height: turned ? video.width : video.height,
    ...(video.codec_name ? { videoCodec: video.codec_name } : {}),
    ...(frameRate ? { frameRate } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(bitRate ? { bitRate } : {}),
    ...(audio?.codec_name ? { audioCodec: audio.codec_name } : {}),
    ...(audio?.sample_rate ? { audioSampleRate: Number(audio.sample_rate) } : {}),
  };
  if (type.format === 'mp4' || type.format === 'mov') info.faststart = await moovFirst(file);
  return info;
}

/** "30000/1001" → 29.97; "0/0" (unknown) → undefined. */
function rate(r: string | undefined): number | undefined {
  const [num, den] = (r ?? '').split('/').map(Number);
  return num && den ? Math.round((num / den) * 1000) / 1000 : undefined;
}

const lastLine = (s: string | undefined) => s?.trim().split('\n').at(-1) || undefined;

/** Walks the top-level atoms of an MP4/MOV: progressive playback needs `moov` before `mdat`. */
export async function moovFirst(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const header = Buffer.alloc(16);
    let offset = 0;
    while (offset + 8 <= size) {
      await fh.read(header, 0, 16, offset);
      const name = header.subarray(4, 8).toString('latin1');
      if (name === 'moov') return true;
      if (name === 'mdat') return false;
      let atomSize = header.readUInt32BE(0);
      if (atomSize === 1) atomSize = Number(header.readBigUInt64BE(8)); // 64-bit size follows the name
      if (atomSize < 8) return false; // 0 = "to the end of the file": nothing follows
      offset += atomSize;
    }
    return false;
  } finally {
    await fh.close();
  }
}

const FFMPEG_MISSING = 'videos need ffmpeg and ffprobe on PATH with the libx264 and aac encoders (Debian: apt-get install ffmpeg; or run scripts/install-system-deps.sh)';

/** Whether video processing works here: checked once at start, so the operator hears of it then. */
export async function ffmpegStatus(): Promise<{ available: boolean; version?: string; message?: string }> {
  try {
    const [{ stdout: version }, , { stdout: encoders }] = await Promise.all([
      run('ffmpeg', ['-hide_banner', '-version'], { timeout: 15_000 }),
      run('ffprobe', ['-hide_banner', '-version'], { timeout: 15_000 }),
      run('ffmpeg', ['-hide_banner', '-encoders'], { timeout: 15_000 }),
    ]);
    const v = version.split('\n')[0]?.replace(/^ffmpeg version /, '').split(' ')[0];
    // A build without libx264 (some minimal or licence-restricted ones) cannot make the renditions.
    const missing = [' libx264 ', ' aac '].filter((e) => !encoders.includes(e)).map((e) => e.trim());
    if (missing.length > 0) return { available: false, ...(v ? { version: v } : {}), message: `ffmpeg ${v ?? ''} lacks the ${missing.join(' and ')} encoder(s); ${FFMPEG_MISSING}` };
    return { available: true, ...(v ? { version: v } : {}) };
  } catch {
    return { available: false, message: FFMPEG_MISSING };
  }
}
