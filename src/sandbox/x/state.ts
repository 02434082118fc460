// What the X simulator keeps, and the limits it enforces (platforms.md §1 "Limits"). Limits can be changed
// at run time (PUT /_sim/limits) so a test can, say, make processing slow or the duplicate window short.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SimGrant } from '../oauth.js';

const MiB = 1024 * 1024;

export type XSimLimits = {
  /** POST /2/tweets per user per 15 minutes. */
  tweetsPer15Min: number;
  /** Media initialize/append/finalize/metadata per user per 15 minutes. */
  mediaPer15Min: number;
  /** Media STATUS per user per 15 minutes. */
  statusPer15Min: number;
  /** Reads (users/me, a user's posts, a post) per user per 15 minutes. */
  readsPer15Min: number;
  imageMaxBytes: number;
  gifMaxBytes: number;
  videoMaxBytes: number;
  /** Largest APPEND segment. */
  segmentMaxBytes: number;
  /** How long X takes to process a video or GIF after FINALIZE. */
  processingMs: number;
  /** `check_after_secs` in processing_info. */
  checkAfterSecs: number;
  /** Same text from the same account within this window is refused as a duplicate. X gives no figure (unconfirmed). */
  duplicateWindowMs: number;
};

export const DEFAULT_LIMITS: XSimLimits = {
  tweetsPer15Min: 100,
  mediaPer15Min: 1875,
  statusPer15Min: 1000,
  readsPer15Min: 900,
  imageMaxBytes: 5 * MiB,
  gifMaxBytes: 15 * MiB,
  videoMaxBytes: 512 * MiB,
  segmentMaxBytes: 5 * MiB,
  processingMs: 1_500,
  checkAfterSecs: 1,
  duplicateWindowMs: 24 * 3600_000,
};

export type UrlEntity = { start: number; end: number; url: string; expanded_url: string; display_url: string; media_key?: string };

export type SimTweet = {
  id: string;
  authorId: string;
  /** What was sent. */
  rawText: string;
  /** As X returns it: links shortened to t.co, & < > escaped, a media link appended. */
  text: string;
  createdAt: string;
  urls: UrlEntity[];
  referenced?: { type: 'replied_to' | 'quoted'; id: string }[];
  inReplyToUserId?: string;
  conversationId: string;
  mediaIds: string[];
  mediaKeys: string[];
  poll?: { id: string; options: string[]; duration_minutes: number };
  replySettings?: string;
  deleted?: boolean;
};

export type MediaCategory = 'tweet_image' | 'tweet_gif' | 'tweet_video' | 'amplify_video' | 'dm_image' | 'dm_gif' | 'dm_video' | 'subtitles';

export type SimMedia = {
  id: string;
  mediaKey: string;
  owner: string;
  additionalOwners: string[];
  category: MediaCategory;
  mediaType: string;
  totalBytes: number;
  /** Segment sizes by index; bytes are kept for images only (to read their dimensions) plus every file's first bytes. */
  segments: Map<number, number>;
  bytes: Buffer[];
  head: Buffer;
  finalizedAt?: number;
  /** Images: known at FINALIZE. */
  image?: { image_type: string; w: number; h: number };
  /** Videos and GIFs: whether processing will succeed (decided from the bytes at FINALIZE). */
  processable?: boolean;
  /** processingMs in force at FINALIZE. */
  processingMs: number;
  alt?: string;
  expiresAt: number;
};

export type XSimState = {
  limits: XSimLimits;
  tweets: Map<string, SimTweet>;
  media: Map<string, SimMedia>;
  usernames: Map<string, string>;
  /** Authenticates with a bearer token and checks scopes; answers the request itself when refused. */
  authenticate(req: FastifyRequest, reply: FastifyReply, scopes: string[], group: RateGroup): Promise<SimGrant | undefined>;
  nextId(): string;
};

export type RateGroup = 'tweets' | 'media' | 'status' | 'reads';

/** X's ids are snowflakes: milliseconds since 2010-11-04 shifted left 22 bits, plus a sequence. */
export function snowflakes(): () => string {
  let last = 0n;
  return () => {
    let id = (BigInt(Date.now() - 1288834974657) << 22n) | BigInt(Math.floor(Math.random() * 4096));
    if (id <= last) id = last + 1n;
    last = id;
    return id.toString();
  };
}
