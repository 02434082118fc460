// Media fixtures made on the spot (sharp for images, ffmpeg's test sources for video), so no binary fixture
// lives in the repository. Made once per machine into a temp folder named by a hash of this file (test
// files share it read-only); each test file writes its outputs into a folder of its own.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp, { type Sharp } from 'sharp';

const run = promisify(execFile);

export type Fixtures = {
  /** A generated fixture (read-only: shared by every test file). */
  file(name: string): string;
  /** A path for this test file's own output. */
  out(name: string): string;
  cleanup(): Promise<void>;
};

/** A photo-like image: smooth gradients plus fine noise, which compresses like a real photo does. */
export async function photo(width: number, height: number): Promise<Sharp> {
  const raw = Buffer.alloc(width * height * 3);
  let seed = 42;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = (seed >> 16) % 24;
      const i = (y * width + x) * 3;
      raw[i] = ((x * 255) / width + noise) & 0xff;
      raw[i + 1] = ((y * 255) / height + noise) & 0xff;
      raw[i + 2] = (((x + y) * 128) / (width + height) + 64 + Math.sin(x / 37) * 40 + noise) & 0xff;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

export async function makeFixtures(): Promise<Fixtures> {
  const version = createHash('sha256').update(await readFile(new URL(import.meta.url))).digest('hex').slice(0, 12);
  const shared = path.join(tmpdir(), `crier-media-fixtures-${version}`);
  if (!existsSync(path.join(shared, '.complete'))) {
    const building = await mkdtemp(path.join(tmpdir(), 'crier-media-building-'));
    await generate(building);
    await writeFile(path.join(building, '.complete'), '');
    // Several test files may build at once: the first rename wins, the others use its folder.
    await rename(building, shared).catch(() => rm(building, { recursive: true, force: true }));
  }
  const out = await mkdtemp(path.join(tmpdir(), 'crier-media-out-'));
  return { file: (name) => path.join(shared, name), out: (name) => path.join(out, name), cleanup: () => rm(out, { recursive: true, force: true }) };
}

async function generate(dir: string): Promise<void> {
  const file = (name: string) => path.join(dir, name);
  const ff = (args: string[]) => run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
  const clip = (seconds: number, size: string, rate: number) => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`, '-shortest'];

  await Promise.all([
    // 12 MP, with EXIF orientation 6 (displayed rotated 90°) and a GPS position that must not survive.
    photo(4000, 3000).then((p) => p.jpeg({ quality: 92 }).withExif({ IFD0: { Make: 'Crier' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '52/1 31/1 0/1' } }).toFile(file('photo-12mp.jpg'))),
    photo(4000, 3000).then((p) => p.jpeg({ quality: 92 }).withMetadata({ orientation: 6 }).toFile(file('photo-rotated.jpg'))),
    photo(1200, 900).then((p) => p.ensureAlpha(0.6).png().toFile(file('alpha.png'))),
    photo(1200, 900).then((p) => p.webp({ quality: 90 }).toFile(file('photo.webp'))),
    photo(3000, 600).then((p) => p.jpeg({ quality: 90 }).toFile(file('panorama.jpg'))),
    photo(200, 150).then((p) => p.jpeg().toFile(file('tiny.jpg'))),
    // An iPhone-style HEIC (HEVC inside), which sharp's own libvips cannot read.
    photo(1600, 1200)
      .then((p) => p.jpeg({ quality: 95 }).toFile(file('for-heic.jpg')))
      .then(() => run('heif-enc', ['-q', '85', '-o', file('photo.heic'), file('for-heic.jpg')])),
    ff(['-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=5:duration=0.6', file('animated.gif')]),
    ff([...clip(3, '1280x720', 30), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', file('clip.mp4')]),
    ff([...clip(2, '640x360', 30), '-c:v', 'libvpx-vp9', '-b:v', '300k', '-deadline', 'realtime', '-cpu-used', '8', '-c:a', 'libopus', file('clip.webm')]),
    ff([...clip(2, '640x360', 30), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file('no-faststart.mp4')]),
    ff([...clip(2, '240x960', 30), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file('tall.mp4')]),
    ff([...clip(2, '640x360', 90), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file('fast.mp4')]),
    ff([...clip(8, '320x240', 15), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file('eight-seconds.mp4')]),
  ]);
}
