// The media pipeline's shared shapes: what a probe learns about a file, where files are stored, and the
// per-platform plan (use as is, adapt into a rendition, or refuse with a named limit).
import type { Readable } from 'node:stream';
import type { ContentIssueCode } from '../http/error-codes.js';

export type MediaKind = 'image' | 'video';

/** What probing a stored file tells (sharp for images, ffprobe for video). */
export type MediaInfo = {
  kind: MediaKind;
  /** Detected from the bytes, never trusted from the client: image/jpeg, image/png, image/webp, image/gif, image/heic, video/mp4, video/quicktime, video/webm… */
  mimeType: string;
  /** Container/format name as the prober reports it: jpeg, png, webp, gif, heif, mov,mp4,m4a,3gp,3g2,mj2, matroska,webm… */
  format: string;
  size: number;
  width: number;
  height: number;
  /** Video only. */
  durationMs?: number;
  videoCodec?: string; // h264, hevc, vp9, av1…
  audioCodec?: string; // aac, opus, mp3… (absent when there is no audio track)
  frameRate?: number;
  /** Bits per second, whole file. */
  bitRate?: number;
  audioSampleRate?: number;
  /** Animated image (GIF/WebP with several frames). */
  animated?: boolean;
  frames?: number;
  /** MP4/MOV: the moov atom precedes mdat (progressive playback; Threads requires it). */
  faststart?: boolean;
};

/** A problem that stops one platform from accepting a file, named by a documented error code. */
export type MediaIssue = {
  code: ContentIssueCode;
  message: string; // names the platform and the limit, e.g. "Bluesky accepts images up to 1,000,000 bytes; this one is 3,402,112 bytes"
  limit?: number | string;
  actual?: number | string;
  /** Index of the media item in the post, when the issue is about one file. */
  index?: number;
};

/** What the user allows Crier to do to a file for a platform. */
export type AdaptOptions = {
  /** Convert, downscale, re-encode when a platform needs it (default true). */
  adapt: boolean;
  /** Fit an out-of-range aspect ratio by padding (default false: refuse instead). */
  pad: boolean;
};

/**
 * How one file goes to one platform. `profile` names a deterministic transformation (its parameters live
 * in code, so a changed transformation must get a new name); renditions are cached per (media, profile).
 */
export type MediaPlan =
  | { action: 'original' }
  | { action: 'rendition'; profile: string; reasons: string[] }
  | { action: 'refuse'; issues: MediaIssue[] };

/** Where bytes live. Keys are opaque, chosen by Crier (`media/<workspace>/<media id>/original`). */
export interface MediaStorage {
  readonly kind: 'local' | 's3';
  put(key: string, body: Readable | Buffer, opts: { contentType: string; size?: number }): Promise<void>;
  /** Streams the object, or a byte range of it (inclusive end, as HTTP Range). */
  get(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  /** null when the object does not exist. */
  head(key: string): Promise<{ size: number; contentType?: string } | null>;
  delete(key: string): Promise<void>;
  /** Copies the object to a local file (for probing and ffmpeg). */
  download(key: string, filePath: string): Promise<void>;
  /**
   * A URL a client can PUT the bytes to directly, or null when the store has none (local store: the
   * client uses Crier's own upload endpoint instead).
   */
  presignPut(key: string, opts: { contentType: string; size: number; expiresInSec: number }): Promise<string | null>;
  /** Multipart upload for large files (S3 only; local returns null and the client streams to Crier). */
  createMultipart(key: string, opts: { contentType: string }): Promise<string | null>;
  presignPart(key: string, uploadId: string, partNumber: number, expiresInSec: number): Promise<string>;
  completeMultipart(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void>;
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /** A URL a platform can GET the object from without credentials, or null (local: Crier signs its own). */
  presignGet(key: string, expiresInSec: number): Promise<string | null>;
}
