// Probing reads what a file is from its bytes; planning decides per platform: as is, adapted, or refused
// with the limit named.
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaRow } from '../src/db/queries/media.js';
import { planMedia } from '../src/media/plan.js';
import { mediaReadiness } from '../src/media/readiness.js';
import { MediaProbeError, probeFile } from '../src/media/probe.js';
import type { MediaInfo } from '../src/media/types.js';
import { makeFixtures, type Fixtures } from './support/media-fixtures.js';

let fx: Fixtures;
const info: Record<string, MediaInfo> = {};
beforeAll(async () => {
  fx = await makeFixtures();
  for (const name of ['photo.heic', 'photo-12mp.jpg', 'photo-rotated.jpg', 'alpha.png', 'photo.webp', 'panorama.jpg', 'tiny.jpg', 'animated.gif', 'clip.mp4', 'clip.webm', 'no-faststart.mp4', 'tall.mp4', 'fast.mp4']) {
    info[name] = await probeFile(fx.file(name));
  }
}, 60_000);
afterAll(async () => fx?.cleanup());

const adapt = { adapt: true, pad: false };
const plan = (platform: string, ...names: string[]) => planMedia(platform, names.map((n) => ({ info: info[n]!, options: adapt })));

describe('probing', () => {
  it('describes images from their bytes, with displayed orientation and animation', () => {
    expect(info['photo-12mp.jpg']).toMatchObject({ kind: 'image', mimeType: 'image/jpeg', width: 4000, height: 3000 });
    expect(info['photo-rotated.jpg']).toMatchObject({ width: 3000, height: 4000 });
    expect(info['alpha.png']).toMatchObject({ mimeType: 'image/png', width: 1200, height: 900 });
    expect(info['photo.webp']).toMatchObject({ mimeType: 'image/webp' });
    expect(info['photo.heic']).toMatchObject({ kind: 'image', mimeType: 'image/heic', width: 1600, height: 1200 });
    expect(info['animated.gif']).toMatchObject({ mimeType: 'image/gif', animated: true, frames: 3, width: 64, height: 64 });
  });

  it('describes videos: codecs, duration, frame rate, and whether the index comes first', () => {
    expect(info['clip.mp4']).toMatchObject({ kind: 'video', mimeType: 'video/mp4', videoCodec: 'h264', audioCodec: 'aac', width: 1280, height: 720, frameRate: 30, faststart: true });
    expect(info['clip.mp4']!.durationMs).toBeGreaterThanOrEqual(2900);
    expect(info['clip.mp4']!.durationMs).toBeLessThanOrEqual(3100);
    expect(info['clip.webm']).toMatchObject({ mimeType: 'video/webm', videoCodec: 'vp9', audioCodec: 'opus' });
    expect(info['no-faststart.mp4']!.faststart).toBe(false);
    expect(info['fast.mp4']!.frameRate).toBe(90);
  });

  it('refuses a file that is not media, whatever its name says, and a truncated image', async () => {
    await writeFile(fx.out('notes.jpg'), 'plain text pretending to be a photo');
    await expect(probeFile(fx.out('notes.jpg'))).rejects.toMatchObject({ code: 'MEDIA_UNSUPPORTED_TYPE' });
    const { readFile } = await import('node:fs/promises');
    await writeFile(fx.out('cut.png'), (await readFile(fx.file('alpha.png'))).subarray(0, 100));
    const cut = await probeFile(fx.out('cut.png')).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(MediaProbeError);
    expect((cut as MediaProbeError).code).toBe('MEDIA_CORRUPT');
  });
});

describe('planning per platform', () => {
  it('sends what fits as is and adapts what does not, when adapting is allowed', () => {
    expect(plan('bluesky', 'tiny.jpg').plans).toEqual([{ action: 'original' }]);
    expect(plan('bluesky', 'photo-12mp.jpg').plans).toEqual([{ action: 'rendition', profile: 'bluesky-image-v1', reasons: [expect.stringMatching(/1,000,000 bytes/)] }]);
    expect(plan('instagram', 'alpha.png').plans[0]).toMatchObject({ action: 'rendition', profile: 'instagram-image-v1' });
    expect(plan('bluesky', 'photo.heic').plans[0]).toMatchObject({ action: 'rendition', profile: 'bluesky-image-v1', reasons: expect.arrayContaining([expect.stringMatching(/not HEIF/)]) });
    expect(plan('x', 'clip.webm').plans[0]).toMatchObject({ action: 'rendition', profile: 'x-video-v1' });
    expect(plan('x', 'fast.mp4').plans[0]).toMatchObject({ action: 'rendition', reasons: [expect.stringMatching(/frames per second/)] });
    expect(plan('threads', 'no-faststart.mp4').plans[0]).toMatchObject({ action: 'rendition', reasons: [expect.stringMatching(/moov/)] });
    expect(plan('x', 'clip.mp4').plans).toEqual([{ action: 'original' }]);
  });

  it('refuses with a code and a message naming the platform and the limit when adapting is off', () => {
    const r = planMedia('bluesky', [{ info: info['photo-12mp.jpg']!, options: { adapt: false, pad: false } }]);
    expect(r.plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'MEDIA_TOO_LARGE', limit: 1_000_000, index: 0 }] });
    const issue = (r.plans[0] as { issues: { message: string }[] }).issues[0]!;
    expect(issue.message).toMatch(/^Bluesky takes images up to 1,000,000 bytes; this one is [\d,]+ bytes \(adaptation is off/);
  });

  it('pads an aspect ratio only when asked, and never cuts a video that is too long', () => {
    expect(plan('instagram', 'panorama.jpg').plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'ASPECT_RATIO_OUT_OF_RANGE', limit: '1:1.25–1.91:1', actual: '5:1' }] });
    expect(planMedia('instagram', [{ info: info['panorama.jpg']!, options: { adapt: true, pad: true } }]).plans[0]).toMatchObject({ action: 'rendition', profile: 'instagram-image-pad-v1' });
    expect(plan('x', 'tall.mp4').plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'ASPECT_RATIO_OUT_OF_RANGE' }] });
    const long = { ...info['clip.mp4']!, durationMs: 200_000 };
    expect(planMedia('x', [{ info: long, options: adapt }]).plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'VIDEO_TOO_LONG', limit: 140_000, message: 'X takes videos up to 140 s; this one is 200 s' }] });
    const short = { ...info['clip.mp4']!, durationMs: 1_000 };
    expect(planMedia('instagram', [{ info: short, options: adapt }]).plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'VIDEO_TOO_SHORT' }] });
  });

  it('checks the post as a whole: how many files, and images with video', () => {
    expect(plan('bluesky', 'tiny.jpg', 'tiny.jpg', 'tiny.jpg', 'tiny.jpg', 'tiny.jpg').issues).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', limit: 4, actual: 5 })]);
    expect(plan('bluesky', 'tiny.jpg', 'clip.mp4').issues).toEqual([expect.objectContaining({ code: 'MEDIA_MIXED_KINDS' })]);
    expect(plan('instagram', 'tiny.jpg', 'clip.mp4').issues).toEqual([]);
    expect(plan('youtube', 'tiny.jpg').issues).toEqual([expect.objectContaining({ code: 'TOO_MANY_MEDIA', message: 'YouTube does not take images' })]);
    expect(plan('threads', 'tiny.jpg').plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'IMAGE_TOO_SMALL', limit: 320, actual: 200 }] });
    expect(plan('x', 'animated.gif').plans).toEqual([{ action: 'original' }]);
    expect(plan('instagram', 'animated.gif').plans[0]).toMatchObject({ action: 'refuse', issues: [{ code: 'MEDIA_UNSUPPORTED_TYPE' }] });
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
