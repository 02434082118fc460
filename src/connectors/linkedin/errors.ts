// LinkedIn's error answers to classified connector errors (platforms.md §2 "Errors"; learn.microsoft.com
// …/api-guide/concepts/error-handling). The body is {"status","serviceErrorCode","code","message"}, with
// `code` missing on some answers, so the status and the message are read too.
import type { ConnectorError } from '../types.js';
import { retryAfterMs, type HttpResponse } from '../http.js';

export type LinkedInErrorBody = { status?: number; serviceErrorCode?: number; code?: string; message?: string };

export function errorBody(res: HttpResponse): LinkedInErrorBody {
  const b = res.body;
  return b && typeof b === 'object' ? (b as LinkedInErrorBody) : {};
}

/**
 * A 401 that a refreshed token may cure: expired (65602; 65600 "Invalid access token" is also seen for
 * expired ones). A revoked token (65601) is not: the member withdrew the app, which ends its refresh token too.
 */
export function isExpiredToken(res: HttpResponse): boolean {
  if (res.status !== 401) return false;
  const b = errorBody(res);
  return b.code !== 'REVOKED_ACCESS_TOKEN' && b.serviceErrorCode !== 65601;
}

/** "Content is a duplicate of urn:li:share:123": the original's URN, when the answer names one. */
export function duplicateOf(res: HttpResponse): string | undefined {
  if (res.status !== 422) return undefined;
  const m = /Content is a duplicate of (urn:li:(?:share|ugcPost):\d+)/.exec(errorBody(res).message ?? res.text);
  return m?.[1];
}

const isDuplicate = (res: HttpResponse) => res.status === 422 && /content is a duplicate/i.test(errorBody(res).message ?? res.text);

/**
 * How long to wait after a 429. LinkedIn sends no Retry-After and no rate-limit headers (platforms.md §2,
 * doc api-guide/concepts/rate-limits): its limits are per day and reset at 00:00 UTC. A message naming a
 * DAY limit ("Resource level throttle APPLICATION DAY limit …", "… MEMBER DAY …") waits for that reset;
 * any other throttle waits an hour (Crier's default), or less when midnight UTC comes first. A Retry-After,
 * should LinkedIn ever send one, wins.
 */
export function rateLimitWaitMs(res: HttpResponse, now: Date): number {
  const told = retryAfterMs(res.headers, now);
  if (told !== undefined) return told;
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime();
  const untilReset = midnight + 60_000; // a minute past, so the counters have surely reset
  return /\bDAY\b/.test(errorBody(res).message ?? '') ? untilReset : Math.min(3_600_000, untilReset);
}

/**
 * `what` says which call answered: creating the post, sending a file (its refusals are the file's), or
 * reading (never a reason to disconnect: a 403 on a read is a missing permission, not lost access).
 */
export function mapLinkedInError(res: HttpResponse, now: Date, what: 'post' | 'upload' | 'read'): ConnectorError {
  const b = errorBody(res);
  const message = b.message ?? (res.text.slice(0, 300) || `HTTP ${res.status}`);
  const base = { platformCode: b.code ?? (b.serviceErrorCode !== undefined ? String(b.serviceErrorCode) : `HTTP_${res.status}`), message };
  if (res.status === 429) {
    return { ...base, category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true, retryAfterMs: rateLimitWaitMs(res, now) };
  }
  if (res.status === 401) {
    if (b.code === 'REVOKED_ACCESS_TOKEN' || b.serviceErrorCode === 65601) {
      return { ...base, category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', message: `LinkedIn: ${message}; the member must connect the account again`, retryable: false };
    }
    return { ...base, category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', message: `LinkedIn refused the access token (${message}); reconnect the account`, retryable: false };
  }
  if (res.status === 426 || b.code === 'NONEXISTENT_VERSION' || b.code === 'VERSION_MISSING') {
    // Crier sent a LinkedIn-Version LinkedIn no longer serves (versions live about a year): a Crier upgrade fixes it.
    return { ...base, category: 'permanent', code: 'PLATFORM_ERROR', message: `LinkedIn refused Crier's API version: ${message}; upgrade Crier`, retryable: false };
  }
  if (res.status >= 500 || /unable to obtain activity/i.test(message)) {
    return { ...base, category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true, retryAfterMs: retryAfterMs(res.headers, now) };
  }
  if (res.status === 403) {
    const hint = what === 'read' ? 'Crier cannot read this account\'s posts' : 'the member lacks the permission or the page role to post here (reconnect to grant w_member_social / w_organization_social, or check the page role)';
    return { ...base, category: 'permanent', code: 'PLATFORM_ERROR', message: `LinkedIn refused: ${message} (${hint})`, retryable: false };
  }
  if (isDuplicate(res)) {
    return { ...base, category: 'duplicate', code: 'DUPLICATE_CONTENT', retryable: false };
  }
  if (what === 'upload' && res.status >= 400 && res.status < 500) {
    return { ...base, category: 'media_error', code: 'MEDIA_REJECTED', retryable: false };
  }
  if (what === 'post' && (res.status === 400 || res.status === 422)) {
    return { ...base, category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false };
  }
  return { ...base, category: 'permanent', code: 'PLATFORM_ERROR', retryable: false };
}
