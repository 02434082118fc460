// For one platform and a post's files: send each as is, adapt it into a rendition (when the user allows),
// or refuse with an issue that names the platform and the limit. Pure: runs when the post is created, and
// again once a file fetched from a URL has been probed.
import { MEDIA_LIMITS, type MediaLimits } from './limits.js';
import { profileName } from './profiles.js';
import type { AdaptOptions, MediaInfo, MediaIssue, MediaPlan } from './types.js';

const n = (v: number) => v.toLocaleString('en-US');
const ratio = (v: number) => (v >= 1 ? `${Math.round(v * 100) / 100}:1` : `1:${Math.round((1 / v) * 100) / 100}`);
const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

export function planMedia(platform: string, items: { info: MediaInfo; options: AdaptOptions }[]): { plans: MediaPlan[]; issues: MediaIssue[] } {
  const limits = MEDIA_LIMITS[platform];
  if (!limits) return { plans: items.map(() => ({ action: 'original' })), issues: [] };
  const issues = postIssues(limits, items.map((i) => i.info));
  const plans = items.map((item, index) => planItem(platform, limits, item.info, item.options, index));
  return { plans, issues };
}

function postIssues(l: MediaLimits, infos: MediaInfo[]): MediaIssue[] {
  const issues: MediaIssue[] = [];
  const images = infos.filter((i) => i.kind === 'image').length;
  const videos = infos.length - images;
  if (infos.length > l.maxItems) issues.push({ code: 'TOO_MANY_MEDIA', message: `${l.name} takes at most ${l.maxItems} files per post; this post has ${infos.length}`, limit: l.maxItems, actual: infos.length });
  else if (images > l.maxImages) issues.push({ code: 'TOO_MANY_MEDIA', message: l.maxImages === 0 ? `${l.name} does not take images` : `${l.name} takes at most ${l.maxImages} images per post; this post has ${images}`, limit: l.maxImages, actual: images });
  else if (videos > l.maxVideos) issues.push({ code: 'TOO_MANY_MEDIA', message: `${l.name} takes at most ${l.maxVideos} video per post; this post has ${videos}`, limit: l.maxVideos, actual: videos });
  if (images > 0 && videos > 0 && !l.mixed) issues.push({ code: 'MEDIA_MIXED_KINDS', message: `${l.name} takes images or a video in one post, not both` });
  return issues;
}

function planItem(platform: string, l: MediaLimits, info: MediaInfo, opts: AdaptOptions, index: number): MediaPlan {
  const needs = info.kind === 'image' ? imageNeeds(l, info) : videoNeeds(l, info);
  const at = (issues: MediaIssue[], suffix = '') => issues.map((i) => ({ ...i, index, message: `${i.message}${suffix}` }));
  if (needs.fatal.length > 0) return { action: 'refuse', issues: at(needs.fatal) };
  if (needs.adapt.length === 0 && !needs.aspect) return { action: 'original' };
  // Padding changes the picture, so it is never done unasked.
  if (needs.aspect && !opts.pad) return { action: 'refuse', issues: at([needs.aspect, ...(opts.adapt ? [] : needs.adapt)]) };
  const all = [...needs.adapt, ...(needs.aspect ? [needs.aspect] : [])];
  if (!opts.adapt) return { action: 'refuse', issues: at(all, ' (adaptation is off for this file)') };
  return { action: 'rendition', profile: profileName(platform, info.kind, Boolean(needs.aspect)), reasons: all.map((i) => i.message) };
}

type Needs = { fatal: MediaIssue[]; adapt: MediaIssue[]; aspect?: MediaIssue };

function aspectIssue(l: MediaLimits, range: [number, number] | undefined, info: MediaInfo): MediaIssue | undefined {
  if (!range || !info.width || !info.height) return undefined;
  const a = info.width / info.height;
  if (a >= range[0] - 1e-3 && a <= range[1] + 1e-3) return undefined;
  return { code: 'ASPECT_RATIO_OUT_OF_RANGE', message: `${l.name} takes aspect ratios from ${ratio(range[0])} to ${ratio(range[1])}; this file is ${ratio(a)} (send "pad": true to fit it by padding)`, limit: `${ratio(range[0])}–${ratio(range[1])}`, actual: ratio(a) };
}

function imageNeeds(l: MediaLimits, info: MediaInfo): Needs {
  const il = l.image;
  if (!il) return { fatal: [{ code: 'MEDIA_UNSUPPORTED_TYPE', message: `${l.name} does not take images` }], adapt: [] };
  const fatal: MediaIssue[] = [];
  const adapt: MediaIssue[] = [];
  if (info.animated) {
    // Animation is kept as is or refused: flattening it to one frame would silently change the post.
    if (!il.types.includes(info.mimeType)) fatal.push({ code: 'MEDIA_UNSUPPORTED_TYPE', message: `${l.name} does not take animated ${info.format.toUpperCase()} images`, actual: info.mimeType });
    else if (info.size > il.maxBytes) fatal.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} takes images up to ${n(il.maxBytes)} bytes; this animated image is ${n(info.size)} bytes`, limit: il.maxBytes, actual: info.size });
    return { fatal, adapt };
  }
  if (!il.types.includes(info.mimeType)) adapt.push({ code: 'MEDIA_UNSUPPORTED_TYPE', message: `${l.name} takes ${il.types.map((t) => t.replace('image/', '').toUpperCase()).join(', ')} images, not ${info.format.toUpperCase()}`, actual: info.mimeType });
  if (info.size > il.maxBytes) adapt.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} takes images up to ${n(il.maxBytes)} bytes; this one is ${n(info.size)} bytes`, limit: il.maxBytes, actual: info.size });
  if (il.maxPixels && info.width * info.height > il.maxPixels) adapt.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} takes images up to ${n(il.maxPixels)} pixels; this one has ${n(info.width * info.height)}`, limit: il.maxPixels, actual: info.width * info.height });
  if (il.minWidth && info.width < il.minWidth) fatal.push({ code: 'IMAGE_TOO_SMALL', message: `${l.name} takes images at least ${il.minWidth} pixels wide; this one is ${info.width}`, limit: il.minWidth, actual: info.width });
  return { fatal, adapt, aspect: aspectIssue(l, il.aspect, info) };
}

function videoNeeds(l: MediaLimits, info: MediaInfo): Needs {
  const vl = l.video;
  if (!vl) return { fatal: [{ code: 'MEDIA_UNSUPPORTED_TYPE', message: `${l.name} does not take videos` }], adapt: [] };
  const fatal: MediaIssue[] = [];
  const adapt: MediaIssue[] = [];
  const ms = info.durationMs ?? 0;
  // Length is the user's content: never cut, so never adapted.
  if (ms > vl.maxMs) fatal.push({ code: 'VIDEO_TOO_LONG', message: `${l.name} takes videos up to ${seconds(vl.maxMs)}; this one is ${seconds(ms)}`, limit: vl.maxMs, actual: ms });
  if (ms < vl.minMs) fatal.push({ code: 'VIDEO_TOO_SHORT', message: `${l.name} takes videos from ${seconds(vl.minMs)}; this one is ${seconds(ms)}`, limit: vl.minMs, actual: ms });
  if (!vl.types.includes(info.mimeType)) adapt.push({ code: 'MEDIA_UNSUPPORTED_TYPE', message: `${l.name} takes ${vl.types.map((t) => t.replace('video/', '').toUpperCase()).join(', ')} videos, not ${info.mimeType}`, actual: info.mimeType });
  if (!info.videoCodec || !vl.codecs.includes(info.videoCodec)) adapt.push({ code: 'MEDIA_UNSUPPORTED_CODEC', message: `${l.name} takes ${vl.codecs.join('/')} video, not ${info.videoCodec ?? 'an unknown codec'}`, actual: info.videoCodec ?? 'unknown' });
  if (info.audioCodec && !vl.audioCodecs.includes(info.audioCodec)) adapt.push({ code: 'MEDIA_UNSUPPORTED_CODEC', message: `${l.name} takes ${vl.audioCodecs.join('/')} audio, not ${info.audioCodec}`, actual: info.audioCodec });
  if (info.frameRate && (info.frameRate > vl.maxFps + 0.5 || (vl.minFps && info.frameRate < vl.minFps - 0.5))) {
    adapt.push({ code: 'FRAME_RATE_OUT_OF_RANGE', message: `${l.name} takes ${vl.minFps ?? 1}–${vl.maxFps} frames per second; this video has ${info.frameRate}`, limit: `${vl.minFps ?? 1}–${vl.maxFps}`, actual: info.frameRate });
  }
  if (info.width > vl.maxWidth || (vl.maxHeight && info.height > vl.maxHeight)) {
    adapt.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} takes videos up to ${vl.maxWidth}${vl.maxHeight ? `×${vl.maxHeight}` : ' pixels wide'}; this one is ${info.width}×${info.height}`, limit: vl.maxWidth, actual: info.width });
  }
  if (info.size > vl.maxBytes) adapt.push({ code: 'MEDIA_TOO_LARGE', message: `${l.name} takes videos up to ${n(vl.maxBytes)} bytes; this one is ${n(info.size)} bytes`, limit: vl.maxBytes, actual: info.size });
  if (vl.faststart && info.faststart === false) adapt.push({ code: 'MEDIA_UNSUPPORTED_CODEC', message: `${l.name} needs the MP4 index (moov) before the media data (progressive/faststart)` });
  return { fatal, adapt, aspect: aspectIssue(l, vl.aspect, info) };
}
