// Media fixtures made on the spot, so no binary file lives in the repository: photo-like images from sharp,
// HEIC from libheif's heif-enc (Debian libheif-examples), videos from ffmpeg's test sources. Each is made
// once per machine, on first use, into a temp folder named by a hash of this file (so a changed recipe makes
// new files) and shared read-only by every test file; each test file writes its outputs into a folder of its
// own (`out`). Files appear by atomic rename, so test files running at once never read half a fixture.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp, { type Sharp } from 'sharp';

const run = promisify(execFile);

/** Deterministic bytes (an LCG), so every run sees the same pictures. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24;
}

/** Values on a coarse grid scaled up smoothly (cubic): detail of one size, like one octave of a scene. */
async function upscale(grid: Buffer, gw: number, gh: number, cell: number, width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  const img = sharp(grid, { raw: { width: gw, height: gh, channels } })
    .resize(gw * cell, gh * cell, { kernel: 'cubic' })
    .extract({ left: cell, top: cell, width, height });
  // sharp writes one-channel input out as sRGB unless told to keep the single band.
  return (channels === 1 ? img.extractChannel(0) : img).raw().toBuffer();
}

/**
 * A photo-like picture: colour at several scales (natural scenes have detail at every scale, which is what
 * makes them hard to compress and easy to blur), fine grey texture down to a few pixels, hard-edged shapes,
 * and a little sensor grain. A 12 MP one is a few MB as JPEG q90 and over 1 MB at 2000 px q92, like a real
 * phone photo, so fitting Bluesky's 1,000,000 bytes takes a real quality search.
 */
export async function photo(width: number, height: number, seed = 7): Promise<Sharp> {
  const next = random(seed);
  const long = Math.max(width, height);
  // Broad colour washes and mid-size blotches share one grid (one full-size resize instead of two).
  const cell = Math.max(2, Math.round(long / 60));
  const [gw, gh] = [Math.ceil(width / cell) + 3, Math.ceil(height / cell) + 3];
  const washCell = 10;
  const [ww, wh] = [Math.ceil(gw / washCell) + 3, Math.ceil(gh / washCell) + 3];
  const washGrid = Buffer.from(new Uint8Array(ww * wh * 3).map(() => next()));
  const wash = await upscale(washGrid, ww, wh, washCell, gw, gh, 3);
  const grid = Buffer.from(new Uint8ClampedArray(gw * gh * 3).map((_, i) => wash[i]! * 0.8 + (next() - 128) * 0.6 + 25));
  const fineCell = Math.max(2, Math.round(long / 700));
  const [fw, fh] = [Math.ceil(width / fineCell) + 3, Math.ceil(height / fineCell) + 3];
  const fineGrid = Buffer.from(new Uint8Array(fw * fh).map(() => next()));
  const [colour, fine] = await Promise.all([upscale(grid, gw, gh, cell, width, height, 3), upscale(fineGrid, fw, fh, fineCell, width, height, 1)]);
  const out = new Uint8ClampedArray(width * height * 3);
  for (let p = 0, i = 0; p < width * height; p++, i += 3) {
    const grey = (fine[p]! - 128) * 0.75 + (next() - 128) * 0.1;
    out[i] = colour[i]! + grey;
    out[i + 1] = colour[i + 1]! + grey;
    out[i + 2] = colour[i + 2]! + grey;
  }
  // Hard edges (filled boxes and rings), drawn straight into the pixels.
  for (let s = 0; s < 30; s++) {
    const [cx, cy, r] = [Math.floor((next() / 256) * width), Math.floor((next() / 256) * height), Math.floor((next() / 256) * (long / 16)) + 3];
    const rgb = [next(), next(), next()];
    const ring = s % 2 === 1;
    for (let y = Math.max(0, cy - r); y < Math.min(height, cy + r); y++) {
      for (let x = Math.max(0, cx - r); x < Math.min(width, cx + r); x++) {
        const d = Math.hypot(x - cx, y - cy);
        if (ring && (d > r || d < r - 2 - (s % 4))) continue;
        const i = (y * width + x) * 3;
        out[i] = rgb[0]!;
        out[i + 1] = rgb[1]!;
        out[i + 2] = rgb[2]!;
      }
    }
  }
  return sharp(Buffer.from(out.buffer), { raw: { width, height, channels: 3 } });
}

/** A photo, upright, with a red block in its top-left corner (to see which way up a rendition is). */
export async function markedPhoto(width: number, height: number): Promise<Sharp> {
  const data = await (await photo(width, height, 11)).raw().toBuffer();
  const block = Math.round(Math.min(width, height) / 8);
  for (let y = 0; y < block; y++) {
    for (let x = 0; x < block; x++) data.set([255, 0, 0], (y * width + x) * 3);
  }
  return sharp(data, { raw: { width, height, channels: 3 } });
}

const GPS = { IFD0: { Make: 'Crier', Model: 'Fixture camera' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '52/1 31/1 0/1', GPSLongitudeRef: 'E', GPSLongitude: '13/1 24/1 0/1' } };

type Maker = (out: string, fx: Fixtures) => Promise<unknown>;
const ff = (args: string[]) => run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { maxBuffer: 4 * 1024 * 1024 });
/** ffmpeg's moving test pattern with a tone, `seconds` long. */
const clip = (seconds: number, size: string, rate: number, audioRate = 48000) => [
  '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`,
  '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${audioRate}:duration=${seconds}`, '-shortest',
];
const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac'];

const MAKERS = {
  // 12 MP with camera data and a GPS position that must not survive a rendition.
  'photo-12mp.jpg': async (out) => (await photo(4000, 3000)).jpeg({ quality: 90 }).withExif(GPS).toFile(out),
  // Stored sideways with EXIF orientation 6, displayed 1200×1600 with the red block top-left.
  'photo-rotated.jpg': async (out) => {
    const upright = await (await markedPhoto(1200, 1600)).jpeg({ quality: 95 }).toBuffer();
    const sideways = await sharp(upright).rotate(270).raw().toBuffer({ resolveWithObject: true });
    return sharp(sideways.data, { raw: sideways.info }).jpeg({ quality: 92 }).withMetadata({ orientation: 6 }).toFile(out);
  },
  // Display P3 colours with their ICC profile (as iPhones write them).
  'photo-p3.jpg': async (out) => (await photo(800, 600, 5)).withIccProfile('p3').jpeg({ quality: 95 }).toFile(out),
  'alpha.png': async (out) => (await photo(1200, 900)).ensureAlpha(0.6).png().toFile(out),
  'photo.webp': async (out) => (await photo(1200, 900)).webp({ quality: 90 }).toFile(out),
  'grey16.png': async (out) => (await photo(600, 400)).toColourspace('grey16').png().toFile(out),
  'panorama.jpg': async (out) => (await photo(3000, 600)).jpeg({ quality: 90 }).toFile(out),
  'tiny.jpg': async (out) => (await photo(200, 150)).jpeg().toFile(out),
  // Below X's 4×4 minimum.
  'speck.png': async (out) => sharp({ create: { width: 3, height: 3, channels: 3, background: '#336699' } }).png().toFile(out),
  // The picture the HEIC is encoded from, to compare a converted HEIC with.
  'heic-source.png': async (out) => (await markedPhoto(1200, 900)).png({ compressionLevel: 1 }).toFile(out),
  // An iPhone-style HEIC (HEVC inside), which sharp's own libvips cannot read.
  'photo.heic': async (out, fx) => {
    await run('heif-enc', ['-q', '85', '-o', out, await fx.get('heic-source.png')]).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new Error('heif-enc is missing: apt-get install libheif-examples (or scripts/install-system-deps.sh)') : error;
    });
  },
  'animated.gif': (out) => ff(['-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=5:duration=0.6', out]),
  'clip.mp4': (out) => ff([...clip(5, '1280x720', 30), ...H264, '-movflags', '+faststart', out]),
  'clip.webm': (out) => ff([...clip(2, '640x360', 30), '-c:v', 'libvpx-vp9', '-b:v', '300k', '-deadline', 'realtime', '-cpu-used', '8', '-c:a', 'libopus', out]),
  'no-faststart.mp4': (out) => ff([...clip(2, '640x360', 30), ...H264, out]),
  'tall.mp4': (out) => ff([...clip(2, '240x960', 30), ...H264, '-movflags', '+faststart', out]),
  'fast.mp4': (out) => ff([...clip(2, '640x360', 90), ...H264, '-movflags', '+faststart', out]),
  'hevc.mp4': (out) => ff([...clip(1, '320x240', 30), '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', '-tag:v', 'hvc1', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', out]),
  'audio-96k.mp4': (out) => ff([...clip(1, '320x240', 30, 96000), ...H264, '-ar', '96000', '-movflags', '+faststart', out]),
  // A phone's portrait video: stored 320×240 landscape with a 90° display matrix, shown 240×320, and where
  // it was filmed (QuickTime location), which a rendition must drop.
  'portrait-phone.mp4': async (out) => {
    await ff([...clip(1, '320x240', 30), ...H264, '-metadata', 'location=+52.5200+013.4050/', '-movflags', '+faststart', out]);
    await writeFile(out, rotateTrack(await readFile(out)));
  },
} satisfies Record<string, Maker>;

export type FixtureName = keyof typeof MAKERS;
export const FIXTURE_NAMES = Object.keys(MAKERS) as FixtureName[];

/** Writes a 90° rotation into the first track header's matrix (what phones do instead of turning pixels). */
function rotateTrack(mp4: Buffer): Buffer {
  const at = mp4.indexOf('tkhd');
  if (at < 0) throw new Error('no tkhd box');
  const version = mp4[at + 4];
  const matrix = at + 4 + (version === 1 ? 32 : 20) + 4 + 8 + 8;
  [0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000].forEach((v, i) => mp4.writeInt32BE(v, matrix + i * 4));
  return mp4;
}

export type Fixtures = {
  /** A fixture's path; it exists once makeFixtures(names) or get(name) has made it. Read-only: shared. */
  file(name: string): string;
  /** Makes the fixture if this machine has not yet (once), and gives its path. */
  get(name: FixtureName): Promise<string>;
  /** A path for this test file's own output. */
  out(name: string): string;
  cleanup(): Promise<void>;
};

/** Makes (or finds) the named fixtures up front; others are made on first `get`. */
export async function makeFixtures(names: readonly FixtureName[] = FIXTURE_NAMES): Promise<Fixtures> {
  const version = createHash('sha256').update(await readFile(new URL(import.meta.url))).digest('hex').slice(0, 12);
  const shared = path.join(tmpdir(), `crier-media-fixtures-${version}`);
  await mkdir(shared, { recursive: true });
  const outDir = await mkdtemp(path.join(tmpdir(), 'crier-media-out-'));
  const made = new Map<FixtureName, Promise<string>>();
  // At most two made at once: ffmpeg and sharp each take a core, and the machine has two.
  let running = 0;
  const waiting: (() => void)[] = [];
  const limited = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= 2) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
  const fx: Fixtures = {
    file: (name) => path.join(shared, name),
    out: (name) => path.join(outDir, name),
    cleanup: () => rm(outDir, { recursive: true, force: true }),
    get(name) {
      let ready = made.get(name);
      if (!ready) {
        const final = path.join(shared, name);
        ready = existsSync(final)
          ? Promise.resolve(final)
          : limited(async () => {
              // Written under a private name, then renamed: another test file making it too just wins or loses.
              const partial = path.join(shared, `.partial-${randomBytes(6).toString('hex')}-${name}`);
              try {
                await MAKERS[name](partial, fx);
                await rename(partial, final);
              } finally {
                await rm(partial, { force: true });
              }
              return final;
            });
        made.set(name, ready);
      }
      return ready;
    },
  };
  await Promise.all(names.map((n) => fx.get(n)));
  return fx;
}
