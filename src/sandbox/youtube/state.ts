// The YouTube simulator's data and its error shape (platforms.md §7 "Errors"): Google's
// {"error":{"code","message","errors":[{"domain","reason","message"}],"status"}}.
import type { FastifyReply } from 'fastify';

export type YouTubeSimConfig = {
  /** Units per project (OAuth client) per Pacific day; videos.insert costs 1,600 (the older, higher figure). */
  dailyQuota: number;
  /** How long a video stays `uploaded` (processing) before it is `processed`. */
  processingMs: number;
  /** The next finished upload fails processing this way (then the setting clears). */
  failNext: null | { uploadStatus: 'failed' | 'rejected'; reason: string };
  /** Projects not yet audited: every upload is locked to private (platforms.md §7 "Limits"). */
  unverifiedProject: boolean;
};

export const DEFAULT_CONFIG: YouTubeSimConfig = { dailyQuota: 10_000, processingMs: 300, failNext: null, unverifiedProject: false };

export const COST = { insert: 1_600, thumbnails: 50, list: 1 } as const;
/** Chunks other than the last must be multiples of this (the resumable protocol). */
export const CHUNK_GRANULARITY = 256 * 1024;
export const THUMBNAIL_MAX = 2 * 1024 * 1024;

export type SimVideo = {
  id: string;
  channelId: string;
  title: string;
  description: string;
  tags: string[];
  categoryId: string;
  privacyStatus: string;
  publishAt: string | null;
  madeForKids: boolean;
  size: number;
  contentType: string;
  uploadedAt: number;
  uploadStatus: 'uploaded' | 'processed' | 'failed' | 'rejected';
  failure: string | null;
  thumbnail: { bytes: number; contentType: string } | null;
};

export type SimSession = {
  id: string;
  channelId: string;
  clientId: string;
  metadata: { title: string; description: string; tags: string[]; categoryId: string; privacyStatus: string; publishAt: string | null; madeForKids: boolean };
  total: number;
  contentType: string;
  received: Buffer[];
  receivedBytes: number;
  expired: boolean;
  videoId: string | null;
};

export const CATEGORY_IDS = new Set(['1', '2', '10', '15', '17', '19', '20', '22', '23', '24', '25', '26', '27', '28', '29']);

const STATUS_NAME: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 410: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

export function gError(reply: FastifyReply, code: number, reason: string, message: string, domain = 'youtube.video') {
  return reply.code(code).send({ error: { code, message, errors: [{ message, domain, reason }], status: STATUS_NAME[code] ?? 'UNKNOWN' } });
}

/** The Pacific date a moment falls on (quota days end at Pacific midnight). */
export function pacificDay(ms: number): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Los_Angeles', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
}
