// Threads answers errors as Graph error objects: {"error":{"message","type","code","error_subcode",
// "is_transient","error_user_msg","fbtrace_id"}} (platforms.md §3 "Errors", §5 "Errors"). Threads documents
// few codes of its own, so the Graph API's meanings are used (doc graph-api/guides/error-handling), and the
// codes Threads leaves unconfirmed are said so where they are read. Media that fails while a container is
// processed is reported through the container's `error_message`, not an error object (containerError).
import { retryAfterMs, type HttpResponse } from '../http.js';
import type { ConnectorError } from '../types.js';

export type GraphError = {
  message?: string;
  type?: string;
  code?: number | string;
  error_subcode?: number;
  is_transient?: boolean;
  error_user_msg?: string;
  fbtrace_id?: string;
};

export function graphError(res: HttpResponse): GraphError | undefined {
  const e = (res.body as { error?: unknown } | undefined)?.error;
  return e && typeof e === 'object' ? (e as GraphError) : undefined;
}

const code = (e: GraphError | undefined) => (typeof e?.code === 'number' ? e.code : Number(e?.code ?? Number.NaN));

/** An access token the platform no longer takes: code 190 (Graph's invalid/expired token; 102 is the old session error) or a bare 401. */
export function isTokenError(res: HttpResponse): boolean {
  if (res.status < 400) return false;
  const c = code(graphError(res));
  return c === 190 || c === 102 || (res.status === 401 && !graphError(res));
}

// Graph throttling codes: 4 app, 17 user, 32 page, 613 calls within a time window, 80001–80014 business use case.
const THROTTLED = new Set([4, 17, 32, 613]);
// Subcode 463: the token expired. Others (458 app removed, 460 password changed, 467 invalid) mean it was taken back.
const EXPIRED_SUBCODE = 463;

/**
 * How long Meta asks to wait: Retry-After when sent (Meta documents none for Threads; the simulator sends
 * one like a generic 429), else X-Business-Use-Case-Usage's `estimated_time_to_regain_access` (minutes).
 */
function waitMs(res: HttpResponse, now: Date): number | undefined {
  const after = retryAfterMs(res.headers, now);
  if (after !== undefined) return after;
  const buc = res.headers.get('x-business-use-case-usage');
  if (!buc) return undefined;
  try {
    const usage = JSON.parse(buc) as Record<string, { estimated_time_to_regain_access?: number }[]>;
    const minutes = Math.max(0, ...Object.values(usage).flat().map((u) => u.estimated_time_to_regain_access ?? 0));
    return minutes > 0 ? minutes * 60_000 : undefined;
  } catch {
    return undefined;
  }
}

export function mapGraphError(res: HttpResponse, now: Date): ConnectorError {
  const e = graphError(res);
  const c = code(e);
  const sub = e?.error_subcode;
  const message = e?.error_user_msg ?? e?.message ?? (res.text.slice(0, 300) || `HTTP ${res.status}`);
  const platformCode = e ? `${e.code ?? '?'}${sub ? `/${sub}` : ''}` : `HTTP ${res.status}`;
  const base = { platformCode, message };
  if (isTokenError(res)) {
    return sub === EXPIRED_SUBCODE
      ? { ...base, category: 'auth_expired', code: 'PLATFORM_AUTH_EXPIRED', retryable: false }
      : { ...base, category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false };
  }
  if (res.status === 429 || THROTTLED.has(c) || (c >= 80001 && c <= 80014)) {
    return { ...base, category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true, retryAfterMs: waitMs(res, now) ?? 60_000 };
  }
  // The 250-posts (1,000-replies) per 24 h quota at threads_publish. Threads does not document its code; 9
  // is Instagram's for the same limit (unconfirmed). The window rolls, so no exact reset time is known.
  if (c === 9) {
    return { ...base, category: 'rate_limited', code: 'PLATFORM_RATE_LIMITED', retryable: true, retryAfterMs: waitMs(res, now) ?? 3_600_000 };
  }
  // Permission errors (10, 200–299): a scope was not granted or was removed; the account must connect again.
  if (c === 10 || (c >= 200 && c <= 299)) {
    return { ...base, category: 'revoked', code: 'PLATFORM_ACCESS_REVOKED', retryable: false };
  }
  // Graph's duplicate post; Threads documents no duplicate check of its own (unconfirmed).
  if (c === 506) return { ...base, category: 'duplicate', code: 'DUPLICATE_CONTENT', retryable: false };
  if (res.status >= 500 || c === 1 || c === 2 || e?.is_transient === true) {
    return { ...base, category: 'transient', code: 'PLATFORM_UNAVAILABLE', retryable: true, retryAfterMs: retryAfterMs(res.headers, now) };
  }
  // A container published before it finished processing (Instagram's 9007; unconfirmed for Threads): wait.
  if (c === 9007) return { ...base, category: 'transient', code: 'PLATFORM_ERROR', retryable: true, retryAfterMs: 10_000 };
  if (/THREADS_API__LINK_LIMIT_EXCEEDED/.test(`${e?.code ?? ''} ${e?.message ?? ''}`)) {
    return { ...base, category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false, message: `Threads allows at most 5 different links in a post (${message})` };
  }
  // 100: an invalid parameter (text too long, a reply target that does not exist or cannot be replied to…).
  if (c === 100) return { ...base, category: 'invalid_content', code: 'CONTENT_REJECTED', retryable: false };
  return { ...base, category: 'permanent', code: 'PLATFORM_ERROR', retryable: false };
}

/** Downloading a file that Threads can retry (our signed URL may have hiccuped); a new container is made next time. */
const RETRYABLE_MEDIA = new Set(['FAILED_DOWNLOADING_VIDEO']);

/** A container that ended in ERROR (with Threads' error_message) or EXPIRED before it was published. */
export function containerError(status: 'ERROR' | 'EXPIRED', errorMessage: string | undefined, what: string): ConnectorError {
  if (status === 'EXPIRED') {
    return { category: 'transient', code: 'PLATFORM_ERROR', platformCode: 'EXPIRED', message: `the Threads container for ${what} expired before it was published`, retryable: true };
  }
  const reason = errorMessage ?? 'UNKNOWN';
  return {
    category: 'media_error',
    code: 'MEDIA_REJECTED',
    platformCode: reason,
    message: `Threads could not process ${what} (${reason})`,
    retryable: RETRYABLE_MEDIA.has(reason),
  };
}
