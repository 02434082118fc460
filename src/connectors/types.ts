// The connector contract (design.md, "Connectors"): data plus a few functions. Connectors speak one
// platform's real protocol and return classified errors; only the worker decides retry, failure or
// disconnect.
import type { Readable } from 'node:stream';
import type { TSchema } from 'typebox';
import type { Clock } from '../lib/clock.js';
import type { Result } from '../lib/result.js';
import type { TextCounting } from '../domain/text.js';
import type { ContentIssueCode } from '../http/error-codes.js';
import type { ConnectorAuth } from './auth-types.js';

export const PLATFORMS = [
  'bluesky',
  'x',
  'linkedin',
  'facebook',
  'instagram',
  'threads',
  'tiktok',
  'youtube',
  'pinterest',
  'reddit',
  'mastodon',
] as const;
export type PlatformId = (typeof PLATFORMS)[number];

export const ERROR_CATEGORIES = [
  'auth_expired',
  'revoked',
  'rate_limited',
  'invalid_content',
  'media_error',
  'duplicate',
  'transient',
  'permanent',
] as const;
export type ErrorCategory = (typeof ERROR_CATEGORIES)[number];

export type ConnectorError = {
  category: ErrorCategory;
  /** One of the documented publication error codes (src/http/error-codes.ts). */
  code: string;
  /** The platform's own error name or number, kept for support. */
  platformCode?: string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  /** The request may have reached the platform (timeout after sending, reset connection): never re-post blindly. */
  outcomeUnknown?: boolean;
};

export type PlatformLimits = {
  text: { maxLength: number; counting: TextCounting; maxBytes?: number };
};

/** What a connector needs to publish one publication; `marker` is stable across attempts. */
export type PublicationDraft = {
  publicationId: string;
  marker: string;
  text: string;
  options: Record<string, unknown>;
  /** The post's media in order, as this platform receives them (the rendition when one was made). */
  media: DraftMedia[];
  /** What an earlier attempt of this publication saved with ctx.checkpoint (null on the first attempt). */
  checkpoint: Record<string, unknown> | null;
};

/** One file of a publication. Probed and validated before the publication became due. */
export type DraftMedia = {
  mediaId: string;
  kind: 'image' | 'video';
  mimeType: string;
  size: number;
  width: number;
  height: number;
  durationMs?: number;
  alt?: string;
  /** Opens the bytes (a fresh stream per call, so a retried upload can start over). */
  open(): Promise<Readable>;
  /** A public, expiring URL of the same bytes for platforms that pull media; null without CRIER_PUBLIC_URL. */
  url: string | null;
};

/** `via`: set by provider routes only, naming the route that published ('postforme:workspace'…). */
export type Published = { platformPostId: string; url: string; via?: string };

/**
 * The platform accepted the work but is still processing it (an Instagram container, a TikTok upload):
 * the worker stores `ref` and calls `checkStatus` after `checkAfterMs`, until Published or an error.
 * `ref` must name what was already created so that checking never creates it again. A publication stays
 * pending at most `CRIER_PENDING_DEADLINE_MS`; then it fails (or is unconfirmed when it may have published).
 */
export type Pending = { pending: { ref: Record<string, unknown>; checkAfterMs: number; note?: string } };

export const isPending = (v: Published | Pending): v is Pending => 'pending' in v;

export type Logger = {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
};

export type ConnectorCtx<C> = {
  /** Decrypted account credentials. */
  credentials: C;
  /** Persists rotated credentials before they are used (single-use refresh tokens lose nothing). */
  saveCredentials(next: C): Promise<void>;
  /**
   * OAuth accounts: renews the credentials through the connector's auth (refresh grant or the platform's
   * own renewal), saves them, sets `ctx.credentials`, and returns them. Call it once when the platform says
   * the access token expired, then retry that request once. Errors are already classified (a definitive
   * invalid_grant is `revoked`).
   */
  refresh?(): Promise<Result<C, ConnectorError>>;
  /**
   * Saves progress of a multi-step publication durably before going on (e.g. the ids of the thread's
   * posts published so far), so a later attempt continues from there instead of posting them again.
   * The next attempt sees it as `draft.checkpoint`.
   */
  checkpoint(state: Record<string, unknown>): Promise<void>;
  /** Where the platform API lives for this account (real endpoint, or a simulator). */
  baseUrl: string;
  /** A sandbox account lives on Crier's simulator of the platform. */
  sandbox: boolean;
  clock: Clock;
  log: Logger;
  /** Aborts when the publish timeout passes or the worker shuts down. */
  signal: AbortSignal;
  /**
   * Platforms with a daily quota per app (`connector.quota`; YouTube counts units per Google Cloud project):
   * spends `units` of today's quota of the app this account publishes through, before the call that costs
   * them. Spends nothing and answers `ok: false` when they would exceed the day's units; `resetsAt` is when
   * the platform's day ends. Absent where nothing counts quota (connector unit tests).
   */
  spendQuota?(units: number): Promise<QuotaSpend>;
};

export type QuotaSpend = { ok: true; used: number; limit: number } | { ok: false; used: number; limit: number; resetsAt: Date };

/** A validation problem found at create time, before anything is scheduled. */
export type Issue = { code: ContentIssueCode; message: string; field?: string; limit?: number; actual?: number };

export interface PlatformConnector<C = unknown> {
  readonly id: PlatformId;
  readonly limits: PlatformLimits;
  /** Schema of `options.<platform>` on a post. */
  readonly optionsSchema: TSchema;
  /** Pure; runs at create time so a post that cannot publish is refused then, not at publish time. */
  validate(draft: { text: string; options: Record<string, unknown>; media: Pick<DraftMedia, 'kind'>[] }): Issue[];
  publish(ctx: ConnectorCtx<C>, draft: PublicationDraft): Promise<Result<Published | Pending, ConnectorError>>;
  /** Continues a pending publication (see Pending); required when `publish` can return Pending. */
  checkStatus?(ctx: ConnectorCtx<C>, draft: PublicationDraft, ref: Record<string, unknown>): Promise<Result<Published | Pending, ConnectorError>>;
  /**
   * Reads back whether an earlier attempt of this publication reached the platform (by a marker the
   * connector put in the request, a deterministic id, or the account's recent posts).
   */
  findExisting?(ctx: ConnectorCtx<C>, draft: PublicationDraft): Promise<Result<Published | null, ConnectorError>>;
  /** How accounts connect (OAuth 2.0, or a password flow); absent = sandbox accounts only. */
  readonly auth?: ConnectorAuth<C>;
  /**
   * Read-only questions a user asks the platform before filling in `options.<platform>` (Pinterest's boards,
   * TikTok's creator info, a subreddit's rules), served as GET /v1/accounts/{id}/lookups/{name}?<query>.
   */
  readonly lookups?: Record<string, Lookup<C>>;
  /**
   * A daily quota the platform counts per app, not per account (YouTube): its size and the time zone whose
   * midnight resets it. The operator can override the size (CRIER_QUOTA_<PLATFORM>, e.g. a raised quota).
   */
  readonly quota?: { unitsPerDay: number; resetTimeZone: string };
  /** Sandbox mode: creates an account on this platform's simulator (no real credentials). */
  readonly sandbox?: {
    createAccount(baseUrl: string, username: string): Promise<SandboxAccount<C>>;
  };
}

export type Lookup<C> = {
  description: string;
  /** Query parameters it takes (name → description); anything else is refused. */
  params?: Record<string, string>;
  run(ctx: ConnectorCtx<C>, query: Record<string, string>): Promise<Result<unknown, ConnectorError>>;
};

export type SandboxAccount<C> = { externalId: string; username: string; displayName: string; credentials: C };
