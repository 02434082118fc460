// Aggregator providers (platforms.md §12): services on which the end user connected their social accounts
// through the provider's own OAuth apps (Post for Me, LATE). Crier uses them as delivery routes for
// accounts whose platform apps the operator could not get approved. One client per provider speaks its
// documented API; connector.ts turns a list of routes into a connector with failover.
import type { ConnectorError, DraftMedia, Logger, PlatformId } from '../connectors/types.js';
import type { Clock } from '../lib/clock.js';
import { retryAfterMs, type HttpResponse } from '../connectors/http.js';
import type { Result } from '../lib/result.js';

export const PROVIDERS = ['postforme', 'late'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const PROVIDER_TITLES: Record<ProviderName, string> = { postforme: 'Post for Me', late: 'LATE' };

/** One way to reach a provider: its base URL and an API key, from the workspace or the operator. */
export type ProviderRoute = { provider: ProviderName; source: 'workspace' | 'operator'; baseUrl: string; apiKey: string };

export const routeKey = (r: Pick<ProviderRoute, 'provider' | 'source'>) => `${r.provider}:${r.source}`;
export const routeTitle = (r: Pick<ProviderRoute, 'provider' | 'source'>) => `${PROVIDER_TITLES[r.provider]} (${r.source === 'workspace' ? "workspace's key" : "operator's key"})`;

export type ProviderCall = { route: ProviderRoute; signal: AbortSignal; clock: Clock; log: Logger };

/** A social account as the provider lists it. */
export type ProviderAccount = { id: string; platform: PlatformId; username: string; profileId?: string };

/** What a provider says about one account's share of a post. */
export type ProviderResult =
  | { state: 'published'; platformPostId: string; url: string }
  | { state: 'pending' }
  /** The platform refused it (the provider relays why): final, no other route would do better. */
  | { state: 'failed'; error: ConnectorError };

export type NewProviderPost = { account: ProviderAccount; text: string; media: { url: string; kind: 'image' | 'video' }[]; marker: string };

export interface ProviderClient {
  readonly name: ProviderName;
  listAccounts(c: ProviderCall): Promise<Result<ProviderAccount[], ConnectorError>>;
  /** The provider's page where the user connects a social account (its own OAuth app). */
  connectUrl(c: ProviderCall, platform: PlatformId, redirectUrl: string, profileId?: string): Promise<Result<string, ConnectorError>>;
  /** Puts one file where the provider can use it (its presigned flow); answers the URL to post with. */
  uploadMedia(c: ProviderCall, media: DraftMedia): Promise<Result<string, ConnectorError>>;
  /** Creates the post; `result` when the answer already says how it went. Side effect: may be outcome-unknown. */
  createPost(c: ProviderCall, post: NewProviderPost): Promise<Result<{ postId: string; result?: ProviderResult }, ConnectorError>>;
  postResult(c: ProviderCall, postId: string, account: ProviderAccount): Promise<Result<ProviderResult, ConnectorError>>;
  /** Read-back after an ambiguous create: the post made for this marker (and account), if the provider has it. */
  findPost(c: ProviderCall, post: NewProviderPost, since: Date): Promise<Result<string | null, ConnectorError>>;
}

/** Providers name X "twitter" or "x"; everything else by Crier's platform ids. */
export function platformOf(name: unknown): PlatformId | undefined {
  const n = String(name ?? '').toLowerCase();
  if (n === 'twitter' || n === 'x') return 'x';
  const known: PlatformId[] = ['bluesky', 'facebook', 'instagram', 'linkedin', 'mastodon', 'pinterest', 'reddit', 'threads', 'tiktok', 'youtube'];
  return known.find((p) => p === n);
}

/** A provider's error answer, classified as any platform error is (design.md "Errors"). */
export function providerError(provider: ProviderName, res: HttpResponse, now: Date, what: string): ConnectorError {
  const body = (res.body ?? {}) as { message?: unknown; error?: unknown; code?: unknown };
  const said = [body.error, body.message].find((v) => typeof v === 'string' && v) as string | undefined;
  const message = `${PROVIDER_TITLES[provider]} ${what}: ${res.status}${said ? ` ${said}` : ''}`;
  const platformCode = typeof body.code === 'string' ? body.code : `http_${res.status}`;
  if (res.status === 429) return { category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', platformCode, message, retryable: true, retryAfterMs: retryAfterMs(res.headers, now) ?? 60_000 };
  if (res.status >= 500) return { category: 'transient', code: 'PLATFORM_UNAVAILABLE', platformCode, message, retryable: true };
  // The key is the provider's, not the account's: a refused key is a configuration problem of that route.
  if (res.status === 401 || res.status === 403) return { category: 'permanent', code: 'PLATFORM_ERROR', platformCode, message: `${message} (the API key was refused)`, retryable: false };
  if (res.status === 409) return { category: 'duplicate', code: 'DUPLICATE_CONTENT', platformCode, message, retryable: false };
  return { category: 'invalid_content', code: 'CONTENT_REJECTED', platformCode, message, retryable: false };
}
