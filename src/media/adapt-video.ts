// Video renditions with ffmpeg, spawned directly (fluent-ffmpeg is archived): H.264 High + AAC-LC in MP4 with
// the index first (faststart), scaled down to fit (even dimensions, square pixels), frame rate brought into
// range, quality-targeted (CRF) but capped so the file fits the platform's byte limit, padded only when the
// profile pads. Metadata (a phone's GPS position among it) is dropped. Progress comes from `-progress pipe:1`.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { padTo } from './adapt-image.js';
import { getProfile, MIN_VIDEO_BITRATE, type VideoProfile } from './profiles.js';
import { probeFile } from './probe.js';
import type { MediaInfo } from './types.js';

export type RenderVideoOptions = { signal?: AbortSignal; onProgress?: (fraction: number) => void };

export class RenditionAbortedError extends Error {
  constructor() {
    super('aborted: the rendition was stopped before it finished');
    this.name = 'RenditionAbortedError';
  }
}

export async function renderVideo(inputPath: string, profileName: string, outPath: string, opts: RenderVideoOptions = {}): Promise<MediaInfo> {
  const p = getProfile(profileName);
  if (p.kind !== 'video') throw new Error(`${profileName} is not a video profile`);
  const src = await probeFile(inputPath);
  if (src.kind !== 'video') throw new Error('the input is not a video');
  const durationS = Math.max(0.04, (src.durationMs ?? 0) / 1000);
  const args = p.mode === 'remux' ? remuxArgs(inputPath, outPath) : encodeArgs(inputPath, outPath, src, p);
  try {
    await runFfmpeg(args, durationS, opts);
    const out = await probeFile(outPath);
    // The bitrate cap makes this all but impossible; checked so a broken promise fails here, not on the platform.
    if (out.size > p.maxBytes) throw new Error(`the re-encoded video is ${out.size.toLocaleString('en-US')} bytes, over the ${p.maxBytes.toLocaleString('en-US')} the profile allows`);
    opts.onProgress?.(1);
    return out;
  } catch (error) {
    await rm(outPath, { force: true });
    throw error;
  }
}

/** What an encode will do: output size, padding, frame rate and the bitrate cap. Pure, so tests can pin it. */
export function encodeSettings(src: MediaInfo, p: VideoProfile): { width: number; height: number; pad?: { width: number; height: number }; fps?: number; maxrate: number; bufsize: number } {
  const even = (v: number) => Math.max(2, Math.floor(v / 2) * 2);
  const bound = (w: number, h: number) => Math.min(1, p.maxWidth / w, p.maxHeight / h);
  let scale = bound(src.width, src.height);
  let pad: { width: number; height: number } | undefined;
  if (p.pad) {
    const t = padTo(src.width * scale, src.height * scale, p.pad);
    scale *= bound(t.width, t.height); // leave room for the borders within the profile's box
  }
  const width = even(src.width * scale);
  const height = even(src.height * scale);
  if (p.pad) {
    const t = padTo(width, height, p.pad);
    // Round the canvas up to even numbers, so the padded ratio stays inside the range.
    if (t.width !== width || t.height !== height) pad = { width: Math.ceil(t.width / 2) * 2, height: Math.ceil(t.height / 2) * 2 };
  }
  const durationS = Math.max(0.04, (src.durationMs ?? 0) / 1000);
  // VBV guarantees bits ≤ maxrate × duration + bufsize, so with bufsize = one second of maxrate the file
  // fits when maxrate × (duration + 1) + audio stays under the limit (3 % kept for the container).
  const budget = Math.floor((p.maxBytes * 8 * 0.97) / (durationS + 1) - p.audioBitrate);
  if (budget + p.audioBitrate < MIN_VIDEO_BITRATE) throw new Error(`a ${Math.round(durationS)} s video cannot fit ${p.maxBytes.toLocaleString('en-US')} bytes at a watchable bitrate`);
  const maxrate = Math.min(p.maxBitrate, budget);
  return { width, height, ...(pad ? { pad } : {}), ...frameRate(src.frameRate, p), maxrate, bufsize: maxrate };
}

/**
 * Over the cap: keep every k-th frame when that lands near the cap (90 → 45, 120 → 60: motion stays even),
 * else resample to the cap (72 → 60).
 */
function frameRate(fps: number | undefined, p: VideoProfile): { fps?: number } {
  if (!fps) return {};
  if (fps > p.maxFps + 0.01) {
    const k = Math.ceil(fps / p.maxFps - 0.001);
    const even = fps / k;
    return { fps: even >= p.maxFps * 0.7 ? Math.round(even * 1000) / 1000 : p.maxFps };
  }
  if (p.minFps && fps < p.minFps - 0.01) return { fps: 30 };
  return {};
}

// `0:V:0`: the first real video stream — capital V skips cover pictures, which MP4s carry as video streams.
function encodeArgs(input: string, output: string, src: MediaInfo, p: VideoProfile): string[] {
  const s = encodeSettings(src, p);
  const filters = [`scale=${s.width}:${s.height}:flags=lanczos`, 'setsar=1'];
  if (s.pad) filters.push(`pad=${s.pad.width}:${s.pad.height}:(ow-iw)/2:(oh-ih)/2:color=black`);
  if (s.fps) filters.push(`fps=${s.fps}`);
  return [
    '-hide_banner', '-nostdin', '-y', '-i', input,
    '-map', '0:V:0', '-map', '0:a:0?', '-map_metadata', '-1', '-map_chapters', '-1',
    '-vf', filters.join(','),
    '-c:v', 'libx264', '-profile:v', 'high', '-pix_fmt', 'yuv420p', '-preset', p.preset,
    '-crf', String(p.crf), '-maxrate', String(s.maxrate), '-bufsize', String(s.bufsize),
    '-c:a', 'aac', '-profile:a', 'aac_low', '-b:a', String(p.audioBitrate), '-ar', String(p.audioSampleRate), '-ac', '2',
    '-movflags', '+faststart',
    '-progress', 'pipe:1', '-nostats', '-loglevel', 'error',
    '-f', 'mp4', // the output path may have no extension to guess from
    output,
  ];
}

/** Same streams, index moved to the front: lossless and about as fast as copying the file. */
function remuxArgs(input: string, output: string): string[] {
  return [
    '-hide_banner', '-nostdin', '-y', '-i', input,
    '-map', '0:V:0', '-map', '0:a:0?', '-map_metadata', '-1', '-map_chapters', '-1', '-c', 'copy',
    '-movflags', '+faststart', '-progress', 'pipe:1', '-nostats', '-loglevel', 'error', '-f', 'mp4', output,
  ];
}

function runFfmpeg(args: string[], durationS: number, opts: RenderVideoOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new RenditionAbortedError());
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let pending = '';
    let reported = 0;
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^out_time_us=(\d+)/.exec(line);
        if (!m) continue;
        // Kept below 1 until the output is checked; never reported backwards.
        const fraction = Math.min(0.99, Number(m[1]) / 1e6 / durationS);
        if (fraction > reported) opts.onProgress?.((reported = fraction));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8000);
    });
    child.on('error', (error) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject((error as NodeJS.ErrnoException).code === 'ENOENT' ? new Error('ffmpeg is not installed (Debian: apt-get install ffmpeg; or scripts/install-system-deps.sh)') : error);
    });
    child.on('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.signal?.aborted) return reject(new RenditionAbortedError());
      if (code === 0) return resolve();
      const last = stderr.trim().split('\n').slice(-5).join(' | ');
      reject(new Error(`ffmpeg failed (${signal ?? `exit code ${code}`}): ${last || 'no error output'}`));
    });
  });
}
