// X API v2 errors to classified connector errors (platforms.md §1 "Errors", docs
// x-api/fundamentals/response-codes-and-errors). X answers with problem JSON: `type` is
// `https://api.x.com/2/problems/<kind>` or `about:blank`, plus `title`, `detail`, `status`, and for
// schema failures an `errors: [{ message, parameters }]` list. Which refusal it is lives in those words,
// so they are matched here, once.
import { resetHeaderMs, retryAfterMs, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

export type XProblem = {
  type?: string;
  title?: string;
  detail?: string;
  status?: number;
  errors?: { message?: string; detail?: string; title?: string }[];
};

/** Where the answer came from: publishing a post, the media endpoints, or a read. */
export type XCallKind = 'post' | 'media' | 'read';

export const DUPLICATE_DETAIL = 'You are not allowed to create a Tweet with duplicate content.';

/** The problem's own name: the last segment of a problems URI, else its title. */
export function problemKind(res: HttpResponse): string {
  const p = (res.body ?? {}) as XProblem;
  if (typeof p.type === 'string' && p.type.includes('/problems/')) return p.type.slice(p.type.lastIndexOf('/') + 1);
  return p.title ?? `HTTP ${res.status}`;
}

/** Every human sentence in the answer (detail and each listed error), joined. */
export function problemText(res: HttpResponse): string {
  const p = (res.body ?? {}) as XProblem;
  const parts = [p.detail, ...(Array.isArray(p.errors) ? p.errors.map((e) => e.message ?? e.detail ?? e.title) : [])]
    .filter((s): s is string => typeof s === 'string' && s.length > 0);
  const unique = [...new Set(parts)];
  return unique.length > 0 ? unique.join(' ') : res.text.slice(0, 300) || `HTTP ${res.status}`;
}

/** The wait X asked for: its reset headers are epoch seconds; the 24-hour caps win when they are spent. */
function rateLimitWait(res: HttpResponse, now: Date): number | undefined {
  const h = res.headers;
  const waits = [resetHeaderMs(h, 'x-rate-limit-reset', now)];
  if (h.get('x-user-limit-24hour-remaining') === '0') waits.push(resetHeaderMs(h, 'x-user-limit-24hour-reset', now));
  if (h.get('x-app-limit-24hour-remaining') === '0') waits.push(resetHeaderMs(h, 'x-app-limit-24hour-reset', now));
  const known = waits.filter((w): w is number => w !== undefined);
  if (known.length > 0) return Math.max(...known);
  return retryAfterMs(h, now);
}

export function mapXError(res: HttpResponse, now: Date, kind: XCallKind): ConnectorError {
  const text = problemText(res);
  const base = { platformCode: problemKind(res), message: `X: ${text}` };
  const fail = (category: ConnectorError['category'], code: string, retryable = false): ConnectorError => ({ ...base, category, code, retryable });

  if (res.status === 429) {
    // A usage cap (monthly or daily post quota of the app) lasts longer than a rate-limit window.
    const capped = base.platformCode === 'usage-capped';
    return { ...fail('rate_limited', 'PLATFORM_RATE_LIMITED', true), retryAfterMs: rateLimitWait(res, now) ?? (capped ? 3_600_000 : 15 * 60_000) };
  }
  if (res.status === 401) return fail('auth_expired', 'PLATFORM_AUTH_EXPIRED');
  if (res.status >= 500) return { ...fail('transient', 'PLATFORM_UNAVAILABLE', true), retryAfterMs: retryAfterMs(res.headers, now) };
  if (res.status === 403) return forbidden(res, text, base, fail, kind);
  if (kind === 'media' && res.status >= 400) return fail('media_error', 'MEDIA_REJECTED');
  if (res.status === 400 || res.status === 422) {
    if (/media/i.test(text)) return fail('media_error', 'MEDIA_REJECTED');
    return fail('invalid_content', 'CONTENT_REJECTED');
  }
  return fail('permanent', 'PLATFORM_ERROR');
}

function forbidden(
  res: HttpResponse,
  text: string,
  base: { platformCode: string; message: string },
  fail: (c: ConnectorError['category'], code: string, retryable?: boolean) => ConnectorError,
  kind: XCallKind,
): ConnectorError {
  if (text.includes(DUPLICATE_DETAIL) || /duplicate content/i.test(text)) return { ...fail('duplicate', 'DUPLICATE_CONTENT'), platformCode: 'duplicate-content' };
  if (/suspended/i.test(text)) return fail('revoked', 'PLATFORM_ACCESS_REVOKED');
  // The app itself is not allowed (not attached to a project, access level too low): the operator's
  // problem, not the account's, so the account is left alone.
  if (base.platformCode === 'client-forbidden') return { ...fail('permanent', 'PLATFORM_ERROR'), message: `X refused the app, not the account: ${text}` };
  // A token without write access (the app was read-only when the user connected), a locked account, or
  // an app-only token: only connecting the account again fixes it.
  if (/not permitted to perform this action/i.test(text) || /Unsupported Authentication/i.test(text)) return fail('auth_expired', 'PLATFORM_AUTH_EXPIRED');
  // Refusals about this post: a reply or quote target that is gone or closed to this account, too long.
  if (/reply|quot|too long|shorter/i.test(text)) return fail('invalid_content', 'CONTENT_REJECTED');
  // A bare "Forbidden" is what X answers when the token lacks a scope the endpoint needs (media.write for
  // uploads, on accounts connected before Crier asked for it): reconnecting grants it.
  const p = (res.body ?? {}) as XProblem;
  if (p.detail === 'Forbidden' || text === 'Forbidden') {
    return { ...fail('auth_expired', 'PLATFORM_AUTH_EXPIRED'), message: `X refused this account's token for ${kind === 'media' ? 'media upload' : 'this call'} (a missing scope); reconnect the account` };
  }
  return fail(kind === 'media' ? 'media_error' : 'permanent', kind === 'media' ? 'MEDIA_REJECTED' : 'PLATFORM_ERROR');
}

/** A media file X could not process (STATUS `state: failed`). Sending the same file again fails the same way. */
export function processingFailed(mediaId: string, error: { code?: number; name?: string; message?: string } | undefined): ConnectorError {
  return {
    category: 'media_error',
    code: 'MEDIA_REJECTED',
    platformCode: error?.name ?? 'processing-failed',
    message: `X could not process media ${mediaId}: ${error?.message ?? error?.name ?? 'processing failed'}`,
    retryable: false,
    outcomeUnknown: false,
  };
}
