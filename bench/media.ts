// Benchmark 4: media adaptation. Image renditions of 12-megapixel photos (throughput and peak memory, for the
// Bluesky and Instagram profiles, one and two at a time), and video transcodes (speed as a multiple of real
// time, for a 720p and a 1080p clip).
//
// The parent makes the inputs once (photo-like 12 MP JPEGs from test/support/media-fixtures.ts with camera
// EXIF, as phones write them; 30 fps clips from ffmpeg's testsrc2 with temporal noise added, so the encoder
// has camera-like grain to chew on, stored as H.264 + AAC at phone-like bitrates), then runs each scenario in
// a child process of its own, so each peak RSS (VmHWM: the kernel's high-water mark, not a sample) belongs to that
// scenario alone. CPU is the child's user+system time plus that of the ffmpeg processes it waited for.
// Images run through renderImage exactly as the worker calls it, `--concurrency` at a time (the worker's
// CRIER_MEDIA_CONCURRENCY, default 2); sharp's own thread pool is left at its default, reported as
// `sharp_concurrency` (1 on glibc Linux without jemalloc: sharp's choice, to limit memory fragmentation).
//
// Run: npm run bench:media [-- --quick] [--photos=8] [--video-seconds=20]
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { renderImage } from '../src/media/adapt-image.js';
import { renderVideo } from '../src/media/adapt-video.js';
import { probeFile } from '../src/media/probe.js';
import { photo } from '../test/support/media-fixtures.js';
import { QUICK, flag, intFlag, main, report } from './lib.js';

const run = promisify(execFile);
const PHOTOS = intFlag('photos', QUICK ? 3 : 8);
const VIDEO_SECONDS = intFlag('video-seconds', QUICK ? 6 : 20);
const IMAGE_SCENARIOS = [
  { profile: 'bluesky-image-v1', concurrency: 1 },
  { profile: 'bluesky-image-v1', concurrency: 2 },
  { profile: 'instagram-image-v1', concurrency: 1 },
  { profile: 'instagram-image-v1', concurrency: 2 },
];
const VIDEO_SCENARIOS = [
  { clip: '720p', size: '1280x720', profile: 'x-video-v1' },
  { clip: '1080p', size: '1920x1080', profile: 'bluesky-video-v1' },
];

type ChildResult = Record<string, unknown> & { wall_s: number; cpu_s: number; peak_rss_mib: number };

/** This process's CPU seconds, its own and those of the children it has waited for (ffmpeg). */
function cpuWithChildren(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
}
const peakRssMiB = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

async function child(spec: string, dir: string): Promise<ChildResult> {
  const [kind, profile, arg] = spec.split(':') as [string, string, string];
  const cpu0 = cpuWithChildren();
  const t0 = performance.now();
  if (kind === 'image') {
    const concurrency = Number(arg);
    const inputs = Array.from({ length: PHOTOS }, (_, i) => path.join(dir, `photo-${i}.jpg`));
    const outputs: { size: number; width: number; height: number; ms: number }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < inputs.length) {
          const i = next++;
          const started = performance.now();
          const r = await renderImage(inputs[i]!, profile, path.join(dir, `out-${profile}-${concurrency}-${i}.jpg`));
          outputs.push({ size: r.size, width: r.width, height: r.height, ms: performance.now() - started });
        }
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    return {
      kind, profile, concurrency, images: inputs.length, wall_s: round(wall), images_per_s: round(inputs.length / wall, 3),
      ms_per_image: outputs.map((o) => Math.round(o.ms)), cpu_s: round(cpuWithChildren() - cpu0), peak_rss_mib: Math.round(peakRssMiB()),
      output_bytes: outputs.map((o) => o.size), output_size: `${outputs[0]!.width}x${outputs[0]!.height}`, sharp_concurrency: sharp.concurrency(),
    };
  }
  const input = path.join(dir, `clip-${arg}.mp4`);
  const source = await probeFile(input);
  const r = await renderVideo(input, profile, path.join(dir, `out-${arg}.mp4`));
  const wall = (performance.now() - t0) / 1000;
  return {
    kind, profile, clip: arg, source: `${source.width}x${source.height} ${source.frameRate} fps ${round(source.durationMs! / 1000, 1)} s ${Math.round(source.bitRate! / 1000)} kbit/s`,
    output: `${r.width}x${r.height} ${r.frameRate} fps ${Math.round(r.bitRate! / 1000)} kbit/s ${r.size} bytes`,
    wall_s: round(wall), realtime_x: round(source.durationMs! / 1000 / wall), cpu_s: round(cpuWithChildren() - cpu0), peak_rss_mib: Math.round(peakRssMiB()),
  };
}

function spawnChild(spec: string, dir: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), `--child=${spec}`, `--dir=${dir}`, `--photos=${PHOTOS}`];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    proc.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult) : reject(new Error(`${spec} exited ${code}`))));
  });
}

async function prepare(dir: string): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < PHOTOS; i++) {
    // Distinct pictures (seeds), with the EXIF a phone writes, so decoding and orientation cost what they do.
    await (await photo(4000, 3000, 100 + i))
      .jpeg({ quality: 90 })
      .withExif({ IFD0: { Make: 'Bench', Model: 'Phone' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 8/1 0/1' } })
      .toFile(path.join(dir, `photo-${i}.jpg`));
  }
  for (const v of VIDEO_SCENARIOS) {
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${v.size}:rate=30:duration=${VIDEO_SECONDS}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:duration=${VIDEO_SECONDS}`,
      '-vf', 'noise=alls=5:allf=t', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '192k',
      path.join(dir, `clip-${v.clip}.mp4`),
    ]);
  }
  console.error(`inputs made in ${round((performance.now() - t0) / 1000, 1)} s: ${PHOTOS} photos (${Math.round((await stat(path.join(dir, 'photo-0.jpg'))).size / 1e6 * 10) / 10} MB each), clips of ${VIDEO_SECONDS} s`);
}

const childSpec = flag('child', '');
if (childSpec) {
  child(childSpec, flag('dir', '')).then(
    (r) => console.log(JSON.stringify(r)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
} else {
  main(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'crier-bench-media-'));
    try {
      await prepare(dir);
      const images: ChildResult[] = [];
      for (const s of IMAGE_SCENARIOS) images.push(await spawnChild(`image:${s.profile}:${s.concurrency}`, dir));
      const videos: ChildResult[] = [];
      for (const v of VIDEO_SCENARIOS) videos.push(await spawnChild(`video:${v.profile}:${v.clip}`, dir));
      const ffmpeg = (await run('ffmpeg', ['-version'])).stdout.split('\n')[0]!;
      report('media', { photos: PHOTOS, video_seconds: VIDEO_SECONDS, ffmpeg, sharp: sharp.versions.sharp, libvips: sharp.versions.vips, images, videos }, [
        `images: ${PHOTOS} photos of 12 MP (4000x3000 JPEG q90), sharp concurrency ${images[0]!['sharp_concurrency']}`,
        ...images.map((r) => `  ${String(r['profile']).padEnd(20)} x${r['concurrency']}: ${r['images_per_s']} images/s (${r['wall_s']} s), ${round(r.cpu_s / PHOTOS)} CPU-s/image, peak RSS ${r.peak_rss_mib} MiB, -> ${r['output_size']}, ${Math.round((r['output_bytes'] as number[]).reduce((a, b) => a + b, 0) / PHOTOS / 1000)} kB avg`),
        `video: ${VIDEO_SECONDS} s clips, 30 fps, ${ffmpeg}`,
        ...videos.map((r) => `  ${String(r['clip']).padEnd(6)} -> ${String(r['profile']).padEnd(17)} ${r['realtime_x']}x real time (${r['wall_s']} s, ${r.cpu_s} CPU-s), ${r['output']}, peak RSS ${r.peak_rss_mib} MiB`),
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
