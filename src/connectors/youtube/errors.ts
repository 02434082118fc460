// YouTube errors to classified connector errors (platforms.md §7 "Errors"): Google's body
// {"error":{"code","message","errors":[{"domain","reason"}],"status"}}; the reason decides.
import { retryAfterMs, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

type GoogleError = { error?: { code?: number; message?: string; errors?: { reason?: string; domain?: string; message?: string }[] } | string; error_description?: string };

export function reasonOf(res: HttpResponse): string {
  const b = (res.body ?? {}) as GoogleError;
  return typeof b.error === 'object' ? (b.error?.errors?.[0]?.reason ?? '') : (b.error ?? '');
}

const PERMANENT_CONTENT = new Set(['invalidTitle', 'invalidDescription', 'invalidTags', 'invalidCategoryId', 'invalidPublishAt', 'invalidVideoMetadata', 'invalidRecordingDetails', 'defaultLanguageNotSet']);
const MEDIA = new Set(['mediaBodyRequired', 'invalidImage', 'mediaBodyTooLarge', 'uploadLimitExceeded']);

export function mapYouTubeError(res: HttpResponse, now: Date, what: string): ConnectorError {
  const b = (res.body ?? {}) as GoogleError;
  const reason = reasonOf(res);
  const said = typeof b.error === 'object' ? b.error?.message : b.error_description;
  const message = `YouTube ${what}: ${said || `HTTP ${res.status}`}${reason ? ` (${reason})` : ''}`;
  const fail = (category: ConnectorError['category'], code: string, retryable = false): ConnectorError => ({ category, code, platformCode: reason || `http_${res.status}`, message, retryable });
  if (reason === 'quotaExceeded' || reason === 'dailyLimitExceeded') return { ...fail('rate_limited', 'PLATFORM_QUOTA_EXHAUSTED', true), retryAfterMs: untilPacificMidnight(now) };
  if (res.status === 429 || reason === 'rateLimitExceeded' || reason === 'userRateLimitExceeded') return { ...fail('rate_limited', 'PLATFORM_RATE_LIMITED', true), retryAfterMs: retryAfterMs(res.headers, now) ?? 60_000 };
  if (reason === 'youtubeSignupRequired') return { ...fail('revoked', 'PLATFORM_ACCESS_REVOKED'), message: `${message}: the Google account has no YouTube channel` };
  if (res.status === 401) return fail('auth_expired', 'PLATFORM_AUTH_EXPIRED');
  if (res.status >= 500 || reason === 'backendError') return { ...fail('transient', 'PLATFORM_UNAVAILABLE', true), retryAfterMs: retryAfterMs(res.headers, now) };
  if (reason === 'insufficientPermissions') return { ...fail('auth_expired', 'PLATFORM_AUTH_EXPIRED'), message: `${message} (reconnect the account to grant the permissions Crier needs)` };
  if (MEDIA.has(reason)) return fail('media_error', 'MEDIA_REJECTED');
  if (PERMANENT_CONTENT.has(reason) || res.status === 400) return fail('invalid_content', 'CONTENT_REJECTED');
  if (res.status === 403 || res.status === 404) return fail('permanent', 'PLATFORM_ERROR');
  return fail('permanent', 'PLATFORM_ERROR');
}

/** YouTube's quota day ends at midnight Pacific time (platforms.md §7 "Limits"). */
export function untilPacificMidnight(now: Date): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', hourCycle: 'h23', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(now);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const elapsed = (get('hour') * 3600 + get('minute') * 60 + get('second')) * 1000;
  return Math.max(60_000, 86_400_000 - elapsed);
}
