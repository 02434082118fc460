// What the Pinterest simulator keeps and the limits it enforces (platforms.md §8). Config can be changed at
// run time (PUT /_sim/config) so a test can make video processing slow or a file limit small.
// Pinterest's error body is `{code, message}` for every status [doc OpenAPI]. Which number goes with which
// refusal is not documented beyond the examples, so these are the simulator's (unconfirmed): 1 invalid
// parameters, 2 authentication failed (the reference's example), 3 authorization failed (a scope or a
// board that is not the user's), 4 not found, 29 rate limit exceeded.
import { randomInt } from 'node:crypto';
import type { FastifyReply } from 'fastify';

const MB = 1_000_000;

export type PinterestSimConfig = {
  /** How long a video takes to process after its upload (registered → processing → succeeded|failed). */
  processingMs: number;
  imageMaxBytes: number;
  videoMaxBytes: number;
  /** How long fetching an image_url / cover_image_url may take. */
  pullTimeoutMs: number;
  /** org_write requests (pin and media create) per user per minute (the reference's common figure, unconfirmed). */
  writesPerMinute: number;
};

export const DEFAULT_CONFIG: PinterestSimConfig = {
  processingMs: 1_500,
  imageMaxBytes: 20 * MB,
  videoMaxBytes: 2_000 * MB,
  pullTimeoutMs: 10_000,
  writesPerMinute: 100,
};

export type SimBoard = {
  id: string;
  ownerId: string;
  name: string;
  description: string;
  privacy: 'PUBLIC' | 'PROTECTED' | 'SECRET';
  createdAt: string;
  sections: { id: string; name: string }[];
};

export type SimPin = {
  id: string;
  ownerId: string;
  boardId: string;
  boardSectionId: string | null;
  title: string | null;
  description: string | null;
  link: string | null;
  altText: string | null;
  dominantColor: string | null;
  note: string | null;
  createdAt: string;
  mediaType: 'image' | 'video' | 'multiple_images';
  /** What the pin was made from: the image URLs fetched (or "base64"), or the video's media id and cover. */
  images: { source: string; mimeType: string; width: number; height: number; bytes: number }[];
  video?: { mediaId: string; cover: string };
};

export type SimMedia = {
  id: string;
  ownerId: string;
  mediaType: 'video';
  /** The S3 form fields issued with the upload URL; the upload must send each of them back unchanged. */
  uploadParameters: Record<string, string>;
  registeredAt: number;
  uploadedAt?: number;
  size?: number;
  /** Decided from the uploaded bytes: an MP4/MOV processes, anything else fails. */
  processable?: boolean;
  processingMs: number;
  usedBy?: string;
};

export const pinId = () => `${randomInt(100_000, 999_999)}${randomInt(100_000_000, 999_999_999)}${randomInt(100, 999)}`;

/** Pinterest's error body. */
export function pinError(reply: FastifyReply, status: number, code: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ code, message });
}

export const invalid = (reply: FastifyReply, message: string) => pinError(reply, 400, 1, message);
export const notFound = (reply: FastifyReply, what: string) => pinError(reply, 404, 4, `${what} not found.`);

/** The media status at `now`: registered until uploaded, then processing for processingMs. */
export function mediaStatus(m: SimMedia, now = Date.now()): 'registered' | 'processing' | 'succeeded' | 'failed' {
  if (m.uploadedAt === undefined) return 'registered';
  if (now - m.uploadedAt < m.processingMs) return 'processing';
  return m.processable ? 'succeeded' : 'failed';
}

export function pinJson(p: SimPin, ownerName: string): Record<string, unknown> {
  return {
    id: p.id,
    created_at: p.createdAt,
    link: p.link,
    title: p.title,
    description: p.description,
    dominant_color: p.dominantColor,
    alt_text: p.altText,
    creative_type: p.mediaType === 'video' ? 'VIDEO' : p.mediaType === 'multiple_images' ? 'CAROUSEL' : 'REGULAR',
    board_id: p.boardId,
    board_section_id: p.boardSectionId,
    board_owner: { username: ownerName },
    is_owner: true,
    media: p.video
      ? { media_type: 'video', cover_image_url: p.video.cover }
      : { media_type: p.mediaType === 'multiple_images' ? 'multiple_images' : 'image', images: p.images.map((i) => ({ width: i.width, height: i.height })) },
    note: p.note,
    pin_metrics: null,
  };
}
