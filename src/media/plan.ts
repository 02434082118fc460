// For one platform and a post's files: send each as is, adapt it into a rendition (when the user allows), or
// refuse with an issue that names the platform and the limit with numbers. Pure: it runs when a post is
// created (a 4xx) and again in the worker once a file fetched from a URL has been probed, so both agree.
import { MEDIA_LIMITS, type AspectRange, type ImageLimits, type PlatformMediaLimits, type VideoLimits } from './limits.js';
import { MIN_VIDEO_BITRATE, profileFor, type ProfileVariant } from './profiles.js';
import type { AdaptOptions, MediaInfo, MediaIssue, MediaPlan } from './types.js';

export { PLATFORM_NAMES } from './limits.js';

const n = (v: number) => v.toLocaleString('en-US');
const ratio = (w: number, h: number) => {
  const a = w / h;
  return a >= 1 ? `${+a.toFixed(2)}:1` : `1:${+(1 / a).toFixed(2)}`;
};
function duration(ms: number): string {
  if (ms < 120_000) return `${+(ms / 1000).toFixed(1)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${min} min ${s} s` : `${min} min`;
}
const upper = (mime: string) => mime.split('/')[1]!.replace(/^x-/, '').replace('quicktime', 'MOV').toUpperCase();
const list = (types: string[]) => types.map(upper).join(', ');

export function planMedia(platform: string, items: { info: MediaInfo; options: AdaptOptions }[]): { plans: MediaPlan[]; issues: MediaIssue[] } {
  const limits = MEDIA_LIMITS[platform];
  // A platform with no media rules yet (no connector): nothing to check, nothing to adapt.
  if (!limits) return { plans: items.map(() => ({ action: 'original' })), issues: [] };
  return {
    issues: postIssues(limits, items.map((i) => i.info)),
    plans: items.map((item, index) => planItem(platform, limits, item.info, item.options, index)),
  };
}

function postIssues(l: PlatformMediaLimits, infos: MediaInfo[]): MediaIssue[] {
  const issues: MediaIssue[] = [];
  const images = infos.filter((i) => i.kind === 'image').length;
  const videos = infos.length - images;
  const many = (limit: number, actual: number, what: string) =>
    issues.push({ code: 'TOO_MANY_MEDIA', message: `${l.name} accepts at most ${limit} ${what} per post; this post has ${actual}`, limit, actual });
  if (infos.length > l.maxItems) many(l.maxItems, infos.length, 'files');
  // A kind the platform does not take at all is refused per file (MEDIA_UNSUPPORTED_TYPE), not counted here.
  else if (l.image && images > l.maxImages) many(l.maxImages, images, 'images');
  else if (l.video && videos > l.maxVideos) many(l.maxVideos, videos, l.maxVideos === 1 ? 'video' : 'videos');
  if (images > 0 && videos > 0 && !l.mixed && l.image && l.video) {
    issues.push({ code: 'MEDIA_MIXED_KINDS', message: `${l.name} accepts images or a video in one post, not both; this post has ${images} image(s) and ${videos} video(s)` });
  }
  if (l.animatedAlone && infos.length > 1 && infos.some((i) => i.animated)) {
    issues.push({ code: 'TOO_MANY_MEDIA', message: `${l.name} accepts an animated GIF only as the post's single file; this post has ${infos.length} files`, limit: 1, actual: infos.length });
  }
  return issues;
}

/** What stops a file: `fatal` cannot be fixed by Crier; `adapt` can, by a rendition; `aspect` only by padding. */
type Needs = { fatal: MediaIssue[]; adapt: MediaIssue[]; aspect?: MediaIssue; remuxOnly?: boolean };

function planItem(platform: string, l: PlatformMediaLimits, info: MediaInfo, opts: AdaptOptions, index: number): MediaPlan {
  const needs = info.kind === 'image' ? imageNeeds(l, info) : videoNeeds(l, info);
  const at = (issues: MediaIssue[], suffix = '') => issues.map((i) => ({ ...i, index, message: `${i.message}${suffix}` }));
  if (needs.fatal.length > 0) return { action: 'refuse', issues: at(needs.fatal) };
  if (needs.adapt.length === 0 && !needs.aspect) return { action: 'original' };
  const all = [...needs.adapt, ...(needs.aspect ? [needs.aspect] : [])];
  if (!opts.adapt) return { action: 'refuse', issues: at(all, ' (adaptation is off for this file)') };
  // Padding changes the picture, so it is never done unasked.
  if (needs.aspect && !opts.pad) return { action: 'refuse', issues: at([needs.aspect]) };
  const variant: ProfileVariant = needs.aspect ? 'pad' : needs.remuxOnly ? 'faststart' : 'plain';
  const profile = profileFor(platform, info.kind, variant) ?? (variant === 'faststart' ? profileFor(platform, info.kind) : undefined);
  if (!profile) return { action: 'refuse', issues: at(all, ' (Crier has no way to adapt this file for this platform yet)') };
  return { action: 'rendition', profile: profile.name, reasons: all.map((i) => i.message) };
}

function aspectIssue(l: PlatformMediaLimits, range: AspectRange | undefined, info: MediaInfo): MediaIssue | undefined {
  if (!range || !info.width || !info.height) return undefined;
  const a = info.width / info.height;
  // A hair of tolerance: 1080×1350 is exactly 4:5 but rounding elsewhere must not refuse it.
  if (a >= range.min * 0.999 && a <= range.max * 1.001) return undefined;
  return {
    code: 'ASPECT_RATIO_OUT_OF_RANGE',
    message: `${l.name} accepts aspect ratios from ${range.label}; this file is ${info.width}×${info.height} (${ratio(info.width, info.height)}). Send "pad": true to fit it by padding`,
    limit: range.label,
    actual: ratio(info.width, info.height),
  };
}

function imageNeeds(l: PlatformMediaLimits, info: MediaInfo): Needs {
  const il = l.image;
  const fatal: MediaIssue[] = [];
  const adapt: MediaIssue[] = [];
  if (!il) return { fatal: [{ code: 'MEDIA_UNSUPPORTED_TYPE', message: `${l.name} accepts only videos, not images`, actual: info.mimeType }], adapt };
  const dims = `${info.width}×${info.height}`;
  if ((il.minWidth && info.width < il.minWidth) || (il.minHeight && info.height < il.minHeight)) {
    fatal.push({ code: 'IMAGE_TOO_SMALL', message: `${l.name} accepts images from ${il.minWidth ?? 1}×${il.minHeight ?? 1} pixels; this one is ${dims}`, limit: `${il.minWidth ?? 1}×${il.minHeight ?? 1}`, actual: dims });
  }
  if (info.animated) {
    // Kept as is or refused: flattening an animation to one frame would silently change the post.
    const an = il.animated;
    if (!an || !an.types.includes(info.mimeType)) {
      fatal.push({ code: 'MEDIA_UNSUPPORTED_TYPE', message: `${l.name} does not accept animated ${upper(info.mimeType)} images${an ? ` (only animated ${list(an.types)})` : ''}`, actual: info.mimeType });
      return { fatal, adapt };
    }
    if (info.size > an.maxBytes) fatal.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts animated images up to ${n(an.maxBytes)} bytes; this one is ${n(info.size)} bytes`, limit: an.maxBytes, actual: info.size });
    if (an.maxFrames && (info.frames ?? 1) > an.maxFrames) fatal.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts animated images of up to ${n(an.maxFrames)} frames; this one has ${n(info.frames ?? 1)}`, limit: an.maxFrames, actual: info.frames ?? 1 });
    if ((an.maxWidth && info.width > an.maxWidth) || (an.maxHeight && info.height > an.maxHeight)) {
      fatal.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts animated images up to ${an.maxWidth}×${an.maxHeight} pixels; this one is ${dims}`, limit: `${an.maxWidth}×${an.maxHeight}`, actual: dims });
    }
    return { fatal, adapt };
  }
  if (!il.types.includes(info.mimeType)) adapt.push({ code: 'MEDIA_UNSUPPORTED_TYPE', message: `${l.name} accepts ${list(il.types)} images, not ${upper(info.mimeType)}`, limit: list(il.types), actual: info.mimeType });
  if (info.size > il.maxBytes) adapt.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts images up to ${n(il.maxBytes)} bytes; this one is ${n(info.size)} bytes`, limit: il.maxBytes, actual: info.size });
  if (il.maxPixels && info.width * info.height > il.maxPixels) {
    adapt.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts images up to ${n(il.maxPixels)} pixels; this one has ${n(info.width * info.height)} (${dims})`, limit: il.maxPixels, actual: info.width * info.height });
  }
  if ((il.maxWidth && info.width > il.maxWidth) || (il.maxHeight && info.height > il.maxHeight)) {
    adapt.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts images up to ${il.maxWidth}×${il.maxHeight} pixels; this one is ${dims}`, limit: `${il.maxWidth}×${il.maxHeight}`, actual: dims });
  }
  return { fatal, adapt, aspect: aspectIssue(l, il.aspect, info) };
}

function videoNeeds(l: PlatformMediaLimits, info: MediaInfo): Needs {
  const vl = l.video;
  const fatal: MediaIssue[] = [];
  const adapt: MediaIssue[] = [];
  if (!vl) return { fatal: [{ code: 'MEDIA_UNSUPPORTED_TYPE', message: `${l.name} accepts only images, not videos`, actual: info.mimeType }], adapt };
  const dims = `${info.width}×${info.height}`;
  const ms = info.durationMs;
  // Length is the user's content: never cut, so never adapted.
  if (ms !== undefined && vl.maxMs !== undefined && ms > vl.maxMs) fatal.push({ code: 'VIDEO_TOO_LONG', message: `${l.name} accepts videos up to ${duration(vl.maxMs)}; this one is ${duration(ms)}`, limit: vl.maxMs, actual: ms });
  if (ms !== undefined && vl.minMs !== undefined && ms < vl.minMs) fatal.push({ code: 'VIDEO_TOO_SHORT', message: `${l.name} accepts videos from ${duration(vl.minMs)}; this one is ${duration(ms)}`, limit: vl.minMs, actual: ms });
  // Nor is a small video blown up: upscaling only adds blur.
  if ((vl.minWidth && info.width < vl.minWidth) || (vl.minHeight && info.height < vl.minHeight)) {
    fatal.push({ code: 'VIDEO_TOO_SMALL', message: `${l.name} accepts videos from ${vl.minWidth ?? 1}×${vl.minHeight ?? 1} pixels; this one is ${dims}`, limit: `${vl.minWidth ?? 1}×${vl.minHeight ?? 1}`, actual: dims });
  }
  if (info.size > vl.maxBytes && ms) {
    // Re-encoding can shrink a file only so far before the picture falls apart.
    const budget = (vl.maxBytes * 8) / (ms / 1000);
    if (budget < MIN_VIDEO_BITRATE) {
      fatal.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts videos up to ${n(vl.maxBytes)} bytes; this one is ${n(info.size)} bytes, and at ${duration(ms)} it cannot be re-encoded that small without ruining the picture`, limit: vl.maxBytes, actual: info.size });
    }
  }
  if (fatal.length > 0) return { fatal, adapt };

  let remuxable = true; // true while every problem found is one a lossless rewrite fixes
  const need = (issue: MediaIssue, remux = false) => {
    adapt.push(issue);
    if (!remux) remuxable = false;
  };
  if (!vl.types.includes(info.mimeType)) need({ code: 'MEDIA_UNSUPPORTED_TYPE', message: `${l.name} accepts ${list(vl.types)} videos, not ${upper(info.mimeType)}`, limit: list(vl.types), actual: info.mimeType });
  if (!info.videoCodec || !vl.codecs.includes(info.videoCodec)) need({ code: 'MEDIA_UNSUPPORTED_CODEC', message: `${l.name} accepts ${vl.codecs.join('/')} video, not ${info.videoCodec ?? 'an unknown codec'}`, limit: vl.codecs.join('/'), actual: info.videoCodec ?? 'unknown' });
  if (info.audioCodec && !vl.audioCodecs.includes(info.audioCodec)) need({ code: 'MEDIA_UNSUPPORTED_CODEC', message: `${l.name} accepts ${vl.audioCodecs.join('/')} audio, not ${info.audioCodec}`, limit: vl.audioCodecs.join('/'), actual: info.audioCodec });
  if (info.audioSampleRate && vl.maxAudioSampleRate && info.audioSampleRate > vl.maxAudioSampleRate) {
    need({ code: 'MEDIA_UNSUPPORTED_CODEC', message: `${l.name} accepts audio sampled at up to ${n(vl.maxAudioSampleRate)} Hz; this one is ${n(info.audioSampleRate)} Hz`, limit: vl.maxAudioSampleRate, actual: info.audioSampleRate });
  }
  const fps = info.frameRate;
  if (fps && ((vl.maxFps && fps > vl.maxFps + 0.01) || (vl.minFps && fps < vl.minFps - 0.01))) {
    const range = `${vl.minFps ?? 1}–${vl.maxFps ?? '∞'}`;
    need({ code: 'FRAME_RATE_OUT_OF_RANGE', message: `${l.name} accepts ${range} frames per second; this video has ${+fps.toFixed(2)}`, limit: range, actual: fps });
  }
  if ((vl.maxWidth && info.width > vl.maxWidth) || (vl.maxHeight && info.height > vl.maxHeight)) {
    const box = vl.maxHeight ? `${vl.maxWidth ?? '∞'}×${vl.maxHeight} pixels` : `${vl.maxWidth} pixels wide`;
    need({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts videos up to ${box}; this one is ${dims}`, limit: vl.maxHeight ? `${vl.maxWidth}×${vl.maxHeight}` : vl.maxWidth!, actual: dims });
  }
  if (vl.maxPixels && info.width * info.height > vl.maxPixels) {
    need({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts videos up to ${n(vl.maxPixels)} pixels per frame; this one has ${n(info.width * info.height)} (${dims})`, limit: vl.maxPixels, actual: info.width * info.height });
  }
  if (info.size > vl.maxBytes) need({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts videos up to ${n(vl.maxBytes)} bytes; this one is ${n(info.size)} bytes`, limit: vl.maxBytes, actual: info.size });
  if (info.bitRate && vl.maxBitrate && info.bitRate > vl.maxBitrate) {
    need({ code: 'MEDIA_TOO_LARGE', message: `${l.name} accepts videos up to ${n(vl.maxBitrate)} bits per second; this one has ${n(info.bitRate)}`, limit: vl.maxBitrate, actual: info.bitRate });
  }
  if (vl.faststart && info.faststart === false) {
    need({ code: 'MEDIA_UNSUPPORTED_CODEC', message: `${l.name} needs the MP4 index (moov atom) before the media data ("faststart"); this file has it at the end`, limit: 'moov first', actual: 'moov last' }, true);
  }
  const aspect = aspectIssue(l, vl.aspect, info);
  return { fatal, adapt, aspect, remuxOnly: remuxable && adapt.length > 0 && !aspect };
}
