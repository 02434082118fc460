// Mastodon's error answers (platforms.md §11 "Errors"; docs entities/Error, api/rate-limits): a JSON body
// `{"error": "...", "error_description"?: "..."}` where the HTTP status carries the meaning. Crier always
// sends `Accept: application/json`, but pages from a proxy in front of the instance (nginx 413/502/504) and
// Rails' own 500 page are HTML all the same, so a body that is not JSON is read as text.
import { retryAfterMs, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

/** The `error` sentence of a Mastodon answer, or a short text of an HTML page. */
export function errorText(res: HttpResponse): string {
  const body = res.body as { error?: unknown; error_description?: unknown } | undefined;
  if (body && typeof body.error === 'string') {
    return typeof body.error_description === 'string' ? `${body.error}: ${body.error_description}` : body.error;
  }
  const plain = res.text.replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  return plain.slice(0, 200) || `HTTP ${res.status}`;
}

// Mastodon's own sentences (config/locales/en.yml and Doorkeeper), matched loosely.
const NOT_READY = /have not finished processing/i;
const OUT_OF_SCOPE = /outside the authorized scopes/i;
const LOGIN_DISABLED = /login is currently disabled|account .*suspended/i;
const REPLY_TARGET = /trying to reply to does not appear to exist/i;

/** POST /api/v1/statuses refused because attached media is still processing: wait, never a content error. */
export function isMediaNotReady(res: HttpResponse): boolean {
  return res.status === 422 && NOT_READY.test(errorText(res));
}

/**
 * X-RateLimit-Reset is an ISO 8601 instant (e.g. "2026-11-22T19:20:00.000000Z"); Retry-After when a proxy
 * sends one. Mastodon's windows are 5 minutes (30 minutes for media), so without either header Crier waits 5.
 */
export function rateLimitWaitMs(res: HttpResponse, now: Date): number {
  const reset = res.headers.get('x-ratelimit-reset');
  if (reset) {
    const at = Date.parse(reset);
    if (!Number.isNaN(at)) return Math.max(1_000, at - now.getTime());
  }
  return retryAfterMs(res.headers, now) ?? 300_000;
}

/** Classifies a refusal; `what` names the request for the message ("the status", "file 2"…). */
export function mapMastodonError(res: HttpResponse, now: Date, what = 'the request'): ConnectorError {
  const said = errorText(res);
  const message = `Mastodon refused ${what} (HTTP ${res.status}): ${said}`;
  const base = { platformCode: `HTTP ${res.status}`, message };
  switch (res.status) {
    // Mastodon tokens do not expire and there are no refresh tokens: a 401 means the token was revoked,
    // the app deleted, or the account deleted. Only connecting again helps.
    case 401:
      return { ...base, category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false };
    case 403:
      // A token without the scope this call needs: connecting again with Crier's scopes fixes it.
      if (OUT_OF_SCOPE.test(said)) return { ...base, category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', retryable: false, message: `${message} (the token lacks a scope Crier needs; reconnect the account)` };
      if (LOGIN_DISABLED.test(said)) return { ...base, category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false };
      // "This action is not allowed" (e.g. replying to someone who blocks the account), an unconfirmed
      // e-mail address, an account pending approval: the account stays connected, this post cannot go.
      return { ...base, category: 'permanent', code: 'PLATFORM_ERROR', retryable: false };
    case 404:
      if (REPLY_TARGET.test(said)) return { ...base, category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false, message: `${message} (the status replied to was deleted or is not visible to this account)` };
      return { ...base, category: 'permanent', code: 'PLATFORM_ERROR', retryable: false };
    case 413:
      return { ...base, category: 'media_error', code: 'MEDIA_REJECTED', retryable: false, message: `${message} (the instance's web server refused a request that large)` };
    case 422:
      // Media still processing is retried (callers check isMediaNotReady first); anything else is a rule
      // of this instance the content breaks ("Text character limit of 500 exceeded", "Text can't be blank").
      if (NOT_READY.test(said)) return { ...base, category: 'transient', code: 'PLATFORM_ERROR', retryable: true, retryAfterMs: 5_000 };
      return { ...base, category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false };
    case 429:
      return { ...base, category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true, retryAfterMs: rateLimitWaitMs(res, now) };
  }
  if (res.status >= 500) return { ...base, category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true, retryAfterMs: retryAfterMs(res.headers, now) };
  // 400 (a parameter missing or malformed: Crier's own mistake) and anything undocumented.
  return { ...base, category: 'permanent', code: 'PLATFORM_ERROR', retryable: false };
}

/** A media upload or processing refusal: the file's fault, not the post's. */
export function mapMediaError(res: HttpResponse, now: Date, what: string): ConnectorError {
  const e = mapMastodonError(res, now, what);
  if (res.status === 422) return { ...e, category: 'media_error', code: 'MEDIA_REJECTED', retryable: false };
  // "Error processing thumbnail for uploaded media" (500): the instance could not read this file.
  if (res.status === 500 && /processing thumbnail/i.test(errorText(res))) return { ...e, category: 'media_error', code: 'MEDIA_REJECTED', retryable: false };
  return e;
}
