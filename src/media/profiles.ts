// Rendition profiles: a name per (platform, kind, padding) whose parameters come from that platform's
// limits. Renditions are cached per (media, profile), so a change to what a profile produces must change
// its version suffix.
import { MEDIA_LIMITS, type ImageLimits, type VideoLimits } from './limits.js';

const VERSION = 'v1';
/** Quality is searched downwards from here; below the floor Crier scales down instead (blur beats blocks). */
export const JPEG_START_QUALITY = 90;
export const JPEG_QUALITY_FLOOR = 72;
/** Renditions never exceed these whatever the platform allows: a sensible ceiling for social video. */
const MAX_VIDEO_BITRATE = 8_000_000;

export type ImageProfile = { name: string; kind: 'image'; maxBytes: number; maxLongEdge: number; maxPixels?: number; minWidth?: number; pad?: [number, number] };
export type VideoProfile = { name: string; kind: 'video'; maxBytes: number; maxWidth: number; maxHeight: number; minFps?: number; maxFps: number; maxBitrate: number; pad?: [number, number] };
export type Profile = ImageProfile | VideoProfile;

export function profileName(platform: string, kind: 'image' | 'video', pad: boolean): string {
  return `${platform}-${kind}${pad ? '-pad' : ''}-${VERSION}`;
}

export function getProfile(name: string): Profile {
  const m = name.match(/^([a-z]+)-(image|video)(-pad)?-v(\d+)$/);
  const limits = m && MEDIA_LIMITS[m[1]!];
  if (!m || !limits || `v${m[4]}` !== VERSION) throw new Error(`unknown rendition profile "${name}"`);
  if (m[2] === 'image') {
    const l = limits.image as ImageLimits;
    return { name, kind: 'image', maxBytes: l.maxBytes, maxLongEdge: l.maxLongEdge, maxPixels: l.maxPixels, minWidth: l.minWidth, ...(m[3] ? { pad: l.aspect } : {}) };
  }
  const v = limits.video as VideoLimits;
  return {
    name,
    kind: 'video',
    maxBytes: v.maxBytes,
    maxWidth: Math.min(v.maxWidth, 1920),
    maxHeight: Math.min(v.maxHeight ?? 1920, 1920),
    minFps: v.minFps,
    maxFps: Math.min(v.maxFps, 60),
    maxBitrate: MAX_VIDEO_BITRATE,
    ...(m[3] ? { pad: v.aspect } : {}),
  };
}
