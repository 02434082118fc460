// Rendition profiles: named, deterministic transformations with their parameters written out here (not read
// from the limits table at run time), because renditions are cached per (media, profile): whatever changes
// what a profile produces must come with a new name (bump the -vN suffix). test/media.probe-plan.test.ts
// checks that each profile's output stays inside its platform's limits, so a limits change that a profile no
// longer satisfies fails there rather than on the platform.
import { MEDIA_LIMITS, type AspectRange } from './limits.js';

/** A still image, always written as a baseline-compatible JPEG (mozjpeg), sRGB, no metadata. */
export type ImageProfile = {
  name: string;
  kind: 'image';
  format: 'jpeg';
  maxBytes: number;
  /** Longest side after resizing; `maxWidth` additionally bounds the width (Meta's 1440 px). */
  maxLongEdge: number;
  maxWidth?: number;
  /** JPEG quality is searched between these: as high as fits; below `floor` Crier shrinks instead. */
  quality: { max: number; floor: number };
  /** Pad (never crop) into this aspect range, with a neutral white, when the user asked for padding. */
  pad?: AspectRange;
};

/** H.264 High (yuv420p) + AAC-LC in MP4 with the index first; or, for `remux`, the same streams rewritten. */
export type VideoProfile = {
  name: string;
  kind: 'video';
  mode: 'encode' | 'remux';
  maxBytes: number;
  maxWidth: number;
  maxHeight: number;
  maxFps: number;
  /** Raised to 30 fps by repeating frames when below (Meta refuses under 23 fps). */
  minFps?: number;
  /** Quality target (x264 CRF), capped by `maxBitrate` and by what fits `maxBytes` over the duration. */
  crf: number;
  preset: 'veryfast' | 'faster' | 'fast' | 'medium';
  /** Video bits per second ceiling (VBV maxrate). */
  maxBitrate: number;
  audioBitrate: number;
  audioSampleRate: number;
  /** Pad with black into this aspect range when the user asked for padding. */
  pad?: AspectRange;
};

export type Profile = ImageProfile | VideoProfile;

/** Below this many bits per second (video + audio) a re-encode to fit a size limit would ruin the picture. */
export const MIN_VIDEO_BITRATE = 400_000;

const jpeg = (name: string, maxBytes: number, maxLongEdge: number, extra: Partial<ImageProfile> = {}): ImageProfile => ({
  name, kind: 'image', format: 'jpeg', maxBytes, maxLongEdge, quality: { max: 92, floor: 72 }, ...extra,
});
const h264 = (name: string, maxBytes: number, extra: Partial<VideoProfile> = {}): VideoProfile => ({
  name, kind: 'video', mode: 'encode', maxBytes, maxWidth: 1920, maxHeight: 1920, maxFps: 60, crf: 21, preset: 'veryfast',
  maxBitrate: 8_000_000, audioBitrate: 128_000, audioSampleRate: 48_000, ...extra,
});
const remux = (name: string, maxBytes: number): VideoProfile => ({ ...h264(name, maxBytes), mode: 'remux' });

const IG_IMAGE_ASPECT = { min: 4 / 5, max: 1.91, label: '4:5 to 1.91:1' };
const THREADS_IMAGE_ASPECT = { min: 1 / 10, max: 10, label: '1:10 to 10:1' };
const X_VIDEO_ASPECT = { min: 1 / 3, max: 3, label: '1:3 to 3:1' };
const LINKEDIN_VIDEO_ASPECT = { min: 1 / 2.4, max: 2.4, label: '1:2.4 to 2.4:1' };
const IG_VIDEO_ASPECT = { min: 0.01, max: 10, label: '0.01:1 to 10:1' };

const ALL: Profile[] = [
  // Bluesky shows images at most 2000 px on the long side; 1,000,000 bytes is the limit its servers enforce.
  jpeg('bluesky-image-v1', 1_000_000, 2000),
  jpeg('x-image-v1', 5_000_000, 4096),
  jpeg('linkedin-image-v1', 5_000_000, 4096),
  jpeg('facebook-image-v1', 4_000_000, 2048),
  jpeg('instagram-image-v1', 8 * 1024 * 1024, 1800, { maxWidth: 1440 }),
  jpeg('instagram-image-pad-v1', 8 * 1024 * 1024, 1800, { maxWidth: 1440, pad: IG_IMAGE_ASPECT }),
  jpeg('threads-image-v1', 8_000_000, 4096, { maxWidth: 1440 }),
  jpeg('threads-image-pad-v1', 8_000_000, 4096, { maxWidth: 1440, pad: THREADS_IMAGE_ASPECT }),
  jpeg('tiktok-image-v1', 20_000_000, 1920),
  jpeg('pinterest-image-v1', 20_000_000, 3000),
  jpeg('reddit-image-v1', 20_000_000, 4096),
  jpeg('mastodon-image-v1', 16_777_216, 4096),

  h264('bluesky-video-v1', 300_000_000),
  h264('x-video-v1', 512_000_000, { maxWidth: 1280, maxHeight: 1024, maxBitrate: 6_000_000 }),
  h264('x-video-pad-v1', 512_000_000, { maxWidth: 1280, maxHeight: 1024, maxBitrate: 6_000_000, pad: X_VIDEO_ASPECT }),
  h264('linkedin-video-v1', 500_000_000),
  h264('linkedin-video-pad-v1', 500_000_000, { pad: LINKEDIN_VIDEO_ASPECT }),
  h264('facebook-video-v1', 10_000_000_000),
  h264('instagram-video-v1', 300_000_000, { minFps: 23 }),
  h264('instagram-video-pad-v1', 300_000_000, { minFps: 23, pad: IG_VIDEO_ASPECT }),
  h264('threads-video-v1', 1_000_000_000, { minFps: 23 }),
  // Threads needs the index first: when that is all that is wrong, moving the moov atom is lossless.
  remux('threads-video-faststart-v1', 1_000_000_000),
  h264('tiktok-video-v1', 4_000_000_000, { minFps: 23 }),
  // YouTube takes nearly anything; a rendition only replaces a codec it would not read, so keep up to 4K.
  h264('youtube-video-v1', 256_000_000_000, { maxWidth: 3840, maxHeight: 3840, maxBitrate: 35_000_000 }),
  h264('pinterest-video-v1', 2_000_000_000),
  h264('reddit-video-v1', 1_000_000_000),
  h264('mastodon-video-v1', 103_809_024),
];

export const PROFILES: ReadonlyMap<string, Profile> = new Map(ALL.map((p) => [p.name, p]));

export type ProfileVariant = 'plain' | 'pad' | 'faststart';

/** The profile for a platform, kind and variant, e.g. ("instagram", "image", "pad") → instagram-image-pad-v1. */
export function profileFor(platform: string, kind: 'image' | 'video', variant: ProfileVariant = 'plain'): Profile | undefined {
  const prefix = `${platform}-${kind}${variant === 'plain' ? '' : `-${variant}`}-v`;
  // The newest version wins; older ones stay so renditions already made under them can still be described.
  return ALL.filter((p) => p.name.startsWith(prefix) && /^\d+$/.test(p.name.slice(prefix.length))).sort((a, b) => versionOf(b) - versionOf(a))[0];
}

const versionOf = (p: Profile) => Number(p.name.slice(p.name.lastIndexOf('-v') + 2));

/** Kept for callers that name profiles by (platform, kind, pad). */
export function profileName(platform: string, kind: 'image' | 'video', pad: boolean): string {
  const p = profileFor(platform, kind, pad ? 'pad' : 'plain');
  if (!p) throw new Error(`no ${kind}${pad ? ' padding' : ''} profile for ${platform}`);
  return p.name;
}

export function getProfile(name: string): Profile {
  const p = PROFILES.get(name);
  if (!p) throw new Error(`unknown rendition profile "${name}"`);
  return p;
}

/** The platform a profile belongs to (its name's first part). */
export function profilePlatform(p: Profile): string {
  const platform = p.name.split('-')[0]!;
  if (!MEDIA_LIMITS[platform]) throw new Error(`profile ${p.name} names no known platform`);
  return platform;
}
