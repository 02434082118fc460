// What each platform accepts, as data, from ../shared/reference/platforms.md (the section is named above each
// entry). "unconfirmed" marks figures the reference itself has only from third parties or not at all; those
// are the first to check when a platform refuses a file Crier let through. src/media/plan.ts decides with
// this table; src/media/profiles.ts holds what Crier produces when it adapts a file.
const MB = 1_000_000;
const MiB = 1024 * 1024;

/** width ÷ height, with the reference's own words for the range (messages quote it). */
export type AspectRange = { min: number; max: number; label: string };

export type ImageLimits = {
  /** Static images, by the type detected from the bytes. */
  types: string[];
  maxBytes: number;
  maxPixels?: number;
  maxWidth?: number;
  maxHeight?: number;
  /** Below these Crier refuses (it never upscales). */
  minWidth?: number;
  minHeight?: number;
  aspect?: AspectRange;
  /** Animated GIF/WebP, sent as they are or refused (flattening one to a still would change the post). */
  animated: { types: string[]; maxBytes: number; maxFrames?: number; maxWidth?: number; maxHeight?: number } | null;
};

export type VideoLimits = {
  /** Containers, by the type detected from the bytes. */
  types: string[];
  codecs: string[];
  audioCodecs: string[];
  maxBytes: number;
  minMs?: number;
  maxMs?: number;
  minFps?: number;
  maxFps?: number;
  maxWidth?: number;
  maxHeight?: number;
  maxPixels?: number;
  minWidth?: number;
  minHeight?: number;
  aspect?: AspectRange;
  /** Whole-file bits per second. */
  maxBitrate?: number;
  maxAudioSampleRate?: number;
  /** moov before mdat (progressive download). */
  faststart?: boolean;
};

export type PlatformMediaLimits = {
  /** The platform's name as people write it, for messages. */
  name: string;
  /** How the platform gets each kind: Crier uploads the bytes, or the platform pulls a public URL. */
  delivery: { image: 'upload' | 'pull'; video: 'upload' | 'pull' };
  maxItems: number;
  maxImages: number;
  maxVideos: number;
  /** Images and videos in one post (mixed carousels). */
  mixed: boolean;
  /** An animated GIF must be the post's only file (X: "4 images, or 1 GIF, or 1 video"). */
  animatedAlone?: boolean;
  image: ImageLimits | null;
  video: VideoLimits | null;
};

export const PLATFORMS = ['bluesky', 'x', 'linkedin', 'facebook', 'instagram', 'threads', 'tiktok', 'youtube', 'pinterest', 'reddit', 'mastodon'] as const;
export type Platform = (typeof PLATFORMS)[number];

const H264_AAC = { codecs: ['h264'], audioCodecs: ['aac'] };
const MP4_MOV = ['video/mp4', 'video/quicktime'];

const LIMITS = {
  // §9 Bluesky. Images: ≤4, 1,000,000 bytes each — the lexicon now allows 2,000,000 but older servers and
  // clients enforce 1,000,000, which is also Crier's simulator default. Video: one, video/mp4 only (the
  // lexicon's accept list; the simulator checks it), blob ≤300 MB; length unconfirmed (3 min commonly
  // cited). Bluesky's image CDN serves stills, so an animated GIF would post as its first frame: refused.
  // The 60 fps cap is Crier's choice for Bluesky's player (unconfirmed).
  bluesky: {
    name: 'Bluesky',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 4, maxImages: 4, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png', 'image/webp', 'image/gif'], maxBytes: 1_000_000, animated: null },
    video: { types: ['video/mp4'], codecs: ['h264', 'hevc', 'vp9', 'av1'], audioCodecs: ['aac', 'opus', 'mp3'], maxBytes: 300 * MB, maxMs: 180_000, maxFps: 60 },
  },
  // §1 X: ≤4 images or 1 GIF or 1 video [doc]. Images JPG/PNG/GIF/WEBP ≤5 MB; animated GIF ≤15 MB, ≤1280×1080,
  // ≤350 frames; video MP4/MOV ≤512 MB, 0.5–140 s, 32×32–1280×1024, ≤60 fps, 1:3–3:1, H.264 + AAC-LC.
  // Image dimensions 4×4–8192×8192: third-party (Ayrshare's copy of X's media guide), unconfirmed.
  x: {
    name: 'X',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 4, maxImages: 4, maxVideos: 1, mixed: false, animatedAlone: true,
    image: {
      types: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'], maxBytes: 5 * MB, maxWidth: 8192, maxHeight: 8192, minWidth: 4, minHeight: 4,
      animated: { types: ['image/gif'], maxBytes: 15 * MB, maxFrames: 350, maxWidth: 1280, maxHeight: 1080 },
    },
    video: { types: MP4_MOV, ...H264_AAC, maxBytes: 512 * MB, minMs: 500, maxMs: 140_000, maxFps: 60, maxWidth: 1280, maxHeight: 1024, minWidth: 32, minHeight: 32, aspect: { min: 1 / 3, max: 3, label: '1:3 to 3:1' } },
  },
  // §2 LinkedIn (all third-party, unconfirmed): images JPG/PNG/GIF (GIF ≤250 frames) under 36,152,320 pixels,
  // about 5 MB; multiImage takes 2–20. Video MP4, 3 s–30 min, 75 KB–500 MB, 1:2.4–2.4:1; codecs not given
  // (H.264/AAC assumed).
  linkedin: {
    name: 'LinkedIn',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 20, maxImages: 20, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png', 'image/gif'], maxBytes: 5 * MB, maxPixels: 36_152_319, animated: { types: ['image/gif'], maxBytes: 5 * MB, maxFrames: 250 } },
    video: { types: ['video/mp4'], ...H264_AAC, maxBytes: 500 * MB, minMs: 3_000, maxMs: 1_800_000, aspect: { min: 1 / 2.4, max: 2.4, label: '1:2.4 to 2.4:1' } },
  },
  // §3 Facebook Pages: photos under 4 MB, JPG or PNG (Postiz's error map; unconfirmed); several photos via
  // attached_media (count not in the reference: 10 is Crier's conservative choice). Crier passes `url` /
  // `file_url` (Facebook pulls), so a public URL is needed, checked when the post is created. Video goes to /videos (page video);
  // the reference only has Reels limits (3–90 s, 24–60 fps), so page-video limits here are Facebook's
  // published 10 GB / 240 min (unconfirmed), H.264/AAC MP4 as the safe choice.
  facebook: {
    name: 'Facebook',
    delivery: { image: 'pull', video: 'pull' },
    maxItems: 10, maxImages: 10, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png'], maxBytes: 4 * MB, animated: null },
    video: { types: MP4_MOV, ...H264_AAC, maxBytes: 10_000 * MB, minMs: 1_000, maxMs: 14_400_000, maxFps: 60 },
  },
  // §4 Instagram: Meta pulls public URLs. Images JPEG only, ≤8 MiB, 4:5–1.91:1 [doc]. Reels MOV/MP4, H.264 or
  // HEVC, AAC ≤48 kHz, 23–60 fps, ≤1920 px wide, 3 s–15 min, ≤300 MB, 0.01:1–10:1. Carousels 2–10, mixed.
  // Video bitrate ≤25 Mbps: Meta's Reels spec, not in the reference (unconfirmed).
  instagram: {
    name: 'Instagram',
    delivery: { image: 'pull', video: 'pull' },
    maxItems: 10, maxImages: 10, maxVideos: 10, mixed: true,
    image: { types: ['image/jpeg'], maxBytes: 8 * MiB, aspect: { min: 4 / 5, max: 1.91, label: '4:5 to 1.91:1' }, animated: null },
    video: {
      types: MP4_MOV, codecs: ['h264', 'hevc'], audioCodecs: ['aac'], maxBytes: 300 * MB, minMs: 3_000, maxMs: 900_000, minFps: 23, maxFps: 60,
      maxWidth: 1920, aspect: { min: 0.01, max: 10, label: '0.01:1 to 10:1' }, maxBitrate: 25 * MB, maxAudioSampleRate: 48_000,
    },
  },
  // §5 Threads: pulls public URLs. Images JPEG or PNG, ≤8 MB, aspect ≤10:1; widths outside 320–1440 are
  // rescaled by Threads itself, so they are no reason to refuse. Video MOV/MP4 with the moov atom first, H.264
  // or HEVC, AAC ≤48 kHz, 23–60 fps, ≤1920 px wide, ≤300 s, ≤1 GB. Carousels 2–20, mixed. Bitrate ≤100 Mbps:
  // Meta's spec, not in the reference (unconfirmed).
  threads: {
    name: 'Threads',
    delivery: { image: 'pull', video: 'pull' },
    maxItems: 20, maxImages: 20, maxVideos: 20, mixed: true,
    image: { types: ['image/jpeg', 'image/png'], maxBytes: 8 * MB, aspect: { min: 1 / 10, max: 10, label: '1:10 to 10:1' }, animated: null },
    video: {
      types: MP4_MOV, codecs: ['h264', 'hevc'], audioCodecs: ['aac'], maxBytes: 1_000 * MB, maxMs: 300_000, minFps: 23, maxFps: 60, maxWidth: 1920,
      maxBitrate: 100 * MB, maxAudioSampleRate: 48_000, faststart: true,
    },
  },
  // §6 TikTok: video by FILE_UPLOAD, MP4/WebM/MOV; 3–600 s, 23–60 fps, ≥360 px, ≤4 GB are third-party
  // (unconfirmed), as are the codecs (H.264, HEVC, VP8, VP9) and the 4096 px maximum. Photos only by
  // PULL_FROM_URL, ≤35; JPEG/WebP ≤20 MB (third-party, unconfirmed). A post is photos or one video.
  tiktok: {
    name: 'TikTok',
    delivery: { image: 'pull', video: 'upload' },
    maxItems: 35, maxImages: 35, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/webp'], maxBytes: 20 * MB, animated: null },
    video: {
      types: ['video/mp4', 'video/webm', 'video/quicktime'], codecs: ['h264', 'hevc', 'vp8', 'vp9'], audioCodecs: ['aac', 'opus', 'mp3', 'vorbis'],
      maxBytes: 4_000 * MB, minMs: 3_000, maxMs: 600_000, minFps: 23, maxFps: 60, minWidth: 360, minHeight: 360, maxWidth: 4096, maxHeight: 4096,
    },
  },
  // §7 YouTube: one video, ≤256 GB, any video/* (YouTube transcodes). Length: 12 h for verified channels,
  // 15 min for unverified ones — the connector must check the channel; not in this table (unconfirmed).
  youtube: {
    name: 'YouTube',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 1, maxImages: 0, maxVideos: 1, mixed: false,
    image: null,
    video: {
      types: ['video/mp4', 'video/quicktime', 'video/webm', 'video/x-matroska'], codecs: ['h264', 'hevc', 'vp8', 'vp9', 'av1', 'mpeg4', 'prores'],
      audioCodecs: ['aac', 'opus', 'mp3', 'vorbis', 'ac3', 'eac3', 'flac', 'pcm_s16le', 'alac'], maxBytes: 256_000 * MB, maxMs: 43_200_000,
    },
  },
  // §8 Pinterest: images pulled by URL (image_url; the base64 variant names JPEG and PNG), about 20 MB,
  // carousels of 2–5 images; video uploaded (S3 form POST), about 2 GB, 4 s–15 min (unconfirmed), H.264/AAC
  // MP4 assumed. A pin is images or one video.
  pinterest: {
    name: 'Pinterest',
    delivery: { image: 'pull', video: 'upload' },
    maxItems: 5, maxImages: 5, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png'], maxBytes: 20 * MB, animated: null },
    video: { types: MP4_MOV, ...H264_AAC, maxBytes: 2_000 * MB, minMs: 4_000, maxMs: 900_000 },
  },
  // §10 Reddit: the reference gives no media limits (the upload flow is undocumented). Reddit's help pages:
  // images JPEG/PNG/GIF ≤20 MB, galleries ≤20, one video ≤1 GB and ≤15 min — all unconfirmed.
  reddit: {
    name: 'Reddit',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 20, maxImages: 20, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png', 'image/gif'], maxBytes: 20 * MB, animated: { types: ['image/gif'], maxBytes: 20 * MB } },
    video: { types: MP4_MOV, ...H264_AAC, maxBytes: 1_000 * MB, maxMs: 900_000 },
  },
  // §11 Mastodon: per instance (GET /api/v2/instance; these are the defaults): ≤4 attachments; images
  // 16,777,216 bytes and 33,177,600 pixels; video 103,809,024 bytes, 8,294,400 pixels, ≤120 fps. Mastodon
  // refuses a video next to images or a second video (its own validation). No length limit is documented.
  mastodon: {
    name: 'Mastodon',
    delivery: { image: 'upload', video: 'upload' },
    maxItems: 4, maxImages: 4, maxVideos: 1, mixed: false,
    image: { types: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'], maxBytes: 16_777_216, maxPixels: 33_177_600, animated: { types: ['image/gif', 'image/webp'], maxBytes: 16_777_216 } },
    video: {
      types: ['video/mp4', 'video/quicktime', 'video/webm'], codecs: ['h264', 'hevc', 'vp8', 'vp9', 'av1'], audioCodecs: ['aac', 'opus', 'mp3', 'vorbis'],
      maxBytes: 103_809_024, maxPixels: 8_294_400, maxFps: 120,
    },
  },
} satisfies Record<Platform, PlatformMediaLimits>;

/** Indexed by any platform id: platforms without an entry have no media rules here (yet). */
export const MEDIA_LIMITS: Record<string, PlatformMediaLimits> = LIMITS;

export function isPlatform(p: string): p is Platform {
  return (PLATFORMS as readonly string[]).includes(p);
}

/** Platform id → the name people write ("x" → "X"). */
export const PLATFORM_NAMES: Record<Platform, string> = Object.fromEntries(PLATFORMS.map((p) => [p, LIMITS[p].name])) as Record<Platform, string>;
