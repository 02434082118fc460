// Probing reads what a file is from its bytes; the limits table and the rendition profiles agree with each
// other; planning decides per platform: as is, adapted, or refused with the platform and the limit named.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaRow } from '../src/db/queries/media.js';
import { MEDIA_LIMITS, PLATFORMS } from '../src/media/limits.js';
import { planMedia } from '../src/media/plan.js';
import { PROFILES, profileFor } from '../src/media/profiles.js';
import { ffmpegStatus, MediaProbeError, probeFile, sniff } from '../src/media/probe.js';
import { mediaReadiness } from '../src/media/readiness.js';
import type { MediaInfo, MediaPlan } from '../src/media/types.js';
import { FIXTURE_NAMES, makeFixtures, type Fixtures } from './support/media-fixtures.js';

let fx: Fixtures;
const info: Record<string, MediaInfo> = {};
beforeAll(async () => {
  fx = await makeFixtures();
  for (const name of FIXTURE_NAMES) info[name] = await probeFile(fx.file(name));
}, 120_000);
afterAll(async () => fx?.cleanup());

const adapt = { adapt: true, pad: false };
const plan = (platform: string, ...names: string[]) => planMedia(platform, names.map((n) => ({ info: info[n]!, options: adapt })));
const planOne = (platform: string, media: MediaInfo, options = adapt): MediaPlan => planMedia(platform, [{ info: media, options }]).plans[0]!;
const codes = (p: MediaPlan) => (p.action === 'refuse' ? p.issues.map((i) => i.code) : []);

describe('probing', () => {
  it('describes images from their bytes, as they are displayed, with animation', () => {
    expect(info['photo-12mp.jpg']).toMatchObject({ kind: 'image', mimeType: 'image/jpeg', width: 4000, height: 3000, animated: false });
    // Stored 1600×1200 with EXIF orientation 6: shown upright.
    expect(info['photo-rotated.jpg']).toMatchObject({ width: 1200, height: 1600 });
    expect(info['alpha.png']).toMatchObject({ mimeType: 'image/png', width: 1200, height: 900 });
    expect(info['grey16.png']).toMatchObject({ mimeType: 'image/png', width: 600, height: 400 });
    expect(info['photo.webp']).toMatchObject({ mimeType: 'image/webp', width: 1200, height: 900 });
    expect(info['photo.heic']).toMatchObject({ kind: 'image', mimeType: 'image/heic', width: 1200, height: 900 });
    expect(info['animated.gif']).toMatchObject({ mimeType: 'image/gif', animated: true, frames: 3, width: 64, height: 64 });
    expect(info['speck.png']).toMatchObject({ width: 3, height: 3 });
  });

  it('describes videos: container, codecs, duration, frame rate, bitrate, sample rate, and whether the index comes first', () => {
    expect(info['clip.mp4']).toMatchObject({ kind: 'video', mimeType: 'video/mp4', videoCodec: 'h264', audioCodec: 'aac', audioSampleRate: 48000, width: 1280, height: 720, frameRate: 30, faststart: true });
    expect(info['clip.mp4']!.durationMs).toBeGreaterThanOrEqual(4900);
    expect(info['clip.mp4']!.durationMs).toBeLessThanOrEqual(5100);
    expect(info['clip.mp4']!.bitRate).toBeGreaterThan(100_000);
    expect(info['clip.webm']).toMatchObject({ mimeType: 'video/webm', videoCodec: 'vp9', audioCodec: 'opus' });
    expect(info['clip.webm']!.faststart).toBeUndefined();
    expect(info['no-faststart.mp4']!.faststart).toBe(false);
    expect(info['fast.mp4']!.frameRate).toBe(90);
    expect(info['hevc.mp4']).toMatchObject({ videoCodec: 'hevc', audioCodec: 'aac' });
    expect(info['audio-96k.mp4']!.audioSampleRate).toBe(96000);
    // Stored 320×240 with a 90° display matrix, as phones record portrait video.
    expect(info['portrait-phone.mp4']).toMatchObject({ width: 240, height: 320 });
  });

  it('recognises HEIC and AVIF by their brands, also when the major brand is the generic mif1', () => {
    const ftyp = (...brands: string[]) => {
      const box = Buffer.alloc(8 + 4 * (brands.length + 1));
      box.writeUInt32BE(box.length, 0);
      box.write('ftyp', 4, 'latin1');
      box.write(brands[0]!, 8, 'latin1');
      brands.slice(1).forEach((b, i) => box.write(b, 16 + 4 * i, 'latin1'));
      return Buffer.concat([box, Buffer.alloc(64)]);
    };
    expect(sniff(ftyp('heic', 'mif1', 'heic'))?.mimeType).toBe('image/heic');
    expect(sniff(ftyp('mif1', 'mif1', 'heic'))?.mimeType).toBe('image/heic');
    expect(sniff(ftyp('mif1', 'mif1', 'avif'))?.mimeType).toBe('image/avif');
    expect(sniff(ftyp('qt  ', 'qt  '))).toMatchObject({ kind: 'video', mimeType: 'video/quicktime' });
    expect(sniff(ftyp('isom', 'isom', 'avc1'))).toMatchObject({ kind: 'video', mimeType: 'video/mp4' });
  });

  it('refuses what is not media whatever its name says, truncated files, and audio without video', async () => {
    await writeFile(fx.out('notes.jpg'), 'plain text pretending to be a photo');
    await expect(probeFile(fx.out('notes.jpg'))).rejects.toMatchObject({ name: 'MediaProbeError', code: 'MEDIA_UNSUPPORTED_TYPE' });
    await writeFile(fx.out('cut.png'), (await readFile(fx.file('alpha.png'))).subarray(0, 100));
    const cut = await probeFile(fx.out('cut.png')).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(MediaProbeError);
    expect(cut).toMatchObject({ code: 'MEDIA_CORRUPT', message: expect.stringMatching(/could not be read/) });
    // Index at the end, file cut in half: the index never arrives.
    const video = await readFile(fx.file('no-faststart.mp4'));
    await writeFile(fx.out('cut.mp4'), video.subarray(0, video.length / 2));
    await expect(probeFile(fx.out('cut.mp4'))).rejects.toMatchObject({ code: 'MEDIA_CORRUPT' });
    await promisify(execFile)('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=duration=0.5', '-c:a', 'aac', fx.out('song.m4a')]);
    await expect(probeFile(fx.out('song.m4a'))).rejects.toMatchObject({ code: 'MEDIA_UNSUPPORTED_TYPE', message: expect.stringMatching(/no video stream/) });
  });

  it('says at start whether video processing works, with the ffmpeg version', async () => {
    expect(await ffmpegStatus()).toMatchObject({ available: true, version: expect.stringMatching(/^\d/) });
  });
});

describe('limits and profiles', () => {
  it('knows the media limits of all 11 platforms, and which ones pull files by URL', () => {
    expect(Object.keys(MEDIA_LIMITS).sort()).toEqual([...PLATFORMS].sort());
    const pulls = PLATFORMS.flatMap((p) => (['image', 'video'] as const).filter((k) => MEDIA_LIMITS[p]![k] && MEDIA_LIMITS[p]!.delivery[k] === 'pull').map((k) => `${p} ${k}`));
    expect(pulls.sort()).toEqual(['facebook image', 'facebook video', 'instagram image', 'instagram video', 'pinterest image', 'threads image', 'threads video', 'tiktok image']);
    expect(MEDIA_LIMITS.bluesky).toMatchObject({ maxImages: 4, maxVideos: 1, mixed: false, image: { maxBytes: 1_000_000 }, video: { maxBytes: 300_000_000, types: ['video/mp4'] } });
  });

  it('has a profile for every platform and kind that can need one, and each profile makes what its platform accepts', () => {
    for (const platform of PLATFORMS) {
      const l = MEDIA_LIMITS[platform]!;
      if (l.image) expect(profileFor(platform, 'image'), `${platform} image`).toBeDefined();
      if (l.image?.aspect) expect(profileFor(platform, 'image', 'pad'), `${platform} image pad`).toBeDefined();
      if (l.video) expect(profileFor(platform, 'video'), `${platform} video`).toBeDefined();
      if (l.video?.aspect) expect(profileFor(platform, 'video', 'pad'), `${platform} video pad`).toBeDefined();
    }
    for (const p of PROFILES.values()) {
      const l = MEDIA_LIMITS[p.name.split('-')[0]!]!;
      if (p.kind === 'image') {
        const il = l.image!;
        expect(il.types, p.name).toContain('image/jpeg');
        expect(p.maxBytes, p.name).toBeLessThanOrEqual(il.maxBytes);
        expect(p.maxLongEdge, p.name).toBeLessThanOrEqual(Math.min(il.maxWidth ?? Infinity, il.maxHeight ?? Infinity));
        expect(p.maxLongEdge ** 2, p.name).toBeLessThanOrEqual(il.maxPixels ?? Infinity);
        expect(p.quality.floor, p.name).toBeLessThan(p.quality.max);
        if (p.pad) expect([p.pad.min, p.pad.max], p.name).toEqual([il.aspect!.min, il.aspect!.max]);
      } else {
        const vl = l.video!;
        expect(vl.types, p.name).toContain('video/mp4');
        expect(vl.codecs, p.name).toContain('h264');
        expect(vl.audioCodecs, p.name).toContain('aac');
        expect(p.maxBytes, p.name).toBeLessThanOrEqual(vl.maxBytes);
        // A remux copies the streams: it is only chosen when they already fit (see the Threads plan below).
        if (p.mode === 'remux') continue;
        expect(p.maxFps, p.name).toBeLessThanOrEqual(vl.maxFps ?? Infinity);
        expect(p.minFps ?? 0, p.name).toBeGreaterThanOrEqual(vl.minFps ?? 0);
        expect(p.maxWidth, p.name).toBeLessThanOrEqual(vl.maxWidth ?? Infinity);
        expect(p.maxHeight, p.name).toBeLessThanOrEqual(vl.maxHeight ?? Infinity);
        expect(p.maxBitrate + p.audioBitrate, p.name).toBeLessThanOrEqual(vl.maxBitrate ?? Infinity);
        expect(p.audioSampleRate, p.name).toBeLessThanOrEqual(vl.maxAudioSampleRate ?? Infinity);
        if (p.pad) expect([p.pad.min, p.pad.max], p.name).toEqual([vl.aspect!.min, vl.aspect!.max]);
      }
    }
  });
});

describe('planning per platform', () => {
  it('sends what fits as is and adapts what does not, when adapting is allowed', () => {
    expect(plan('bluesky', 'tiny.jpg').plans).toEqual([{ action: 'original' }]);
    expect(plan('bluesky', 'photo-12mp.jpg').plans).toEqual([{ action: 'rendition', profile: 'bluesky-image-v1', reasons: [expect.stringMatching(/^Bluesky accepts images up to 1,000,000 bytes; this one is [\d,]+ bytes$/)] }]);
    expect(plan('bluesky', 'photo.heic').plans[0]).toMatchObject({ action: 'rendition', profile: 'bluesky-image-v1', reasons: expect.arrayContaining(['Bluesky accepts JPEG, PNG, WEBP, GIF images, not HEIC']) });
    expect(plan('instagram', 'alpha.png').plans[0]).toMatchObject({ action: 'rendition', profile: 'instagram-image-v1' });
    expect(plan('x', 'clip.mp4').plans).toEqual([{ action: 'original' }]);
    expect(plan('x', 'clip.webm').plans[0]).toMatchObject({ action: 'rendition', profile: 'x-video-v1', reasons: ['X accepts MP4, MOV videos, not WEBM', 'X accepts h264 video, not vp9', 'X accepts aac audio, not opus'] });
    expect(plan('x', 'fast.mp4').plans[0]).toMatchObject({ action: 'rendition', reasons: ['X accepts 1–60 frames per second; this video has 90'] });
    expect(plan('x', 'hevc.mp4').plans[0]).toMatchObject({ action: 'rendition', reasons: ['X accepts h264 video, not hevc'] });
    expect(planOne('instagram', { ...info['hevc.mp4']!, durationMs: 10_000 })).toEqual({ action: 'original' });
    expect(plan('threads', 'audio-96k.mp4').plans[0]).toMatchObject({ action: 'rendition', profile: 'threads-video-v1', reasons: ['Threads accepts audio sampled at up to 48,000 Hz; this one is 96,000 Hz'] });
    expect(planOne('instagram', { ...info['clip.mp4']!, frameRate: 15 })).toMatchObject({ action: 'rendition', reasons: ['Instagram accepts 23–60 frames per second; this video has 15'] });
    // A platform without media rules yet passes files through.
    expect(plan('friendica', 'photo-12mp.jpg').plans).toEqual([{ action: 'original' }]);
  });

  it('only moves the index to the front when that is all Threads needs, and re-encodes otherwise', () => {
    expect(plan('threads', 'no-faststart.mp4').plans[0]).toMatchObject({ action: 'rendition', profile: 'threads-video-faststart-v1', reasons: [expect.stringMatching(/moov atom/)] });
    expect(planOne('threads', { ...info['no-faststart.mp4']!, frameRate: 90 })).toMatchObject({ action: 'rendition', profile: 'threads-video-v1' });
  });

  it('refuses with a code and a message naming the platform and the limit when adapting is off', () => {
    const r = planOne('bluesky', info['photo-12mp.jpg']!, { adapt: false, pad: false });
    expect(r).toMatchObject({ action: 'refuse', issues: [{ code: 'MEDIA_TOO_LARGE', limit: 1_000_000, actual: info['photo-12mp.jpg']!.size, index: 0 }] });
    const size = info['photo-12mp.jpg']!.size.toLocaleString('en-US');
    expect(codes(r)).toEqual(['MEDIA_TOO_LARGE']);
    expect((r as { issues: { message: string }[] }).issues[0]!.message).toBe(`Bluesky accepts images up to 1,000,000 bytes; this one is ${size} bytes (adaptation is off for this file)`);
    expect(codes(planOne('x', info['clip.webm']!, { adapt: false, pad: false }))).toEqual(['MEDIA_UNSUPPORTED_TYPE', 'MEDIA_UNSUPPORTED_CODEC', 'MEDIA_UNSUPPORTED_CODEC']);
  });

  it('pads an aspect ratio only when asked', () => {
    expect(plan('instagram', 'panorama.jpg').plans[0]).toMatchObject({
      action: 'refuse',
      issues: [{ code: 'ASPECT_RATIO_OUT_OF_RANGE', limit: '4:5 to 1.91:1', actual: '5:1', message: expect.stringMatching(/^Instagram accepts aspect ratios from 4:5 to 1\.91:1; this file is 3000×600 \(5:1\)/) }],
    });
    expect(planOne('instagram', info['panorama.jpg']!, { adapt: true, pad: true })).toMatchObject({ action: 'rendition', profile: 'instagram-image-pad-v1' });
    expect(plan('x', 'tall.mp4').plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'ASPECT_RATIO_OUT_OF_RANGE', limit: '1:3 to 3:1', actual: '1:4' }] });
    expect(planOne('x', info['tall.mp4']!, { adapt: true, pad: true })).toMatchObject({ action: 'rendition', profile: 'x-video-pad-v1' });
    // Padding is an adaptation too: with adapting off, nothing is padded.
    expect(codes(planOne('x', info['tall.mp4']!, { adapt: false, pad: true }))).toEqual(['ASPECT_RATIO_OUT_OF_RANGE']);
  });

  it('never cuts a long video, never blows up a small one, and refuses what cannot shrink enough', () => {
    expect(planOne('x', { ...info['clip.mp4']!, durationMs: 200_000 })).toMatchObject({ action: 'refuse', issues: [{ code: 'VIDEO_TOO_LONG', limit: 140_000, actual: 200_000, message: 'X accepts videos up to 2 min 20 s; this one is 3 min 20 s' }] });
    expect(planOne('instagram', { ...info['clip.mp4']!, durationMs: 1_000 })).toMatchObject({ action: 'refuse', issues: [{ code: 'VIDEO_TOO_SHORT', message: 'Instagram accepts videos from 3 s; this one is 1 s' }] });
    expect(planOne('tiktok', { ...info['hevc.mp4']!, durationMs: 10_000 })).toMatchObject({ action: 'refuse', issues: [{ code: 'VIDEO_TOO_SMALL', limit: '360×360', actual: '320×240' }] });
    // 2 GB in an hour would need 230 kbit/s to fit Mastodon's 103,809,024 bytes: refused, not ruined.
    const hour = { ...info['clip.mp4']!, durationMs: 3_600_000, size: 2_000_000_000 };
    expect(planOne('mastodon', hour)).toMatchObject({ action: 'refuse', issues: [{ code: 'MEDIA_TOO_LARGE', message: expect.stringMatching(/cannot be re-encoded that small/) }] });
    expect(planOne('mastodon', { ...hour, durationMs: 300_000 })).toMatchObject({ action: 'rendition', profile: 'mastodon-video-v1' });
  });

  it('checks the post as a whole: how many files, images with video, and a GIF that must be alone', () => {
    expect(plan('bluesky', 'tiny.jpg', 'tiny.jpg', 'tiny.jpg', 'tiny.jpg', 'tiny.jpg').issues).toEqual([
      { code: 'TOO_MANY_MEDIA', message: 'Bluesky accepts at most 4 files per post; this post has 5', limit: 4, actual: 5 },
    ]);
    expect(plan('bluesky', 'tiny.jpg', 'clip.mp4').issues).toEqual([expect.objectContaining({ code: 'MEDIA_MIXED_KINDS' })]);
    expect(plan('mastodon', 'tiny.jpg', 'clip.mp4').issues).toEqual([expect.objectContaining({ code: 'MEDIA_MIXED_KINDS' })]);
    expect(plan('instagram', 'tiny.jpg', 'clip.mp4').issues).toEqual([]);
    expect(plan('x', 'clip.mp4', 'clip.mp4').issues).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', message: 'X accepts at most 1 video per post; this post has 2' })]);
    expect(plan('x', 'animated.gif').plans).toEqual([{ action: 'original' }]);
    expect(plan('x', 'animated.gif', 'tiny.jpg').issues).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', message: expect.stringMatching(/animated GIF only as the post's single file/) })]);
  });

  it('refuses per file what a platform does not take at all, or too small to show', () => {
    expect(plan('youtube', 'tiny.jpg')).toMatchObject({ issues: [], plans: [{ action: 'refuse', issues: [{ code: 'MEDIA_UNSUPPORTED_TYPE', message: 'YouTube accepts only videos, not images' }] }] });
    expect(plan('instagram', 'animated.gif').plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'MEDIA_UNSUPPORTED_TYPE', message: 'Instagram does not accept animated GIF images' }] });
    expect(plan('bluesky', 'animated.gif').plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'MEDIA_UNSUPPORTED_TYPE' }] });
    expect(plan('x', 'speck.png').plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'IMAGE_TOO_SMALL', message: 'X accepts images from 4×4 pixels; this one is 3×3', limit: '4×4', actual: '3×3' }] });
    // Threads rescales narrow images itself: no reason to refuse.
    expect(plan('threads', 'tiny.jpg').plans).toEqual([{ action: 'original' }]);
  });
});

describe('readiness of a post\'s media for a platform', () => {
  const row = (id: string, name: string, status: MediaRow['status'] = 'ready'): MediaRow =>
    ({ id, workspace_id: 'ws', status, kind: info[name]!.kind, info: info[name]!, error: null }) as unknown as MediaRow;
  const items = (...ids: string[]) => ids.map((media_id) => ({ media_id, alt_text: null, adapt: true, pad: false }));

  it('says at once that a platform which pulls media needs a public URL, instead of failing obscurely later', () => {
    const media = new Map([['m1', row('m1', 'tiny.jpg')]]);
    const without = mediaReadiness('instagram', items('m1'), media, [], { publicUrls: false });
    expect(without).toMatchObject({ state: 'refused', reason: { kind: 'limits', issues: [{ code: 'PUBLIC_URL_REQUIRED', message: expect.stringMatching(/CRIER_PUBLIC_URL/) }] } });
    expect(mediaReadiness('instagram', items('m1'), media, [], { publicUrls: true })).toEqual({ state: 'ready', plan: [{ media_id: 'm1', profile: null }] });
    // Bluesky takes uploads: no public URL needed.
    expect(mediaReadiness('bluesky', items('m1'), media, [], { publicUrls: false }).state).toBe('ready');
  });

  it('waits for files still being fetched and for missing renditions, and refuses failed ones', () => {
    const media = new Map([['m1', row('m1', 'photo-12mp.jpg')], ['m2', row('m2', 'tiny.jpg', 'processing')]]);
    expect(mediaReadiness('bluesky', items('m1', 'm2'), media, [], { publicUrls: false })).toEqual({ state: 'waiting', plan: null, renditions: [] });
    media.set('m2', row('m2', 'tiny.jpg'));
    expect(mediaReadiness('bluesky', items('m1', 'm2'), media, [], { publicUrls: false })).toEqual({
      state: 'waiting',
      plan: [{ media_id: 'm1', profile: 'bluesky-image-v1' }, { media_id: 'm2', profile: null }],
      renditions: [{ mediaId: 'm1', profile: 'bluesky-image-v1' }],
    });
    const failed = { media_id: 'm1', profile: 'bluesky-image-v1', status: 'failed', error: { code: 'MEDIA_PROCESSING_FAILED', message: 'boom' } } as never;
    expect(mediaReadiness('bluesky', items('m1', 'm2'), media, [failed], { publicUrls: false })).toMatchObject({ state: 'refused', reason: { kind: 'media', code: 'MEDIA_FAILED' } });
  });
});
