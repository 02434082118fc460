// What the Mastodon simulator keeps and the instance configuration it enforces (platforms.md §11; docs
// entities/Instance, api/rate-limits, entities/Error). The configuration changes at run time through
// PUT /_sim/config, so a test can give the instance 1,000 characters, two attachments or slow processing.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SimGrant, SimOAuth } from '../oauth.js';

export type MastodonSimConfig = {
  maxCharacters: number;
  maxMediaAttachments: number;
  charactersReservedPerUrl: number;
  imageSizeLimit: number;
  videoSizeLimit: number;
  descriptionLimit: number;
  supportedMimeTypes: string[];
  /** How long video, GIF (made into "gifv") and audio take to process; images are processed at once. */
  processingMs: number;
  /** How long an Idempotency-Key is remembered after its status was created (Mastodon: 1 hour). */
  idempotencyTtlSec: number;
  /** Per account: all requests per 5 minutes, media uploads per 30 minutes (api/rate-limits). */
  requestsPer5Min: number;
  mediaPer30Min: number;
};

export const DEFAULT_CONFIG: MastodonSimConfig = {
  maxCharacters: 500,
  maxMediaAttachments: 4,
  charactersReservedPerUrl: 23,
  imageSizeLimit: 16_777_216,
  videoSizeLimit: 103_809_024,
  descriptionLimit: 1_500,
  supportedMimeTypes: ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'video/mp4', 'video/quicktime', 'video/webm'],
  processingMs: 1_000,
  idempotencyTtlSec: 3_600,
  requestsPer5Min: 300,
  mediaPer30Min: 30,
};

export type SimAccount = { id: string; username: string; displayName: string; createdAt: number; remote?: string };

export type SimMedia = {
  id: string;
  accountId: string;
  type: 'image' | 'gifv' | 'video';
  mimeType: string;
  size: number;
  sha256: string;
  description: string | null;
  createdAt: number;
  readyAt: number;
  statusId?: string;
};

export type SimStatus = {
  id: string;
  accountId: string;
  text: string;
  spoilerText: string;
  sensitive: boolean;
  visibility: 'public' | 'unlisted' | 'private' | 'direct';
  language: string | null;
  inReplyToId: string | null;
  inReplyToAccountId: string | null;
  mediaIds: string[];
  createdAt: number;
  application: string | null;
  idempotencyKey?: string;
  /** A status of another server, known here (what search with resolve=true fetches). */
  remoteUrl?: string;
  deletedAt?: number;
};

export const SCOPES = [
  'read', 'write', 'push', 'follow', 'profile',
  'read:accounts', 'read:blocks', 'read:bookmarks', 'read:favourites', 'read:filters', 'read:follows', 'read:lists', 'read:mutes', 'read:notifications', 'read:search', 'read:statuses',
  'write:accounts', 'write:blocks', 'write:bookmarks', 'write:conversations', 'write:favourites', 'write:filters', 'write:follows', 'write:lists', 'write:media', 'write:mutes', 'write:notifications', 'write:reports', 'write:statuses',
] as const;

/** Scopes are hierarchical: `read` grants every `read:*`, `write` every `write:*`. */
export function grants(granted: string[], needed: string): boolean {
  return granted.includes(needed) || granted.includes(needed.split(':')[0]!);
}

/** A numeric account id for a sandbox username (Mastodon ids are decimal strings). */
export function accountIdFor(username: string): string {
  const h = createHash('sha256').update(username).digest();
  return String(100_000n + (h.readBigUInt64BE(0) % 900_000_000_000n));
}

let seq = 0;
/** Snowflake-like ids as Mastodon makes them: the time in milliseconds, shifted, plus a sequence. */
export function snowflake(): string {
  seq = (seq + 1) % 65_536;
  return String((BigInt(Date.now()) << 16n) | BigInt(seq));
}

export function mastodonError(reply: FastifyReply, status: number, error: string, headers: Record<string, string> = {}) {
  return reply.code(status).headers(headers).send({ error });
}

const TOO_MANY = 'Too many requests';

type Window = { start: number; count: number };

/**
 * Bearer tokens, scopes and the per-account rate limits, with Mastodon's answers: 401 "The access token is
 * invalid" (Doorkeeper's sentence for a missing, unknown, expired or revoked token alike), 403 "This
 * action is outside the authorized scopes", 429 with X-RateLimit-Reset as an ISO 8601 instant.
 */
export function createGuard(oauth: SimOAuth, config: MastodonSimConfig) {
  const windows = new Map<string, Window>();

  function take(key: string, limit: number, periodMs: number, reply: FastifyReply): boolean {
    const now = Date.now();
    let w = windows.get(key);
    if (!w || now - w.start >= periodMs) windows.set(key, (w = { start: now - (now % periodMs), count: 0 }));
    w.count++;
    const reset = new Date(w.start + periodMs).toISOString().replace('Z', '000Z');
    reply.headers({ 'x-ratelimit-limit': String(limit), 'x-ratelimit-remaining': String(Math.max(0, limit - w.count)), 'x-ratelimit-reset': reset });
    return w.count <= limit;
  }

  /** The token's grant when it has one of `anyOf` (empty: any valid token); otherwise answers the request itself. */
  async function authorize(req: FastifyRequest, reply: FastifyReply, anyOf: string[], opts: { media?: boolean } = {}): Promise<SimGrant | undefined> {
    const check = await oauth.verify(req.headers.authorization);
    if (!check.ok) {
      mastodonError(reply, 401, check.reason === 'revoked' ? 'The access token was revoked' : 'The access token is invalid');
      return undefined;
    }
    const g = check.grant;
    if (!take(`all:${g.user.id}`, config.requestsPer5Min, 300_000, reply) || (opts.media && !take(`media:${g.user.id}`, config.mediaPer30Min, 1_800_000, reply))) {
      mastodonError(reply, 429, TOO_MANY);
      return undefined;
    }
    if (anyOf.length > 0 && !anyOf.some((s) => grants(g.scopes, s))) {
      mastodonError(reply, 403, 'This action is outside the authorized scopes');
      return undefined;
    }
    return g;
  }

  return { authorize, windows };
}

export const rateLimitedAnswer = (retryAfterSeconds: number) => {
  const reset = new Date(Date.now() + retryAfterSeconds * 1000).toISOString().replace('Z', '000Z');
  return { status: 429, body: { error: TOO_MANY }, headers: { 'x-ratelimit-limit': '300', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset } };
};

const PAGES: Record<number, string> = {
  404: "The page you were looking for doesn't exist",
  422: 'The change you wanted was rejected',
  500: "We're sorry, but something went wrong",
};

/** Rails' static error page, what an API error becomes for a client that did not ask for JSON. */
export function htmlErrorPage(status: number): string {
  const title = PAGES[status] ?? (status >= 500 ? PAGES[500]! : 'This action is not allowed');
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Mastodon</title></head><body class="error"><div class="dialog"><h1>${status}</h1><p>${title}</p></div></body></html>`;
}

/** Whether the client asked for JSON (Mastodon clients send `Accept: application/json`). */
export function acceptsJson(req: FastifyRequest): boolean {
  return /application\/json|\+json/i.test(req.headers.accept ?? '');
}
