// Adaptation: renditions fit the platform's limits without visible loss (measured with SSIM), keep the
// picture upright, drop location data, pad only by request; video comes out as H.264/AAC MP4 with the
// index first, reports progress, and stops (leaving nothing behind) when aborted.
import { existsSync } from 'node:fs';
import sharp, { type Sharp } from 'sharp';
import { ssim } from 'ssim.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderImage } from '../src/media/adapt-image.js';
import { renderVideo } from '../src/media/adapt-video.js';
import { probeFile } from '../src/media/probe.js';
import { makeFixtures, type Fixtures } from './support/media-fixtures.js';

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeFixtures();
}, 60_000);
afterAll(async () => fx?.cleanup());

const rgba = async (img: Sharp) => {
  const { data, info } = await img.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
};

describe('image renditions', () => {
  it('fits a 12-megapixel photo into Bluesky\'s 1,000,000 bytes with no visible loss (SSIM ≥ 0.95 against a lossless resize)', async () => {
    const out = fx.out('bsky.jpg');
    const r = await renderImage(fx.file('photo-12mp.jpg'), 'bluesky-image-v1', out);
    expect(r).toMatchObject({ kind: 'image', mimeType: 'image/jpeg' });
    expect(r.size).toBeLessThanOrEqual(1_000_000);
    expect(Math.max(r.width, r.height)).toBeLessThanOrEqual(2000);
    const probed = await probeFile(out);
    expect(probed).toMatchObject({ mimeType: 'image/jpeg', width: r.width, height: r.height, size: r.size });
    // The reference: the same original at the same size, resized without any lossy step.
    const reference = await rgba(sharp(fx.file('photo-12mp.jpg')).resize(r.width, r.height, { kernel: 'lanczos3', fit: 'fill' }));
    const rendered = await rgba(sharp(out));
    const { mssim } = ssim(reference, rendered);
    expect(mssim).toBeGreaterThanOrEqual(0.95);
  }, 60_000);

  it('drops camera and location metadata, and keeps a rotated photo upright', async () => {
    const plain = await renderImage(fx.file('photo-12mp.jpg'), 'x-image-v1', fx.out('x.jpg'));
    expect((await sharp(fx.file('photo-12mp.jpg')).metadata()).exif).toBeDefined(); // the source has GPS data
    expect((await sharp(fx.out('x.jpg')).metadata()).exif).toBeUndefined();
    expect(plain.size).toBeLessThanOrEqual(5_000_000);
    const rotated = await renderImage(fx.file('photo-rotated.jpg'), 'bluesky-image-v1', fx.out('rotated.jpg'));
    expect(rotated.height).toBeGreaterThan(rotated.width);
    expect((await sharp(fx.out('rotated.jpg')).metadata()).orientation ?? 1).toBe(1);
  }, 60_000);

  it('converts HEIC, PNG with transparency and WebP to JPEG for platforms that take only JPEG', async () => {
    const png = await renderImage(fx.file('alpha.png'), 'instagram-image-v1', fx.out('ig-png.jpg'));
    const webp = await renderImage(fx.file('photo.webp'), 'instagram-image-v1', fx.out('ig-webp.jpg'));
    for (const r of [png, webp]) expect(r).toMatchObject({ mimeType: 'image/jpeg', width: 1200, height: 900 });
    const heic = await renderImage(fx.file('photo.heic'), 'instagram-image-v1', fx.out('ig-heic.jpg'));
    expect(heic).toMatchObject({ mimeType: 'image/jpeg', width: 1440, height: 1080 });
    // Still the same picture: compared with the JPEG it was encoded from, at the same size.
    const reference = await rgba(sharp(fx.file('for-heic.jpg')).resize(1440, 1080, { kernel: 'lanczos3', fit: 'fill' }));
    expect(ssim(reference, await rgba(sharp(fx.out('ig-heic.jpg')))).mssim).toBeGreaterThan(0.9);
    expect((await probeFile(fx.out('ig-png.jpg'))).mimeType).toBe('image/jpeg');
  }, 60_000);

  it('pads a panorama into Instagram\'s aspect range only in the pad profile', async () => {
    const padded = await renderImage(fx.file('panorama.jpg'), 'instagram-image-pad-v1', fx.out('pad.jpg'));
    expect(padded.width / padded.height).toBeLessThanOrEqual(1.91 + 0.01);
    expect(padded.width / padded.height).toBeGreaterThanOrEqual(1.85);
    const unpadded = await renderImage(fx.file('panorama.jpg'), 'instagram-image-v1', fx.out('nopad.jpg'));
    expect(unpadded.width / unpadded.height).toBeCloseTo(5, 1);
  }, 60_000);
});

describe('video renditions', () => {
  it('re-encodes a VP9 WebM into H.264/AAC MP4 with the index first, reporting progress up to 1', async () => {
    const progress: number[] = [];
    const r = await renderVideo(fx.file('clip.webm'), 'x-video-v1', fx.out('x.mp4'), { onProgress: (f) => progress.push(f) });
    expect(r).toMatchObject({ kind: 'video', mimeType: 'video/mp4', videoCodec: 'h264', audioCodec: 'aac', faststart: true, width: 640, height: 360 });
    expect(Math.abs(r.durationMs! - 2000)).toBeLessThan(150);
    expect(progress.at(-1)).toBe(1);
    expect(progress.every((p, i) => i === 0 || p >= progress[i - 1]!)).toBe(true);
  }, 60_000);

  it('caps the frame rate and pads a tall video only in the pad profile', async () => {
    const fast = await renderVideo(fx.file('fast.mp4'), 'x-video-v1', fx.out('fast-out.mp4'));
    expect(fast.frameRate).toBeLessThanOrEqual(60);
    const tall = await renderVideo(fx.file('tall.mp4'), 'x-video-pad-v1', fx.out('tall-out.mp4'));
    expect(tall.width / tall.height).toBeGreaterThanOrEqual(1 / 3 - 0.01);
    expect(tall.width % 2).toBe(0);
    expect(tall.height % 2).toBe(0);
  }, 60_000);

  it('stops ffmpeg when aborted and leaves no partial file', async () => {
    const controller = new AbortController();
    const out = fx.out('aborted.mp4');
    const running = renderVideo(fx.file('eight-seconds.mp4'), 'x-video-v1', out, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(running).rejects.toThrow(/aborted/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
