// What a file is, from its bytes: the type from magic numbers (never the client's word), image facts from
// sharp, video facts from ffprobe, and whether an MP4/MOV is progressive (moov before mdat).
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import sharp from 'sharp';
import type { MediaInfo } from './types.js';

const run = promisify(execFile);

export class MediaProbeError extends Error {
  constructor(
    readonly code: 'MEDIA_UNSUPPORTED_TYPE' | 'MEDIA_CORRUPT' | 'VIDEO_PROCESSING_UNAVAILABLE',
    message: string,
  ) {
    super(message);
  }
}

type Sniffed = { kind: 'image' | 'video'; mimeType: string; format: string } | null;

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

/** The type from the first bytes. */
export function sniff(head: Buffer): Sniffed {
  const at = (offset: number, text: string) => head.subarray(offset, offset + text.length).toString('latin1') === text;
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return { kind: 'image', mimeType: 'image/jpeg', format: 'jpeg' };
  if (at(0, '\x89PNG\r\n\x1a\n')) return { kind: 'image', mimeType: 'image/png', format: 'png' };
  if (at(0, 'GIF87a') || at(0, 'GIF89a')) return { kind: 'image', mimeType: 'image/gif', format: 'gif' };
  if (at(0, 'RIFF') && at(8, 'WEBP')) return { kind: 'image', mimeType: 'image/webp', format: 'webp' };
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return { kind: 'video', mimeType: 'video/webm', format: 'matroska,webm' };
  if (at(4, 'ftyp')) {
    const brand = head.subarray(8, 12).toString('latin1');
    if (brand === 'avif' || brand === 'avis') return { kind: 'image', mimeType: 'image/avif', format: 'heif' };
    if (HEIF_BRANDS.has(brand)) return { kind: 'image', mimeType: 'image/heic', format: 'heif' };
    if (brand === 'qt  ') return { kind: 'video', mimeType: 'video/quicktime', format: 'mov' };
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
    head = Buffer.alloc(Math.min(64, size));
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  const type = sniff(head);
  if (!type) throw new MediaProbeError('MEDIA_UNSUPPORTED_TYPE', 'the file is not an image (JPEG, PNG, GIF, WebP, HEIC, AVIF) or a video (MP4, MOV, WebM) Crier can read');
  return type.kind === 'image' ? probeImage(file, size, type) : probeVideo(file, size, type);
}

async function probeImage(file: string, size: number, type: NonNullable<Sniffed>): Promise<MediaInfo> {
  if (type.mimeType === 'image/heic') {
    // sharp's bundled libvips decodes HEIF only with AV1 (AVIF), not HEVC: read the size from the container.
    const dims = await heifDimensions(file);
    return { kind: 'image', mimeType: type.mimeType, format: 'heif', size, width: dims?.width ?? 0, height: dims?.height ?? 0 };
  }
  try {
    const m = await sharp(file, { animated: true, limitInputPixels: 268_402_689 }).metadata();
    // The header can be fine while the data is cut off: decode (a small, shrink-on-load thumbnail) now,
    // rather than let the first platform find out.
    await sharp(file, { failOn: 'truncated', limitInputPixels: 268_402_689 }).resize(64, 64, { fit: 'inside' }).toBuffer();
    const pages = m.pages ?? 1;
    // EXIF orientations 5–8 rotate by 90°: width and height are as displayed.
    const swap = (m.orientation ?? 1) >= 5;
    const height = m.pageHeight ?? m.height ?? 0;
    const width = m.width ?? 0;
    return {
      kind: 'image',
      mimeType: type.mimeType,
      format: m.format ?? type.format,
      size,
      width: swap ? height : width,
      height: swap ? width : height,
      animated: pages > 1,
      ...(pages > 1 ? { frames: pages } : {}),
    };
  } catch (error) {
    throw new MediaProbeError('MEDIA_CORRUPT', `the image could not be read: ${(error as Error).message}`);
  }
}

type FfprobeOut = {
  format?: { format_name?: string; duration?: string; bit_rate?: string };
  streams?: { codec_type?: string; codec_name?: string; width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string; sample_rate?: string; side_data_list?: { rotation?: number }[]; tags?: { rotate?: string } }[];
};

async function probeVideo(file: string, size: number, type: NonNullable<Sniffed>): Promise<MediaInfo> {
  let out: FfprobeOut;
  try {
    const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], { maxBuffer: 8 * 1024 * 1024 });
    out = JSON.parse(stdout) as FfprobeOut;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MediaProbeError('VIDEO_PROCESSING_UNAVAILABLE', FFMPEG_MISSING);
    throw new MediaProbeError('MEDIA_CORRUPT', `the video could not be read: ${lastLine((error as { stderr?: string }).stderr) ?? (error as Error).message}`);
  }
  const video = out.streams?.find((s) => s.codec_type === 'video');
  const audio = out.streams?.find((s) => s.codec_type === 'audio');
  if (!video) throw new MediaProbeError('MEDIA_UNSUPPORTED_TYPE', 'the file has no video stream');
  const rotation = Math.abs(video.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? Number(video.tags?.rotate ?? 0));
  const swap = rotation === 90 || rotation === 270;
  const duration = Number(out.format?.duration);
  const info: MediaInfo = {
    kind: 'video',
    mimeType: type.mimeType,
    format: out.format?.format_name ?? type.format,
    size,
    width: (swap ? video.height : video.width) ?? 0,
    height: (swap ? video.width : video.height) ?? 0,
    videoCodec: video.codec_name,
    frameRate: rate(video.avg_frame_rate) ?? rate(video.r_frame_rate),
    ...(Number.isFinite(duration) ? { durationMs: Math.round(duration * 1000) } : {}),
    ...(out.format?.bit_rate ? { bitRate: Number(out.format.bit_rate) } : {}),
    ...(audio ? { audioCodec: audio.codec_name, audioSampleRate: audio.sample_rate ? Number(audio.sample_rate) : undefined } : {}),
  };
  if (type.format === 'mp4' || type.format === 'mov') info.faststart = await moovFirst(file);
  return info;
}

function rate(r: string | undefined): number | undefined {
  const [n, d] = (r ?? '').split('/').map(Number);
  return n && d ? Math.round((n / d) * 1000) / 1000 : undefined;
}

const lastLine = (s: string | undefined) => s?.trim().split('\n').at(-1);

/** Walks the top-level atoms of an MP4/MOV: progressive playback needs `moov` before `mdat`. */
async function moovFirst(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const header = Buffer.alloc(16);
    let offset = 0;
    while (offset + 8 <= size) {
      await fh.read(header, 0, 16, offset);
      let atomSize = header.readUInt32BE(0);
      const name = header.subarray(4, 8).toString('latin1');
      if (name === 'moov') return true;
      if (name === 'mdat') return false;
      if (atomSize === 1) atomSize = Number(header.readBigUInt64BE(8));
      if (atomSize < 8) return false;
      offset += atomSize;
    }
    return false;
  } finally {
    await fh.close();
  }
}

/** HEIF `ispe` box (image spatial extent): width and height without decoding. */
async function heifDimensions(file: string): Promise<{ width: number; height: number } | null> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const i = buf.subarray(0, bytesRead).indexOf('ispe');
    if (i < 0 || i + 16 > bytesRead) return null;
    return { width: buf.readUInt32BE(i + 8), height: buf.readUInt32BE(i + 12) };
  } finally {
    await fh.close();
  }
}

const FFMPEG_MISSING = 'videos need ffmpeg and ffprobe on PATH (Debian: apt-get install ffmpeg; or run scripts/install-system-deps.sh)';

/** Whether video processing works here; checked once at start so the operator hears of it then. */
export async function ffmpegStatus(): Promise<{ available: boolean; version?: string; message?: string }> {
  try {
    const [{ stdout }] = await Promise.all([run('ffmpeg', ['-hide_banner', '-version']), run('ffprobe', ['-hide_banner', '-version'])]);
    return { available: true, version: stdout.split('\n')[0]?.replace(/^ffmpeg version /, '').split(' ')[0] };
  } catch {
    return { available: false, message: FFMPEG_MISSING };
  }
}
