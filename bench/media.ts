// Benchmark 4: media adaptation. Image renditions of 12-megapixel photos (throughput, CPU and peak memory for
// the Bluesky and Instagram profiles, one and two at a time) and video transcodes (speed as a multiple of real
// time for a 720p and a 1080p clip, and ffmpeg's peak memory), measured through src/media/adapt-image.ts
// `renderImage` and src/media/adapt-video.ts `renderVideo` exactly as the worker calls them.
//
// Inputs, made by the parent into a temp folder first:
// - `--photos` 12 MP photos: photo-like pictures (test/support/media-fixtures.ts `photo()`: colour at every scale,
//   fine texture, hard edges, sensor grain) stored 4000×3000 as JPEG q92 with camera EXIF, ~5 MB each, like a
//   phone's. photo-0 carries EXIF orientation 6 (stored landscape, shown 3000×4000 portrait), as a phone writes
//   a portrait photo, so the orientation step is part of the run.
// - a 720p and a 1080p clip, `--video-seconds` long, 30 fps: ffmpeg's testsrc2 with temporal noise (camera
//   grain, so the encoder has real work) and a sine tone, stored as **VP9 + Opus in WebM** (4 / 8 Mbit/s).
//   Instagram takes only H.264/HEVC in MP4/MOV, so Crier's planner sends both to `instagram-video-v1` (checked
//   at run time with planMedia): a real decode + scale + x264 encode, at the source's resolution (Instagram
//   allows 1920 px wide), not a remux. `--video-profile=` picks another profile.
//
// Each scenario then runs in a child process of its own, so its memory figures are its own:
// - images: RSS = process.memoryUsage().rss sampled every 50 ms (max), and the kernel's high-water mark VmHWM,
//   which also catches peaks between samples; "base" is the child's RSS after loading the code, before work.
//   sharp's settings are left at their defaults and reported (`sharp.concurrency()`, `sharp.cache()`).
// - video: ffmpeg's VmHWM from /proc/<pid>/status, read every 50 ms while it runs (a high-water mark, so only
//   growth in its last 50 ms could be missed), and the Node child's own RSS as for images.
// CPU is the child's user+system time plus that of the processes it waited for (ffmpeg, ffprobe).
// The JPEG quality the search landed on is read back from each output's quantisation table (matched against
// tables sharp writes with the same encoder options at every quality).
//
// Run: npm run bench:media [-- --quick] [--photos=8] [--video-seconds=10] [--video-profile=instagram-video-v1]
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { renderImage } from '../src/media/adapt-image.js';
import { renderVideo } from '../src/media/adapt-video.js';
import { planMedia } from '../src/media/plan.js';
import { probeFile } from '../src/media/probe.js';
import type { MediaInfo } from '../src/media/types.js';

const run = promisify(execFile);
const SAMPLE_MS = 50;
const IMAGE_SCENARIOS = [
  { profile: 'bluesky-image-v1', concurrency: 1 },
  { profile: 'bluesky-image-v1', concurrency: 2 },
  { profile: 'instagram-image-v1', concurrency: 1 },
  { profile: 'instagram-image-v1', concurrency: 2 },
];
const CLIPS = [
  { clip: '720p', size: '1280x720', bitrate: '4M' },
  { clip: '1080p', size: '1920x1080', bitrate: '8M' },
];

/** `--name=value` (the child's own parser: it must not load bench/lib.ts, whose imports would weigh on its RSS). */
const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
const MiB = (bytes: number) => Math.round(bytes / 2 ** 20);

/** This process's CPU seconds, its own and those of the children it has waited for (ffmpeg, ffprobe). */
function cpuWithChildren(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}
/** A `kB` field of /proc/<pid>/status in MiB (VmRSS, VmHWM), or undefined once the process is gone. */
function statusMiB(pid: number | 'self', field: string): number | undefined {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
/** Children of this process named `comm`, from /proc/<pid>/stat (field 4 is the parent's pid). */
function childrenNamed(comm: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const s = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      if (name === comm && Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Samples this process's RSS (and, with `comm`, its children's VmHWM) every 50 ms until stopped. */
function sampler(comm?: string) {
  let rssMax = process.memoryUsage().rss;
  let samples = 1;
  let childHwm = 0;
  const seen = new Set<number>();
  const timer = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    samples++;
    if (!comm) return;
    for (const pid of childrenNamed(comm)) {
      seen.add(pid);
      childHwm = Math.max(childHwm, statusMiB(pid, 'VmHWM') ?? 0);
    }
  }, SAMPLE_MS);
  return {
    stop: () => {
      clearInterval(timer);
      return { rss_sampled_max_mib: MiB(rssMax), samples, child_hwm_mib: Math.round(childHwm), children_seen: seen.size };
    },
  };
}

type ImageOut = { file: string; ms: number; size: number; width: number; height: number };
type ChildResult = Record<string, unknown> & { wall_s: number; cpu_s: number; rss_base_mib: number; rss_sampled_max_mib: number; hwm_mib: number };

async function child(spec: string, dir: string, photos: number): Promise<ChildResult> {
  const [kind, profile, what] = spec.split(':') as [string, string, string];
  const base = { rss_base_mib: MiB(process.memoryUsage().rss), hwm_base_mib: Math.round(statusMiB('self', 'VmHWM')!) };
  const cpu0 = cpuWithChildren();
  const t0 = performance.now();
  if (kind === 'image') {
    const concurrency = Number(what);
    const inputs = Array.from({ length: photos }, (_, i) => path.join(dir, `photo-${i}.jpg`));
    const outputs: ImageOut[] = [];
    const s = sampler();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < inputs.length) {
          const i = next++;
          const file = path.join(dir, `out-${profile}-x${concurrency}-${i}.jpg`);
          const started = performance.now();
          const r = await renderImage(inputs[i]!, profile, file);
          outputs[i] = { file, ms: Math.round(performance.now() - started), size: r.size, width: r.width, height: r.height };
        }
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    const mem = s.stop();
    return {
      kind, profile, concurrency, images: inputs.length, wall_s: round(wall), images_per_s: round(inputs.length / wall, 3),
      cpu_s: round(cpuWithChildren() - cpu0), ...base, rss_sampled_max_mib: mem.rss_sampled_max_mib, rss_samples: mem.samples,
      hwm_mib: Math.round(statusMiB('self', 'VmHWM')!), outputs,
      sharp: { concurrency: sharp.concurrency(), cache_after: sharp.cache(), simd: sharp.simd(), uv_threadpool_size: process.env['UV_THREADPOOL_SIZE'] ?? '4 (default)' },
    };
  }
  const input = path.join(dir, `clip-${what}.webm`);
  const source = await probeFile(input);
  const s = sampler('ffmpeg');
  const t1 = performance.now();
  const r = await renderVideo(input, profile, path.join(dir, `out-${what}.mp4`));
  // renderVideo's whole call (its ffprobe of the input and of the output included), as the worker waits for it.
  const wall = (performance.now() - t1) / 1000;
  const mem = s.stop();
  return {
    kind, profile, clip: what, source: describe(source), output: describe(r), output_bytes: r.size,
    duration_s: round(source.durationMs! / 1000, 2), wall_s: round(wall), realtime_x: round(source.durationMs! / 1000 / wall),
    cpu_s: round(cpuWithChildren() - cpu0), ffmpeg_hwm_mib: mem.child_hwm_mib, ffmpeg_processes_seen: mem.children_seen,
    ...base, rss_sampled_max_mib: mem.rss_sampled_max_mib, rss_samples: mem.samples, hwm_mib: Math.round(statusMiB('self', 'VmHWM')!),
  };
}

const describe = (m: MediaInfo) =>
  `${m.mimeType} ${m.videoCodec ?? ''}/${m.audioCodec ?? '-'} ${m.width}x${m.height} ${m.frameRate} fps ${round((m.durationMs ?? 0) / 1000, 1)} s ${Math.round((m.bitRate ?? 0) / 1000)} kbit/s`;

function spawnChild(spec: string, dir: string, photos: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), `--child=${spec}`, `--dir=${dir}`, `--photos=${photos}`];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    proc.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult) : reject(new Error(`${spec} exited ${code}`))));
  });
}

// ---------------------------------------------------------------------------------------------------------
// JPEG quality of an output, from its luminance quantisation table

/** The first quantisation table (luminance) of a JPEG, as text, or undefined. */
function lumaTable(jpeg: Buffer): string | undefined {
  for (let i = 2; i + 4 < jpeg.length; ) {
    if (jpeg[i] !== 0xff) return undefined;
    const marker = jpeg[i + 1]!;
    const length = jpeg.readUInt16BE(i + 2);
    if (marker === 0xdb) {
      const precision = jpeg[i + 4]! >> 4;
      const values = jpeg.subarray(i + 5, i + 5 + 64 * (precision ? 2 : 1));
      return precision ? Array.from({ length: 64 }, (_, k) => values.readUInt16BE(2 * k)).join(',') : Array.from(values).join(',');
    }
    if (marker === 0xda) return undefined;
    i += 2 + length;
  }
  return undefined;
}

/** Table → quality, for the options adapt-image.ts writes its final JPEG with (mozjpeg, 4:2:0). */
async function qualityTables(): Promise<Map<string, number>> {
  const map = new Map<string, number>();
  const tiny = sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } });
  for (let q = 100; q >= 1; q--) {
    const table = lumaTable(await tiny.clone().jpeg({ quality: q, mozjpeg: true, chromaSubsampling: '4:2:0' }).toBuffer());
    if (table && !map.has(table)) map.set(table, q);
  }
  return map;
}

// ---------------------------------------------------------------------------------------------------------
// Inputs

async function prepare(dir: string, photos: number, seconds: number): Promise<Record<string, unknown>> {
  const { photo } = await import('../test/support/media-fixtures.js');
  const t0 = performance.now();
  const exif = { IFD0: { Make: 'Bench', Model: 'Phone' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 8/1 0/1' } };
  for (let i = 0; i < photos; i++) {
    // Distinct pictures (seeds), with the EXIF a phone writes; the first is a portrait photo stored sideways.
    let img = (await photo(4000, 3000, 100 + i)).jpeg({ quality: 92 }).withExif(exif);
    if (i === 0) img = img.withMetadata({ orientation: 6 });
    await img.toFile(path.join(dir, `photo-${i}.jpg`));
  }
  const photoBytes = await Promise.all(Array.from({ length: photos }, async (_, i) => (await stat(path.join(dir, `photo-${i}.jpg`))).size));
  const photosS = (performance.now() - t0) / 1000;
  for (const c of CLIPS) {
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${c.size}:rate=30:duration=${seconds}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
      '-vf', 'noise=alls=5:allf=t',
      '-c:v', 'libvpx-vp9', '-b:v', c.bitrate, '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1', '-threads', '2',
      '-c:a', 'libopus', '-b:a', '128k',
      path.join(dir, `clip-${c.clip}.webm`),
    ]);
  }
  return { photos_s: round(photosS, 1), clips_s: round((performance.now() - t0) / 1000 - photosS, 1), photo_bytes: photoBytes };
}

// ---------------------------------------------------------------------------------------------------------
// The parent

const pad = (rows: string[][]) => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd());
};
const range = (values: number[], f: (v: number) => string) => {
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  return lo === hi ? f(lo) : `${f(lo)}–${f(hi)}`;
};
const load = () => os.loadavg().map((v) => round(v, 2));
/** CPU seconds this machine's processes spent (all cores) from /proc/stat; minus our own, the others' load. */
function machineBusyS(): number {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq] = f.map(Number); // idle, iowait and the hypervisor's steal left out
  return (user! + nice! + system! + irq! + softirq!) / 100;
}

async function parent(): Promise<void> {
  const { QUICK, flag, intFlag, main, report } = await import('./lib.js');
  const photos = intFlag('photos', QUICK ? 3 : 8);
  const seconds = intFlag('video-seconds', QUICK ? 4 : 10);
  const videoProfile = flag('video-profile', 'instagram-video-v1');
  main(async () => {
    const loadBefore = load();
    const [busy0, own0, wall0] = [machineBusyS(), cpuWithChildren(), performance.now()];
    const dir = await mkdtemp(path.join(tmpdir(), 'crier-bench-media-'));
    try {
      console.error(`load average before: ${loadBefore.join(' ')}; making inputs in ${dir}`);
      const inputs = await prepare(dir, photos, seconds);
      const photo0 = await probeFile(path.join(dir, 'photo-0.jpg'));
      const photo1 = await probeFile(path.join(dir, `photo-${Math.min(1, photos - 1)}.jpg`));
      const clipInfo = await Promise.all(CLIPS.map((c) => probeFile(path.join(dir, `clip-${c.clip}.webm`))));
      const options = { adapt: true, pad: false };
      // What Crier itself would do with these inputs (so the scenarios measure renditions it really makes).
      const plans = {
        bluesky_photo: planMedia('bluesky', [{ info: photo1, options }]).plans[0],
        instagram_photo: planMedia('instagram', [{ info: photo1, options }]).plans[0],
        instagram_portrait_photo: planMedia('instagram', [{ info: photo0, options }]).plans[0],
        clips: Object.fromEntries(CLIPS.map((c, i) => [c.clip, planMedia(videoProfile.split('-')[0]!, [{ info: clipInfo[i]!, options }]).plans[0]])),
      };
      console.error(`inputs made: ${JSON.stringify(inputs)}`);

      const images: ChildResult[] = [];
      for (const s of IMAGE_SCENARIOS) {
        images.push(await spawnChild(`image:${s.profile}:${s.concurrency}`, dir, photos));
        console.error(`  ${s.profile} x${s.concurrency}: ${images.at(-1)!['images_per_s']} images/s`);
      }
      const tables = await qualityTables();
      for (const r of images) {
        for (const o of r['outputs'] as (ImageOut & { quality?: number })[]) {
          const table = lumaTable(await readFile(o.file));
          o.quality = table ? tables.get(table) : undefined;
          o.file = path.basename(o.file);
        }
      }
      const videos: ChildResult[] = [];
      for (const c of CLIPS) {
        videos.push(await spawnChild(`video:${videoProfile}:${c.clip}`, dir, photos));
        console.error(`  ${c.clip} -> ${videoProfile}: ${videos.at(-1)!['realtime_x']}x real time`);
      }
      const loadAfter = load();
      // Every process of this run has been waited for, so cpuWithChildren() holds all of the benchmark's CPU.
      const runWall = (performance.now() - wall0) / 1000;
      const otherCpu = machineBusyS() - busy0 - (cpuWithChildren() - own0);
      const others = { wall_s: round(runWall, 1), cpu_s: round(otherCpu, 1), cores: round(otherCpu / runWall) };
      const ffmpeg = (await run('ffmpeg', ['-version'])).stdout.split('\n')[0]!;
      // Allocator settings that change the RSS of sharp's threads (glibc keeps per-thread arenas).
      const env = Object.fromEntries(['MALLOC_ARENA_MAX', 'UV_THREADPOOL_SIZE', 'VIPS_CONCURRENCY', 'LD_PRELOAD'].map((k) => [k, process.env[k] ?? null]));
      const sh = images[0]!['sharp'] as { concurrency: number; cache_after: { memory: { max: number }; files: { max: number }; items: { max: number } } };

      const imageRows = [
        ['profile', 'at once', 'images/s', 's/image', 'CPU-s/image', 'RSS base', 'RSS max (50 ms)', 'VmHWM', 'output', 'bytes', 'quality'],
        ...images.map((r) => {
          const outs = r['outputs'] as (ImageOut & { quality?: number })[];
          return [
            String(r['profile']), String(r['concurrency']), String(r['images_per_s']), range(outs.map((o) => o.ms / 1000), (v) => v.toFixed(1)),
            (r.cpu_s / photos).toFixed(2), `${r.rss_base_mib} MiB`, `${r.rss_sampled_max_mib} MiB`, `${r.hwm_mib} MiB`,
            [...new Set(outs.map((o) => `${o.width}x${o.height}`))].join(' '), range(outs.map((o) => o.size), (v) => `${Math.round(v / 1000)}k`),
            range(outs.map((o) => o.quality ?? NaN), (v) => (Number.isNaN(v) ? '?' : `q${v}`)),
          ];
        }),
      ];
      const videoRows = [
        ['clip', 'profile', 'x real time', 'wall', 'CPU-s', 'ffmpeg VmHWM', 'node RSS max', 'output'],
        ...videos.map((r) => [
          `${r['clip']} VP9 ${seconds} s`, String(r['profile']), `${r['realtime_x']}x`, `${r.wall_s} s`, String(r.cpu_s), `${r['ffmpeg_hwm_mib']} MiB`,
          `${r.rss_sampled_max_mib} MiB`, String(r['output']).replace(/^video\/mp4 /, ''),
        ]),
      ];
      report(
        'media',
        { photos, video_seconds: seconds, video_profile: videoProfile, sample_ms: SAMPLE_MS, load_before: loadBefore, load_after: loadAfter, other_processes: others, env, inputs, plans, ffmpeg, sharp_version: sharp.versions.sharp, libvips: sharp.versions.vips, images, videos },
        [
          `inputs: ${photos} photos 4000x3000 JPEG q92 (${range((inputs['photo_bytes'] as number[]).map((b) => b / 1e6), (v) => v.toFixed(1))} MB; photo-0 EXIF orientation 6);` +
            ` clips ${CLIPS.map((c, i) => `${c.clip} ${describe(clipInfo[i]!)}`).join(', ')}`,
          `planner: bluesky photo -> ${plans.bluesky_photo?.action === 'rendition' ? plans.bluesky_photo.profile : plans.bluesky_photo?.action}, instagram photo -> ` +
            `${plans.instagram_photo?.action === 'rendition' ? plans.instagram_photo.profile : plans.instagram_photo?.action}, clips -> ` +
            Object.entries(plans.clips).map(([k, p]) => `${k}: ${p?.action === 'rendition' ? p.profile : p?.action}`).join(', '),
          `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}): concurrency ${sh.concurrency}, cache max ${sh.cache_after.memory.max} MB / ${sh.cache_after.files.max} files / ${sh.cache_after.items.max} items (defaults); ${ffmpeg}`,
          `environment: ${Object.entries(env).map(([k, v]) => `${k}=${v ?? '(unset)'}`).join(' ')}`,
          `load average before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')} (${os.cpus().length} cores); other processes used ${others.cpu_s} CPU-s in the run's ${others.wall_s} s (${others.cores} cores on average)`,
          '',
          ...pad(imageRows),
          '',
          ...pad(videoRows),
        ],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

const childSpec = arg('child', '');
if (childSpec) {
  child(childSpec, arg('dir', ''), Number(arg('photos', '1'))).then(
    (r) => {
      console.log(JSON.stringify(r));
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
} else {
  void parent();
}
