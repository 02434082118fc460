// Pinterest errors to classified connector errors (platforms.md §8 "Errors"). Every refusal is
// `{code, message}` [doc OpenAPI]; the numbers are not documented per case, so the HTTP status decides the
// class and the message the detail: 401 the token (the connector refreshes once first), 403 a missing
// scope or a board the user may not pin to, 404 a board, section or media upload that is not there,
// 429 back off (Retry-After, else x-ratelimit-reset), 5xx transient. Pinterest documents no
// duplicate-content refusal (the same image can be pinned twice), so there is no mapping to DUPLICATE_CONTENT.
import { retryAfterMs, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

type PinterestError = { code?: unknown; message?: unknown };

export function pinterestMessage(res: HttpResponse): string {
  const b = (res.body ?? {}) as PinterestError;
  return typeof b.message === 'string' && b.message ? b.message : res.text.slice(0, 300) || `HTTP ${res.status}`;
}

/**
 * x-ratelimit-reset: Pinterest's headers follow the IETF draft, where reset is seconds until the window
 * resets (unconfirmed); a value that looks like epoch seconds is read as an instant.
 */
function resetMs(headers: Headers, now: Date): number | undefined {
  const v = headers.get('x-ratelimit-reset')?.split(',')[0]?.trim();
  if (!v || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n > 1_000_000_000 ? Math.max(0, n * 1000 - now.getTime()) : n * 1000;
}

/** Refusals about the file(s): the image could not be fetched or read, the video upload is unusable, the cover. */
const MEDIA_WORDS = /image|media|video|cover|upload|fetch/i;

export function mapPinterestError(res: HttpResponse, now: Date): ConnectorError {
  const message = `Pinterest: ${pinterestMessage(res)}`;
  const b = (res.body ?? {}) as PinterestError;
  const platformCode = typeof b.code === 'number' || typeof b.code === 'string' ? String(b.code) : `HTTP ${res.status}`;
  const fail = (category: ConnectorError['category'], code: string, retryable = false): ConnectorError => ({ category, code, platformCode, message, retryable });
  if (res.status === 429) return { ...fail('rate_limited', 'PLATFORM_RATE_LIMITED', true), retryAfterMs: retryAfterMs(res.headers, now) ?? resetMs(res.headers, now) ?? 60_000 };
  if (res.status === 401) return fail('auth_expired', 'PLATFORM_AUTH_EXPIRED');
  if (res.status >= 500) return { ...fail('transient', 'PLATFORM_UNAVAILABLE', true), retryAfterMs: retryAfterMs(res.headers, now) };
  if (res.status === 403) {
    // Pinning to a board that is not the user's (or a secret board without its scope) is about this post.
    if (/board/i.test(message) && !/scope/i.test(message)) return fail('invalid_content', 'CONTENT_REJECTED');
    // A scope the token lacks (an account connected before Crier asked for it): connecting again grants it.
    return { ...fail('auth_expired', 'PLATFORM_AUTH_EXPIRED'), message: `${message} (reconnect the account to grant the permissions Crier needs)` };
  }
  if (res.status === 404) return /media/i.test(message) ? fail('media_error', 'MEDIA_REJECTED') : fail('invalid_content', 'CONTENT_REJECTED');
  if (res.status === 400 || res.status === 409 || res.status === 422) {
    return MEDIA_WORDS.test(message) ? fail('media_error', 'MEDIA_REJECTED') : fail('invalid_content', 'CONTENT_REJECTED');
  }
  return fail('permanent', 'PLATFORM_ERROR');
}

/** A video upload Pinterest could not process (GET /v5/media/{id} status `failed`): the same file fails again. */
export function processingFailed(mediaId: string): ConnectorError {
  return { category: 'media_error', code: 'MEDIA_REJECTED', platformCode: 'failed', message: `Pinterest could not process the video (media upload ${mediaId})`, retryable: false, outcomeUnknown: false };
}
