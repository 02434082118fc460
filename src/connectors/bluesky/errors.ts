// XRPC error bodies ({"error","message"}) to classified connector errors (platforms.md §9 "Errors").
import type { ConnectorError } from '../types.js';
import { resetHeaderMs, retryAfterMs, type HttpResponse } from '../http.js';

export type XrpcError = { error?: string; message?: string };

export function xrpcErrorName(res: HttpResponse): string | undefined {
  return (res.body as XrpcError | undefined)?.error;
}

export function isExpiredToken(res: HttpResponse): boolean {
  const name = xrpcErrorName(res);
  return (res.status === 400 || res.status === 401) && (name === 'ExpiredToken' || name === 'InvalidToken');
}

/**
 * An uploadBlob answer. The upload has no side effect anyone sees (a blob no record uses is garbage-collected
 * by the PDS), so nothing here is ever outcome-unknown; a 4xx about the body is a refused file.
 */
export function mapBlobError(res: HttpResponse, now: Date): ConnectorError {
  const mapped = mapXrpcError(res, now);
  if (mapped.category === 'invalid_content' || (mapped.category === 'permanent' && res.status >= 400 && res.status < 500)) {
    return { ...mapped, category: 'media_error', code: 'MEDIA_REJECTED', retryable: false };
  }
  return { ...mapped, outcomeUnknown: false };
}

export function mapXrpcError(res: HttpResponse, now: Date): ConnectorError {
  const body = (res.body ?? {}) as XrpcError;
  const name = body.error ?? `HTTP ${res.status}`;
  const message = body.message ?? (res.text.slice(0, 300) || `HTTP ${res.status}`);
  const base = { platformCode: name, message };
  if (res.status === 429 || name === 'RateLimitExceeded') {
    const wait = retryAfterMs(res.headers, now) ?? resetHeaderMs(res.headers, 'ratelimit-reset', now) ?? 60_000;
    return { ...base, category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true, retryAfterMs: wait };
  }
  // Before the 401 rule: the PDS answers a taken-down account's sign-in with 401 AccountTakedown.
  if (name === 'AccountTakedown' || name === 'AccountDeactivated') {
    return { ...base, category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false };
  }
  if (name === 'AuthFactorTokenRequired') {
    // The account password was given and the account has email 2FA; app passwords never ask for it.
    return { ...base, message: `${message} (sign in with an app password: Settings → Privacy and security → App passwords)`, category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', retryable: false };
  }
  if (name === 'ExpiredToken' || name === 'InvalidToken' || name === 'AuthMissing' || name === 'AuthenticationRequired' || res.status === 401) {
    return { ...base, category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', retryable: false };
  }
  // A record's blob gone from the PDS (an upload it garbage-collected before the post was written): the
  // next attempt uploads every file again, so it is worth a retry. Nothing was posted (a 400).
  if (name === 'BlobNotFound') {
    return { ...base, category: 'media_error', code: 'MEDIA_REJECTED', retryable: true };
  }
  // The PDS refused a file: too large for its upload cap or the embed's lexicon limit, wrong type.
  if (name === 'BlobTooLarge' || name === 'PayloadTooLarge' || name === 'InvalidMimeType' || name === 'InvalidSize' || (name === 'InvalidRequest' && /\bembed\b/.test(message))) {
    return { ...base, category: 'media_error', code: 'MEDIA_REJECTED', retryable: false };
  }
  if (res.status >= 500 || name === 'UpstreamFailure') {
    return { ...base, category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true, retryAfterMs: retryAfterMs(res.headers, now) };
  }
  if (name === 'InvalidRequest') {
    return { ...base, category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false };
  }
  return { ...base, category: 'permanent', code: 'PLATFORM_ERROR', retryable: false };
}
