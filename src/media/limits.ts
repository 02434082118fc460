// What each platform accepts, from ../shared/reference/platforms.md (section per platform; "unconfirmed"
// marks figures the reference itself only has from third parties). Data only: src/media/plan.ts decides.
const MB = 1_000_000;
const MiB = 1024 * 1024;

export type ImageLimits = {
  types: string[];
  maxBytes: number;
  /** Longest side Crier scales down to when it adapts (and a hard limit where the platform has one). */
  maxLongEdge: number;
  maxPixels?: number;
  minWidth?: number;
  /** width ÷ height */
  aspect?: [number, number];
};

export type VideoLimits = {
  types: string[];
  codecs: string[];
  audioCodecs: string[];
  maxBytes: number;
  minMs: number;
  maxMs: number;
  minFps?: number;
  maxFps: number;
  maxWidth: number;
  maxHeight?: number;
  aspect?: [number, number];
  /** moov before mdat (progressive playback). */
  faststart?: boolean;
};

export type MediaLimits = {
  name: string;
  /** How the platform gets each kind: Crier uploads the bytes, or the platform pulls a public URL. */
  delivery: { image: 'upload' | 'pull'; video: 'upload' | 'pull' };
  maxItems: number;
  maxImages: number;
  maxVideos: number;
  /** Images and videos in one post (carousels). */
  mixed: boolean;
  image: ImageLimits | null;
  video: VideoLimits | null;
};

const H264_AAC = { codecs: ['h264'], audioCodecs: ['aac'] };
const H26X_AAC = { codecs: ['h264', 'hevc'], audioCodecs: ['aac'] };

export const MEDIA_LIMITS: Record<string, MediaLimits> = {
  // §10 Bluesky: ≤4 images of 1,000,000 bytes (older servers; the lexicon now says 2,000,000), or one video
  // blob ≤300 MB; duration limit unconfirmed (3 min commonly cited).
  bluesky: {
    name: 'Bluesky',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 4, maxImages: 4, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png', 'image/webp', 'image/gif'], maxBytes: 1_000_000, maxLongEdge: 2000 },
    video: { types: ['video/mp4', 'video/quicktime', 'video/webm'], codecs: ['h264', 'hevc', 'vp9', 'av1'], audioCodecs: ['aac', 'opus', 'mp3'], maxBytes: 300 * MB, minMs: 0, maxMs: 180_000, maxFps: 60, maxWidth: 1920, maxHeight: 1920 },
  },
  // §1 X: ≤4 images (JPG/PNG/GIF/WEBP ≤5 MB) or 1 video (≤512 MB, 0.5–140 s, ≤1280×1024, ≤60 fps, 1:3–3:1, H.264 + AAC-LC).
  x: {
    name: 'X',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 4, maxImages: 4, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'], maxBytes: 5 * MB, maxLongEdge: 4096 },
    video: { types: ['video/mp4', 'video/quicktime'], ...H264_AAC, maxBytes: 512 * MB, minMs: 500, maxMs: 140_000, maxFps: 60, maxWidth: 1280, maxHeight: 1024, aspect: [1 / 3, 3] },
  },
  // §2 LinkedIn: 2–20 images (JPG/PNG/GIF, < 36,152,320 px, ~5 MB, third-party) or 1 video (MP4, 3 s–30 min, ≤500 MB, 1:2.4–2.4:1, third-party).
  linkedin: {
    name: 'LinkedIn',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 20, maxImages: 20, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png', 'image/gif'], maxBytes: 5 * MB, maxLongEdge: 4096, maxPixels: 36_152_320 },
    video: { types: ['video/mp4'], ...H264_AAC, maxBytes: 500 * MB, minMs: 3_000, maxMs: 1_800_000, maxFps: 60, maxWidth: 1920, aspect: [1 / 2.4, 2.4] },
  },
  // §3 Facebook Pages: photos < 4 MB JPG/PNG (unconfirmed); reels 3–90 s, 24–60 fps, 9:16.
  facebook: {
    name: 'Facebook',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 10, maxImages: 10, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png'], maxBytes: 4 * MB, maxLongEdge: 4096 },
    video: { types: ['video/mp4', 'video/quicktime'], ...H264_AAC, maxBytes: 1000 * MB, minMs: 1_000, maxMs: 14_400_000, minFps: 24, maxFps: 60, maxWidth: 1920 },
  },
  // §4 Instagram: pulls public URLs; JPEG ≤8 MiB, 4:5–1.91:1; reels MOV/MP4 H.264/HEVC + AAC, 3 s–15 min, ≤300 MB, 23–60 fps, ≤1920 wide; carousels 2–10, mixed.
  instagram: {
    name: 'Instagram',
    delivery: { image: 'pull', video: 'pull' },
    maxItems: 10, maxImages: 10, maxVideos: 10, mixed: true,
    image: { types: ['image/jpeg'], maxBytes: 8 * MiB, maxLongEdge: 1440, aspect: [0.8, 1.91] },
    video: { types: ['video/mp4', 'video/quicktime'], ...H26X_AAC, maxBytes: 300 * MB, minMs: 3_000, maxMs: 900_000, minFps: 23, maxFps: 60, maxWidth: 1920, aspect: [0.01, 10] },
  },
  // §5 Threads: pulls public URLs; JPEG/PNG ≤8 MB, aspect ≤10:1, 320–1440 wide; video ≤300 s, ≤1 GB, moov first; carousels mixed (≤20).
  threads: {
    name: 'Threads',
    delivery: { image: 'pull', video: 'pull' },
    maxItems: 20, maxImages: 20, maxVideos: 20, mixed: true,
    image: { types: ['image/jpeg', 'image/png'], maxBytes: 8 * MB, maxLongEdge: 1440, minWidth: 320, aspect: [0.1, 10] },
    video: { types: ['video/mp4', 'video/quicktime'], ...H26X_AAC, maxBytes: 1000 * MB, minMs: 0, maxMs: 300_000, minFps: 23, maxFps: 60, maxWidth: 1920, faststart: true },
  },
  // §6 TikTok: video by FILE_UPLOAD (MP4/WebM/MOV, 3–600 s, 23–60 fps, ≥360 px, ≤4 GB: third-party); photos only by PULL_FROM_URL (≤35).
  tiktok: {
    name: 'TikTok',
    delivery: { image: 'pull', video: 'upload' },
    maxItems: 35, maxImages: 35, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/webp'], maxBytes: 20 * MB, maxLongEdge: 1920 },
    video: { types: ['video/mp4', 'video/webm', 'video/quicktime'], codecs: ['h264', 'hevc', 'vp9'], audioCodecs: ['aac', 'opus', 'mp3'], maxBytes: 4000 * MB, minMs: 3_000, maxMs: 600_000, minFps: 23, maxFps: 60, maxWidth: 4096 },
  },
  // §7 YouTube: one video, ≤256 GB, any common format (YouTube transcodes).
  youtube: {
    name: 'YouTube',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 1, maxImages: 0, maxVideos: 1, mixed: false,
    image: null,
    video: { types: ['video/mp4', 'video/quicktime', 'video/webm'], codecs: ['h264', 'hevc', 'vp9', 'av1', 'mpeg4'], audioCodecs: ['aac', 'opus', 'mp3', 'vorbis'], maxBytes: 256_000 * MB, minMs: 0, maxMs: 43_200_000, maxFps: 120, maxWidth: 7680 },
  },
  // §8 Pinterest: images by URL (~20 MB), carousels of 2–5; video upload (~2 GB, 4 s–15 min; unconfirmed).
  pinterest: {
    name: 'Pinterest',
    delivery: { image: 'pull', video: 'upload' },
    maxItems: 5, maxImages: 5, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png'], maxBytes: 20 * MB, maxLongEdge: 4096 },
    video: { types: ['video/mp4', 'video/quicktime'], ...H264_AAC, maxBytes: 2000 * MB, minMs: 4_000, maxMs: 900_000, maxFps: 60, maxWidth: 1920 },
  },
  // §11 Reddit: images (JPEG/PNG/GIF, ~20 MB), galleries ≤20, one video (≤1 GB, ≤15 min; unconfirmed).
  reddit: {
    name: 'Reddit',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 20, maxImages: 20, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png', 'image/gif'], maxBytes: 20 * MB, maxLongEdge: 4096 },
    video: { types: ['video/mp4', 'video/quicktime'], ...H264_AAC, maxBytes: 1000 * MB, minMs: 0, maxMs: 900_000, maxFps: 60, maxWidth: 1920 },
  },
  // §12 Mastodon: ≤4 attachments; limits vary per instance (mastodon.social: images 16 MB, video 99 MB).
  mastodon: {
    name: 'Mastodon',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 4, maxImages: 4, maxVideos: 1, mixed: true,
    image: { types: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'], maxBytes: 16 * MB, maxLongEdge: 4096, maxPixels: 33_177_600 },
    video: { types: ['video/mp4', 'video/quicktime', 'video/webm'], codecs: ['h264', 'hevc', 'vp9'], audioCodecs: ['aac', 'opus', 'mp3'], maxBytes: 99 * MB, minMs: 0, maxMs: 7_200_000, maxFps: 120, maxWidth: 3840 },
  },
};
