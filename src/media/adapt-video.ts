// Video renditions with ffmpeg (spawned directly: fluent-ffmpeg is archived): H.264 High + AAC-LC in MP4
// with the index first (faststart), scaled to fit, frame rate capped, bitrate capped so the file fits the
// platform's size limit, padded only when the profile pads. Progress comes from `-progress pipe:1`.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { getProfile, type VideoProfile } from './profiles.js';
import { padTo } from './adapt-image.js';
import { probeFile } from './probe.js';
import type { MediaInfo } from './types.js';

const AUDIO_BITRATE = 128_000;

export async function renderVideo(
  inputPath: string,
  profile: string,
  outPath: string,
  opts: { signal?: AbortSignal; onProgress?: (fraction: number) => void } = {},
): Promise<MediaInfo> {
  const p = getProfile(profile);
  if (p.kind !== 'video') throw new Error(`${profile} is not a video profile`);
  const src = await probeFile(inputPath);
  if (src.kind !== 'video') throw new Error('the input is not a video');
  const durationS = Math.max(0.1, (src.durationMs ?? 0) / 1000);
  // Leave 5 % for the container; never above the profile's ceiling.
  const budget = Math.floor(((p.maxBytes * 8 * 0.95) / durationS) - AUDIO_BITRATE);
  const videoBitrate = Math.max(200_000, Math.min(p.maxBitrate, budget));
  const args = [
    '-hide_banner', '-nostdin', '-y', '-i', inputPath,
    '-map', '0:v:0', '-map', '0:a:0?',
    '-vf', filters(src, p),
    '-c:v', 'libx264', '-profile:v', 'high', '-pix_fmt', 'yuv420p', '-preset', 'veryfast',
    '-b:v', String(videoBitrate), '-maxrate', String(videoBitrate), '-bufsize', String(videoBitrate * 2),
    '-c:a', 'aac', '-b:a', String(AUDIO_BITRATE), '-ar', '48000', '-ac', '2',
    '-movflags', '+faststart', '-map_metadata', '-1',
    '-progress', 'pipe:1', '-nostats', '-loglevel', 'error',
    '-f', 'mp4', // the output path may have no extension to guess from
    outPath,
  ];
  try {
    await runFfmpeg(args, durationS, opts);
  } catch (error) {
    await rm(outPath, { force: true });
    throw error;
  }
  opts.onProgress?.(1);
  return probeFile(outPath);
}

function filters(src: MediaInfo, p: VideoProfile): string {
  const scale = Math.min(1, p.maxWidth / src.width, p.maxHeight / src.height);
  // H.264 in 4:2:0 needs even dimensions.
  const even = (v: number) => Math.max(2, Math.floor(v / 2) * 2);
  const w = even(src.width * scale);
  const h = even(src.height * scale);
  const chain = [`scale=${w}:${h}:flags=lanczos`, 'setsar=1'];
  if (p.pad) {
    const t = padTo(w, h, p.pad);
    const tw = even(t.width + 1);
    const th = even(t.height + 1);
    if (tw !== w || th !== h) chain.push(`pad=${tw}:${th}:(ow-iw)/2:(oh-ih)/2:color=black`);
  }
  const fps = src.frameRate ?? 30;
  if (fps > p.maxFps + 0.5) chain.push(`fps=${p.maxFps}`);
  else if (p.minFps && fps < p.minFps - 0.5) chain.push(`fps=${Math.max(p.minFps, 30)}`);
  return chain.join(',');
}

function runFfmpeg(args: string[], durationS: number, opts: { signal?: AbortSignal; onProgress?: (fraction: number) => void }): Promise<void> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new Error('aborted'));
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let buffered = '';
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = line.match(/^out_time_us=(\d+)/);
        if (m) opts.onProgress?.(Math.min(0.99, Number(m[1]) / 1e6 / durationS));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    child.on('error', (error) => reject((error as NodeJS.ErrnoException).code === 'ENOENT' ? new Error('ffmpeg is not installed (apt-get install ffmpeg)') : error));
    child.on('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.signal?.aborted) return reject(new Error('aborted'));
      if (code === 0) return resolve();
      reject(new Error(`ffmpeg failed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}
